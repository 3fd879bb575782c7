package libcontainer

import (
	"encoding/binary"
	"testing"

	"github.com/husk-runtime/husk/libcontainer/configs"
	"github.com/husk-runtime/husk/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// planRecords splits an exec plan into its records, as execplan.c reads it.
func planRecords(t *testing.T, b []byte) map[uint32][][]byte {
	t.Helper()
	if string(b[:len(xpMagic)]) != xpMagic {
		t.Fatalf("plan starts with %q", b[:8])
	}
	recs := map[uint32][][]byte{}
	ne := binary.NativeEndian
	for b = b[len(xpMagic):]; len(b) > 0; {
		if len(b) < 8 {
			t.Fatalf("truncated record header %x", b)
		}
		tag, n := ne.Uint32(b), ne.Uint32(b[4:])
		if uint32(len(b)-8) < n {
			t.Fatalf("record %d overruns the plan", tag)
		}
		recs[tag] = append(recs[tag], b[8:8+n])
		b = b[8+n:]
	}
	return recs
}

func TestExecPlanEncodesEveryField(t *testing.T) {
	umask := uint32(0o077)
	p := &configs.Process{
		Args: []string{"sh", "-c", "true"}, Env: []string{"PATH=/bin", "A=b"}, Cwd: "/tmp",
		UID: 1000, GID: 100, AdditionalGids: []uint32{5, 6}, Umask: &umask,
		Terminal: true, ConsoleSize: &specs.Box{Height: 24, Width: 80},
		Capabilities: &configs.Capabilities{
			Bounding: []int{unix.CAP_CHOWN, unix.CAP_KILL}, Effective: []int{unix.CAP_KILL},
			Permitted: []int{unix.CAP_KILL}, Inheritable: []int{unix.CAP_KILL},
			// CAP_CHOWN is not permitted: dropped, like raisableAmbient.
			Ambient: []int{unix.CAP_KILL, unix.CAP_CHOWN},
		},
		Rlimits:         []configs.Rlimit{{Type: unix.RLIMIT_NOFILE, Name: "RLIMIT_NOFILE", Soft: 10, Hard: 20}},
		NoNewPrivileges: true,
		Scheduler:       &specs.Scheduler{Policy: specs.SchedBatch, Nice: 3},
		IOPriority:      &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 4},
	}
	filter := &seccomp.Program{Filter: []unix.SockFilter{{Code: 6, K: 0x7fff0000}}, Flags: 8, Notify: true}
	plan := encodeExecPlan(p, filter, 2)
	if plan == nil {
		t.Fatal("no plan for a process the C path handles")
	}
	r := planRecords(t, plan)
	ne := binary.NativeEndian
	strs := func(tag uint32) (out []string) {
		for _, v := range r[tag] {
			out = append(out, string(v))
		}
		return out
	}
	u32 := func(tag uint32) uint32 { return ne.Uint32(r[tag][0]) }
	if got := strs(xpArg); len(got) != 3 || got[2] != "true" {
		t.Errorf("args %q", got)
	}
	if got := strs(xpEnv); len(got) != 2 || got[1] != "A=b" {
		t.Errorf("env %q", got)
	}
	if got := strs(xpCwd); len(got) != 1 || got[0] != "/tmp" {
		t.Errorf("cwd %q", got)
	}
	if u32(xpUID) != 1000 || u32(xpGID) != 100 || u32(xpUmask) != 0o077 || u32(xpNFDs) != 2 {
		t.Errorf("uid %d gid %d umask %o nfds %d", u32(xpUID), u32(xpGID), u32(xpUmask), u32(xpNFDs))
	}
	if g := r[xpGroups][0]; ne.Uint32(g) != 5 || ne.Uint32(g[4:]) != 6 {
		t.Errorf("groups %x", g)
	}
	c := r[xpCaps][0]
	kill, chown := uint64(1)<<unix.CAP_KILL, uint64(1)<<unix.CAP_CHOWN
	if ne.Uint64(c) != kill|chown || ne.Uint64(c[8:]) != kill || ne.Uint64(c[32:]) != kill {
		t.Errorf("caps %x", c)
	}
	rl := r[xpRlimit][0]
	if ne.Uint32(rl) != unix.RLIMIT_NOFILE || ne.Uint64(rl[8:]) != 10 || ne.Uint64(rl[16:]) != 20 || string(rl[24:]) != "RLIMIT_NOFILE" {
		t.Errorf("rlimit %x", rl)
	}
	if len(r[xpNNP]) != 1 {
		t.Error("no no_new_privs record")
	}
	if s := r[xpSched][0]; len(s) != unix.SizeofSchedAttr || ne.Uint32(s[4:]) != 3 || int32(ne.Uint32(s[16:])) != 3 {
		t.Errorf("sched_attr %x", s)
	}
	if u32(xpIOPrio) != 2<<13|4 {
		t.Errorf("ioprio %#x", u32(xpIOPrio))
	}
	if tty := r[xpTTY][0]; ne.Uint32(tty) != 1 || ne.Uint16(tty[4:]) != 24 || ne.Uint16(tty[6:]) != 80 {
		t.Errorf("tty %x", tty)
	}
	if s := r[xpSeccomp][0]; ne.Uint32(s) != 8 || ne.Uint32(s[4:]) != 1 || len(s) != 16 || ne.Uint16(s[8:]) != 6 || ne.Uint32(s[12:]) != 0x7fff0000 {
		t.Errorf("seccomp %x", s)
	}
}

func TestExecPlanFallsBackToGo(t *testing.T) {
	base := func() *configs.Process { return &configs.Process{Args: []string{"true"}, Cwd: "/"} }
	for name, mod := range map[string]func(*configs.Process){
		"apparmor":      func(p *configs.Process) { p.ApparmorProfile = "x" },
		"selinux":       func(p *configs.Process) { p.SelinuxLabel = "x" },
		"sched policy":  func(p *configs.Process) { p.Scheduler = &specs.Scheduler{Policy: "SCHED_NOPE"} },
		"ioprio class":  func(p *configs.Process) { p.IOPriority = &specs.LinuxIOPriority{Class: "NOPE"} },
		"cap range":     func(p *configs.Process) { p.Capabilities = &configs.Capabilities{Bounding: []int{64}} },
		"nul in an arg": func(p *configs.Process) { p.Args = []string{"a\x00b"} },
	} {
		p := base()
		mod(p)
		if goOnlyReason(p) == "" || encodeExecPlan(p, nil, 0) != nil {
			t.Errorf("%s: the C path was chosen", name)
		}
	}
	if r := goOnlyReason(base()); r != "" {
		t.Errorf("a plain process needs Go: %s", r)
	}
	// oom_score_adj is nsexec's business (stage0), not a reason for Go.
	adj := 5
	withOOM := base()
	withOOM.OOMScoreAdj = &adj
	if r := goOnlyReason(withOOM); r != "" {
		t.Errorf("oom_score_adj needs Go: %s", r)
	}
}
