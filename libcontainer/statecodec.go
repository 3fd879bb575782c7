package libcontainer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/husk-runtime/husk/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The state file is read by every command but create (start, exec, kill,
// delete, state, ps, list...), so it is a compact binary encoding written
// and read by hand here rather than JSON: encoding/json's first use in a
// process costs ~0.5 ms here (reflection over the config's types, and the
// page faults of its code), more than the rest of a `state`. It holds the
// persistedState with the light config (lightConfig). A test fills every
// field by reflection and checks the round trip, so a field added to the
// config without a line here fails it.
//
// Layout: the magic, then the fields in the order of encodeState; numbers
// are varints (zigzag for signed ones), strings and lists are prefixed by
// their length, an optional value (a pointer) by a presence byte.

const stateMagic = "HUSKST01"

type stateWriter struct{ b []byte }

func (w *stateWriter) uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *stateWriter) int(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *stateWriter) str(s string) {
	w.uint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *stateWriter) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

// present writes whether an optional value follows.
func (w *stateWriter) present(ok bool) bool { w.bool(ok); return ok }

func (w *stateWriter) strs(l []string) {
	w.uint(uint64(len(l)))
	for _, s := range l {
		w.str(s)
	}
}

func (w *stateWriter) ints(l []int) {
	w.uint(uint64(len(l)))
	for _, v := range l {
		w.int(int64(v))
	}
}

// encodeState encodes s; the config is expected light (lightConfig):
// what lightConfig drops is not written.
func encodeState(s *persistedState) []byte {
	w := &stateWriter{b: make([]byte, 0, 1024)}
	w.b = append(w.b, stateMagic...)
	w.str(s.ID)
	w.int(int64(s.Pid))
	w.uint(s.StartTime)
	w.int(s.Created.UnixNano())
	w.str(s.Owner)
	w.bool(s.HasSeccomp)
	if c := s.Config; w.present(c != nil) {
		encodeConfig(w, c)
	}
	return w.b
}

func encodeConfig(w *stateWriter, c *configs.Config) {
	w.str(c.Version)
	w.str(c.Bundle)
	w.str(c.Rootfs)
	w.bool(c.Readonly)
	w.int(int64(c.RootPropagation))
	w.bool(c.NoPivotRoot)
	w.bool(c.NoNewKeyring)
	w.str(c.Hostname)
	w.str(c.Domainname)
	w.uint(uint64(len(c.Namespaces)))
	for _, ns := range c.Namespaces {
		w.str(string(ns.Type))
		w.str(ns.Path)
	}
	w.str(c.MountLabel)
	if p := c.Personality; w.present(p != nil) {
		w.str(string(p.Domain))
		w.uint(uint64(len(p.Flags)))
		for _, f := range p.Flags {
			w.str(string(f))
		}
	}
	if p := c.Process; w.present(p != nil) {
		encodeProcess(w, p)
	}
	if cg := c.Cgroup; w.present(cg != nil) {
		w.str(cg.Path)
		w.bool(cg.Systemd)
	}
	if h := c.Hooks; w.present(h != nil) {
		for _, l := range [][]specs.Hook{h.Prestart, h.CreateRuntime, h.CreateContainer, h.StartContainer, h.Poststart, h.Poststop} { //nolint:staticcheck // prestart is deprecated, still run
			w.uint(uint64(len(l)))
			for _, hk := range l {
				w.str(hk.Path)
				w.strs(hk.Args)
				w.strs(hk.Env)
				if w.present(hk.Timeout != nil) {
					w.int(int64(*hk.Timeout))
				}
			}
		}
	}
	keys := make([]string, 0, len(c.Annotations))
	for k := range c.Annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w.uint(uint64(len(keys)))
	for _, k := range keys {
		w.str(k)
		w.str(c.Annotations[k])
	}
}

