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
// seccomp filter loaded into itself, instead of the tests.
const childEnv = "HUSK_SECCOMP_TEST_CHILD"

var childModes = map[string]func() error{
	"errno":  childErrno,
	"notify": childNotify,
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		runtime.LockOSThread()
		if err := childModes[mode](); err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild re-executes the test binary in mode and returns its output.
func runChild(t *testing.T, mode string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	// The race detector otherwise sleeps a second at exit.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", childEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", mode, err, out)
	}
	return string(out)
}

func setNoNewPrivs() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_NO_NEW_PRIVS: %w", err)
	}
	return nil
}

// errnoProfile is loaded by the "errno" child.
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
	if err := setNoNewPrivs(); err != nil {
		return err
	}
	fd, err := Load(&s)
	if err != nil {
		return err
	}
	fmt.Printf("notifyfd=%d\n", fd)
	report := func(name string, err error) {
		var errno unix.Errno
		if errors.As(err, &errno) {
			fmt.Printf("%s=%s\n", name, unix.ErrnoName(errno))
		} else {
			fmt.Printf("%s=%v\n", name, err)
		}
	}
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
	// Another thread must have the filter too (TSYNC).
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		_, err := unix.Getcwd(make([]byte, 4096))
		done <- err
	}()
	report("getcwd-other-thread", <-done)
	return nil
}

func errOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func TestLoadedFilterReturnsErrnoRet(t *testing.T) {
	out := runChild(t, "errno")
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	want := map[string]string{
		"notifyfd":                "-1",
		"mkdirat":                 "EXDEV",
		"getcwd":                  "EPERM",
		"personality(0x1234)":     "ENOTTY",
		"personality(0x5678)":     "ENOTTY",
		"personality(0xffffffff)": "<nil>",
		"dup3(0,100,0)":           "EBADMSG",
		"dup3(0,100,O_CLOEXEC)":   "<nil>",
		"getcwd-other-thread":     "EPERM",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if t.Failed() {
		t.Logf("child output:\n%s", out)
	}
}

func childNotify() error {
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mknodat"}, Action: specs.ActNotify},
		},
	}
	if err := setNoNewPrivs(); err != nil {
		return err
	}
	fd, err := Load(s)
	if err != nil {
		return err
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		return fmt.Errorf("listener fd %d: %w", fd, err)
	}
	fmt.Printf("cloexec=%v\n", flags&unix.FD_CLOEXEC != 0)

	// Act as the seccomp agent: answer the notification with ENOTSUP.
	res := make(chan error)
	go func() {
		res <- unix.Mknodat(unix.AT_FDCWD, filepath.Join(os.TempDir(), "husk-seccomp-never"), unix.S_IFIFO|0o600, 0)
	}()
	req, err := libseccomp.NotifReceive(libseccomp.ScmpFd(fd))
	if err != nil {
		return fmt.Errorf("receive notification: %w", err)
	}
	name, _ := req.Data.Syscall.GetName()
	fmt.Printf("notified=%s\n", name)
	if err := libseccomp.NotifRespond(libseccomp.ScmpFd(fd), &libseccomp.ScmpNotifResp{ID: req.ID, Error: int32(unix.ENOTSUP)}); err != nil {
		return fmt.Errorf("respond to notification: %w", err)
	}
	fmt.Printf("mknodat=%v\n", <-res)
	return nil
}

func TestNotifyRuleReturnsListenerFd(t *testing.T) {
	if api, _ := libseccomp.GetAPI(); api < 6 {
		t.Skipf("seccomp notify needs libseccomp API level 6, have %d", api)
	}
	out := runChild(t, "notify")
	for _, want := range []string{"cloexec=true", "notified=mknodat", "mknodat=" + unix.ENOTSUP.Error()} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
}
