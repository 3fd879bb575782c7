#!/usr/bin/env bats
# Error reporting: text to stderr by default, JSON or text lines in --log
# for containerd's shim, and the plain message on stderr as well.

load helpers

@test "errors go to stderr in logrus text format without --log" {
	run husk state nosuchcontainer
	assert_status 1
	[[ "${lines[0]}" =~ ^time=\"[0-9-]+T[0-9:.]+(Z|[+-][0-9:]+)\"\ level=error\ msg=\".*does\ not\ exist.*\"$ ]]
}

@test "--log --log-format json writes a parseable error line" {
	log=$TEST_TMP/log.json
	run husk --log "$log" --log-format json state nosuchcontainer
	assert_status 1
	# The message also reaches stderr, plain, for podman/conmon.
	assert_output_contains "does not exist"
	[ "$(wc -l <"$log")" -eq 1 ]
	[ "$(jq -r .level "$log")" = error ]
	jq -e '.msg | test("does not exist")' "$log"
	jq -e '.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")' "$log"
	# Appended, never truncated.
	run husk --log "$log" --log-format json kill nosuchcontainer
	assert_status 1
	[ "$(wc -l <"$log")" -eq 2 ]
}

@test "--log with text format" {
	log=$TEST_TMP/log.txt
	run husk --log "$log" start nosuchcontainer
	assert_status 1
	grep -Eq '^time=".+" level=error msg=".*does not exist.*"$' "$log"
}

@test "a failed create is logged to the --log file" {
	id=$(new_id)
	rm "$BUNDLE/config.json"
	husk_bg --log "$TEST_TMP/log.json" --log-format json create --bundle "$BUNDLE" "$id"
	assert_failure
	jq -e 'select(.level == "error") | .msg | test("config.json")' "$TEST_TMP/log.json"
}

@test "--version prints version, commit and spec version" {
	is_husk || skip "husk's version text"
	run husk --version
	assert_success
	[[ "${lines[0]}" =~ ^husk\ version\ .+ ]]
	[[ "${lines[1]}" =~ ^commit:\ .+ ]]
	[ "${lines[2]}" = "spec: 1.3.0" ]
}

@test "the default root is /run/husk" {
	is_husk || skip "husk's default root"
	run "$HUSK" --help
	assert_success
	assert_output_contains '"/run/husk"'
}
