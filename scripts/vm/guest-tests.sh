#!/usr/bin/env bash
# PID 1 of the cgroup v2 test guest after switch_root (see
# run-v2-tests.sh). It mounts the pseudo filesystems, with cgroup2 as the
# only cgroup hierarchy, runs husk's integration tests and the v2 checks
# below, writes results/status (PASS or FAIL) into the shared directory, and
# powers the guest off. Everything it prints goes to the serial console.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TMPDIR=/tmp
results=/work/results
husk=/work/husk

poweroff_now() {
	sync
	echo o >/proc/sysrq-trigger
	sleep 30
}
trap poweroff_now EXIT

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount --make-rshared /
hostname husk-v2-guest
ip link set lo up 2>/dev/null || true
echo 1 >/proc/sys/kernel/sysrq

echo "guest: kernel $(uname -r), $(nproc) CPUs"
echo "guest: cgroup mounts:"; grep cgroup /proc/self/mountinfo
echo "guest: root controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"

status=PASS
fail() { echo "FAIL: $*"; status=FAIL; }

# --- Go unit tests of the v2 code (their v2-only tests skip on the host) ---
for t in /work/unit/*.test; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .test)
	start=$(date +%s)
	timeout -k 10 300 "$t" -test.v -test.count=1 -test.timeout=280s >"$results/unit-$name.log" 2>&1
	rc=$?
	echo "guest: unit $name exit $rc in $(($(date +%s) - start))s"
	grep -E '^\s*--- (FAIL|SKIP)' "$results/unit-$name.log"
	grep -E -B2 -A20 '^\s*--- FAIL' "$results/unit-$name.log" | head -100
	[ "$rc" = 0 ] || fail "unit tests $name exit $rc"
done

# --- Go integration tests ---------------------------------------------------
run_re=$(cat /work/test-run)
echo "guest: go integration tests -test.run '$run_re'"
start=$(date +%s)
HUSK_BINARY=$husk timeout -k 10 1200 /work/husk-tests.test \
	-test.v -test.count="$(cat /work/test-count)" -test.timeout=1150s -test.run "$run_re" \
	>"$results/go-tests.log" 2>&1
rc=$?
echo "guest: go tests exit $rc in $(($(date +%s) - start))s"
grep -E '^(=== RUN|--- (PASS|FAIL|SKIP)|PASS$|FAIL$|ok|panic)' "$results/go-tests.log" | grep -v '=== RUN' | tee "$results/go-summary.txt"
grep -E -A30 '^--- FAIL' "$results/go-tests.log" | head -200
[ "$rc" = 0 ] || fail "go integration tests exit $rc"

# --- cgroup v2 checks with husk directly -------------------------------------
[ "$(cat /work/run-checks)" = 1 ] && {
start=$(date +%s)
bash /work/v2-checks.sh >"$results/v2-checks.log" 2>&1
rc=$?
cat "$results/v2-checks.log"
echo "guest: v2 checks exit $rc in $(($(date +%s) - start))s"
[ "$rc" = 0 ] || fail "v2 checks exit $rc"
}

echo "guest: cgroups left at the root: $(cd /sys/fs/cgroup && find . -mindepth 1 -maxdepth 1 -type d | tr '\n' ' ')"
echo "$status" >"$results/status"
echo "guest: RESULT $status"
