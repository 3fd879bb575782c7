package seccomp

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// childEnv makes a re-executed test binary run one of childModes, with a
// seccomp filter installed on its main thread, instead of the tests. The
// filter is compiled in the child too, before it is installed, as the
// runtime and init would do in two processes.
const childEnv = "HUSK_SECCOMP_TEST_CHILD"

var childModes = map[string]func() error{
	"errno":   childErrno,
	"notify":  childNotify,
	"default": childDefault,
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		// As husk's init: the filter is installed on, and applies to,
		// this locked thread.
		runtime.LockOSThread()
		if err := childModes[mode](); err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild re-executes the test binary in mode and returns its output as
// key=value pairs.
func runChild(t *testing.T, mode string) map[string]string {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	// The race detector otherwise sleeps a second at exit.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", childEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", mode, err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("child %s output:\n%s", mode, out)
		}
	})
	return got
}

func wantChild(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}

// compileAndInstall is what the runtime and init do between them, with
// no_new_privs set on the calling (locked) thread first.
func compileAndInstall(s *specs.LinuxSeccomp) (int, error) {
	p, err := Compile(s)
	if err != nil {
		return -1, err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return -1, fmt.Errorf("prctl PR_SET_NO_NEW_PRIVS: %w", err)
	}
	return Install(p)
}

func report(name string, err error) {
	var errno unix.Errno
	if errors.As(err, &errno) {
		fmt.Printf("%s=%s\n", name, unix.ErrnoName(errno))
	} else {
		fmt.Printf("%s=%v\n", name, err)
	}
}

func errOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// errnoProfile is installed by the "errno" child.
var errnoProfile = `{
	"defaultAction": "SCMP_ACT_ALLOW",
	"architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
	"flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
	"syscalls": [
		{"names": ["mkdirat", "mkdir", "syscall_husk_does_not_know"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18},
		{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"},
		{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 25, "args": [
			{"index": 0, "value": 4660, "op": "SCMP_CMP_EQ"},
			{"index": 0, "value": 22136, "op": "SCMP_CMP_EQ"}
		]},
		{"names": ["dup3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 74, "args": [
			{"index": 1, "value": 100, "op": "SCMP_CMP_EQ"},
			{"index": 2, "value": 524288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
		]},
		{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}
	]
}`

func childErrno() error {
	var s specs.LinuxSeccomp
	if err := json.Unmarshal([]byte(errnoProfile), &s); err != nil {
		return err
	}
	// A thread that exists before the install, as Go's other threads in
	// init do.
	ask, answer := make(chan struct{}), make(chan error)
	go func() {
		runtime.LockOSThread()
		answer <- nil
		<-ask
		_, err := unix.Getcwd(make([]byte, 4096))
		answer <- err
	}()
	<-answer

	fd, err := compileAndInstall(&s)
	if err != nil {
		return err
	}
	fmt.Printf("notifyfd=%d\n", fd)
	report("mkdirat", unix.Mkdirat(unix.AT_FDCWD, filepath.Join(os.TempDir(), "husk-seccomp-never"), 0o700))
	_, err = unix.Getcwd(make([]byte, 4096))
	report("getcwd", err)
	// personality(0xffffffff) only queries; 0x1234 and 0x5678 are each
	// matched by one of two conditions on the same argument.
	for _, p := range []uint{0x1234, 0x5678, 0xffffffff} {
		_, _, e := unix.Syscall(unix.SYS_PERSONALITY, uintptr(p), 0, 0)
		report(fmt.Sprintf("personality(%#x)", p), errOrNil(e))
	}
	// dup3 is refused only when both conditions hold.
	report("dup3(0,100,0)", unix.Dup3(0, 100, 0))
	err = unix.Dup3(0, 100, unix.O_CLOEXEC)
	report("dup3(0,100,O_CLOEXEC)", err)
	if err == nil {
		unix.Close(100)
	}
	// The filter is the installing thread's only (no TSYNC).
	ask <- struct{}{}
	report("getcwd-other-thread", <-answer)
	return nil
}

func TestInstalledFilterReturnsErrnoRet(t *testing.T) {
	wantChild(t, runChild(t, "errno"), map[string]string{
		"notifyfd":                "-1",
		"mkdirat":                 "EXDEV",
		"getcwd":                  "EPERM",
		"personality(0x1234)":     "ENOTTY",
		"personality(0x5678)":     "ENOTTY",
		"personality(0xffffffff)": "<nil>",
		"dup3(0,100,0)":           "EBADMSG",
		"dup3(0,100,O_CLOEXEC)":   "<nil>",
	})
}

func TestInstallAppliesToCallingThreadOnly(t *testing.T) {
	wantChild(t, runChild(t, "errno"), map[string]string{
		"getcwd":              "EPERM",
		"getcwd-other-thread": "<nil>",
	})
}

