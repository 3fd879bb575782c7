package libcontainer

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/husk-runtime/husk/cgroups/manager"
)

// fill sets every exported field reachable from v to a non-zero value
// (lists and maps get two elements), so that a round trip shows any field
// the codec forgets.
func fill(t *testing.T, v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + strconv.Itoa(*n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n % 100))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < 2; i++ {
			fill(t, v.Index(i), n)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for i := 0; i < 2; i++ {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(t, k, n)
			fill(t, e, n)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), n)
			}
		}
	case reflect.Interface:
		// json.RawMessage-like fields do not occur in the light config.
	default:
		t.Fatalf("fill: unhandled kind %s (%s)", v.Kind(), v.Type())
	}
}

func filledState(t *testing.T) *persistedState {
	var s persistedState
	n := 0
	fill(t, reflect.ValueOf(&s).Elem(), &n)
	s.Created = time.Unix(1700000000, 123456789).UTC()
	s.Config = lightConfig(s.Config)
	s.fast = &fastRecord{flags: fastUsable | fastPoststop, cgroup: manager.Files{
		Dirs: []string{"/a/x", "/b/x"}, ProcsDir: "/a/x", FreezeFile: "/c/x/freezer.state", FreezeV2: true,
	}}
	return &s
}

// Every field of the state and of the light config survives the binary
// state file; a field added to configs.Config (or kept by lightConfig)
// without a line in statecodec.go fails here.
func TestStateCodecRoundTripsEveryField(t *testing.T) {
	s := filledState(t)
	got, err := decodeState(encodeState(s))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		a, _ := json.MarshalIndent(s, "", " ")
		b, _ := json.MarshalIndent(got, "", " ")
		t.Fatalf("round trip differs:\nwant %s\ngot  %s", a, b)
	}
}

// A truncated or damaged state file is an error, never a panic or a
// half-read state.
func TestStateCodecRejectsCorruptFiles(t *testing.T) {
	b := encodeState(filledState(t))
	for i := 0; i < len(b); i++ {
		if _, err := decodeState(b[:i]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", i, len(b))
		}
	}
	if _, err := decodeState(append(b[:len(b):len(b)], 0)); err == nil {
		t.Error("trailing byte: no error")
	}
	bad := append([]byte(nil), b...)
	bad[len(stateMagic)] = 0xff // a length with the varint continuation bit, then garbage
	if _, err := decodeState(bad); err == nil {
		t.Error("damaged length: no error")
	}
}

// The JSON state.json of an older husk is still read.
func TestLoadStateReadsLegacyJSON(t *testing.T) {
	dir := t.TempDir()
	s := filledState(t)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, legacyStateFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if !hasState(dir) {
		t.Fatal("hasState: no state found")
	}
	got, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != s.ID || got.Pid != s.Pid || got.Config.Process.Cwd != s.Config.Process.Cwd {
		t.Errorf("legacy state read as %+v", got)
	}
	if _, err := loadState(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an empty directory: %v, want not found", err)
	}
}

// The whole config survives its file too, every field filled.
func TestConfigCodecRoundTripsEveryField(t *testing.T) {
	var s persistedState
	n := 0
	fill(t, reflect.ValueOf(&s).Elem(), &n)
	c := s.Config
	got, err := decodeFullConfig(encodeFullConfig(c))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		a, _ := json.MarshalIndent(c, "", " ")
		b, _ := json.MarshalIndent(got, "", " ")
		t.Fatalf("round trip differs:\nwant %s\ngot  %s", a, b)
	}
	b := encodeFullConfig(c)
	for i := 0; i < len(b); i += 7 {
		if _, err := decodeFullConfig(b[:i]); err == nil {
			t.Fatalf("config truncated to %d of %d bytes: no error", i, len(b))
		}
	}
}

// The JSON config.json of an older husk is still read.
func TestLoadConfigReadsLegacyJSON(t *testing.T) {
	dir := t.TempDir()
	var s persistedState
	n := 0
	fill(t, reflect.ValueOf(&s).Elem(), &n)
	b, err := json.Marshal(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, legacyConfigFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := loadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Mounts) != 2 || got.Seccomp == nil || got.Cgroup.Resources == nil {
		t.Errorf("legacy config read as %+v", got)
	}
}
