// Package seccomp validates an OCI seccomp profile, compiles it with
// libseccomp into a classic BPF program, and installs that program.
//
// The work is split by process. The runtime calls Compile (or
// CompileCached, which keeps compiled programs on disk: compiling
// containerd's default profile costs ~17 ms) and sends the Program to the
// container's init in its config. The init calls Install, one seccomp(2)
// call that allocates nothing, on the locked OS thread that then execve()s;
// it sets no_new_privs on that thread first when the config asks for it,
// otherwise installing needs CAP_SYS_ADMIN.
//
// The tables below (actions, operators, architectures, flags) are the only
// place these names are listed; Validate, the filter builder and "husk
// features" all read them.
package seccomp

import (
	"fmt"
	"math"
	"sync"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// actions maps the runtime-spec's action names to libseccomp's, in the
// order the spec lists them. SCMP_ACT_KILL is the historical name of
// SCMP_ACT_KILL_THREAD.
var actions = []struct {
	name specs.LinuxSeccompAction
	act  libseccomp.ScmpAction
}{
	{specs.ActKill, libseccomp.ActKillThread},
	{specs.ActKillProcess, libseccomp.ActKillProcess},
	{specs.ActKillThread, libseccomp.ActKillThread},
	{specs.ActTrap, libseccomp.ActTrap},
	{specs.ActErrno, libseccomp.ActErrno},
	{specs.ActTrace, libseccomp.ActTrace},
	{specs.ActAllow, libseccomp.ActAllow},
	{specs.ActLog, libseccomp.ActLog},
	{specs.ActNotify, libseccomp.ActNotify},
}

// operators maps the runtime-spec's comparison operators to libseccomp's.
var operators = []struct {
	name specs.LinuxSeccompOperator
	op   libseccomp.ScmpCompareOp
}{
	{specs.OpNotEqual, libseccomp.CompareNotEqual},
	{specs.OpLessThan, libseccomp.CompareLess},
	{specs.OpLessEqual, libseccomp.CompareLessOrEqual},
	{specs.OpEqualTo, libseccomp.CompareEqual},
	{specs.OpGreaterEqual, libseccomp.CompareGreaterEqual},
	{specs.OpGreaterThan, libseccomp.CompareGreater},
	{specs.OpMaskedEqual, libseccomp.CompareMaskedEqual},
}

// archs maps the runtime-spec's architecture names to libseccomp's.
var archs = []struct {
	name specs.Arch
	arch libseccomp.ScmpArch
}{
	{specs.ArchX86, libseccomp.ArchX86},
	{specs.ArchX86_64, libseccomp.ArchAMD64},
	{specs.ArchX32, libseccomp.ArchX32},
	{specs.ArchARM, libseccomp.ArchARM},
	{specs.ArchAARCH64, libseccomp.ArchARM64},
	{specs.ArchMIPS, libseccomp.ArchMIPS},
	{specs.ArchMIPS64, libseccomp.ArchMIPS64},
	{specs.ArchMIPS64N32, libseccomp.ArchMIPS64N32},
	{specs.ArchMIPSEL, libseccomp.ArchMIPSEL},
	{specs.ArchMIPSEL64, libseccomp.ArchMIPSEL64},
	{specs.ArchMIPSEL64N32, libseccomp.ArchMIPSEL64N32},
	{specs.ArchPPC, libseccomp.ArchPPC},
	{specs.ArchPPC64, libseccomp.ArchPPC64},
	{specs.ArchPPC64LE, libseccomp.ArchPPC64LE},
	{specs.ArchS390, libseccomp.ArchS390},
	{specs.ArchS390X, libseccomp.ArchS390X},
	{specs.ArchPARISC, libseccomp.ArchPARISC},
	{specs.ArchPARISC64, libseccomp.ArchPARISC64},
	{specs.ArchRISCV64, libseccomp.ArchRISCV64},
	{specs.ArchLOONGARCH64, libseccomp.ArchLOONGARCH64},
	{specs.ArchM68K, libseccomp.ArchM68K},
	{specs.ArchSH, libseccomp.ArchSH},
	{specs.ArchSHEB, libseccomp.ArchSHEB},
}

// flagTsync is not among specs-go's constants but the runtime-spec lists it.
const flagTsync specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

// flags are the seccomp(2) filter flags a profile may ask for, with how
// each is set on a libseccomp filter (so libseccomp checks that it knows
// the flag and the kernel has it) and the bit Compile passes to seccomp(2).
var flags = []struct {
	name specs.LinuxSeccompFlag
	set  func(*libseccomp.ScmpFilter) error
	bit  uint
}{
	// Install loads the filter on the calling thread only, which is the
	// thread that execve()s and so the only one left afterwards: TSYNC
	// would change nothing for the container, and the kernel refuses it
	// together with NEW_LISTENER. Accepted, and bit-less.
	{flagTsync, func(*libseccomp.ScmpFilter) error { return nil }, 0},
	{specs.LinuxSeccompFlagSpecAllow, func(f *libseccomp.ScmpFilter) error { return f.SetSSB(true) }, unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
	{specs.LinuxSeccompFlagLog, func(f *libseccomp.ScmpFilter) error { return f.SetLogBit(true) }, unix.SECCOMP_FILTER_FLAG_LOG},
	// The kernel accepts WAIT_KILLABLE_RECV only with NEW_LISTENER; Compile
	// passes it only when some rule notifies (it means nothing otherwise).
	{specs.LinuxSeccompFlagWaitKillableRecv, func(f *libseccomp.ScmpFilter) error { return f.SetWaitKill(true) }, unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
}

// KnownActions returns the seccomp actions husk understands.
func KnownActions() []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = string(a.name)
	}
	return out
}

// KnownOperators returns the argument comparison operators husk understands.
func KnownOperators() []string {
	out := make([]string, len(operators))
	for i, o := range operators {
		out[i] = string(o.name)
	}
	return out
}

// KnownFlags returns the seccomp filter flags husk understands, whether or
// not this host supports them (see SupportedFlags).
func KnownFlags() []string {
	out := make([]string, len(flags))
	for i, f := range flags {
		out[i] = string(f.name)
	}
	return out
}

var (
	probeOnce      sync.Once
	supportedArchs []string
	supportedFlags []string
)

// probe finds, once, which architectures the linked libseccomp can add to a
// filter and which flags this kernel and libseccomp accept, by trying them
// on a scratch filter that is never loaded.
func probe() {
	probeOnce.Do(func() {
		f, err := libseccomp.NewFilter(libseccomp.ActAllow)
		if err != nil {
			return
		}
		defer f.Release()
		for _, a := range archs {
			if f.AddArch(a.arch) == nil {
				supportedArchs = append(supportedArchs, string(a.name))
			}
		}
		for _, fl := range flags {
			if fl.name == flagTsync {
				// API level 2 means the kernel has seccomp(2) with TSYNC.
				if api, _ := libseccomp.GetAPI(); api < 2 {
					continue
				}
			} else if fl.set(f) != nil {
				continue
			}
			supportedFlags = append(supportedFlags, string(fl.name))
		}
	})
}

// KnownArchs returns the runtime-spec architecture names that the linked
// libseccomp supports.
func KnownArchs() []string {
	probe()
	return append([]string(nil), supportedArchs...)
}

// SupportedFlags returns the flags of KnownFlags that this host's kernel
// and libseccomp support.
func SupportedFlags() []string {
	probe()
	return append([]string(nil), supportedFlags...)
}

func lookupAction(name specs.LinuxSeccompAction) (libseccomp.ScmpAction, bool) {
	for _, a := range actions {
		if a.name == name {
			return a.act, true
		}
	}
	return libseccomp.ActInvalid, false
}

func lookupOperator(name specs.LinuxSeccompOperator) (libseccomp.ScmpCompareOp, bool) {
	for _, o := range operators {
		if o.name == name {
			return o.op, true
		}
	}
	return libseccomp.CompareInvalid, false
}

func lookupArch(name specs.Arch) (libseccomp.ScmpArch, bool) {
	for _, a := range archs {
		if a.name == name {
			return a.arch, true
		}
	}
	return libseccomp.ArchInvalid, false
}

func lookupFlag(name specs.LinuxSeccompFlag) (set func(*libseccomp.ScmpFilter) error, bit uint, ok bool) {
	for _, f := range flags {
		if f.name == name {
			return f.set, f.bit, true
		}
	}
	return nil, 0, false
}

// maxArgs is how many arguments a Linux system call has at most.
const maxArgs = 6

// Validate checks a seccomp profile without touching the kernel: every
// action, operator, architecture and flag must be known, errnoRet may only
// go with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, argument indexes must be below
// 6, and SCMP_ACT_NOTIFY may be neither the default action nor used for
// write. Errors name the offending field, e.g.
// `linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`.
//
// Syscall names are not checked: profiles list syscalls newer than this
// libseccomp or kernel, and those are skipped when the filter is built.
func Validate(s *specs.LinuxSeccomp) error {
	if s == nil {
		return nil
	}
	const p = "linux.seccomp"
	if err := checkAction(p+".defaultAction", p+".defaultErrnoRet", s.DefaultAction, s.DefaultErrnoRet); err != nil {
		return err
	}
	if s.DefaultAction == specs.ActNotify {
		// Init must still write the listener fd to its parent after
		// loading the filter; a notifying write would deadlock it.
		return fmt.Errorf("%s.defaultAction: %s cannot be the default action", p, specs.ActNotify)
	}
	for i, a := range s.Architectures {
		if _, ok := lookupArch(a); !ok {
			return fmt.Errorf("%s.architectures[%d]: unknown architecture %q", p, i, a)
		}
	}
	for i, f := range s.Flags {
		if _, _, ok := lookupFlag(f); !ok {
			return fmt.Errorf("%s.flags[%d]: unknown flag %q", p, i, f)
		}
	}
	for i := range s.Syscalls {
		sc := &s.Syscalls[i]
		sp := fmt.Sprintf("%s.syscalls[%d]", p, i)
		if len(sc.Names) == 0 {
			return fmt.Errorf("%s.names: no syscall names", sp)
		}
		for j, n := range sc.Names {
			if n == "" {
				return fmt.Errorf("%s.names[%d]: empty syscall name", sp, j)
			}
			if n == "write" && sc.Action == specs.ActNotify {
				return fmt.Errorf("%s: %s cannot be used for write: init writes the listener fd to its parent after loading the filter", sp, specs.ActNotify)
			}
		}
		if err := checkAction(sp+".action", sp+".errnoRet", sc.Action, sc.ErrnoRet); err != nil {
			return err
		}
		for j, a := range sc.Args {
			if a.Index >= maxArgs {
				return fmt.Errorf("%s.args[%d].index: %d out of range, a syscall has %d arguments", sp, j, a.Index, maxArgs)
			}
			if _, ok := lookupOperator(a.Op); !ok {
				return fmt.Errorf("%s.args[%d].op: unknown operator %q", sp, j, a.Op)
			}
		}
	}
	return nil
}

// checkAction validates an action and the errnoRet that goes with it.
func checkAction(field, errnoField string, name specs.LinuxSeccompAction, errnoRet *uint) error {
	if _, ok := lookupAction(name); !ok {
		return fmt.Errorf("%s: unknown action %q", field, name)
	}
	if errnoRet == nil {
		return nil
	}
	if name != specs.ActErrno && name != specs.ActTrace {
		return fmt.Errorf("%s: only valid with %s or %s, not %s", errnoField, specs.ActErrno, specs.ActTrace, name)
	}
	// libseccomp takes the return code as an int16.
	if *errnoRet > math.MaxInt16 {
		return fmt.Errorf("%s: %d out of range (at most %d)", errnoField, *errnoRet, math.MaxInt16)
	}
	return nil
}