func childNotify() error {
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mknodat"}, Action: specs.ActNotify},
		},
	}
	fd, err := compileAndInstall(s)
	if err != nil {
		return err
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		return fmt.Errorf("listener fd %d: %w", fd, err)
	}
	fmt.Printf("cloexec=%v\n", flags&unix.FD_CLOEXEC != 0)

	// Act as the seccomp agent: answer the notification with ENOTSUP. The
	// mknodat runs on this thread, the filtered one; the agent's receive
	// runs on another.
	res := make(chan error)
	go func() {
		req, err := libseccomp.NotifReceive(libseccomp.ScmpFd(fd))
		if err != nil {
			res <- fmt.Errorf("receive notification: %w", err)
			return
		}
		name, _ := req.Data.Syscall.GetName()
		fmt.Printf("notified=%s\n", name)
		if err := libseccomp.NotifRespond(libseccomp.ScmpFd(fd), &libseccomp.ScmpNotifResp{ID: req.ID, Error: int32(unix.ENOTSUP)}); err != nil {
			res <- fmt.Errorf("respond to notification: %w", err)
			return
		}
		res <- nil
	}()
	err = unix.Mknodat(unix.AT_FDCWD, filepath.Join(os.TempDir(), "husk-seccomp-never"), unix.S_IFIFO|0o600, 0)
	if agentErr := <-res; agentErr != nil {
		return agentErr
	}
	report("mknodat", err)
	return nil
}

func TestNotifyRuleReturnsListenerFd(t *testing.T) {
	if api, _ := libseccomp.GetAPI(); api < 6 {
		t.Skipf("seccomp notify needs libseccomp API level 6, have %d", api)
	}
	wantChild(t, runChild(t, "notify"), map[string]string{
		"cloexec":  "true",
		"notified": "mknodat",
		"mknodat":  "ENOTSUP",
	})
}

// childDefault installs containerd's default profile: default action
// ERRNO (EPERM), an allow list without keyctl, kexec_load and unshare (no
// CAP_SYS_ADMIN or CAP_SYS_BOOT in the container), clone3 refused with
// ENOSYS so that libc falls back to clone, whose namespace flags are
// refused by a masked condition.
func childDefault() error {
	b, err := os.ReadFile("testdata/containerd-default.json")
	if err != nil {
		return err
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("husk-seccomp-%d", os.Getpid()))
	defer os.Remove(dir)
	if _, err := compileAndInstall(&s); err != nil {
		return err
	}
	report("mkdirat", unix.Mkdirat(unix.AT_FDCWD, dir, 0o700))
	// As root and unfiltered, this unshare would succeed.
	report("unshare", unix.Unshare(unix.CLONE_NEWUTS))
	_, err = unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	report("keyctl", err)
	// Invalid flags: were it not filtered, the kernel would refuse it
	// with EINVAL before doing anything.
	_, _, e := unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0xffffffff, 0, 0)
	report("kexec_load", errOrNil(e))
	_, _, e = unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
	report("clone3", errOrNil(e))
	for _, p := range []uint{0xffffffff, 0x1234} {
		_, _, e := unix.Syscall(unix.SYS_PERSONALITY, uintptr(p), 0, 0)
		report(fmt.Sprintf("personality(%#x)", p), errOrNil(e))
	}
	return nil
}

func TestInstalledDefaultProfile(t *testing.T) {
	wantChild(t, runChild(t, "default"), map[string]string{
		"mkdirat":                 "<nil>",
		"unshare":                 "EPERM",
		"keyctl":                  "EPERM",
		"kexec_load":              "EPERM",
		"clone3":                  "ENOSYS",
		"personality(0xffffffff)": "<nil>",
		"personality(0x1234)":     "EPERM",
	})
}

// TestCompileChecksArchitectures checks that the program tests the arch
// of every call against each of the profile's architectures, and tells
// x32 calls (x86_64 arch with bit 30 of the syscall number set) apart, as
// the program libseccomp loads itself does: Compile's program is that
// program.
func TestCompileChecksArchitectures(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the profile's architectures are x86 ones")
	}
	p, err := Compile(loadProfile(t))
	if err != nil {
		t.Fatal(err)
	}
	const archOffset = 4 // offsetof(struct seccomp_data, arch)
	first := p.Filter[0]
	if first.Code != unix.BPF_LD|unix.BPF_W|unix.BPF_ABS || first.K != archOffset {
		t.Errorf("first instruction %+v does not load the arch", first)
	}
	ks := map[uint32]bool{}
	for _, in := range p.Filter {
		ks[in.K] = true
	}
	for name, k := range map[string]uint32{
		"AUDIT_ARCH_X86_64": unix.AUDIT_ARCH_X86_64,
		"AUDIT_ARCH_I386":   unix.AUDIT_ARCH_I386,
		"__X32_SYSCALL_BIT": 0x40000000,
	} {
		if !ks[k] {
			t.Errorf("program never compares with %s (%#x)", name, k)
		}
	}
}

