// Package devices enforces runtime-spec device rules on cgroup v2, which
// has no devices.allow file: the rules are compiled into a small eBPF
// program of type BPF_PROG_TYPE_CGROUP_DEVICE, which the kernel runs on
// every open(2) and mknod(2) of a device node by a process of the cgroup
// (or of a cgroup below it), and which is attached to the container's
// cgroup directory.
//
// The program is assembled here and loaded with raw bpf(2) calls: a BPF
// library (cilium/ebpf) would double the size of the husk binary, and its
// start-up cost with it, for the few dozen instructions a filter needs.
package devices

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rule is a validated runtime-spec device rule.
type rule struct {
	allow bool
	// typ is unix.BPF_DEVCG_DEV_CHAR or _BLOCK, 0 for every type.
	typ int32
	// major and minor are -1 for any.
	major, minor int64
	// access is a set of unix.BPF_DEVCG_ACC_* bits.
	access int32
}

// matchesAll reports whether r matches every device.
func (r rule) matchesAll() bool { return r.typ == 0 && r.major == -1 && r.minor == -1 }

// parseRules validates the rules and fills in the spec's defaults: every
// type, any major and minor, access "rwm".
func parseRules(rules []specs.LinuxDeviceCgroup) ([]rule, error) {
	out := make([]rule, 0, len(rules))
	for _, r := range rules {
		p := rule{allow: r.Allow, major: -1, minor: -1}
		switch r.Type {
		case "", "a":
		case "c":
			p.typ = unix.BPF_DEVCG_DEV_CHAR
		case "b":
			p.typ = unix.BPF_DEVCG_DEV_BLOCK
		default:
			return nil, fmt.Errorf("invalid device cgroup type %q", r.Type)
		}
		for _, n := range []struct {
			name string
			v    *int64
			dst  *int64
		}{{"major", r.Major, &p.major}, {"minor", r.Minor, &p.minor}} {
			if n.v == nil {
				continue
			}
			// The kernel hands the program 32-bit numbers (majors have 12
			// bits, minors 20); the comparison immediate is a signed 32-bit
			// value, so larger numbers could never match and are refused.
			if *n.v < -1 || *n.v > math.MaxInt32 {
				return nil, fmt.Errorf("invalid device cgroup %s %d", n.name, *n.v)
			}
			*n.dst = *n.v
		}
		access := r.Access
		if access == "" {
			access = "rwm"
		}
		for _, c := range access {
			switch c {
			case 'r':
				p.access |= unix.BPF_DEVCG_ACC_READ
			case 'w':
				p.access |= unix.BPF_DEVCG_ACC_WRITE
			case 'm':
				p.access |= unix.BPF_DEVCG_ACC_MKNOD
			default:
				return nil, fmt.Errorf("invalid device cgroup access %q", r.Access)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// The semantics the program implements, shared by compile, allowsAll and
// the reference evaluator of the tests:
//
// The rules apply in order, as writes to v1's devices.allow and
// devices.deny would. For each kind of access requested (mknod, read,
// write) the last rule that matches the device and names that access
// decides; an access no rule decides is allowed, as in a new v1 cgroup
// and in a v2 cgroup without a program (so lists begin with "deny all").
// An operation is allowed when every access it requests is.
//
// This is stricter than v1 in one corner, on purpose: v1 cannot punch a
// hole in a wildcard exception ("allow c 1:* rwm" then "deny c 1:3 w"
// leaves c 1:3 writable there), while here the later deny wins.

// accessBits are the kinds of access, each decided separately.
var accessBits = [...]int32{unix.BPF_DEVCG_ACC_MKNOD, unix.BPF_DEVCG_ACC_READ, unix.BPF_DEVCG_ACC_WRITE}

// allowsAll reports whether the rules leave every access to every device
// allowed: then no program is needed.
func allowsAll(rules []rule) bool {
	for _, bit := range accessBits {
		for i := len(rules) - 1; i >= 0; i-- {
			r := rules[i]
			if r.access&bit == 0 {
				continue
			}
			if !r.allow {
				return false
			}
			if r.matchesAll() {
				break
			}
		}
	}
	return true
}

// AllowsAll reports whether the device rules leave every device fully
// accessible, as a cgroup v2 without a device program does. Invalid rules
// do not.
func AllowsAll(rules []specs.LinuxDeviceCgroup) bool {
	rs, err := parseRules(rules)
	return err == nil && allowsAll(rs)
}

// insn is one eBPF instruction, laid out as the kernel's struct bpf_insn.
type insn struct {
	code uint8
	// regs holds the 4-bit destination and source register numbers, in
	// the bit-field order of the host (see newInsn).
	regs uint8
	off  int16
	imm  int32
}

// Registers of the program: r1 points at the struct bpf_cgroup_dev_ctx
// on entry, r0 is the return value (1 allow, 0 deny).
const (
	r0 = 0
	r1 = 1
	// rAccess, rType, rMajor and rMinor hold the fields of the context.
	rAccess = 2
	rType   = 3
	rMajor  = 4
	rMinor  = 5
)

// Offsets of the fields of struct bpf_cgroup_dev_ctx: access_type (the
// access bits in the upper 16 bits, the device type in the lower), major,
// minor, each a __u32.
const (
	ctxAccessType = 0
	ctxMajor      = 4
	ctxMinor      = 8
)

// Instruction codes used (from linux/bpf.h; x/sys has the parts).
const (
	opLoadWord = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W
	opMovImm   = unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_K
	opMovReg   = unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_X
	// 32-bit ALU operations zero the upper half of the register.
	opAnd32Imm = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	opRsh32Imm = unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K
	opJeqImm   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	opJneImm   = unix.BPF_JMP | unix.BPF_JNE | unix.BPF_K
	opJa       = unix.BPF_JMP | unix.BPF_JA
	opExit     = unix.BPF_JMP | unix.BPF_EXIT
)

// bigEndian tells the bit-field order of bpf_insn's dst_reg and src_reg:
// dst_reg is the low nibble on little-endian hosts, the high one on
// big-endian ones.
var bigEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 0
}()

func newInsn(code uint8, dst, src uint8, off int16, imm int32) insn {
	regs := dst | src<<4
	if bigEndian {
		regs = dst<<4 | src
	}
	return insn{code: code, regs: regs, off: off, imm: imm}
}

// dst and src decode the registers of i (for the tests' interpreter).
func (i insn) dst() uint8 {
	if bigEndian {
		return i.regs >> 4
	}
	return i.regs & 0xf
}

func (i insn) src() uint8 {
	if bigEndian {
		return i.regs & 0xf
	}
	return i.regs >> 4
}

// compile translates the rules into a device program. Accesses whose
// deciding rules are the same (usually read and write, often all three)
// share one pass over the rules, which are tried last to first:
//
//	r2 = access bits, r3 = type, r4 = major, r5 = minor
//	for each class of accesses:
//	    if no access of the class is requested: skip the class
//	    for each rule naming them, last to first:
//	        if type, major or minor differ: try the next rule
//	        deny: return 0    allow: go to the next class (return 1 in the last)
//	return 1
//
// Consecutive rules that test the same value share the test ("type is c"
// once for all the character devices of a list, then "major is 1" once
// for null, zero, full...): the kernel's verifier walks every path of the
// program at each container start, and its time grows with the tests.
func compile(rules []rule) ([]insn, error) {
	a := &assembler{prog: []insn{
		newInsn(opLoadWord, rAccess, r1, ctxAccessType, 0),
		newInsn(opMovReg, rType, rAccess, 0, 0),
		newInsn(opAnd32Imm, rType, 0, 0, 0xffff),
		newInsn(opRsh32Imm, rAccess, 0, 0, 16),
		newInsn(opLoadWord, rMajor, r1, ctxMajor, 0),
		newInsn(opLoadWord, rMinor, r1, ctxMinor, 0),
	}}
	classes := accessClasses(rules)
	for ci, c := range classes {
		// In the last class an allow returns at once; in the others it
		// goes on to the next class.
		a.last = ci == len(classes)-1
		a.toEnd = a.toEnd[:0]
		if c.mask != unix.BPF_DEVCG_ACC_MKNOD|unix.BPF_DEVCG_ACC_READ|unix.BPF_DEVCG_ACC_WRITE {
			a.emit(newInsn(opMovReg, r0, rAccess, 0, 0), newInsn(opAnd32Imm, r0, 0, 0, c.mask))
			a.toEnd = append(a.toEnd, len(a.prog))
			a.emit(newInsn(opJeqImm, r0, 0, 0, 0))
		}
		rev := make([]rule, len(c.rules))
		for i, r := range c.rules {
			rev[len(rev)-1-i] = r
		}
		terminal := a.rules(rev, 0)
		if len(a.prog) > math.MaxInt16 {
			return nil, errors.New("compile device rules: too many rules for one program")
		}
		if terminal && len(a.toEnd) == 0 {
			// The class ends in a verdict for every device and nothing
			// jumps past it: what follows is unreachable, which the
			// verifier refuses.
			return a.prog, nil
		}
		for _, j := range a.toEnd {
			a.patch(j)
		}
	}
	a.emit(newInsn(opMovImm, r0, 0, 0, 1), newInsn(opExit, 0, 0, 0, 0))
	return a.prog, nil
}

// assembler builds a program with forward jumps patched later.
type assembler struct {
	prog []insn
	// toEnd are the jumps to the end of the current access class.
	toEnd []int
	// last is set while the last access class is emitted.
	last bool
}

func (a *assembler) emit(i ...insn) { a.prog = append(a.prog, i...) }

// patch makes the jump at j land on the next instruction emitted.
func (a *assembler) patch(j int) { a.prog[j].off = int16(len(a.prog) - j - 1) }

// fieldRegs are the registers of the fields rules test, by level.
var fieldRegs = [...]uint8{rType, rMajor, rMinor}

// field returns r's value for the field of level, and whether it is a
// wildcard.
func field(r rule, level int) (int32, bool) {
	switch level {
	case 0:
		return r.typ, r.typ == 0
	case 1:
		return int32(r.major), r.major == -1
	}
	return int32(r.minor), r.minor == -1
}

// rules emits the tests from field level on, and the verdicts, of rs (in
// the order they are tried). It reports whether every device reaching
// this code gets a verdict, so that nothing after it runs.
func (a *assembler) rules(rs []rule, level int) bool {
	if level == len(fieldRegs) {
		// Every field matched: rs[0] decides, the rules after it are
		// shadowed.
		switch {
		case rs[0].allow && !a.last:
			a.toEnd = append(a.toEnd, len(a.prog))
			a.emit(newInsn(opJa, 0, 0, 0, 0))
		case rs[0].allow:
			a.emit(newInsn(opMovImm, r0, 0, 0, 1), newInsn(opExit, 0, 0, 0, 0))
		default:
			a.emit(newInsn(opMovImm, r0, 0, 0, 0), newInsn(opExit, 0, 0, 0, 0))
		}
		return true
	}
	for i := 0; i < len(rs); {
		v, wild := field(rs[i], level)
		j := i + 1
		for j < len(rs) {
			if w, wildJ := field(rs[j], level); wildJ != wild || w != v {
				break
			}
			j++
		}
		if wild {
			if a.rules(rs[i:j], level+1) {
				return true
			}
		} else {
			// A device with another value skips the whole group.
			skip := len(a.prog)
			a.emit(newInsn(opJneImm, fieldRegs[level], 0, 0, v))
			a.rules(rs[i:j], level+1)
			a.patch(skip)
		}
		i = j
	}
	return false
}

// accessClass is a set of access bits decided by the same rules.
type accessClass struct {
	mask  int32
	rules []rule
}

// accessClasses groups the access bits by the rules that name them, in
// order; a bit no rule names needs no pass (it is allowed).
func accessClasses(rules []rule) []accessClass {
	var classes []accessClass
	keys := map[string]int{}
	for _, bit := range accessBits {
		var key []byte
		var rs []rule
		for i, r := range rules {
			if r.access&bit != 0 {
				key = strconv.AppendInt(append(key, ','), int64(i), 10)
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			continue
		}
		if i, ok := keys[string(key)]; ok {
			classes[i].mask |= bit
			continue
		}
		keys[string(key)] = len(classes)
		classes = append(classes, accessClass{mask: bit, rules: rs})
	}
	return classes
}