func encodeProcess(w *stateWriter, p *configs.Process) {
	w.strs(p.Args)
	w.strs(p.Env)
	w.str(p.Cwd)
	w.uint(uint64(p.UID))
	w.uint(uint64(p.GID))
	w.uint(uint64(len(p.AdditionalGids)))
	for _, g := range p.AdditionalGids {
		w.uint(uint64(g))
	}
	if w.present(p.Umask != nil) {
		w.uint(uint64(*p.Umask))
	}
	w.bool(p.Terminal)
	if b := p.ConsoleSize; w.present(b != nil) {
		w.uint(uint64(b.Height))
		w.uint(uint64(b.Width))
	}
	if c := p.Capabilities; w.present(c != nil) {
		for _, set := range [][]int{c.Bounding, c.Effective, c.Inheritable, c.Permitted, c.Ambient} {
			w.ints(set)
		}
	}
	w.uint(uint64(len(p.Rlimits)))
	for _, r := range p.Rlimits {
		w.int(int64(r.Type))
		w.str(r.Name)
		w.uint(r.Hard)
		w.uint(r.Soft)
	}
	w.bool(p.NoNewPrivileges)
	if w.present(p.OOMScoreAdj != nil) {
		w.int(int64(*p.OOMScoreAdj))
	}
	w.str(p.ApparmorProfile)
	w.str(p.SelinuxLabel)
	if s := p.Scheduler; w.present(s != nil) {
		w.str(string(s.Policy))
		w.int(int64(s.Nice))
		w.int(int64(s.Priority))
		w.uint(uint64(len(s.Flags)))
		for _, f := range s.Flags {
			w.str(string(f))
		}
		w.uint(s.Runtime)
		w.uint(s.Deadline)
		w.uint(s.Period)
	}
	if io := p.IOPriority; w.present(io != nil) {
		w.str(string(io.Class))
		w.int(int64(io.Priority))
	}
	if a := p.ExecCPUAffinity; w.present(a != nil) {
		w.str(a.Initial)
		w.str(a.Final)
	}
}

// stateReader decodes; the first error sticks and every later read
// returns zero values, so decoding code checks once at the end.
type stateReader struct {
	b   []byte
	err error
}

var errStateCorrupt = errors.New("corrupt state file")

func (r *stateReader) fail() {
	if r.err == nil {
		r.err = errStateCorrupt
	}
	r.b = nil
}

func (r *stateReader) uint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) int() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// small reads an int that must fit in 32 bits (an int on every platform).
func (r *stateReader) small() int {
	v := r.int()
	if v < math.MinInt32 || v > math.MaxInt32 {
		r.fail()
		return 0
	}
	return int(v)
}

func (r *stateReader) u32() uint32 {
	v := r.uint()
	if v > math.MaxUint32 {
		r.fail()
		return 0
	}
	return uint32(v)
}

// count reads a list length, bounded by what is left (every element takes
// at least one byte).
func (r *stateReader) count() int {
	n := r.uint()
	if n > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *stateReader) str() string {
	n := r.count()
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *stateReader) bool() bool {
	if len(r.b) == 0 || r.b[0] > 1 {
		r.fail()
		return false
	}
	v := r.b[0] == 1
	r.b = r.b[1:]
	return v
}

func (r *stateReader) strs() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	l := make([]string, n)
	for i := range l {
		l[i] = r.str()
	}
	return l
}

func (r *stateReader) ints() []int {
	n := r.count()
	if n == 0 {
		return nil
	}
	l := make([]int, n)
	for i := range l {
		l[i] = r.small()
	}
	return l
}

func decodeState(b []byte) (*persistedState, error) {
	if len(b) < len(stateMagic) || string(b[:len(stateMagic)]) != stateMagic {
		return nil, errStateCorrupt
	}
	r := &stateReader{b: b[len(stateMagic):]}
	s := &persistedState{}
	s.ID = r.str()
	s.Pid = r.small()
	s.StartTime = r.uint()
	s.Created = time.Unix(0, r.int()).UTC()
	s.Owner = r.str()
	s.HasSeccomp = r.bool()
	if r.bool() {
		s.Config = decodeConfig(r)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail()
	}
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
}

