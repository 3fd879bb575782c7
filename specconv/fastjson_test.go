package specconv

import (
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// agree checks the property the fast decoder must have: when it accepts
// input, encoding/json accepts it too and decodes exactly the same spec.
func agree(t *testing.T, name string, data []byte) (fast bool) {
	t.Helper()
	got, ok := decodeSpecFast(data)
	var want specs.Spec
	err := json.Unmarshal(data, &want)
	if !ok {
		return false
	}
	if err != nil {
		t.Errorf("%s: the fast decoder accepted what encoding/json rejects (%v): %.200q", name, err, data)
		return true
	}
	if !reflect.DeepEqual(got, &want) {
		a, _ := json.Marshal(&want)
		b, _ := json.Marshal(got)
		t.Errorf("%s: decoders differ\nencoding/json: %s\nfast:          %s", name, a, b)
	}
	return true
}

// Every CRI fixture decodes the same both ways, and nearly all of them on
// the fast path (what falls back is named).
func TestFastDecodeMatchesEncodingJSONOnFixtures(t *testing.T) {
	files := fixtureFiles(t)
	fast := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if agree(t, filepath.Base(f), data) {
			fast++
		} else {
			t.Logf("%s: decoded by encoding/json", filepath.Base(f))
		}
	}
	if fast < len(files)*9/10 {
		t.Errorf("only %d of %d fixtures take the fast path", fast, len(files))
	}
	t.Logf("%d of %d fixtures on the fast path", fast, len(files))
}

func TestFastDecodeEdgeCases(t *testing.T) {
	for name, c := range map[string]struct {
		in   string
		fast bool
	}{
		"example":        {mustJSON(t, Example()), true},
		"empty":          {`{}`, true},
		"nulls":          {`{"process":null,"root":null,"hooks":null,"linux":null,"mounts":null,"annotations":null,"hostname":null}`, true},
		"inner nulls":    {`{"process":{"user":null,"args":null,"consoleSize":null,"oomScoreAdj":null,"capabilities":{"bounding":null}},"linux":{"resources":{"memory":{"limit":null}}}}`, true},
		"empty lists":    {`{"mounts":[],"process":{"args":[],"env":[]},"annotations":{},"linux":{"sysctl":{},"namespaces":[]}}`, true},
		"escapes":        {`{"hostname":"a\"b\\c\u00e9\n","process":{"env":["A=\ud83d\ude00"]}}`, true},
		"utf8":           {"{\"hostname\":\"h\u00e9\"}", true},
		"whitespace":     {" \n{ \"hostname\" : \"h\" ,\r\n\t\"ociVersion\":\"1.0.0\" } \n", true},
		"negative int":   {`{"process":{"oomScoreAdj":-1000},"linux":{"resources":{"memory":{"swap":-1}}}}`, true},
		"max uint64":     {`{"process":{"rlimits":[{"type":"RLIMIT_NOFILE","hard":18446744073709551615,"soft":1}]}}`, true},
		"unknown key":    {`{"hostname":"h","x-extension":1}`, false},
		"other case":     {`{"HostName":"h"}`, false},
		"windows":        {`{"windows":{}}`, false},
		"duplicate":      {`{"hostname":"a","hostname":"b"}`, false},
		"uint overflow":  {`{"process":{"user":{"uid":4294967296}}}`, false},
		"negative uint":  {`{"process":{"user":{"uid":-1}}}`, false},
		"float":          {`{"process":{"user":{"uid":1.5}}}`, false},
		"exponent":       {`{"process":{"user":{"uid":1e3}}}`, false},
		"leading zero":   {`{"process":{"user":{"uid":01}}}`, false},
		"string for int": {`{"process":{"user":{"uid":"1"}}}`, false},
		"int for string": {`{"hostname":1}`, false},
		"trailing comma": {`{"hostname":"h",}`, false},
		"trailing data":  {`{"hostname":"h"} x`, false},
		"truncated":      {`{"hostname":"h"`, false},
		"bad utf8":       {"{\"hostname\":\"\xff\"}", true}, // U+FFFD, as encoding/json
		"control char":   {"{\"hostname\":\"a\x01\"}", false},
		"top-level null": {`null`, false},
		"bom":            {"\xef\xbb\xbf{}", false},
	} {
		if got := agree(t, name, []byte(c.in)); got != c.fast {
			t.Errorf("%s: fast path %v, want %v", name, got, c.fast)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Damaged fixtures (bytes deleted, changed or duplicated at random) never
// make the fast decoder accept something encoding/json decodes otherwise.
func TestFastDecodeAgreesOnDamagedInput(t *testing.T) {
	files := fixtureFiles(t)
	rng := rand.New(rand.NewSource(1))
	const rounds = 3000
	for i := 0; i < rounds; i++ {
		data, err := os.ReadFile(files[rng.Intn(len(files))])
		if err != nil {
			t.Fatal(err)
		}
		for n := 1 + rng.Intn(3); n > 0; n-- {
			p := rng.Intn(len(data))
			switch rng.Intn(3) {
			case 0:
				data = append(data[:p], data[p+1:]...)
			case 1:
				const set = "{}[]\",:0123456789-.eE tfnul\\x"
				data[p] = set[rng.Intn(len(set))]
			default:
				data = append(data[:p], append([]byte{data[p]}, data[p:]...)...)
			}
		}
		agree(t, "damaged", data)
	}
}

func FuzzDecodeSpecFast(f *testing.F) {
	f.Add([]byte(`{"process":{"args":["sh"],"user":{"uid":1}},"linux":{"namespaces":[{"type":"pid"}]}}`))
	f.Add([]byte(`{"hostname":"a\u0041","mounts":[{"destination":"/d","options":["ro"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		agree(t, "fuzz", data)
	})
}

// The same for a process object alone, from each fixture's process.
func TestFastProcessDecodeMatchesEncodingJSON(t *testing.T) {
	files := fixtureFiles(t)
	rng := rand.New(rand.NewSource(2))
	fast := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var raw struct {
			Process json.RawMessage `json:"process"`
		}
		if err := json.Unmarshal(data, &raw); err != nil || raw.Process == nil {
			continue
		}
		for i := 0; i < 4; i++ {
			b := append([]byte(nil), raw.Process...)
			if i > 0 { // damaged copies
				p := rng.Intn(len(b))
				b[p] = "{}[]\",:0123456789-"[rng.Intn(18)]
			}
			got, ok := decodeProcessFast(b)
			var want specs.Process
			err := json.Unmarshal(b, &want)
			if !ok {
				continue
			}
			if i == 0 {
				fast++
			}
			if err != nil {
				t.Errorf("%s: fast decoder accepted what encoding/json rejects: %v", filepath.Base(f), err)
			} else if !reflect.DeepEqual(got, &want) {
				t.Errorf("%s: decoders differ on the process", filepath.Base(f))
			}
		}
	}
	if fast < len(files)*9/10 {
		t.Errorf("only %d of %d processes on the fast path", fast, len(files))
	}
}
