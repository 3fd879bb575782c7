package libcontainer

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// IndentedJSON must print what json.MarshalIndent does, byte for byte,
// whatever the strings hold.
func TestStateIndentedJSONMatchesEncodingJSON(t *testing.T) {
	odd := "a\"b\\c\n\r\t\b\f\x01\x1f<>&\x7f é \u2028\u2029 \xff\xfe end"
	for _, st := range []*State{
		{},
		{Version: "1.0.2", ID: "c1", Pid: 42, Status: Running, Bundle: "/b", Rootfs: "/b/rootfs",
			Created: time.Date(2026, 12, 7, 1, 2, 3, 456789000, time.UTC), Owner: "root"},
		{Version: odd, ID: odd, Pid: -1, Status: Status(odd), Bundle: odd, Rootfs: odd,
			Created:     time.Date(1999, 1, 2, 3, 4, 5, 0, time.FixedZone("x", -3*3600-1800)),
			Annotations: map[string]string{"z": odd, odd: "v", "a": "", "m<&>": "1"}, Owner: odd},
		{ID: "empty-annotations", Annotations: map[string]string{}, Created: time.Unix(0, 1).UTC()},
	} {
		want, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got := st.IndentedJSON(); string(got) != string(want) {
			t.Errorf("IndentedJSON:\n%s\nencoding/json:\n%s", got, want)
		}
	}
	// A field added to State must be added to IndentedJSON too.
	if n := reflect.TypeOf(State{}).NumField(); n != 9 {
		t.Errorf("State has %d fields; IndentedJSON writes 9: update it and this test", n)
	}
}
