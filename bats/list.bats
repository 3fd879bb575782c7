#!/usr/bin/env bats
# `list` in its table, quiet and JSON forms.

load helpers

@test "list of an empty root: table header, json null" {
	run husk list
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" =~ ^ID\ +PID\ +STATUS\ +BUNDLE\ +CREATED\ +OWNER$ ]]
	run husk list --format json
	assert_success
	[ "$output" = null ]
	run husk list -q
	assert_success
	[ -z "$output" ]
}

@test "list shows created and running containers" {
	id1=$(new_id)
	set_args "$id1" '["sleep", "1000"]'
	husk_bg create --bundle "$BUNDLE" "$id1"
	assert_success
	id2=$(new_id)
	start_sleeper "$id2"

	run husk list
	assert_success
	[ "${#lines[@]}" -eq 3 ]
	local row
	row=$(grep "^$id1 " <<<"$output")
	[[ "$row" =~ ^$id1\ +[0-9]+\ +created\ +$BUNDLE\ +[0-9-]+T[0-9:.]+(Z|[+-][0-9:]+)\ +root$ ]]
	row=$(grep "^$id2 " <<<"$output")
	[[ "$row" =~ \ running\  ]]

	run husk list -q
	assert_success
	[ "$output" = "$(printf '%s\n' "$id1" "$id2" | sort)" ]

	run husk list -f json
	assert_success
	[ "$(jq length <<<"$output")" -eq 2 ]
	[ "$(jq -r ".[] | select(.id == \"$id1\") | .status" <<<"$output")" = created ]
	[ "$(jq -r ".[] | select(.id == \"$id2\") | .status" <<<"$output")" = running ]
	[ "$(jq -r ".[] | select(.id == \"$id2\") | .pid" <<<"$output")" = "$(state_field "$id2" pid)" ]
}
