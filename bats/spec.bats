#!/usr/bin/env bats
# `spec` writes a starter config.json and never overwrites one.

load helpers

@test "spec writes a valid default config.json" {
	cd "$TEST_TMP"
	run husk spec
	assert_success
	[ -f config.json ]
	jq -e '.ociVersion | test("^1\\.")' config.json
	[ "$(jq -r '.root.path' config.json)" = rootfs ]
	[ "$(jq -c '.process.args' config.json)" = '["sh"]' ]
	[ "$(jq -r '.process.terminal' config.json)" = true ]
	jq -e '.linux.namespaces | map(.type) | index("pid") != null' config.json
	jq -e '.mounts | map(.destination) | index("/proc") != null' config.json
}

@test "spec --bundle writes into the bundle" {
	mkdir "$TEST_TMP/other"
	run husk spec --bundle "$TEST_TMP/other"
	assert_success
	jq -e . "$TEST_TMP/other/config.json" >/dev/null
}

@test "spec refuses to overwrite config.json" {
	cd "$TEST_TMP"
	echo '{"keep": "me"}' >config.json
	run husk spec
	assert_failure
	assert_output_contains "File config.json exists. Remove it first"
	[ "$(cat config.json)" = '{"keep": "me"}' ]
}

@test "spec --rootless adds a user namespace with mappings" {
	cd "$TEST_TMP"
	run husk spec --rootless
	assert_success
	jq -e '.linux.namespaces | map(.type) | index("user") != null' config.json
	jq -e '.linux.uidMappings | length > 0' config.json
	jq -e '.linux.gidMappings | length > 0' config.json
}
