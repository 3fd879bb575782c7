package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestJSONLogLineIsWhatContainerdParses(t *testing.T) {
	var buf bytes.Buffer
	l := &logger{out: &buf, json: true}
	l.write("error", `open "x": no such file`)
	if !strings.HasSuffix(buf.String(), "\n") || strings.Count(buf.String(), "\n") != 1 {
		t.Fatalf("want one line, got %q", buf.String())
	}
	var entry struct{ Level, Msg, Time string }
	if err := json.Unmarshal(buf.Bytes(), &entry); err != nil {
		t.Fatalf("unmarshal %q: %v", buf.String(), err)
	}
	if entry.Level != "error" || entry.Msg != `open "x": no such file` {
		t.Errorf("got %+v", entry)
	}
	if _, err := time.Parse(time.RFC3339Nano, entry.Time); err != nil {
		t.Errorf("time %q: %v", entry.Time, err)
	}
	if !strings.HasPrefix(buf.String(), `{"level":"error","msg":`) {
		t.Errorf("field order differs from logrus: %q", buf.String())
	}
}

func TestTextLogLineQuotesLikeLogrus(t *testing.T) {
	for msg, want := range map[string]string{
		"container does not exist": `msg="container does not exist"`,
		"plain-word_1.2/x@y^z+":    `msg=plain-word_1.2/x@y^z+`,
		`say "hi"`:                 `msg="say \"hi\""`,
		"":                         `msg=""`,
	} {
		var buf bytes.Buffer
		l := &logger{out: &buf}
		l.write("error", msg)
		re := regexp.MustCompile(`^time="[^"]+" level=error (.*)\n$`)
		m := re.FindStringSubmatch(buf.String())
		if m == nil {
			t.Errorf("line %q does not match %s", buf.String(), re)
			continue
		}
		if m[1] != want {
			t.Errorf("message %q logged as %s, want %s", msg, m[1], want)
		}
	}
}

func TestDebugOnlyWithDebugFlag(t *testing.T) {
	saved := logOut
	t.Cleanup(func() { logOut = saved })
	var buf bytes.Buffer
	logOut = &logger{out: &buf}
	logDebugf("hidden")
	if buf.Len() != 0 {
		t.Errorf("debug line written without --debug: %q", buf.String())
	}
	logOut.debug = true
	logDebugf("shown %d", 1)
	if !strings.Contains(buf.String(), "level=debug msg=\"shown 1\"") {
		t.Errorf("debug line missing: %q", buf.String())
	}
}

func TestSetupLogAppendsToFile(t *testing.T) {
	saved := logOut
	t.Cleanup(func() { logOut = saved })
	path := filepath.Join(t.TempDir(), "log.json")
	if err := os.WriteFile(path, []byte("previous\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := setupLog(path, "json", false); err != nil {
		t.Fatal(err)
	}
	if logOut.toStderr {
		t.Error("logger with a file still claims stderr")
	}
	logErrorf("boom %s", "x")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || lines[0] != "previous" || !strings.Contains(lines[1], `"msg":"boom x"`) {
		t.Errorf("log file = %q", data)
	}
}

func TestSetupLogRejectsUnknownFormat(t *testing.T) {
	saved := logOut
	t.Cleanup(func() { logOut = saved })
	err := setupLog("", "xml", false)
	if err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("setupLog with format xml: %v", err)
	}
}
