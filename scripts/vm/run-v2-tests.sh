#!/usr/bin/env bash
# Runs husk's cgroup v2 tests in a qemu guest whose only cgroup hierarchy is
# cgroup2 (the build host may be cgroup v1 or hybrid, where the v2 code
# paths can only be unit-tested).
#
# The guest has no disk image: Debian's 6.1 kernel boots a busybox
# initramfs that loads the 9p modules, mounts the host's /usr and /etc
# read-only over virtio-9p, builds a tmpfs root with bin/lib/sbin symlinks
# into usr, and switch_roots into it. Every host binary (the static husk,
# the integration test binary, busybox, unshare) then runs unchanged. One
# read-write share carries the binaries in and the results out; the serial
# console is copied to the terminal and to results/console.log.
#
# Only TCG is used: nested /dev/kvm on the CI machines hangs or aborts.
#
# Environment:
#   V2_TEST_RUN    -test.run regexp for the Go integration tests
#   V2_TEST_COUNT  -test.count for them (default 1)
#   V2_UNIT_PKGS   unit test packages to run in the guest ("" for none)
#   V2_CHECKS=0    skip v2-checks.sh
#   V2_TIMEOUT     hard limit for the whole guest run, seconds (default 1500)
#   V2_MEM, V2_SMP guest memory (MiB) and CPUs
#   V2_KEEP=1      keep the work directory
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
vmdir="$repo/scripts/vm"
: "${GO:=go}"
: "${V2_TIMEOUT:=1500}"
: "${V2_MEM:=2048}"
: "${V2_SMP:=$(nproc)}"
# What of the integration suite matters on cgroup v2; the v1-only checks
# in these tests skip themselves (v1Mount/procCgroups helpers). Left out:
# tests that read v1 paths unconditionally (TestCgroupResourcesApplied
# reads /sys/fs/cgroup/memory/... in the container; assertOnlyInit, used by
# TestExecExitCodes, TestExecRejectsBadFlags, TestExecProcessJSON and
# TestExecStress, reads /sys/fs/cgroup/pids/...), whose v2 equivalents
# are in v2-checks.sh, and TestExecStress, which takes minutes under TCG.
: "${V2_TEST_RUN:=^(TestCreateBlocksBeforeExec|TestLifecycleCreateStartKillDelete|TestPidFileWrittenByRun|TestStartTwiceFails|TestDeleteForce.*|TestStateStoppedAfterProcessDies|TestFailedCreateLeavesNothing|TestCgroupPathInEveryHierarchy|TestCgroupRelativePathUnderHusk|TestMemoryLimit512KiBRunsTrue|TestCgroupNamespaceHidesHostPath|TestExecInheritsContainerProcess|TestExecUserGroupsCwdEnv|TestExecCapNoNewPrivsAndInheritable|TestExecJoinsAllNamespaces|TestExecCgroup|TestExecForwardsSignals|TestExecStoppedContainer|TestExecPausedContainer|TestExecKillAllReachesExecProcesses|TestExecNoFdLeakAndPreserveFds|TestExecConsoleSocket|TestExecInteractiveTTY|TestDefaultDevices|TestLinuxDevicesCreated|TestNamespacesDifferFromHost|TestProcessKeepsCallersCPUs|TestFastPath.*|TestNamespacesMadeAhead|TestInitHelperSealedAhead|TestPlanProcessesRunTheInitHelper|TestCreateStartHere.*|TestRunPoststartHookAfterExec|TestTimerSlackOnlySysmon|TestCgroupsMadeWhileProcessStarts|TestNetNSJoinedBeforeSysfsAndHooks|TestInitPathsBuildTheSameContainer)$}"
# Unit test packages with tests that run only on a cgroup v2 host (nsenter:
# clone3 into a cgroup of the only, v2, hierarchy).
: "${V2_UNIT_PKGS=./cgroups/fs2 ./cgroups/devices ./cgroups/manager ./libcontainer/rootfs ./nsenter}"

log() { echo "run-v2-tests: $*" >&2; }

