package libcontainer

import (
	"encoding/binary"
	"strings"
	"unsafe"

	"github.com/husk-runtime/husk/libcontainer/configs"
	"github.com/husk-runtime/husk/seccomp"
	"golang.org/x/sys/unix"
)

// The exec plan lets an exec'd process be set up by nsexec's C code
// (nsenter/execplan.c) and exec its program without starting the Go
// runtime, which costs more than everything else the process does. Its
// format is documented in nsenter/execplan.h; this file is its only
// encoder. Exec uses the Go path (execInit) when the process needs
// something the C code leaves to Go: see goOnlyReason.

// envExecPlan tells nsexec that the payload is an exec plan.
const envExecPlan = "_HUSK_EXECPLAN"

// Record tags; keep in sync with enum xp_tag in nsenter/execplan.h.
const (
	xpArg     = 1
	xpEnv     = 2
	xpCwd     = 3
	xpUID     = 4
	xpGID     = 5
	xpGroups  = 6
	xpUmask   = 7
	xpCaps    = 8
	xpRlimit  = 9
	xpNNP     = 10
	xpSched   = 11
	xpIOPrio  = 12
	xpTTY     = 13
	xpSeccomp = 14
	xpNFDs    = 15

	xpMagic   = "HUSKXP01"
	xpMaxList = 4096 // MAX_LIST in execplan.c
)

// goOnlyReason says why p must be set up by the Go path, or "" when the
// exec plan can express it:
//   - AppArmor and SELinux labels go through package selinux and a
//     verified procfs;
//   - values the Go path rejects with a specific message (unknown
//     scheduler policy, capability out of range, NUL in a string), so that
//     the user gets that message.
func goOnlyReason(p *configs.Process) string {
	switch {
	case p.ApparmorProfile != "":
		return "apparmor profile"
	case p.SelinuxLabel != "":
		return "selinux label"
	case len(p.Args) > xpMaxList || len(p.Env) > xpMaxList || len(p.AdditionalGids) > xpMaxList || len(p.Rlimits) > xpMaxList:
		return "too many entries"
	}
	if _, err := schedAttr(p); err != nil {
		return "scheduler"
	}
	if _, err := ioprioValue(p); err != nil {
		return "io priority"
	}
	if _, ok := capMasks(p.Capabilities); !ok {
		return "capabilities"
	}
	for _, s := range append(append([]string{p.Cwd}, p.Args...), p.Env...) {
		if strings.IndexByte(s, 0) >= 0 {
			return "NUL byte"
		}
	}
	return ""
}

// capMasks returns the bounding, effective, inheritable, permitted and
// ambient sets as bit masks.
func capMasks(c *configs.Capabilities) ([5]uint64, bool) {
	var m [5]uint64
	if c == nil {
		return m, true
	}
	for i, set := range [5][]int{c.Bounding, c.Effective, c.Inheritable, c.Permitted, c.Ambient} {
		for _, n := range set {
			if n < 0 || n >= 64 {
				return m, false
			}
			m[i] |= 1 << uint(n)
		}
	}
	return m, true
}

type planWriter struct{ b []byte }

func (w *planWriter) rec(tag uint32, v []byte) {
	w.b = binary.NativeEndian.AppendUint32(w.b, tag)
	w.b = binary.NativeEndian.AppendUint32(w.b, uint32(len(v)))
	w.b = append(w.b, v...)
}

func (w *planWriter) str(tag uint32, s string) { w.rec(tag, []byte(s)) }

func (w *planWriter) u32(tag, v uint32) {
	w.rec(tag, binary.NativeEndian.AppendUint32(nil, v))
}

// encodeExecPlan encodes p, its filter and the number of preserved fds as
// an exec plan, or returns nil when p needs the Go path (goOnlyReason).
func encodeExecPlan(p *configs.Process, filter *seccomp.Program, extra int) []byte {
	if goOnlyReason(p) != "" {
		return nil
	}
	w := &planWriter{b: make([]byte, 0, 512+8*len(filterOrNil(filter)))}
	w.b = append(w.b, xpMagic...)
	appendProcessPlan(w, p, filter, extra)
	return w.b
}

// appendProcessPlan appends the records of p, its filter and the number of
// preserved fds: what an exec plan and an init plan share.
func appendProcessPlan(w *planWriter, p *configs.Process, filter *seccomp.Program, extra int) {
	ne := binary.NativeEndian
	for _, a := range p.Args {
		w.str(xpArg, a)
	}
	for _, e := range p.Env {
		w.str(xpEnv, e)
	}
	w.str(xpCwd, p.Cwd)
	w.u32(xpUID, p.UID)
	w.u32(xpGID, p.GID)
	if len(p.AdditionalGids) > 0 {
		var g []byte
		for _, id := range p.AdditionalGids {
			g = ne.AppendUint32(g, id)
		}
		w.rec(xpGroups, g)
	}
	if p.Umask != nil {
		w.u32(xpUmask, *p.Umask)
	}
	masks, _ := capMasks(raisableAmbient(p.Capabilities))
	var cb []byte
	for _, m := range masks {
		cb = ne.AppendUint64(cb, m)
	}
	w.rec(xpCaps, cb)
	for _, rl := range p.Rlimits {
		v := ne.AppendUint32(nil, uint32(rl.Type))
		v = ne.AppendUint32(v, 0)
		v = ne.AppendUint64(v, rl.Soft)
		v = ne.AppendUint64(v, rl.Hard)
		w.rec(xpRlimit, append(v, rl.Name...))
	}
	if p.NoNewPrivileges {
		w.rec(xpNNP, nil)
	}
	if attr, _ := schedAttr(p); attr != nil {
		w.rec(xpSched, unsafe.Slice((*byte)(unsafe.Pointer(attr)), unix.SizeofSchedAttr))
	}
	if prio, _ := ioprioValue(p); prio >= 0 {
		w.u32(xpIOPrio, uint32(prio))
	}
	if p.Terminal {
		v := make([]byte, 8)
		if p.ConsoleSize != nil {
			ne.PutUint32(v, 1)
			ne.PutUint16(v[4:], uint16(p.ConsoleSize.Height))
			ne.PutUint16(v[6:], uint16(p.ConsoleSize.Width))
		}
		w.rec(xpTTY, v)
	}
	if filter != nil {
		v := ne.AppendUint32(nil, uint32(filter.Flags))
		notify := uint32(0)
		if filter.Notify {
			notify = 1
		}
		v = ne.AppendUint32(v, notify)
		for _, ins := range filter.Filter {
			v = ne.AppendUint16(v, ins.Code)
			v = append(v, ins.Jt, ins.Jf)
			v = ne.AppendUint32(v, ins.K)
		}
		w.rec(xpSeccomp, v)
	}
	w.u32(xpNFDs, uint32(extra))
}

func filterOrNil(p *seccomp.Program) []unix.SockFilter {
	if p == nil {
		return nil
	}
	return p.Filter
}
