package libcontainer

import (
	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/cgroups/manager"
	"github.com/husk-runtime/husk/libcontainer/configs"
)

// The fast record opens the state file (after the magic) and holds what
// cmd/husk's fast path needs: `husk state`, `kill`, `start` and `delete`
// done in C by a constructor, before the Go runtime starts (~0.5 ms for
// the process, against ~2.2 ms for a Go one; see cmd/husk/fastpath.c).
// It is written in the state file's own encoding, at a fixed place, so
// that the C side reads a short list of fields instead of the whole
// state:
//
//	uvarint  length of what follows
//	uvarint  flags (fastUsable, fastPoststart, ...)
//	varint   pid of the container's init process
//	uvarint  its start time (field 22 of /proc/<pid>/stat)
//	string   freezer state file ("" for none); byte: 1 when it is
//	         cgroup v2's cgroup.freeze
//	string   directory of the cgroup.procs that lists its processes
//	         ("" for no cgroup)
//	uvarint  count, then the strings: cgroup directories, in removal order
//	string   `husk state`'s JSON up to the pid's value (appendJSONHead)
//	string   the JSON after the status (appendJSONTail)
//
// Strings are a uvarint length and the bytes. The C side leaves to Go
// every container, argument and outcome it does not handle exactly as Go
// would, before it changes anything (see fastpath.c).
type fastRecord struct {
	flags  uint64
	cgroup manager.Files
}

// Flags of the fast record.
const (
	// fastUsable: the fast path may handle the container (its cgroup
	// driver is one whose files the record describes).
	fastUsable = 1 << iota
	// fastPoststart and fastPoststop: the config has such hooks, which
	// only Go runs.
	fastPoststart
	fastPoststop
	// fastNewPID: the container has its own PID namespace, so killing
	// its init kills all its processes.
	fastNewPID
)

// newFastRecord returns the fast record of a container with the config cfg
// and cgroup manager mgr (nil when it has no cgroup).
func newFastRecord(cfg *configs.Config, mgr cgroups.Manager) *fastRecord {
	r := &fastRecord{}
	ok := mgr == nil
	if mgr != nil {
		r.cgroup, ok = manager.FilesOf(mgr)
	}
	if ok {
		r.flags |= fastUsable
	}
	if h := cfg.Hooks; h != nil {
		if len(h.Poststart) > 0 {
			r.flags |= fastPoststart
		}
		if len(h.Poststop) > 0 {
			r.flags |= fastPoststop
		}
	}
	if cfg.NewNamespace(configs.NEWPID) {
		r.flags |= fastNewPID
	}
	return r
}

// encodeFastRecord writes the record of s (flags 0, which makes the fast
// path leave the container to Go, when s has none).
func encodeFastRecord(w *stateWriter, s *persistedState) {
	f := s.fast
	if f == nil {
		f = &fastRecord{}
	}
	rec := &stateWriter{b: make([]byte, 0, 512)}
	rec.uint(f.flags)
	rec.int(int64(s.Pid))
	rec.uint(s.StartTime)
	rec.str(f.cgroup.FreezeFile)
	rec.bool(f.cgroup.FreezeV2)
	rec.str(f.cgroup.ProcsDir)
	rec.strs(f.cgroup.Dirs)
	var head, tail []byte
	if s.Config != nil {
		pub := s.public("", 0)
		head, tail = pub.appendJSONHead(nil), pub.appendJSONTail(nil)
	}
	rec.str(string(head))
	rec.str(string(tail))
	w.uint(uint64(len(rec.b)))
	w.b = append(w.b, rec.b...)
}

// decodeFastRecord reads the record encodeFastRecord wrote; the pid, start
// time and JSON, which the rest of the state holds too, are checked to be
// there and dropped.
func decodeFastRecord(r *stateReader) *fastRecord {
	n := r.count()
	if r.err != nil {
		return nil
	}
	rec := &stateReader{b: r.b[:n]}
	r.b = r.b[n:]
	f := &fastRecord{flags: rec.uint()}
	rec.int()
	rec.uint()
	f.cgroup.FreezeFile = rec.str()
	f.cgroup.FreezeV2 = rec.bool()
	f.cgroup.ProcsDir = rec.str()
	f.cgroup.Dirs = rec.strs()
	rec.str()
	rec.str()
	if rec.err == nil && len(rec.b) != 0 {
		rec.fail()
	}
	if rec.err != nil {
		r.fail()
		return nil
	}
	return f
}
