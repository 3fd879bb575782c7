package libcontainer

import (
	"encoding/json"
	"testing"
)

// The hand-written sync message codec reads what encoding/json writes and
// writes what encoding/json reads, for every kind of string.
func TestSyncMsgCodecMatchesEncodingJSON(t *testing.T) {
	for _, m := range []syncMsg{
		{Type: "ready"},
		{Type: "error", Msg: "mount /a on /b: no such file or directory"},
		{Type: "error", Msg: `exec: "no\"such\\prog": executable file not found in $PATH`},
		{Type: "error", Msg: "tab\tnewline\n\x01 unicode é 😀 <&>"},
		{Type: "error", Msg: "bad utf8 \xff\xfe"},
		{Type: "ready", Msg: `[{"n":"init-plan","s":1,"e":2}]`},
	} {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back syncMsg
		if err := json.Unmarshal(encodeSyncMsg(m), &back); err != nil {
			t.Fatalf("%q: encoding/json cannot read %q: %v", m.Msg, encodeSyncMsg(m), err)
		}
		var viaJSON syncMsg
		if err := json.Unmarshal(want, &viaJSON); err != nil {
			t.Fatal(err)
		}
		if back != viaJSON {
			t.Errorf("%q: written as %q, read back by encoding/json as %+v, want %+v", m.Msg, encodeSyncMsg(m), back, viaJSON)
		}
		got, err := decodeSyncMsg(want)
		if err != nil || got != viaJSON {
			t.Errorf("decode %s: %+v, %v; want %+v", want, got, err, viaJSON)
		}
	}
	if _, err := decodeSyncMsg([]byte(`{"type":"x"`)); err == nil {
		t.Error("a truncated message decodes")
	}
}
