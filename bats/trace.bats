#!/usr/bin/env bats
# --trace FILE: a JSON timeline of a command's phases, in husk and in the
# container's init. husk-only (runc has no such flag).

load helpers

@test "--trace writes the phases of run, from husk and from the container's init" {
	is_husk || skip "--trace is husk's own flag"
	id=$(new_id)
	set_args "$id" '["true"]'
	trace="$TEST_TMP/trace.json"
	run husk --trace "$trace" run --bundle "$BUNDLE" "$id"
	assert_success
	# Every event has a name, a process, a start and a duration.
	jq -e '.events | length > 5' "$trace"
	jq -e '(.events | length) as $n | [.events[] | select(.name and .process and (.start_us >= 0) and (.dur_us >= 0))] | length == $n' "$trace"
	for phase in total parse init start running wait delete; do
		jq -e --arg p "$phase" 'any(.events[]; .process == "husk" and .name == $p)' "$trace"
	done
	# The process is cloned by husk, or by the stage that made its
	# namespaces before husk's Go runtime started.
	jq -e 'any(.events[]; .process == "husk" and (.name == "fork-exec+nsenter" or .name == "fork-ahead"))' "$trace"
	for phase in rootfs-prepare rootfs-finalize credentials; do
		jq -e --arg p "$phase" 'any(.events[]; .process == "init" and .name == $p)' "$trace"
	done
	assert_no_leftovers "$id"
}

@test "--trace also times exec, inside the container" {
	is_husk || skip "--trace is husk's own flag"
	id=$(new_id)
	set_args "$id" '["sleep", "100"]'
	husk_bg run -d --bundle "$BUNDLE" "$id"
	trace="$TEST_TMP/exec-trace.json"
	run husk --trace "$trace" exec "$id" true
	assert_success
	jq -e 'any(.events[]; .process == "husk" and .name == "exec-init")' "$trace"
	jq -e 'any(.events[]; .process == "husk" and .name == "running")' "$trace"
	jq -e 'any(.events[]; .process == "init" and .name == "credentials")' "$trace"
	husk delete -f "$id"
}
