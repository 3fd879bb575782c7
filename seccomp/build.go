package seccomp

// Runtime-side code: builds a libseccomp filter from a profile (Compile
// turns it into BPF).

import (
	"fmt"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// optimizeAbove is the number of syscall rules above which the filter is
// compiled as a binary tree (O(log n) per syscall instead of a linear
// scan). libseccomp up to 2.5.4 miscompiles a binary tree with no rules, and
// for a handful of rules the linear filter is as fast.
const optimizeAbove = 32

// build compiles a validated profile into a libseccomp filter, without
// loading it, and reports whether any rule notifies. The caller releases
// the filter.
func build(s *specs.LinuxSeccomp) (_ *libseccomp.ScmpFilter, notify bool, retErr error) {
	defAct, err := action(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, false, fmt.Errorf("linux.seccomp.defaultAction: %w", err)
	}
	filter, err := libseccomp.NewFilter(defAct)
	if err != nil {
		return nil, false, fmt.Errorf("create seccomp filter: %w", err)
	}
	defer func() {
		if retErr != nil {
			filter.Release()
		}
	}()
	// libseccomp would otherwise set no_new_privs itself on load; whether
	// the container gets it is the config's decision, made by the caller.
	if err := filter.SetNoNewPrivsBit(false); err != nil {
		return nil, false, fmt.Errorf("clear seccomp no_new_privs attribute: %w", err)
	}
	for i, name := range s.Architectures {
		arch, ok := lookupArch(name)
		if !ok {
			return nil, false, fmt.Errorf("linux.seccomp.architectures[%d]: unknown architecture %q", i, name)
		}
		if err := filter.AddArch(arch); err != nil {
			return nil, false, fmt.Errorf("add seccomp architecture %s: %w", name, err)
		}
	}
	for i, name := range s.Flags {
		set, _, ok := lookupFlag(name)
		if !ok {
			return nil, false, fmt.Errorf("linux.seccomp.flags[%d]: unknown flag %q", i, name)
		}
		if err := set(filter); err != nil {
			return nil, false, fmt.Errorf("set seccomp flag %s: %w", name, err)
		}
	}

	rules := 0
	for i := range s.Syscalls {
		rules += len(s.Syscalls[i].Names)
		if s.Syscalls[i].Action == specs.ActNotify {
			notify = true
		}
	}
	if rules > optimizeAbove {
		// Not fatal: an older libseccomp just builds the linear filter.
		_ = filter.SetOptimize(2)
	}
	if notify {
		if api, _ := libseccomp.GetAPI(); api < 6 {
			return nil, false, fmt.Errorf("%s needs libseccomp API level 6 (libseccomp >= 2.5.0, Linux >= 5.7), have %d", specs.ActNotify, api)
		}
	}

	var conds []libseccomp.ScmpCondition
	for i := range s.Syscalls {
		sc := &s.Syscalls[i]
		act, err := action(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, false, fmt.Errorf("linux.seccomp.syscalls[%d].action: %w", i, err)
		}
		if act == defAct {
			// libseccomp refuses a rule that repeats the default action;
			// it would change nothing anyway.
			continue
		}
		conds = conds[:0]
		var seen [maxArgs]bool
		sameIndex := false
		for j, a := range sc.Args {
			op, ok := lookupOperator(a.Op)
			if !ok {
				return nil, false, fmt.Errorf("linux.seccomp.syscalls[%d].args[%d].op: unknown operator %q", i, j, a.Op)
			}
			if a.Index >= maxArgs {
				return nil, false, fmt.Errorf("linux.seccomp.syscalls[%d].args[%d].index: %d out of range", i, j, a.Index)
			}
			c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
			if err != nil {
				return nil, false, fmt.Errorf("linux.seccomp.syscalls[%d].args[%d]: %w", i, j, err)
			}
			sameIndex = sameIndex || seen[a.Index]
			seen[a.Index] = true
			conds = append(conds, c)
		}
		for _, name := range sc.Names {
			call, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				// Unknown to this libseccomp: a syscall newer than it,
				// or of another architecture. Profiles list such
				// syscalls on purpose; skip it as runc does.
				continue
			}
			if err := addRule(filter, call, act, conds, sameIndex); err != nil {
				return nil, false, fmt.Errorf("linux.seccomp.syscalls[%d]: add rule for %s: %w", i, name, err)
			}
		}
	}
	return filter, notify, nil
}

// addRule adds the rule for one syscall. Conditions on different arguments
// must all hold (one rule). libseccomp cannot AND two conditions on the
// same argument, so when a profile repeats an argument index each
// condition becomes a rule of its own and any of them matches — runc's
// long-standing semantics, which profiles are written for.
func addRule(f *libseccomp.ScmpFilter, call libseccomp.ScmpSyscall, act libseccomp.ScmpAction, conds []libseccomp.ScmpCondition, sameIndex bool) error {
	switch {
	case len(conds) == 0:
		return f.AddRule(call, act)
	case !sameIndex:
		return f.AddRuleConditional(call, act, conds)
	}
	for _, c := range conds {
		if err := f.AddRuleConditional(call, act, []libseccomp.ScmpCondition{c}); err != nil {
			return err
		}
	}
	return nil
}

// action converts a spec action and its errnoRet to libseccomp's. ERRNO and
// TRACE without errnoRet return EPERM, as runc.
func action(name specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	act, ok := lookupAction(name)
	if !ok {
		return libseccomp.ActInvalid, fmt.Errorf("unknown action %q", name)
	}
	if act == libseccomp.ActErrno || act == libseccomp.ActTrace {
		code := int16(unix.EPERM)
		if errnoRet != nil {
			code = int16(*errnoRet)
		}
		act = act.SetReturnCode(code)
	}
	return act, nil
}
