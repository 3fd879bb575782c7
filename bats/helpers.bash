# Shared setup for husk's bats tests.
#
# Every test gets its own state root (--root), its own bundle with a busybox
# root filesystem, and a unique cgroup parent /husk-test-<random>: configs
# always carry an absolute linux.cgroupsPath under it, so no test creates a
# cgroup inside the caller's own. teardown removes the containers, those
# cgroups and the temporary directories, also after a failure.
#
# HUSK selects the runtime binary (default: the repo's ./husk). The tests
# are written so that they also pass with HUSK=runc, the reference; the few
# husk-only expectations check is_husk.

HUSK=${HUSK:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)/husk}
BUSYBOX=${BUSYBOX:-/bin/busybox}

# is_husk is true unless the runtime under test is runc.
is_husk() {
	[[ "$(basename "$HUSK")" != runc* ]]
}

# husk runs the runtime with the test's state root; output and exit status
# are left in $output and $status by bats' `run`.
husk() {
	"$HUSK" --root "$ROOT" "$@"
}

# random_hex prints n (default 8) random hex digits.
random_hex() {
	head -c "${1:-8}" /dev/urandom | od -An -tx1 | tr -d ' \n' | cut -c "1-${1:-8}"
}

# new_id prints a fresh container id.
new_id() {
	echo "t-$(random_hex 10)"
}

setup() {
	if [ "$(id -u)" -ne 0 ]; then
		skip "needs root"
	fi
	if [ ! -x "$BUSYBOX" ]; then
		skip "needs $BUSYBOX (apt-get install busybox-static)"
	fi
	if [ ! -x "$HUSK" ] && ! command -v "$HUSK" >/dev/null; then
		skip "no runtime binary at $HUSK (run make husk)"
	fi
	CG_PARENT=husk-test-$(random_hex 10)
	TEST_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/husk-bats.XXXXXX")
	ROOT=$TEST_TMP/state
	BUNDLE=$TEST_TMP/bundle
	make_bundle "$BUNDLE"
}

teardown() {
	[ -n "${TEST_TMP:-}" ] || return 0
	local id
	if [ -d "$ROOT" ]; then
		for id in $("$HUSK" --root "$ROOT" list -q 2>/dev/null); do
			"$HUSK" --root "$ROOT" delete --force "$id" >/dev/null 2>&1 || true
		done
	fi
	remove_test_cgroups
	rm -rf "$TEST_TMP"
}