ensure_packages() {
	local missing=() p
	for p in qemu-system-x86 linux-image-amd64 busybox-static util-linux; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=()
	[ "$(id -u)" -ne 0 ] && sudo=(sudo)
	log "installing: ${missing[*]}"
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

ensure_packages

# The newest installed Debian kernel that has its modules (for 9p).
kver=
for k in /boot/vmlinuz-*; do
	v=${k#/boot/vmlinuz-}
	[ -d "/lib/modules/$v/kernel/fs/9p" ] && kver=$v
done
if [ -z "$kver" ]; then
	log "no /boot/vmlinuz-* with 9p modules in /lib/modules (install linux-image-amd64)"
	exit 2
fi
kernel=/boot/vmlinuz-$kver
if [ ! -r "$kernel" ]; then
	log "cannot read $kernel"
	exit 2
fi

work=$(mktemp -d /tmp/husk-v2.XXXXXX)
cleanup() {
	if [ "${V2_KEEP:-}" = 1 ]; then
		log "work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
mkdir -p "$work/share/results" "$work/initramfs"

log "building husk and the integration test binary"
make -s -C "$repo" husk GO="$GO"
cp "$repo/husk" "$work/share/husk"
(cd "$repo" && "$GO" test -c -o "$work/share/husk-tests.test" ./tests)
mkdir -p "$work/share/unit"
for p in $V2_UNIT_PKGS; do
	(cd "$repo" && "$GO" test -c -o "$work/share/unit/$(echo "${p#./}" | tr / _).test" "$p")
done
cp "$vmdir/guest-tests.sh" "$vmdir/v2-checks.sh" "$work/share/"
printf '%s\n' "$V2_TEST_RUN" >"$work/share/test-run"
printf '%s\n' "${V2_TEST_COUNT:-1}" >"$work/share/test-count"
printf '%s\n' "${V2_CHECKS:-1}" >"$work/share/run-checks"

log "building the initramfs (kernel $kver)"
ird="$work/initramfs"
mkdir -p "$ird"/{bin,dev,proc,sys,newroot,modules}
cp /bin/busybox "$ird/bin/busybox"
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p; do
	f=$(find "/lib/modules/$kver/kernel" -name "$m.ko*" | head -n 1)
	if [ -z "$f" ]; then
		# Built into this kernel: nothing to load.
		continue
	fi
	case "$f" in
	*.ko) cp "$f" "$ird/modules/$m.ko" ;;
	*.ko.xz) xz -dc "$f" >"$ird/modules/$m.ko" ;;
	*.ko.zst) zstd -qdc "$f" >"$ird/modules/$m.ko" ;;
	*.ko.gz) gzip -dc "$f" >"$ird/modules/$m.ko" ;;
	esac
	echo "$m" >>"$ird/modules/order"
done
cp "$vmdir/initramfs-init.sh" "$ird/init"
chmod 0755 "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.cpio.gz"

# The console is logged to a file the guest cannot touch; the guest's own
# verdict (results/status) is what counts.
console="$work/console.log"
log "booting the guest (TCG, ${V2_SMP} CPUs, ${V2_MEM} MiB, timeout ${V2_TIMEOUT}s)"
start=$(date +%s)
set +e
timeout --kill-after=10 "$V2_TIMEOUT" qemu-system-x86_64 \
	-accel tcg -cpu max -smp "$V2_SMP" -m "$V2_MEM" \
	-nographic -no-reboot -nodefaults \
	-serial stdio -monitor none \
	-kernel "$kernel" -initrd "$work/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 quiet loglevel=4 rdinit=/init" \
	-virtfs local,path=/usr,mount_tag=usr,security_model=none,readonly=on \
	-virtfs local,path=/etc,mount_tag=etc,security_model=none,readonly=on \
	-virtfs local,path="$work/share",mount_tag=work,security_model=none \
	</dev/null 2>&1 | tee "$console"
qrc=${PIPESTATUS[0]}
set -e
elapsed=$(($(date +%s) - start))
log "guest ran for ${elapsed}s (qemu exit $qrc)"
cp "$console" "$work/share/results/console.log"
if [ -n "${V2_RESULTS:-}" ]; then
	rm -rf "$V2_RESULTS"
	cp -r "$work/share/results" "$V2_RESULTS"
	log "results copied to $V2_RESULTS"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	log "FAIL: the guest did not finish within ${V2_TIMEOUT}s"
	exit 1
fi
status=$(cat "$work/share/results/status" 2>/dev/null || echo "missing")
if [ "$status" != "PASS" ]; then
	log "FAIL: guest status: $status"
	exit 1
fi
log "PASS"
