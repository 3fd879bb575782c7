package devices

import (
	"math/rand/v2"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func ptr[T any](v T) *T { return &v }

// run interprets prog, as the kernel would, on a device access: the few
// instructions compile emits, nothing else.
func run(t *testing.T, prog []insn, typ, major, minor, access uint32) bool {
	t.Helper()
	ctx := [3]uint32{access<<16 | typ, major, minor}
	var reg [11]uint64
	for pc, steps := 0, 0; steps < 100000; pc, steps = pc+1, steps+1 {
		if pc < 0 || pc >= len(prog) {
			t.Fatalf("pc %d outside the program of %d instructions", pc, len(prog))
		}
		i := prog[pc]
		d, s := i.dst(), i.src()
		switch i.code {
		case opLoadWord:
			if s != r1 || i.off%4 != 0 || i.off < 0 || i.off > 8 {
				t.Fatalf("pc %d: load from r%d%+d", pc, s, i.off)
			}
			reg[d] = uint64(ctx[i.off/4])
		case opMovImm:
			reg[d] = uint64(int64(i.imm))
		case opMovReg:
			reg[d] = reg[s]
		case opAnd32Imm:
			reg[d] = uint64(uint32(reg[d]) & uint32(i.imm))
		case opRsh32Imm:
			reg[d] = uint64(uint32(reg[d]) >> uint32(i.imm))
		case opJeqImm:
			if reg[d] == uint64(int64(i.imm)) {
				pc += int(i.off)
			}
		case opJneImm:
			if reg[d] != uint64(int64(i.imm)) {
				pc += int(i.off)
			}
		case opJa:
			pc += int(i.off)
		case opExit:
			return reg[r0] == 1
		default:
			t.Fatalf("pc %d: unexpected opcode %#x", pc, i.code)
		}
	}
	t.Fatal("program does not terminate")
	return false
}

// checkStatic checks what the kernel's verifier checks before running
// anything: every jump lands inside the program, every instruction is
// reachable, and no path runs off the end.
func checkStatic(t *testing.T, prog []insn) {
	t.Helper()
	seen := make([]bool, len(prog))
	var walk func(pc int)
	walk = func(pc int) {
		for ; ; pc++ {
			if pc < 0 || pc >= len(prog) {
				t.Fatalf("a path leaves the program at %d (%d instructions)", pc, len(prog))
			}
			if seen[pc] {
				return
			}
			seen[pc] = true
			switch prog[pc].code {
			case opExit:
				return
			case opJa:
				pc += int(prog[pc].off)
			case opJeqImm, opJneImm:
				walk(pc + 1 + int(prog[pc].off))
			}
		}
	}
	walk(0)
	for pc, ok := range seen {
		if !ok {
			t.Fatalf("instruction %d of %d is unreachable", pc, len(prog))
		}
	}
}

// evaluate is the reference semantics (see the comment in filter.go).
func evaluate(rules []rule, typ, major, minor uint32, access int32) bool {
	for _, bit := range accessBits {
		if access&bit == 0 {
			continue
		}
		allowed := true
		for i := len(rules) - 1; i >= 0; i-- {
			r := rules[i]
			if r.access&bit == 0 || r.typ != 0 && uint32(r.typ) != typ ||
				r.major != -1 && uint32(r.major) != major || r.minor != -1 && uint32(r.minor) != minor {
				continue
			}
			allowed = r.allow
			break
		}
		if !allowed {
			return false
		}
	}
	return true
}

// TestCompiledProgramMatchesRuleSemantics compares the compiled program
// with the reference semantics on random rule lists, for every device
// type, matching and non-matching numbers and every access set; and
// checks that allowsAll never skips a program that denies something.
func TestCompiledProgramMatchesRuleSemantics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{"a", "b", "c", ""}
	nums := []*int64{nil, ptr(int64(-1)), ptr(int64(1)), ptr(int64(5))}
	accesses := []string{"r", "w", "m", "rw", "rm", "wm", "rwm", ""}
	for n := 0; n < 3000; n++ {
		spec := make([]specs.LinuxDeviceCgroup, rng.IntN(7))
		for i := range spec {
			spec[i] = specs.LinuxDeviceCgroup{
				Allow:  rng.IntN(2) == 0,
				Type:   types[rng.IntN(len(types))],
				Major:  nums[rng.IntN(len(nums))],
				Minor:  nums[rng.IntN(len(nums))],
				Access: accesses[rng.IntN(len(accesses))],
			}
		}
		rules, err := parseRules(spec)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := compile(rules)
		if err != nil {
			t.Fatal(err)
		}
		checkStatic(t, prog)
		everything := true
		for _, typ := range []uint32{unix.BPF_DEVCG_DEV_BLOCK, unix.BPF_DEVCG_DEV_CHAR} {
			for _, major := range []uint32{1, 5, 7} {
				for _, minor := range []uint32{1, 5, 9} {
					for access := uint32(1); access < 8; access++ {
						want := evaluate(rules, typ, major, minor, int32(access))
						if got := run(t, prog, typ, major, minor, access); got != want {
							t.Fatalf("rules %+v: device %d %d:%d access %d: program says %v, want %v", spec, typ, major, minor, access, got, want)
						}
						everything = everything && want
					}
				}
			}
		}
		// allowsAll may miss that a later allow shadows a deny (then a
		// program that allows everything is loaded), never the reverse.
		if allowsAll(rules) && !everything {
			t.Fatalf("rules %+v: allowsAll, but the program denies some access", spec)
		}
	}
}

