#!/usr/bin/env bats
# `kill` parses signals by name and number and reaches all processes with
# --all.

load helpers

# start_trapper ID runs a container whose init reports the signals it gets.
start_trapper() {
	set_args "$1" '["sh", "-c", "for s in HUP USR1 USR2 INT; do trap \"echo got-$s >>/tmp/sigs\" $s; done; trap \"exit 0\" TERM; echo >/tmp/ready; while true; do sleep 0.1; done"]'
	husk_bg run -d --bundle "$BUNDLE" "$1"
	assert_success
	for i in $(seq 50); do [ -e "$BUNDLE/rootfs/tmp/ready" ] && break; sleep 0.1; done
}

# wait_sig NAME waits for the trapper to report signal NAME.
wait_sig() {
	for i in $(seq 50); do grep -q "got-$1" "$BUNDLE/rootfs/tmp/sigs" 2>/dev/null && return 0; sleep 0.1; done
	echo "signal $1 not received" >&2
	return 1
}

@test "kill accepts names with and without SIG, any case, and numbers" {
	id=$(new_id)
	start_trapper "$id"
	run husk kill "$id" SIGHUP
	assert_success
	wait_sig HUP
	run husk kill "$id" usr1
	assert_success
	wait_sig USR1
	run husk kill "$id" 12
	assert_success
	wait_sig USR2
	run husk kill "$id" sigint
	assert_success
	wait_sig INT
	# Default: SIGTERM.
	run husk kill "$id"
	assert_success
	wait_status "$id" stopped
}

@test "kill --all signals every process in the container" {
	id=$(new_id)
	set_args "$id" '["sh", "-c", "trap \"\" TERM; sleep 1000 & sleep 1000 & wait"]'
	husk_bg run -d --bundle "$BUNDLE" "$id"
	assert_success
	for i in $(seq 50); do
		[ "$(husk ps --format json "$id" | jq length)" -eq 3 ] && break
		sleep 0.1
	done
	run husk kill --all "$id" KILL
	assert_success
	wait_status "$id" stopped
}

@test "kill with an unknown signal fails and names it" {
	id=$(new_id)
	start_sleeper "$id"
	run husk kill "$id" NOTASIGNAL
	assert_failure
	assert_output_contains 'unknown signal'
	assert_output_contains 'NOTASIGNAL'
	[ "$(state_field "$id" status)" = running ]
}

@test "kill with a real-time signal" {
	is_husk || skip "runc 1.1 does not parse RTMIN+N"
	id=$(new_id)
	# SIGRTMIN+3 is 37 for glibc, musl and busybox.
	set_args "$id" '["sh", "-c", "trap \"exit 0\" 37; echo >/tmp/ready; while true; do sleep 0.1; done"]'
	husk_bg run -d --bundle "$BUNDLE" "$id"
	assert_success
	for i in $(seq 50); do [ -e "$BUNDLE/rootfs/tmp/ready" ] && break; sleep 0.1; done
	run husk kill "$id" RTMIN+3
	assert_success
	wait_status "$id" stopped
}
