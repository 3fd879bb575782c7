#!/usr/bin/env bash
# cgroup v2 checks of husk, run inside the test guest (see guest-tests.sh)
# where /sys/fs/cgroup is a pure cgroup2 mount. The Go integration tests
# check v1 hierarchies file by file; these check the v2 equivalents:
# limits in the v2 files, controller enabling, the eBPF device filter,
# cgroup.freeze, the cgroup namespace and the cgroup2 mount in the
# container, kill --all, and that delete removes the cgroup.
set -u
husk=${HUSK_BINARY:-/work/husk}
cgroot=/sys/fs/cgroup
parent=/husk-v2-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
work=$(mktemp -d /tmp/v2-checks.XXXXXX)
bundle=$work/bundle
root=$work/state
failed=0
passed=0

cleanup() {
	local id
	for id in $(ls "$root" 2>/dev/null); do
		"$husk" --root "$root" delete -f "$id" >/dev/null 2>&1
	done
	# Deepest first; only our own parent.
	if [ -d "$cgroot$parent" ]; then
		find "$cgroot$parent" -depth -type d -exec rmdir {} \; 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$bundle/rootfs" "$root"
(
	cd "$bundle/rootfs" || exit 1
	mkdir -p bin proc sys dev tmp etc root
	cp /usr/bin/busybox bin/busybox
	for a in sh cat ls head tr wc sleep echo grep seq true kill mount stat od cut sed mknod rm; do
		ln -s busybox "bin/$a"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >etc/passwd
	echo 'root:x:0:' >etc/group
)

# spec ID ARGS_JSON [JQ_FILTER]: write config.json for container ID.
spec() {
	local id=$1 args=$2 filter=${3:-.}
	jq -n --arg cg "$parent/$id" --argjson args "$args" '{
		ociVersion: "1.0.2",
		root: {path: "rootfs"},
		process: {
			user: {uid: 0, gid: 0}, args: $args, cwd: "/",
			env: ["PATH=/bin"],
			capabilities: {
				bounding: ["CAP_KILL", "CAP_AUDIT_WRITE"],
				effective: ["CAP_KILL", "CAP_AUDIT_WRITE"],
				permitted: ["CAP_KILL", "CAP_AUDIT_WRITE"]
			},
			noNewPrivileges: true
		},
		hostname: "v2",
		mounts: [
			{destination: "/proc", type: "proc", source: "proc"},
			{destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755"]},
			{destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]},
			{destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"]}
		],
		linux: {
			cgroupsPath: $cg,
			resources: {devices: [{allow: false, access: "rwm"}]},
			namespaces: [{type: "pid"}, {type: "mount"}, {type: "ipc"}, {type: "uts"}, {type: "network"}, {type: "cgroup"}],
			maskedPaths: ["/proc/kcore"],
			readonlyPaths: ["/proc/sys"]
		}
	} | '"$filter" >"$bundle/config.json"
}

h() { "$husk" --root "$root" "$@"; }

# start ID: create + start a detached container from config.json and
# print its host PID.
start() {
	local id=$1
	h create --bundle "$bundle" --pid-file "$work/$id.pid" "$id" </dev/null >"$work/$id.out" 2>&1 || {
		echo "create $id failed: $(cat "$work/$id.out")" >&2
		return 1
	}
	h start "$id" || return 1
	cat "$work/$id.pid"
}

# expect NAME GOT WANT
expect() {
	if [ "$2" != "$3" ]; then
		echo "  $1: got '$2', want '$3'"
		return 1
	fi
}

check() {
	local name=$1
	shift
	local out rc t0=$SECONDS
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "--- PASS: $name ($((SECONDS - t0))s)"
		passed=$((passed + 1))
	else
		echo "--- FAIL: $name ($((SECONDS - t0))s)"
		echo "$out" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
}

id_seq=0
newid() { id_seq=$((id_seq + 1)); echo "c$id_seq"; }

check_limits() {
	local id; id=$(newid)
	spec "$id" '["sleep","100"]' '.linux.resources += {
		memory: {limit: 67108864, reservation: 33554432, swap: 134217728},
		cpu: {shares: 512, quota: 50000, period: 100000, cpus: "0", mems: "0"},
		pids: {limit: 50}}'
	local pid; pid=$(start "$id") || return 1
	local cg=$cgroot$parent/$id r=0
	expect "/proc/$pid/cgroup" "$(cat /proc/$pid/cgroup)" "0::$parent/$id" || r=1
	expect "cgroup.procs" "$(cat $cg/cgroup.procs)" "$pid" || r=1
	expect memory.max "$(cat $cg/memory.max)" 67108864 || r=1
	expect memory.low "$(cat $cg/memory.low)" 33554432 || r=1
	# v1 semantics: swap is memory+swap; v2 memory.swap.max is swap only.
	expect memory.swap.max "$(cat $cg/memory.swap.max 2>&1)" 67108864 || r=1
	expect cpu.max "$(cat $cg/cpu.max)" "50000 100000" || r=1
	expect cpu.weight "$(cat $cg/cpu.weight)" 20 || r=1
	expect cpuset.cpus "$(cat $cg/cpuset.cpus)" 0 || r=1
	expect cpuset.mems "$(cat $cg/cpuset.mems)" 0 || r=1
	expect pids.max "$(cat $cg/pids.max)" 50 || r=1
	# Controllers were enabled top-down for the container.
	for c in cpu cpuset memory pids; do
		grep -qw $c "$cgroot$parent/cgroup.subtree_control" || { echo "  $c not in $parent/cgroup.subtree_control"; r=1; }
	done
	h delete -f "$id" || r=1
	[ ! -e "$cg" ] || { echo "  $cg still exists after delete"; r=1; }
	return $r
}