func TestAllowsAll(t *testing.T) {
	allowAll := specs.LinuxDeviceCgroup{Allow: true, Access: "rwm"}
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	null := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(3)), Access: "rwm"}
	denyNull := null
	denyNull.Allow = false
	for _, c := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  bool
	}{
		{"none", nil, true},
		{"allow all", []specs.LinuxDeviceCgroup{allowAll}, true},
		{"deny all", []specs.LinuxDeviceCgroup{denyAll}, false},
		{"deny all then allowlist", []specs.LinuxDeviceCgroup{denyAll, null}, false},
		{"deny all then allow all", []specs.LinuxDeviceCgroup{denyAll, null, allowAll}, true},
		{"allow on top of allow all", []specs.LinuxDeviceCgroup{null}, true},
		{"one deny", []specs.LinuxDeviceCgroup{denyNull}, false},
		{"partial wildcard deny", []specs.LinuxDeviceCgroup{{Allow: false, Access: "m"}}, false},
		{"invalid", []specs.LinuxDeviceCgroup{{Allow: true, Type: "x"}}, false},
	} {
		if got := AllowsAll(c.rules); got != c.want {
			t.Errorf("%s: AllowsAll = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseRulesRejectsBadRules(t *testing.T) {
	for _, r := range []specs.LinuxDeviceCgroup{
		{Type: "x"},
		{Type: "c", Access: "rwx"},
		{Type: "c", Major: ptr(int64(-2))},
		{Type: "c", Minor: ptr(int64(1) << 32)},
	} {
		if _, err := parseRules([]specs.LinuxDeviceCgroup{r}); err == nil {
			t.Errorf("rule %+v accepted", r)
		} else if !strings.HasPrefix(err.Error(), "invalid device cgroup ") {
			t.Errorf("rule %+v: error %q", r, err)
		}
	}
}

// TestDefaultListIsCompact checks that the default list compiles to one
// pass with shared tests: the verifier walks the program at every
// container start.
func TestDefaultListIsCompact(t *testing.T) {
	rules, err := parseRules(defaultRules)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	// 6 loads; "type c" once; "major 1", "major 5" and "major 136" once
	// each; a minor test and a 2-instruction verdict for each of the 8
	// rules with a minor, a verdict for 136:*; the deny-all verdict.
	if want := 6 + 1 + 3 + 8*3 + 2 + 2; len(prog) > want {
		t.Errorf("default list compiles to %d instructions, want %d", len(prog), want)
	}
}