func decodeConfig(r *stateReader) *configs.Config {
	c := &configs.Config{}
	c.Version = r.str()
	c.Bundle = r.str()
	c.Rootfs = r.str()
	c.Readonly = r.bool()
	c.RootPropagation = r.small()
	c.NoPivotRoot = r.bool()
	c.NoNewKeyring = r.bool()
	c.Hostname = r.str()
	c.Domainname = r.str()
	if n := r.count(); n > 0 {
		c.Namespaces = make([]configs.Namespace, n)
		for i := range c.Namespaces {
			c.Namespaces[i] = configs.Namespace{Type: configs.NamespaceType(r.str()), Path: r.str()}
		}
	}
	c.MountLabel = r.str()
	if r.bool() {
		p := &specs.LinuxPersonality{Domain: specs.LinuxPersonalityDomain(r.str())}
		if n := r.count(); n > 0 {
			p.Flags = make([]specs.LinuxPersonalityFlag, n)
			for i := range p.Flags {
				p.Flags[i] = specs.LinuxPersonalityFlag(r.str())
			}
		}
		c.Personality = p
	}
	if r.bool() {
		c.Process = decodeProcess(r)
	}
	if r.bool() {
		c.Cgroup = &configs.Cgroup{Path: r.str(), Systemd: r.bool()}
	}
	if r.bool() {
		h := &specs.Hooks{}
		for _, l := range []*[]specs.Hook{&h.Prestart, &h.CreateRuntime, &h.CreateContainer, &h.StartContainer, &h.Poststart, &h.Poststop} { //nolint:staticcheck // prestart is deprecated, still run
			n := r.count()
			if n == 0 {
				continue
			}
			*l = make([]specs.Hook, n)
			for i := range *l {
				hk := &(*l)[i]
				hk.Path = r.str()
				hk.Args = r.strs()
				hk.Env = r.strs()
				if r.bool() {
					t := r.small()
					hk.Timeout = &t
				}
			}
		}
		c.Hooks = h
	}
	if n := r.count(); n > 0 {
		c.Annotations = make(map[string]string, n)
		for range n {
			k := r.str()
			c.Annotations[k] = r.str()
		}
	}
	return c
}

func decodeProcess(r *stateReader) *configs.Process {
	p := &configs.Process{}
	p.Args = r.strs()
	p.Env = r.strs()
	p.Cwd = r.str()
	p.UID = r.u32()
	p.GID = r.u32()
	if n := r.count(); n > 0 {
		p.AdditionalGids = make([]uint32, n)
		for i := range p.AdditionalGids {
			p.AdditionalGids[i] = r.u32()
		}
	}
	if r.bool() {
		u := r.u32()
		p.Umask = &u
	}
	p.Terminal = r.bool()
	if r.bool() {
		p.ConsoleSize = &specs.Box{Height: uint(r.uint()), Width: uint(r.uint())}
	}
	if r.bool() {
		c := &configs.Capabilities{}
		for _, set := range []*[]int{&c.Bounding, &c.Effective, &c.Inheritable, &c.Permitted, &c.Ambient} {
			*set = r.ints()
		}
		p.Capabilities = c
	}
	if n := r.count(); n > 0 {
		p.Rlimits = make([]configs.Rlimit, n)
		for i := range p.Rlimits {
			p.Rlimits[i] = configs.Rlimit{Type: r.small(), Name: r.str(), Hard: r.uint(), Soft: r.uint()}
		}
	}
	p.NoNewPrivileges = r.bool()
	if r.bool() {
		v := r.small()
		p.OOMScoreAdj = &v
	}
	p.ApparmorProfile = r.str()
	p.SelinuxLabel = r.str()
	if r.bool() {
		s := &specs.Scheduler{Policy: specs.LinuxSchedulerPolicy(r.str())}
		s.Nice = int32(r.small())
		s.Priority = int32(r.small())
		if n := r.count(); n > 0 {
			s.Flags = make([]specs.LinuxSchedulerFlag, n)
			for i := range s.Flags {
				s.Flags[i] = specs.LinuxSchedulerFlag(r.str())
			}
		}
		s.Runtime = r.uint()
		s.Deadline = r.uint()
		s.Period = r.uint()
		p.Scheduler = s
	}
	if r.bool() {
		p.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPriorityClass(r.str()), Priority: r.small()}
	}
	if r.bool() {
		p.ExecCPUAffinity = &specs.CPUAffinity{Initial: r.str(), Final: r.str()}
	}
	return p
}

// describeStateErr names the file in a decoding error.
func describeStateErr(path string, err error) error {
	return fmt.Errorf("decode %s: %w", path, err)
}
