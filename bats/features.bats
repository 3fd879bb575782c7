#!/usr/bin/env bats
# `features` describes what the runtime supports.

load helpers

@test "features prints JSON with the supported OCI versions" {
	run husk features
	assert_success
	jq -e '.ociVersionMin and .ociVersionMax' <<<"$output"
	jq -e '.hooks | index("prestart") != null' <<<"$output"
	jq -e '.linux.namespaces | index("pid") != null' <<<"$output"
	jq -e '.mountOptions | index("ro") != null' <<<"$output"
}