check_inside_view() {
	local id; id=$(newid)
	# The spec asks for a "cgroup" mount: on a v2 host that is cgroup2,
	# rooted at the container's cgroup (cgroup namespace), read-only.
	spec "$id" '["sh","-c","cat /proc/self/cgroup; grep \" /sys/fs/cgroup \" /proc/self/mountinfo | cut -d\" \" -f6; grep \" /sys/fs/cgroup \" /proc/self/mountinfo | sed \"s/.* - \\([^ ]*\\) .*/\\1/\"; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; ls /sys/fs/cgroup | grep -c ^cgroup.procs$"]' \
		'.linux.resources += {memory: {limit: 33554432}, pids: {limit: 20}}'
	local out; out=$(h run --bundle "$bundle" "$id" </dev/null) || { echo "run: $out"; return 1; }
	expect "inside view" "$(echo "$out" | tr '\n' '|')" "0::/|ro,nosuid,nodev,noexec,relatime|cgroup2|33554432|20|1|"
}

check_no_cgroupns() {
	# Without a cgroup namespace the container sees its real path.
	local id; id=$(newid)
	spec "$id" '["cat","/proc/self/cgroup"]' '.linux.namespaces |= map(select(.type != "cgroup"))'
	local out; out=$(h run --bundle "$bundle" "$id" </dev/null) || { echo "run: $out"; return 1; }
	expect "/proc/self/cgroup" "$out" "0::$parent/$id"
}