# remove_test_cgroups removes the cgroups under this test's parent in
# every hierarchy, killing what the runtime left in them: those processes
# were started by this test.
remove_test_cgroups() {
	local d pid
	for d in /sys/fs/cgroup/*/"$CG_PARENT"; do
		[ -d "$d" ] || continue
		while read -r pid; do
			kill -9 "$pid" 2>/dev/null || true
		done < <(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
}

# make_bundle DIR creates a bundle with a busybox rootfs and a config for
# `sh -c 'echo hello'`.
make_bundle() {
	local b=$1 applet
	mkdir -p "$b"/rootfs/{bin,etc,proc,sys,dev,tmp,root}
	cp "$BUSYBOX" "$b"/rootfs/bin/busybox
	for applet in sh id hostname cat ls echo ps sleep true false env mount kill; do
		ln -s busybox "$b/rootfs/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$b"/rootfs/etc/passwd
	printf 'root:x:0:\n' >"$b"/rootfs/etc/group
	write_config "$b" "$(new_id)" '["sh", "-c", "echo hello"]'
}

# write_config DIR ID ARGS_JSON writes DIR/config.json running ARGS_JSON,
# with its cgroup at /$CG_PARENT/ID.
write_config() {
	local b=$1 id=$2 args=$3
	cat >"$b/config.json" <<JSON
{
	"ociVersion": "1.0.2",
	"process": {
		"terminal": false,
		"user": {"uid": 0, "gid": 0},
		"args": $args,
		"env": ["PATH=/bin", "TERM=xterm"],
		"cwd": "/",
		"capabilities": {
			"bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
			"effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
			"permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
		},
		"rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
		"noNewPrivileges": true
	},
	"root": {"path": "rootfs", "readonly": false},
	"hostname": "bats",
	"mounts": [
		{"destination": "/proc", "type": "proc", "source": "proc"},
		{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
		{"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
		{"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
		{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
	],
	"linux": {
		"cgroupsPath": "/$CG_PARENT/$id",
		"resources": {"devices": [{"allow": false, "access": "rwm"}]},
		"namespaces": [
			{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
		],
		"maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
		"readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
	}
}
JSON
}

# set_args ID ARGS_JSON points the test bundle at cgroup /$CG_PARENT/ID and
# makes it run ARGS_JSON. Call it before creating container ID.
set_args() {
	write_config "$BUNDLE" "$1" "$2"
}

# update_config JQ_FILTER edits the bundle's config.json with jq.
update_config() {
	local tmp
	tmp=$(mktemp "$BUNDLE/config.XXXXXX")
	jq "$1" "$BUNDLE/config.json" >"$tmp"
	mv "$tmp" "$BUNDLE/config.json"
}

# state_field ID FIELD prints one field of `state ID`.
state_field() {
	husk state "$1" | jq -r ".$2"
}

# wait_status ID STATUS waits (up to 5 s) for container ID to reach STATUS.
wait_status() {
	local i s
	for i in $(seq 50); do
		s=$(state_field "$1" status 2>/dev/null) || true
		[ "$s" = "$2" ] && return 0
		sleep 0.1
	done
	echo "container $1: status $s, want $2" >&2
	return 1
}

# assert_no_leftovers ID checks that nothing of container ID remains: no
# state directory, no cgroup in any hierarchy.
assert_no_leftovers() {
	local id=$1 d
	if [ -e "$ROOT/$id" ]; then
		echo "state directory $ROOT/$id left behind" >&2
		return 1
	fi
	for d in /sys/fs/cgroup/*/"$CG_PARENT/$id"; do
		if [ -d "$d" ]; then
			echo "cgroup $d left behind" >&2
			return 1
		fi
	done
}

# assert_output_contains TEXT checks $output (from run) for TEXT.
assert_output_contains() {
	if [[ "$output" != *"$1"* ]]; then
		echo "output does not contain \"$1\":" >&2
		echo "$output" >&2
		return 1
	fi
}

# husk_bg CMD... runs a runtime command that leaves a container behind
# (create, run -d) with its stdio on files: the container inherits them,
# and bats' `run` would otherwise wait for the container to close its
# output pipe. Output is in $TEST_TMP/bg.out, and also in $output; the
# exit status in $status.
husk_bg() {
	status=0
	"$HUSK" --root "$ROOT" "$@" </dev/null >"$TEST_TMP/bg.out" 2>&1 || status=$?
	output=$(cat "$TEST_TMP/bg.out")
}

# assert_success checks that the last `run`/husk_bg succeeded, showing its
# output when it did not.
assert_success() {
	if [ "$status" -ne 0 ]; then
		echo "exit status $status, output:" >&2
		echo "$output" >&2
		return 1
	fi
}

# assert_failure checks that the last `run`/husk_bg failed.
assert_failure() {
	if [ "$status" -eq 0 ]; then
		echo "unexpected success, output:" >&2
		echo "$output" >&2
		return 1
	fi
}

# assert_status N checks the exit status of the last `run`/husk_bg.
assert_status() {
	if [ "$status" -ne "$1" ]; then
		echo "exit status $status, want $1; output:" >&2
		echo "$output" >&2
		return 1
	fi
}

# start_sleeper ID runs a detached container that sleeps.
start_sleeper() {
	set_args "$1" '["sleep", "1000"]'
	husk_bg run -d --bundle "$BUNDLE" "$1"
	assert_success
}