func TestCompileFlags(t *testing.T) {
	supported := SupportedFlags()
	for _, tc := range []struct {
		name  string
		s     specs.LinuxSeccomp
		flags uint
	}{
		{
			name: "none",
			s:    specs.LinuxSeccomp{DefaultAction: specs.ActAllow},
		},
		{
			name:  "log, spec allow, tsync",
			s:     specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, flagTsync}},
			flags: unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
		},
		{
			name: "notify",
			s: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{flagTsync}, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mknodat"}, Action: specs.ActNotify},
			}},
			flags: unix.SECCOMP_FILTER_FLAG_NEW_LISTENER,
		},
		{
			name: "wait killable recv, notify",
			s: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mknodat"}, Action: specs.ActNotify},
			}},
			flags: unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
		},
		{
			name:  "wait killable recv, no notify",
			s:     specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}},
			flags: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range tc.s.Flags {
				if !containsString(supported, string(f)) {
					t.Skipf("%s not supported by this kernel and libseccomp", f)
				}
			}
			notify := tc.flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
			if api, _ := libseccomp.GetAPI(); notify && api < 6 {
				t.Skipf("seccomp notify needs libseccomp API level 6, have %d", api)
			}
			p, err := Compile(&tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if p.Flags != tc.flags || p.Notify != notify {
				t.Errorf("flags %#x notify %v, want %#x %v", p.Flags, p.Notify, tc.flags, notify)
			}
		})
	}
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestCompileRejectsNil(t *testing.T) {
	if _, err := Compile(nil); err == nil {
		t.Error("Compile(nil) succeeded")
	}
	if _, err := CompileCached(nil, t.TempDir()); err == nil {
		t.Error("CompileCached(nil) succeeded")
	}
}

// TestInstallRefusesBadPrograms runs in the test process itself: every
// case must fail before seccomp(2). Should one not, the programs are
// allow-all ones, harmless to the test process.
func TestInstallRefusesBadPrograms(t *testing.T) {
	allow := unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}
	// 65537 instructions would reach the kernel as a 1-instruction
	// program if the length were truncated to sock_fprog's 16 bits.
	long := make([]unix.SockFilter, 1<<16+1)
	for i := range long {
		long[i] = allow
	}
	for _, tc := range []struct {
		name string
		p    *Program
		want error
	}{
		{"nil", nil, errEmptyProgram},
		{"empty", &Program{}, errEmptyProgram},
		{"too long", &Program{Filter: long}, errTooLong},
		{"notify without listener", &Program{Filter: []unix.SockFilter{allow}, Notify: true}, errNotifyMismatch},
		{"listener without notify", &Program{Filter: []unix.SockFilter{allow}, Flags: unix.SECCOMP_FILTER_FLAG_NEW_LISTENER}, errNotifyMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fd, err := Install(tc.p)
			if !errors.Is(err, tc.want) || fd != -1 {
				t.Errorf("Install = %d, %v; want -1, %v", fd, err, tc.want)
			}
		})
	}
}

func TestErrTooLongNamesTheKernelLimit(t *testing.T) {
	want := fmt.Sprintf("install seccomp filter: program longer than %d instructions", unix.BPF_MAXINSNS)
	if errTooLong.Error() != want {
		t.Errorf("errTooLong = %q, want %q", errTooLong, want)
	}
}

func TestProgramJSONRoundTrip(t *testing.T) {
	p, err := Compile(loadProfile(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("default profile: %d instructions, %d bytes of JSON", len(p.Filter), len(b))
	var q Program
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	if !programsEqual(p, &q) {
		t.Error("program changed through JSON")
	}
	// A corrupt filter is refused, not truncated.
	if err := json.Unmarshal([]byte(`{"filter":"AAAA","flags":0,"notify":false}`), &q); err == nil {
		t.Error("a 3-byte filter decoded")
	}
}

func programsEqual(a, b *Program) bool {
	if a.Flags != b.Flags || a.Notify != b.Notify || len(a.Filter) != len(b.Filter) {
		return false
	}
	for i := range a.Filter {
		if a.Filter[i] != b.Filter[i] {
			return false
		}
	}
	return true
}

// BenchmarkProgramJSON is what sending the default profile's program to
// init in the JSON config costs (both ends).
func BenchmarkProgramJSON(b *testing.B) {
	p, err := Compile(loadProfile(b))
	if err != nil {
		b.Fatal(err)
	}
	js, err := json.Marshal(p)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		for b.Loop() {
			var q Program
			if err := json.Unmarshal(js, &q); err != nil {
				b.Fatal(err)
			}
		}
	})
}
