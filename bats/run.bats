#!/usr/bin/env bats
# `run` in the foreground and detached: output, exit codes, clean-up.

load helpers

@test "run prints the container's output and exits 0" {
	id=$(new_id)
	set_args "$id" '["sh", "-c", "echo hello; hostname"]'
	run husk run --bundle "$BUNDLE" "$id"
	assert_success
	[ "${lines[0]}" = hello ]
	[ "${lines[1]}" = bats ]
	assert_no_leftovers "$id"
}

@test "run exits with the container's exit code" {
	id=$(new_id)
	set_args "$id" '["sh", "-c", "exit 3"]'
	run husk run --bundle "$BUNDLE" "$id"
	assert_status 3
	assert_no_leftovers "$id"
}

@test "run exits with 128+9 when the container is killed by SIGKILL" {
	id=$(new_id)
	set_args "$id" '["sh", "-c", "kill -9 $$"]'
	# Without a pid namespace: the kernel ignores SIGKILL that a pid
	# namespace's init sends itself.
	update_config '.linux.namespaces |= map(select(.type != "pid"))'
	run husk run --bundle "$BUNDLE" "$id"
	assert_status 137
	assert_no_leftovers "$id"
}

@test "run -b works with a relative bundle" {
	id=$(new_id)
	set_args "$id" '["true"]'
	cd "$TEST_TMP"
	run husk run -b bundle "$id"
	assert_success
}

@test "run --keep leaves the stopped container" {
	id=$(new_id)
	set_args "$id" '["true"]'
	run husk run --keep --bundle "$BUNDLE" "$id"
	assert_success
	[ "$(state_field "$id" status)" = stopped ]
	run husk delete "$id"
	assert_success
	assert_no_leftovers "$id"
}

@test "run forwards signals to the container" {
	id=$(new_id)
	set_args "$id" '["sh", "-c", "trap \"echo got-term; exit 7\" TERM; echo ready; while true; do sleep 0.1; done"]'
	"$HUSK" --root "$ROOT" run --bundle "$BUNDLE" "$id" </dev/null >"$TEST_TMP/out" 2>&1 &
	local hpid=$!
	for i in $(seq 50); do grep -q ready "$TEST_TMP/out" && break; sleep 0.1; done
	kill -TERM "$hpid"
	local st=0
	wait "$hpid" || st=$?
	[ "$st" -eq 7 ]
	grep -q got-term "$TEST_TMP/out"
}

@test "run -d starts the container and returns" {
	id=$(new_id)
	set_args "$id" '["sleep", "1000"]'
	husk_bg run -d --bundle "$BUNDLE" --pid-file "$TEST_TMP/pid" "$id"
	assert_success
	[ "$(state_field "$id" status)" = running ]
	[ "$(cat "$TEST_TMP/pid")" = "$(state_field "$id" pid)" ]
}

@test "run -d with a terminal needs a console socket" {
	id=$(new_id)
	set_args "$id" '["sleep", "1000"]'
	update_config '.process.terminal = true'
	husk_bg run -d --bundle "$BUNDLE" "$id"
	assert_failure
	assert_output_contains "cannot allocate tty if"
	assert_output_contains "will detach without setting console socket"
	assert_no_leftovers "$id"
}

@test "run with a terminal relays the container's output" {
	command -v script >/dev/null || skip "needs script(1) for a controlling terminal"
	id=$(new_id)
	set_args "$id" '["sh", "-c", "test -t 0 && test -t 1 && echo on-a-tty; exit 5"]'
	update_config '.process.terminal = true'
	# script(1) gives the runtime a controlling terminal, as an interactive
	# shell would; -e passes the exit status through.
	run script -qec "$HUSK --root $ROOT run --bundle $BUNDLE $id" /dev/null
	assert_status 5
	assert_output_contains "on-a-tty"
	assert_no_leftovers "$id"
}

@test "run --preserve-fds passes the caller's extra fds" {
	id=$(new_id)
	echo preserved >"$TEST_TMP/extra"
	set_args "$id" '["sh", "-c", "cat <&3"]'
	run husk run --preserve-fds 1 --bundle "$BUNDLE" "$id" 3<"$TEST_TMP/extra"
	assert_success
	[ "$output" = preserved ]
}

@test "run with a missing bundle directory fails" {
	id=$(new_id)
	run husk run --bundle "$TEST_TMP/nope" "$id"
	assert_failure
	assert_output_contains "$TEST_TMP/nope"
	assert_no_leftovers "$id"
}
