#!/usr/bin/env bats
# The create → start → kill → delete life cycle and what `state` says at
# each step.

load helpers

@test "create, start, kill, delete: state at every step" {
	id=$(new_id)
	set_args "$id" '["sleep", "1000"]'

	husk_bg create --bundle "$BUNDLE" --pid-file "$TEST_TMP/pid" "$id"
	assert_success

	run husk state "$id"
	assert_success
	[ "$(jq -r .status <<<"$output")" = created ]
	[ "$(jq -r .id <<<"$output")" = "$id" ]
	[ "$(jq -r .bundle <<<"$output")" = "$BUNDLE" ]
	pid=$(jq -r .pid <<<"$output")
	[ "$pid" -gt 0 ]
	[ -d "/proc/$pid" ]

	# The pid file holds the init pid, without a newline.
	[ "$(cat "$TEST_TMP/pid")" = "$pid" ]
	[ "$(stat -c %s "$TEST_TMP/pid")" -eq "${#pid}" ]

	run husk start "$id"
	assert_success
	[ "$(state_field "$id" status)" = running ]
	[ "$(state_field "$id" pid)" = "$pid" ]

	run husk kill "$id" KILL
	assert_success
	wait_status "$id" stopped

	run husk delete "$id"
	assert_success
	assert_no_leftovers "$id"

	run husk state "$id"
	assert_failure
	assert_output_contains "does not exist"
}

@test "state prints runc's fields" {
	id=$(new_id)
	set_args "$id" '["sleep", "1000"]'
	husk_bg create --bundle "$BUNDLE" "$id"
	assert_success
	run husk state "$id"
	assert_success
	for f in ociVersion id pid status bundle rootfs created owner; do
		jq -e "has(\"$f\")" <<<"$output" >/dev/null
	done
	[ "$(jq -r .rootfs <<<"$output")" = "$BUNDLE/rootfs" ]
	# Empty, as runc's state has it; list names the owner.
	[ "$(jq -r .owner <<<"$output")" = "" ]
}

@test "delete of a created container removes it" {
	id=$(new_id)
	set_args "$id" '["sleep", "1000"]'
	husk_bg create --bundle "$BUNDLE" "$id"
	assert_success
	pid=$(state_field "$id" pid)
	run husk delete "$id"
	assert_success
	assert_no_leftovers "$id"
	# The blocked init is gone too (allow the kernel a moment to reap it).
	for i in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
	[ ! -d "/proc/$pid" ] || [ "$(awk '{print $3}' "/proc/$pid/stat")" = Z ]
}

@test "delete --force of a running container" {
	id=$(new_id)
	start_sleeper "$id"
	run husk delete --force "$id"
	assert_success
	assert_no_leftovers "$id"
}

@test "delete of a missing container fails, with --force succeeds" {
	run husk delete nosuchcontainer
	assert_status 1
	assert_output_contains "does not exist"
	run husk delete --force nosuchcontainer
	assert_success
}

@test "pause and resume" {
	id=$(new_id)
	start_sleeper "$id"
	run husk pause "$id"
	assert_success
	[ "$(state_field "$id" status)" = paused ]
	run husk resume "$id"
	assert_success
	[ "$(state_field "$id" status)" = running ]
}
