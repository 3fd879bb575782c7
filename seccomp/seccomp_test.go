package seccomp

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func uintp(u uint) *uint { return &u }

func TestValidateAcceptsDefaultProfile(t *testing.T) {
	if err := Validate(loadProfile(t)); err != nil {
		t.Fatal(err)
	}
	if err := Validate(nil); err != nil {
		t.Fatalf("Validate(nil) = %v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	allow := specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActAllow}
	for _, tc := range []struct {
		name string
		s    specs.LinuxSeccomp
		want string
	}{
		{
			name: "unknown default action",
			s:    specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"},
			want: `linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE"`,
		},
		{
			name: "notify as default",
			s:    specs.LinuxSeccomp{DefaultAction: specs.ActNotify},
			want: "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action",
		},
		{
			name: "defaultErrnoRet with allow",
			s:    specs.LinuxSeccomp{DefaultAction: specs.ActAllow, DefaultErrnoRet: uintp(1)},
			want: "linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW",
		},
		{
			name: "unknown arch",
			s:    specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64, "SCMP_ARCH_Z80"}},
			want: `linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_Z80"`,
		},
		{
			name: "unknown flag",
			s:    specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"}},
			want: `linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_FAST"`,
		},
		{
			name: "unknown syscall action",
			s: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
				allow, allow, allow, {Names: []string{"open"}, Action: "SCMP_ACT_FOO"},
			}},
			want: `linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`,
		},
		{
			name: "errnoRet with kill",
			s: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"open"}, Action: specs.ActKillProcess, ErrnoRet: uintp(1)},
			}},
			want: "linux.seccomp.syscalls[0].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_KILL_PROCESS",
		},
		{
			name: "errnoRet too large",
			s: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"open"}, Action: specs.ActErrno, ErrnoRet: uintp(70000)},
			}},
			want: "linux.seccomp.syscalls[0].errnoRet: 70000 out of range (at most 32767)",
		},
		{
			name: "no names",
			s: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Action: specs.ActErrno},
			}},
			want: "linux.seccomp.syscalls[0].names: no syscall names",
		},
		{
			name: "empty name",
			s: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"open", ""}, Action: specs.ActErrno},
			}},
			want: "linux.seccomp.syscalls[0].names[1]: empty syscall name",
		},
		{
			name: "notify on write",
			s: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read", "write"}, Action: specs.ActNotify},
			}},
			want: "linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY cannot be used for write",
		},
		{
			name: "arg index",
			s: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"open"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}},
			}},
			want: "linux.seccomp.syscalls[0].args[0].index: 6 out of range",
		},
		{
			name: "unknown operator",
			s: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"open"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
					{Index: 0, Op: specs.OpEqualTo}, {Index: 1, Op: "SCMP_CMP_APPROX"},
				}},
			}},
			want: `linux.seccomp.syscalls[0].args[1].op: unknown operator "SCMP_CMP_APPROX"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(&tc.s)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Validate = %v\nwant prefix %q", err, tc.want)
			}
			// Compile must refuse the same profile before libseccomp.
			if _, cerr := Compile(&tc.s); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("Compile = %v, want the Validate error", cerr)
			}
		})
	}
}

func TestValidateIgnoresUnknownSyscallNames(t *testing.T) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"open", "syscall_from_2031"}, Action: specs.ActErrno},
	}}
	if err := Validate(s); err != nil {
		t.Fatal(err)
	}
	f, _, err := build(s)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	f.Release()
}

func TestKnownLists(t *testing.T) {
	for _, tc := range []struct {
		list []string
		want []string
	}{
		{KnownActions(), []string{"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"}},
		{KnownOperators(), []string{"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"}},
		{KnownFlags(), []string{"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}},
	} {
		if !slices.Equal(tc.list, tc.want) {
			t.Errorf("got %q\nwant %q", tc.list, tc.want)
		}
	}
	knownArchs := KnownArchs()
	for _, a := range []string{"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"} {
		if !slices.Contains(knownArchs, a) {
			t.Errorf("KnownArchs() = %q lacks %s", knownArchs, a)
		}
	}
	supported := SupportedFlags()
	for _, f := range supported {
		if !slices.Contains(KnownFlags(), f) {
			t.Errorf("supported flag %s is not known", f)
		}
	}
	// Every kernel and libseccomp this project targets (Linux >= 4.17,
	// libseccomp >= 2.5) has these.
	for _, f := range []string{"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"} {
		if !slices.Contains(supported, f) {
			t.Errorf("SupportedFlags() = %q lacks %s", supported, f)
		}
	}
}

// loadProfile returns the seccomp section of a spec containerd generated
// for a CRI container (its default profile: 360 syscalls, three
// architectures, argument conditions).
func loadProfile(tb testing.TB) *specs.LinuxSeccomp {
	tb.Helper()
	b, err := os.ReadFile("testdata/containerd-default.json")
	if err != nil {
		tb.Fatal(err)
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(b, &s); err != nil {
		tb.Fatal(err)
	}
	return &s
}

func TestBuildDefaultProfile(t *testing.T) {
	f, notify, err := build(loadProfile(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	if notify {
		t.Error("default profile reported a notify rule")
	}
	nnp, err := f.GetNoNewPrivsBit()
	if err != nil || nnp {
		t.Errorf("no_new_privs attribute = %v, %v; want false (the caller decides)", nnp, err)
	}
	out, err := os.CreateTemp(t.TempDir(), "bpf")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := f.ExportBPF(out); err != nil {
		t.Fatal(err)
	}
	st, err := out.Stat()
	if err != nil {
		t.Fatal(err)
	}
	// Sanity: hundreds of syscalls for three architectures compile to a
	// sizeable program (8 bytes an instruction).
	if st.Size() < 8*300 {
		t.Errorf("filter is only %d bytes of BPF", st.Size())
	}
}

func BenchmarkBuildDefaultProfile(b *testing.B) {
	s := loadProfile(b)
	b.ResetTimer()
	for b.Loop() {
		f, _, err := build(s)
		if err != nil {
			b.Fatal(err)
		}
		f.Release()
	}
}

// BenchmarkCompileDefaultProfile adds libseccomp's BPF generation to the
// build: what a cache miss costs the runtime.
func BenchmarkCompileDefaultProfile(b *testing.B) {
	s := loadProfile(b)
	for b.Loop() {
		if _, err := Compile(s); err != nil {
			b.Fatal(err)
		}
	}
}
