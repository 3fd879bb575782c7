#!/usr/bin/env bats
# `ps` lists the container's processes.

load helpers

@test "ps lists the container's processes" {
	id=$(new_id)
	start_sleeper "$id"
	pid=$(state_field "$id" pid)

	run husk ps --format json "$id"
	assert_success
	[ "$(jq -c . <<<"$output")" = "[$pid]" ]

	run husk ps "$id"
	assert_success
	[[ "${lines[0]}" =~ PID ]]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" =~ ^[a-z0-9]+\ +$pid\  ]]
	[[ "${lines[1]}" =~ sleep\ 1000 ]]

	# Options after the id are passed to ps(1).
	run husk ps "$id" -o pid,comm
	assert_success
	[[ "${lines[0]}" =~ PID\ +COMMAND ]]
	[[ "${lines[1]}" =~ ^\ *$pid\ +sleep$ ]]
}

@test "ps --format json lists every process" {
	id=$(new_id)
	set_args "$id" '["sh", "-c", "sleep 1000 & sleep 1000 & wait"]'
	husk_bg run -d --bundle "$BUNDLE" "$id"
	assert_success
	for i in $(seq 50); do
		run husk ps --format json "$id"
		[ "$(jq length <<<"$output")" -eq 3 ] && break
		sleep 0.1
	done
	[ "$(jq length <<<"$output")" -eq 3 ]
}
