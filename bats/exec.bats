#!/usr/bin/env bats
# `exec` runs a new process in a running container: flags change the
# container's process settings, --process gives a whole process object,
# and errors are clear and leave nothing running.

load helpers

# cgroup_procs ID prints the PIDs in the container's pids cgroup.
cgroup_procs() {
	cat "/sys/fs/cgroup/pids/$CG_PARENT/$1/cgroup.procs"
}

@test "exec runs a command in the container and returns its exit status" {
	id=$(new_id)
	start_sleeper "$id"
	run husk exec "$id" hostname
	assert_success
	[ "$output" = bats ]
	run husk exec "$id" sh -c 'exit 42'
	assert_status 42
	# Death by signal N is 128+N.
	run husk exec "$id" sh -c 'kill -KILL $$'
	assert_status 137
	# Nothing is left in the container but its init.
	[ "$(cgroup_procs "$id")" = "$(state_field "$id" pid)" ]
}

@test "exec takes --user, --additional-gids, --cwd and --env" {
	id=$(new_id)
	start_sleeper "$id"
	run husk exec -u 1000:1001 -g 1002 -g 1003 --cwd /tmp -e FOO=bar -e PATH=/bin:/usr/bin "$id" \
		sh -c 'id -u; id -g; id -G; pwd; echo "$FOO $PATH"'
	assert_success
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = 1001 ]
	[ "${lines[2]}" = "1001 1002 1003" ]
	[ "${lines[3]}" = /tmp ]
	[ "${lines[4]}" = "bar /bin:/usr/bin" ]
}

@test "exec --cap adds to the bounding set, never to the inheritable one" {
	id=$(new_id)
	start_sleeper "$id"
	run husk exec --cap CAP_SYS_ADMIN "$id" cat /proc/self/status
	assert_success
	# CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE + CAP_SYS_ADMIN.
	[[ "$output" == *"CapBnd:	0000000020200420"* ]]
	[[ "$output" == *"CapInh:	0000000000000000"* ]]
	[[ "$output" == *"NoNewPrivs:	1"* ]]
}

@test "exec rejects an unknown capability and a malformed user" {
	is_husk || skip "runc only warns about unknown capabilities"
	id=$(new_id)
	start_sleeper "$id"
	run husk exec --cap CAP_NOPE "$id" true
	assert_failure
	assert_output_contains 'unknown capability'
	assert_output_contains 'CAP_NOPE'
	run husk exec -u nobody "$id" true
	assert_failure
	assert_output_contains '--user'
	[ "$(cgroup_procs "$id")" = "$(state_field "$id" pid)" ]
}

@test "exec --process reads a process object from a file and from stdin" {
	id=$(new_id)
	start_sleeper "$id"
	cat >"$TEST_TMP/process.json" <<-'JSON'
	{"args": ["sh", "-c", "echo \"$X\"; pwd; id -u"], "env": ["PATH=/bin", "X=from-json"], "cwd": "/tmp", "user": {"uid": 1000, "gid": 1000}}
	JSON
	run husk exec --process "$TEST_TMP/process.json" "$id"
	assert_success
	[ "$output" = "$(printf 'from-json\n/tmp\n1000')" ]
	is_husk || return 0 # runc cannot read the process from stdin
	run husk exec -p - "$id" <"$TEST_TMP/process.json"
	assert_success
	[ "$output" = "$(printf 'from-json\n/tmp\n1000')" ]
}

@test "exec --process names the invalid field" {
	is_husk || skip "husk's messages"
	id=$(new_id)
	start_sleeper "$id"
	echo '{"args": ["true"]}' >"$TEST_TMP/p1.json"
	run husk exec -p "$TEST_TMP/p1.json" "$id"
	assert_failure
	assert_output_contains 'process.cwd: missing'
	echo '{"args": ["true"], "cwd": "/", "capabilities": {"permitted": ["CAP_X"]}}' >"$TEST_TMP/p2.json"
	run husk exec -p "$TEST_TMP/p2.json" "$id"
	assert_failure
	assert_output_contains 'process.capabilities.permitted[0]'
	echo '{"args": "true", "cwd": "/"}' >"$TEST_TMP/p3.json"
	run husk exec -p "$TEST_TMP/p3.json" "$id"
	assert_failure
	assert_output_contains 'args'
	[ "$(cgroup_procs "$id")" = "$(state_field "$id" pid)" ]
}

@test "exec -d writes --pid-file and the process runs in the container's cgroup" {
	id=$(new_id)
	start_sleeper "$id"
	husk_bg exec -d --pid-file "$TEST_TMP/exec.pid" "$id" sleep 100
	assert_success
	pid=$(cat "$TEST_TMP/exec.pid")
	[ -n "$pid" ]
	grep -q "pids:/$CG_PARENT/$id\$" "/proc/$pid/cgroup"
	grep -qx "$pid" "/sys/fs/cgroup/pids/$CG_PARENT/$id/cgroup.procs"
	# ps lists it, kill --all reaches it.
	run husk ps "$id"
	assert_success
	assert_output_contains "sleep 100"
	run husk kill --all "$id" KILL
	assert_success
	for i in $(seq 50); do
		[ -z "$(cgroup_procs "$id")" ] && break
		sleep 0.1
	done
	[ -z "$(cgroup_procs "$id")" ]
}

@test "exec into a missing or stopped container fails" {
	run husk exec no-such-container true
	assert_failure
	assert_output_contains 'does not exist'
	id=$(new_id)
	set_args "$id" '["true"]'
	husk_bg run -d --bundle "$BUNDLE" "$id"
	assert_success
	wait_status "$id" stopped
	run husk exec "$id" true
	assert_failure
	assert_output_contains 'stopped'
}

@test "exec into a paused container needs --ignore-paused" {
	id=$(new_id)
	start_sleeper "$id"
	run husk pause "$id"
	assert_success
	run husk exec "$id" true
	assert_failure
	assert_output_contains 'paused'
	# The process freezes with the container and runs once it is resumed.
	husk exec --ignore-paused "$id" echo thawed >"$TEST_TMP/paused.out" 2>&1 &
	bg=$!
	sleep 0.3
	run husk resume "$id"
	assert_success
	wait "$bg"
	[ "$(cat "$TEST_TMP/paused.out")" = thawed ]
}

@test "exec of a missing binary fails and leaves nothing running" {
	id=$(new_id)
	start_sleeper "$id"
	run husk exec "$id" no-such-binary
	assert_failure
	assert_output_contains 'no-such-binary'
	[ "$(cgroup_procs "$id")" = "$(state_field "$id" pid)" ]
}

@test "exec -t -d needs a console socket" {
	id=$(new_id)
	start_sleeper "$id"
	run husk exec -t -d "$id" sh
	assert_failure
	assert_output_contains 'console socket'
}

@test "exec shares no host fd with the process" {
	id=$(new_id)
	start_sleeper "$id"
	# fd 5 is open in husk's caller but not preserved.
	run husk exec "$id" sh -c 'ls /proc/$$/fd; true' 5</etc/hostname
	assert_success
	[ "$(echo $output)" = "0 1 2" ]
}
