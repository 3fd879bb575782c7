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
// Layout: the magic, the fast record (fastrecord.go), then the fields in
// the order of encodeState; numbers are varints (zigzag for signed ones),
// strings and lists are prefixed by their length, an optional value (a
// pointer) by a presence byte.

const stateMagic = "HUSKST03"

// stateMagicV2 is the magic of the state files of husk before the fast
// record, which are the same without it.
const stateMagicV2 = "HUSKST02"

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
	encodeFastRecord(w, s)
	w.str(s.ID)
	w.int(int64(s.Pid))
	w.uint(s.StartTime)
	w.int(s.Created.UnixNano())
	w.str(s.Owner)
	w.bool(s.HasSeccomp)
	w.uint(uint64(len(s.CgroupLayout)))
	w.b = append(w.b, s.CgroupLayout...)
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

// readList reads a list written as its length and its elements (nil when
// empty, as the JSON state had it).
func readList[T any](r *stateReader, get func() T) []T {
	n := r.count()
	if n == 0 {
		return nil
	}
	l := make([]T, n)
	for i := range l {
		l[i] = get()
	}
	return l
}

func (r *stateReader) strs() []string { return readList(r, r.str) }
func (r *stateReader) ints() []int    { return readList(r, r.small) }

func decodeState(b []byte) (*persistedState, error) {
	if len(b) < len(stateMagic) {
		return nil, errStateCorrupt
	}
	r := &stateReader{b: b[len(stateMagic):]}
	s := &persistedState{}
	switch string(b[:len(stateMagic)]) {
	case stateMagic:
		s.fast = decodeFastRecord(r)
	case stateMagicV2:
	default:
		return nil, errStateCorrupt
	}
	s.ID = r.str()
	s.Pid = r.small()
	s.StartTime = r.uint()
	s.Created = time.Unix(0, r.int()).UTC()
	s.Owner = r.str()
	s.HasSeccomp = r.bool()
	if n := r.count(); n > 0 {
		s.CgroupLayout = append([]byte(nil), r.b[:n]...)
		r.b = r.b[n:]
	}
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
	c.Namespaces = readList(r, func() configs.Namespace {
		return configs.Namespace{Type: configs.NamespaceType(r.str()), Path: r.str()}
	})
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
	p.AdditionalGids = readList(r, r.u32)
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
	p.Rlimits = readList(r, func() configs.Rlimit {
		return configs.Rlimit{Type: r.small(), Name: r.str(), Hard: r.uint(), Soft: r.uint()}
	})
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

// The whole config (configFile) uses the same encoding: the light part as
// in the state file, then what lightConfig drops. create writes it while
// the container's process sets itself up, and exec reads it for the
// seccomp profile.

const configMagic = "HUSKCF01"

func encodeFullConfig(c *configs.Config) []byte {
	w := &stateWriter{b: make([]byte, 0, 4096)}
	w.b = append(w.b, configMagic...)
	encodeConfig(w, c)
	idMaps := func(l []configs.IDMap) {
		w.uint(uint64(len(l)))
		for _, m := range l {
			w.uint(uint64(m.ContainerID))
			w.uint(uint64(m.HostID))
			w.uint(uint64(m.Size))
		}
	}
	idMaps(c.UIDMappings)
	idMaps(c.GIDMappings)
	keys := make([]string, 0, len(c.TimeOffsets))
	for k := range c.TimeOffsets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w.uint(uint64(len(keys)))
	for _, k := range keys {
		w.str(k)
		w.int(c.TimeOffsets[k].Secs)
		w.uint(uint64(c.TimeOffsets[k].Nanosecs))
	}
	w.uint(uint64(len(c.Mounts)))
	for _, m := range c.Mounts {
		w.str(m.Source)
		w.str(m.Destination)
		w.str(m.Device)
		w.int(int64(m.Flags))
		w.int(int64(m.ClearedFlags))
		w.ints(m.PropagationFlags)
		w.str(m.Data)
		w.uint(m.RecAttrSet)
		w.uint(m.RecAttrClr)
		idMaps(m.UIDMappings)
		idMaps(m.GIDMappings)
		w.bool(m.IDMapped)
		w.bool(m.IDMapRecursive)
		w.bool(m.Tmpcopyup)
	}
	w.uint(uint64(len(c.Devices)))
	for _, d := range c.Devices {
		w.str(d.Path)
		w.int(int64(d.Type))
		w.int(d.Major)
		w.int(d.Minor)
		w.uint(uint64(d.FileMode))
		w.uint(uint64(d.UID))
		w.uint(uint64(d.GID))
	}
	w.strs(c.MaskedPaths)
	w.strs(c.ReadonlyPaths)
	w.strMap(c.Sysctl)
	if w.present(c.Cgroup != nil && c.Cgroup.Resources != nil) {
		encodeResources(w, c.Cgroup.Resources)
	}
	if s := c.Seccomp; w.present(s != nil) {
		w.str(string(s.DefaultAction))
		w.uintPtr(s.DefaultErrnoRet)
		w.uint(uint64(len(s.Architectures)))
		for _, a := range s.Architectures {
			w.str(string(a))
		}
		w.uint(uint64(len(s.Flags)))
		for _, f := range s.Flags {
			w.str(string(f))
		}
		w.str(s.ListenerPath)
		w.str(s.ListenerMetadata)
		w.uint(uint64(len(s.Syscalls)))
		for _, sc := range s.Syscalls {
			w.strs(sc.Names)
			w.str(string(sc.Action))
			w.uintPtr(sc.ErrnoRet)
			w.uint(uint64(len(sc.Args)))
			for _, a := range sc.Args {
				w.uint(uint64(a.Index))
				w.uint(a.Value)
				w.uint(a.ValueTwo)
				w.str(string(a.Op))
			}
		}
	}
	return w.b
}

func (w *stateWriter) strMap(m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w.uint(uint64(len(keys)))
	for _, k := range keys {
		w.str(k)
		w.str(m[k])
	}
}

// The optional numbers and booleans of the config: a presence byte, then
// the value.
func writeOpt[T any](w *stateWriter, p *T, put func(T)) {
	if w.present(p != nil) {
		put(*p)
	}
}

func (w *stateWriter) uintPtr(p *uint)  { writeOpt(w, p, func(v uint) { w.uint(uint64(v)) }) }
func (w *stateWriter) i64Ptr(p *int64)  { writeOpt(w, p, w.int) }
func (w *stateWriter) u64Ptr(p *uint64) { writeOpt(w, p, w.uint) }
func (w *stateWriter) u32Ptr(p *uint32) { writeOpt(w, p, func(v uint32) { w.uint(uint64(v)) }) }
func (w *stateWriter) u16Ptr(p *uint16) { writeOpt(w, p, func(v uint16) { w.uint(uint64(v)) }) }
func (w *stateWriter) boolPtr(p *bool)  { writeOpt(w, p, w.bool) }

func encodeResources(w *stateWriter, r *specs.LinuxResources) {
	w.uint(uint64(len(r.Devices)))
	for _, d := range r.Devices {
		w.bool(d.Allow)
		w.str(d.Type)
		w.i64Ptr(d.Major)
		w.i64Ptr(d.Minor)
		w.str(d.Access)
	}
	if m := r.Memory; w.present(m != nil) {
		for _, p := range []*int64{m.Limit, m.Reservation, m.Swap, m.Kernel, m.KernelTCP} { //nolint:staticcheck // deprecated fields, still carried
			w.i64Ptr(p)
		}
		w.u64Ptr(m.Swappiness)
		w.boolPtr(m.DisableOOMKiller)
		w.boolPtr(m.UseHierarchy)
		w.boolPtr(m.CheckBeforeUpdate)
	}
	if c := r.CPU; w.present(c != nil) {
		w.u64Ptr(c.Shares)
		w.i64Ptr(c.Quota)
		w.u64Ptr(c.Burst)
		w.u64Ptr(c.Period)
		w.i64Ptr(c.RealtimeRuntime)
		w.u64Ptr(c.RealtimePeriod)
		w.str(c.Cpus)
		w.str(c.Mems)
		w.i64Ptr(c.Idle)
	}
	if p := r.Pids; w.present(p != nil) {
		w.i64Ptr(p.Limit)
	}
	if b := r.BlockIO; w.present(b != nil) {
		w.u16Ptr(b.Weight)
		w.u16Ptr(b.LeafWeight)
		w.uint(uint64(len(b.WeightDevice)))
		for _, d := range b.WeightDevice {
			w.int(d.Major)
			w.int(d.Minor)
			w.u16Ptr(d.Weight)
			w.u16Ptr(d.LeafWeight)
		}
		for _, l := range [][]specs.LinuxThrottleDevice{b.ThrottleReadBpsDevice, b.ThrottleWriteBpsDevice, b.ThrottleReadIOPSDevice, b.ThrottleWriteIOPSDevice} {
			w.uint(uint64(len(l)))
			for _, d := range l {
				w.int(d.Major)
				w.int(d.Minor)
				w.uint(d.Rate)
			}
		}
	}
	w.uint(uint64(len(r.HugepageLimits)))
	for _, h := range r.HugepageLimits {
		w.str(h.Pagesize)
		w.uint(h.Limit)
	}
	if n := r.Network; w.present(n != nil) {
		w.u32Ptr(n.ClassID)
		w.uint(uint64(len(n.Priorities)))
		for _, p := range n.Priorities {
			w.str(p.Name)
			w.uint(uint64(p.Priority))
		}
	}
	keys := make([]string, 0, len(r.Rdma))
	for k := range r.Rdma {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w.uint(uint64(len(keys)))
	for _, k := range keys {
		w.str(k)
		w.u32Ptr(r.Rdma[k].HcaHandles)
		w.u32Ptr(r.Rdma[k].HcaObjects)
	}
	w.strMap(r.Unified)
}

func decodeFullConfig(b []byte) (*configs.Config, error) {
	if len(b) < len(configMagic) || string(b[:len(configMagic)]) != configMagic {
		return nil, errStateCorrupt
	}
	r := &stateReader{b: b[len(configMagic):]}
	c := decodeConfig(r)
	idMaps := func() []configs.IDMap {
		return readList(r, func() configs.IDMap {
			return configs.IDMap{ContainerID: r.u32(), HostID: r.u32(), Size: r.u32()}
		})
	}
	c.UIDMappings = idMaps()
	c.GIDMappings = idMaps()
	if n := r.count(); n > 0 {
		c.TimeOffsets = make(map[string]specs.LinuxTimeOffset, n)
		for range n {
			k := r.str()
			c.TimeOffsets[k] = specs.LinuxTimeOffset{Secs: r.int(), Nanosecs: r.u32()}
		}
	}
	if n := r.count(); n > 0 {
		c.Mounts = make([]configs.Mount, n)
		for i := range c.Mounts {
			m := &c.Mounts[i]
			m.Source = r.str()
			m.Destination = r.str()
			m.Device = r.str()
			m.Flags = r.small()
			m.ClearedFlags = r.small()
			m.PropagationFlags = r.ints()
			m.Data = r.str()
			m.RecAttrSet = r.uint()
			m.RecAttrClr = r.uint()
			m.UIDMappings = idMaps()
			m.GIDMappings = idMaps()
			m.IDMapped = r.bool()
			m.IDMapRecursive = r.bool()
			m.Tmpcopyup = r.bool()
		}
	}
	if n := r.count(); n > 0 {
		c.Devices = make([]configs.Device, n)
		for i := range c.Devices {
			d := &c.Devices[i]
			d.Path = r.str()
			d.Type = rune(r.small())
			d.Major = r.int()
			d.Minor = r.int()
			d.FileMode = r.u32()
			d.UID = r.u32()
			d.GID = r.u32()
		}
	}
	c.MaskedPaths = r.strs()
	c.ReadonlyPaths = r.strs()
	c.Sysctl = r.strMap()
	if r.bool() {
		res := decodeResources(r)
		if c.Cgroup == nil {
			r.fail() // resources without a cgroup cannot have been written
		} else {
			c.Cgroup.Resources = res
		}
	}
	if r.bool() {
		s := &specs.LinuxSeccomp{DefaultAction: specs.LinuxSeccompAction(r.str())}
		s.DefaultErrnoRet = r.uintPtr()
		if n := r.count(); n > 0 {
			s.Architectures = make([]specs.Arch, n)
			for i := range s.Architectures {
				s.Architectures[i] = specs.Arch(r.str())
			}
		}
		if n := r.count(); n > 0 {
			s.Flags = make([]specs.LinuxSeccompFlag, n)
			for i := range s.Flags {
				s.Flags[i] = specs.LinuxSeccompFlag(r.str())
			}
		}
		s.ListenerPath = r.str()
		s.ListenerMetadata = r.str()
		if n := r.count(); n > 0 {
			s.Syscalls = make([]specs.LinuxSyscall, n)
			for i := range s.Syscalls {
				sc := &s.Syscalls[i]
				sc.Names = r.strs()
				sc.Action = specs.LinuxSeccompAction(r.str())
				sc.ErrnoRet = r.uintPtr()
				if n := r.count(); n > 0 {
					sc.Args = make([]specs.LinuxSeccompArg, n)
					for j := range sc.Args {
						sc.Args[j] = specs.LinuxSeccompArg{Index: uint(r.uint()), Value: r.uint(), ValueTwo: r.uint(), Op: specs.LinuxSeccompOperator(r.str())}
					}
				}
			}
		}
		c.Seccomp = s
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail()
	}
	if r.err != nil {
		return nil, r.err
	}
	return c, nil
}

func (r *stateReader) strMap() map[string]string {
	n := r.count()
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := r.str()
		m[k] = r.str()
	}
	return m
}

// readOpt reads what writeOpt wrote.
func readOpt[T any](r *stateReader, get func() T) *T {
	if !r.bool() {
		return nil
	}
	v := get()
	return &v
}

func (r *stateReader) uintPtr() *uint {
	return readOpt(r, func() uint { return uint(r.uint()) })
}
func (r *stateReader) i64Ptr() *int64  { return readOpt(r, r.int) }
func (r *stateReader) u64Ptr() *uint64 { return readOpt(r, r.uint) }
func (r *stateReader) u32Ptr() *uint32 { return readOpt(r, r.u32) }
func (r *stateReader) boolPtr() *bool  { return readOpt(r, r.bool) }

func (r *stateReader) u16Ptr() *uint16 {
	return readOpt(r, func() uint16 {
		v := r.uint()
		if v > math.MaxUint16 {
			r.fail()
		}
		return uint16(v)
	})
}

func decodeResources(r *stateReader) *specs.LinuxResources {
	res := &specs.LinuxResources{}
	if n := r.count(); n > 0 {
		res.Devices = make([]specs.LinuxDeviceCgroup, n)
		for i := range res.Devices {
			d := &res.Devices[i]
			d.Allow = r.bool()
			d.Type = r.str()
			d.Major = r.i64Ptr()
			d.Minor = r.i64Ptr()
			d.Access = r.str()
		}
	}
	if r.bool() {
		m := &specs.LinuxMemory{}
		for _, p := range []**int64{&m.Limit, &m.Reservation, &m.Swap, &m.Kernel, &m.KernelTCP} { //nolint:staticcheck // deprecated fields, still carried
			*p = r.i64Ptr()
		}
		m.Swappiness = r.u64Ptr()
		m.DisableOOMKiller = r.boolPtr()
		m.UseHierarchy = r.boolPtr()
		m.CheckBeforeUpdate = r.boolPtr()
		res.Memory = m
	}
	if r.bool() {
		c := &specs.LinuxCPU{}
		c.Shares = r.u64Ptr()
		c.Quota = r.i64Ptr()
		c.Burst = r.u64Ptr()
		c.Period = r.u64Ptr()
		c.RealtimeRuntime = r.i64Ptr()
		c.RealtimePeriod = r.u64Ptr()
		c.Cpus = r.str()
		c.Mems = r.str()
		c.Idle = r.i64Ptr()
		res.CPU = c
	}
	if r.bool() {
		res.Pids = &specs.LinuxPids{Limit: r.i64Ptr()}
	}
	if r.bool() {
		b := &specs.LinuxBlockIO{}
		b.Weight = r.u16Ptr()
		b.LeafWeight = r.u16Ptr()
		if n := r.count(); n > 0 {
			b.WeightDevice = make([]specs.LinuxWeightDevice, n)
			for i := range b.WeightDevice {
				d := &b.WeightDevice[i]
				d.Major = r.int()
				d.Minor = r.int()
				d.Weight = r.u16Ptr()
				d.LeafWeight = r.u16Ptr()
			}
		}
		for _, l := range []*[]specs.LinuxThrottleDevice{&b.ThrottleReadBpsDevice, &b.ThrottleWriteBpsDevice, &b.ThrottleReadIOPSDevice, &b.ThrottleWriteIOPSDevice} {
			n := r.count()
			if n == 0 {
				continue
			}
			*l = make([]specs.LinuxThrottleDevice, n)
			for i := range *l {
				d := &(*l)[i]
				d.Major = r.int()
				d.Minor = r.int()
				d.Rate = r.uint()
			}
		}
		res.BlockIO = b
	}
	res.HugepageLimits = readList(r, func() specs.LinuxHugepageLimit {
		return specs.LinuxHugepageLimit{Pagesize: r.str(), Limit: r.uint()}
	})
	if r.bool() {
		n := &specs.LinuxNetwork{ClassID: r.u32Ptr()}
		n.Priorities = readList(r, func() specs.LinuxInterfacePriority {
			return specs.LinuxInterfacePriority{Name: r.str(), Priority: r.u32()}
		})
		res.Network = n
	}
	if n := r.count(); n > 0 {
		res.Rdma = make(map[string]specs.LinuxRdma, n)
		for range n {
			k := r.str()
			res.Rdma[k] = specs.LinuxRdma{HcaHandles: r.u32Ptr(), HcaObjects: r.u32Ptr()}
		}
	}
	res.Unified = r.strMap()
	return res
}
