package specconv

import (
	"strings"
	"testing"
)

func TestDecodeAndConvertProcess(t *testing.T) {
	sp, err := DecodeProcess([]byte(`{"args": ["sh"], "cwd": "/", "capabilities": {"bounding": ["CAP_KILL"]}, "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 5}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ConvertProcess(sp)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Capabilities.Bounding) != 1 || p.Capabilities.Bounding[0] != 5 || len(p.Rlimits) != 1 || p.Rlimits[0].Soft != 5 {
		t.Errorf("converted process: %+v", p)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"args": "sh"}`, "args: line 1"},
		{"{\n\"args\": [\"sh\"],", "line 2"},
	} {
		if _, err := DecodeProcess([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DecodeProcess(%q): %v, want error with %q", tc.json, err, tc.want)
		}
	}
	if _, err := ConvertProcess(nil); err == nil {
		t.Error("ConvertProcess(nil) succeeded")
	}
	sp, _ = DecodeProcess([]byte(`{"args": ["sh"], "cwd": "/", "capabilities": {"effective": ["CAP_NOPE"]}}`))
	if _, err := ConvertProcess(sp); err == nil || !strings.Contains(err.Error(), `process.capabilities.effective[0]: unknown capability "CAP_NOPE"`) {
		t.Errorf("unknown capability: %v", err)
	}
}