check_devices() {
	local id; id=$(newid)
	# The container makes a /dev/kmsg node (c 1:11) itself: mknod is
	# allowed to all, but no rule allows opening it, so the eBPF filter
	# must refuse the open. (Nodes in linux.devices are allowed, as with
	# runc; kmsg because opening it for writing needs no capability.)
	local caps='.process.capabilities |= map_values(. + ["CAP_MKNOD"])'
	spec "$id" '["sh","-c","echo x >/dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c; rm -f /tmp/kmsg; mknod /tmp/kmsg c 1 11 && echo mknod-ok; echo husk-v2-check >/tmp/kmsg; echo kmsg=$?"]' "$caps"
	local out; out=$(h run --bundle "$bundle" "$id" </dev/null 2>&1) || { echo "run: $out"; return 1; }
	local r=0
	expect "default devices" "$(echo "$out" | head -n 2 | tr '\n' ' ')" "4 4 " || r=1
	echo "$out" | grep -q '^mknod-ok$' || { echo "  mknod refused: $out"; r=1; }
	echo "$out" | grep -q '^kmsg=1$' || { echo "  kmsg node writable without a rule: $out"; r=1; }
	echo "$out" | grep -qi 'not permitted' || { echo "  kmsg open error is not EPERM: $out"; r=1; }
	# With an allow rule for writing it opens for writing, not for reading.
	id=$(newid)
	spec "$id" '["sh","-c","rm -f /tmp/kmsg; mknod /tmp/kmsg c 1 11; echo husk-v2-check >/tmp/kmsg && echo w-ok; head -c 1 /tmp/kmsg >/dev/null 2>&1 || echo r-denied"]' \
		"$caps"' | .linux.resources.devices += [{allow: true, type: "c", major: 1, minor: 11, access: "w"}]'
	out=$(h run --bundle "$bundle" "$id" </dev/null 2>&1)
	expect "kmsg node with a write rule" "$(echo "$out" | tr '\n' ' ')" "w-ok r-denied " || r=1
	return $r
}

check_memory_limit() {
	local id; id=$(newid)
	spec "$id" '["sh","-c","x=$(head -c 33554432 /dev/zero | tr \"\\0\" a); echo ${#x}"]' \
		'.linux.resources += {memory: {limit: 8388608, swap: 8388608}}'
	local out; out=$(h run --bundle "$bundle" "$id" </dev/null 2>&1)
	local rc=$?
	if [ $rc -eq 0 ]; then
		echo "  a shell holding 32 MiB ran under an 8 MiB limit: $out"
		return 1
	fi
	# A small program runs under a 16 MiB limit. (On v2, husk's init is
	# in the container's cgroup from clone3 on, so its own memory is
	# charged: the 512 KiB of the v1 test is not reachable here.)
	id=$(newid)
	spec "$id" '["true"]' '.linux.resources += {memory: {limit: 16777216}}'
	out=$(h run --bundle "$bundle" "$id" </dev/null 2>&1) || { echo "  true under 16 MiB: $out"; return 1; }
}

check_pids_limit() {
	local id; id=$(newid)
	spec "$id" '["sleep","1000"]' '.linux.resources += {pids: {limit: 8}}'
	start "$id" >/dev/null || return 1
	local cg=$cgroot$parent/$id r=0
	# busybox sh gives up at the first fork that fails. The sleeps must
	# not hold the pipe of $(...) open.
	local out; out=$(h exec "$id" sh -c 'for i in $(seq 20); do sleep 1000 >/dev/null 2>&1 & done' 2>&1)
	echo "$out" | grep -qi 'fork' || { echo "  no fork failure under pids.max=8: $out"; r=1; }
	local cur; cur=$(cat $cg/pids.current)
	[ "$cur" -le 8 ] && [ "$cur" -ge 2 ] || { echo "  pids.current $cur, want 2..8"; r=1; }
	grep -q '^max [1-9]' $cg/pids.events || { echo "  pids.events: $(cat $cg/pids.events)"; r=1; }
	h delete -f "$id" || r=1
	return $r
}

check_freeze() {
	local id; id=$(newid)
	spec "$id" '["sleep","100"]'
	start "$id" >/dev/null || return 1
	local cg=$cgroot$parent/$id r=0
	h pause "$id" || return 1
	expect cgroup.freeze "$(cat $cg/cgroup.freeze)" 1 || r=1
	expect "cgroup.events frozen" "$(grep frozen $cg/cgroup.events)" "frozen 1" || r=1
	expect "state" "$(h state "$id" | jq -r .status)" paused || r=1
	h resume "$id" || r=1
	expect cgroup.freeze "$(cat $cg/cgroup.freeze)" 0 || r=1
	expect "cgroup.events frozen" "$(grep frozen $cg/cgroup.events)" "frozen 0" || r=1
	expect "state" "$(h state "$id" | jq -r .status)" running || r=1
	# A paused container can be deleted with -f.
	h pause "$id" || r=1
	h delete -f "$id" || r=1
	[ ! -e "$cg" ] || { echo "  $cg still exists after delete -f of a paused container"; r=1; }
	return $r
}

