#!/usr/bin/env bats
# Failures exit non-zero, say what is wrong, and leave nothing behind: no
# state directory and no cgroup.

load helpers

# expect_create_failure ID TEXT runs `create ID` on the test bundle and
# checks that it fails mentioning TEXT and leaves nothing of ID behind.
expect_create_failure() {
	husk_bg create --bundle "$BUNDLE" "$1"
	assert_failure
	assert_output_contains "$2"
	assert_no_leftovers "$1"
	run husk list -q
	[ -z "$output" ]
}

@test "create without config.json" {
	id=$(new_id)
	rm "$BUNDLE/config.json"
	expect_create_failure "$id" config.json
}

@test "create with invalid JSON" {
	id=$(new_id)
	echo '{bad' >"$BUNDLE/config.json"
	husk_bg create --bundle "$BUNDLE" "$id"
	assert_failure
	assert_output_contains "invalid character"
	assert_no_leftovers "$id"
}

@test "create with an unknown namespace" {
	id=$(new_id)
	set_args "$id" '["true"]'
	update_config '.linux.namespaces += [{"type": "bogus"}]'
	expect_create_failure "$id" bogus
}

@test "create with a relative mount destination" {
	is_husk || skip "runc 1.1 only warns about relative mount destinations"
	id=$(new_id)
	set_args "$id" '["true"]'
	update_config '.mounts += [{"destination": "relative/dir", "type": "tmpfs", "source": "tmpfs"}]'
	expect_create_failure "$id" relative/dir
}

@test "create with a missing rootfs" {
	id=$(new_id)
	set_args "$id" '["true"]'
	update_config '.root.path = "no-such-rootfs"'
	expect_create_failure "$id" no-such-rootfs
}

@test "create with a duplicate id" {
	id=$(new_id)
	set_args "$id" '["sleep", "1000"]'
	husk_bg create --bundle "$BUNDLE" "$id"
	assert_success
	pid=$(state_field "$id" pid)
	husk_bg create --bundle "$BUNDLE" "$id"
	assert_failure
	assert_output_contains "exists"
	# The first container is untouched.
	[ "$(state_field "$id" status)" = created ]
	[ "$(state_field "$id" pid)" = "$pid" ]
}

@test "create with an invalid id" {
	set_args bad '["true"]'
	husk_bg create --bundle "$BUNDLE" "../escape"
	assert_failure
	[ ! -e "$TEST_TMP/escape" ]
}

@test "start of a running or stopped container fails" {
	id=$(new_id)
	start_sleeper "$id"
	run husk start "$id"
	assert_failure
	assert_output_contains "cannot start an already running container"

	run husk kill "$id" KILL
	assert_success
	wait_status "$id" stopped
	run husk start "$id"
	assert_failure
	assert_output_contains "cannot start a container that has stopped"
}

@test "start of a missing container fails" {
	run husk start nosuchcontainer
	assert_status 1
	assert_output_contains "does not exist"
}

@test "delete of a running container without --force fails" {
	id=$(new_id)
	start_sleeper "$id"
	run husk delete "$id"
	assert_failure
	assert_output_contains "running"
	[ "$(state_field "$id" status)" = running ]
}

@test "commands check their argument count" {
	run husk start
	assert_status 1
	assert_output_contains 'requires exactly 1 argument(s)'
	run husk kill a b c
	assert_status 1
	assert_output_contains 'requires a maximum of 2 argument(s)'
}

@test "unknown global flag values are rejected" {
	run husk --log-format xml list
	assert_status 1
	assert_output_contains 'xml'
}
