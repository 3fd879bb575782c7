package libcontainer

import (
	"bytes"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/libcontainer/configs"
)

// readFastRecord decodes the fast record at the front of a state file as
// cmd/husk/fastpath.c does, returning its pid and JSON parts.
func readFastRecord(t *testing.T, b []byte) (flags uint64, pid int64, head, tail string) {
	t.Helper()
	if string(b[:len(stateMagic)]) != stateMagic {
		t.Fatalf("magic %q", b[:len(stateMagic)])
	}
	r := &stateReader{b: b[len(stateMagic):]}
	n := r.count()
	rec := &stateReader{b: r.b[:n]}
	flags = rec.uint()
	pid = rec.int()
	rec.uint()
	rec.str()
	rec.bool()
	rec.str()
	rec.strs()
	head, tail = rec.str(), rec.str()
	if rec.err != nil || len(rec.b) != 0 {
		t.Fatalf("fast record: %v, %d bytes left", rec.err, len(rec.b))
	}
	return flags, pid, head, tail
}

// What the C fast path prints for `husk state` (the record's head, the
// pid, the status, the tail) is byte for byte what Go prints.
func TestFastRecordJSONMatchesState(t *testing.T) {
	s := filledState(t)
	s.Owner = ""
	_, pid, head, tail := readFastRecord(t, encodeState(s))
	if pid != int64(s.Pid) {
		t.Errorf("pid %d, want %d", pid, s.Pid)
	}
	for _, st := range []Status{Created, Running, Paused, Stopped} {
		p := s.Pid
		if st == Stopped {
			p = 0
		}
		want := s.public(st, p).IndentedJSON()
		got := []byte(head + strconv.Itoa(p) + ",\n  \"status\": \"" + string(st) + "\"" + tail)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: fast path would print\n%s\nGo prints\n%s", st, got, want)
		}
	}
}

// A state file of the husk before the fast record is still read, and has
// no record: the fast path leaves such containers to Go.
func TestStateCodecReadsV2Files(t *testing.T) {
	s := filledState(t)
	s.fast = nil
	b := encodeState(s)
	rec := &stateReader{b: b[len(stateMagic):]}
	n := rec.count()
	if flags, _, _, _ := readFastRecord(t, b); flags != 0 {
		t.Errorf("a state without a record is written with flags %d, want 0", flags)
	}
	old := append([]byte(stateMagicV2), rec.b[n:]...)
	got, err := decodeState(old)
	if err != nil {
		t.Fatal(err)
	}
	if got.fast != nil || got.ID != s.ID || got.Config.Process.Cwd != s.Config.Process.Cwd {
		t.Errorf("v2 state read as %+v", got)
	}
}

// otherDriver is a cgroup driver the fast record cannot describe.
type otherDriver struct{ cgroups.Manager }

// The record's flags tell the fast path what it may not do by itself.
func TestFastRecordFlags(t *testing.T) {
	cfg := &configs.Config{
		Namespaces: []configs.Namespace{{Type: configs.NEWPID}},
		Hooks:      &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/true"}}},
	}
	if got, want := newFastRecord(cfg, nil).flags, uint64(fastUsable|fastPoststart|fastNewPID); got != want {
		t.Errorf("no cgroup, a poststart hook, a new PID namespace: flags %b, want %b", got, want)
	}
	cfg = &configs.Config{
		Namespaces: []configs.Namespace{{Type: configs.NEWPID, Path: "/proc/1/ns/pid"}},
		Hooks:      &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}},
	}
	if got, want := newFastRecord(cfg, otherDriver{}).flags, uint64(fastPoststop); got != want {
		t.Errorf("another driver, a poststop hook, a joined PID namespace: flags %b, want %b", got, want)
	}
}