check_exec() {
	local id; id=$(newid)
	spec "$id" '["sleep","100"]'
	local pid; pid=$(start "$id") || return 1
	local r=0
	expect "exec /proc/self/cgroup" "$(h exec "$id" cat /proc/self/cgroup)" "0::/" || r=1
	h exec -d --pid-file "$work/e.pid" "$id" sleep 100 || r=1
	expect "exec'd process's host cgroup" "$(cat /proc/$(cat $work/e.pid)/cgroup)" "0::$parent/$id" || r=1
	h exec -d --cgroup sub --pid-file "$work/e2.pid" "$id" sleep 100 || r=1
	expect "exec --cgroup sub" "$(cat /proc/$(cat $work/e2.pid)/cgroup)" "0::$parent/$id/sub" || r=1
	expect "ps" "$(h ps --format json "$id" | jq length)" 3 || r=1
	h delete -f "$id" || r=1
	[ ! -e "$cgroot$parent/$id" ] || { echo "  cgroup left after delete -f"; r=1; }
	return $r
}

check_kill_all() {
	local id; id=$(newid)
	# No PID namespace: killing init alone leaves the exec'd processes.
	spec "$id" '["sleep","100"]' '.linux.namespaces |= map(select(.type != "pid"))'
	local pid; pid=$(start "$id") || return 1
	h exec -d "$id" sleep 101 || return 1
	h exec -d "$id" sleep 102 || return 1
	local cg=$cgroot$parent/$id r=0
	expect "processes" "$(wc -l <$cg/cgroup.procs)" 3 || r=1
	h kill --all "$id" KILL || r=1
	local i
	for i in $(seq 100); do
		[ -z "$(cat $cg/cgroup.procs)" ] && break
		sleep 0.1
	done
	expect "cgroup.procs after kill --all" "$(cat $cg/cgroup.procs | tr '\n' ' ')" "" || r=1
	h delete "$id" || r=1
	[ ! -e "$cg" ] || { echo "  $cg still exists after delete"; r=1; }
	return $r
}

check_relative_path() {
	# A relative cgroupsPath lands under /husk; delete removes the
	# container's cgroup (the shared /husk parent stays).
	local id; id=$(newid)
	local rel=${parent#/}-rel/$id
	spec "$id" '["cat","/proc/self/cgroup"]' ".linux.cgroupsPath = \"$rel\" | .linux.namespaces |= map(select(.type != \"cgroup\"))"
	local out; out=$(h run --bundle "$bundle" "$id" </dev/null 2>&1) || { echo "run: $out"; return 1; }
	local r=0
	expect "relative path" "$out" "0::/husk/$rel" || r=1
	[ ! -e "$cgroot/husk/$rel" ] || { echo "  cgroup left after run"; r=1; }
	rmdir "$cgroot/husk/${parent#/}-rel" "$cgroot/husk" 2>/dev/null
	return $r
}

echo "v2 checks: husk $("$husk" --version | head -n 1), parent cgroup $parent"
check "limits in v2 files, controllers enabled, delete removes cgroup" check_limits
check "container view: cgroupns 0::/, cgroup2 mount, own limits" check_inside_view
check "no cgroupns: real path" check_no_cgroupns
check "devices: defaults open, mknod allowed, open denied by eBPF unless a rule allows" check_devices
check "memory limit enforced, small program runs under 16 MiB" check_memory_limit
check "pids limit enforced" check_pids_limit
check "freeze: pause/resume via cgroup.freeze" check_freeze
check "exec joins cgroup (and --cgroup sub)" check_exec
check "kill --all empties the cgroup" check_kill_all
check "relative cgroupsPath under /husk" check_relative_path
echo "v2 checks: $passed passed, $failed failed"
[ $failed -eq 0 ]
