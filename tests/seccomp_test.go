package tests

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// errnoProfile allows everything but mkdir/mkdirat, which fail with EXDEV.
func errnoProfile() *specs.LinuxSeccomp {
	exdev := uint(unix.EXDEV)
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &exdev},
		},
	}
}

func TestSeccompFilterAppliesToInitAndExec(t *testing.T) {
	for _, nnp := range []bool{true, false} {
		name := "no_new_privs"
		if !nnp {
			name = "privileged-load"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t)
			b.Spec.Process.NoNewPrivileges = nnp
			b.Spec.Linux.Seccomp = errnoProfile()
			out := b.mustRun(sh("mkdir /tmp/x 2>&1; echo rc=$?; grep Seccomp: /proc/self/status")...)
			if !strings.Contains(out, "Invalid cross-device link") || !strings.Contains(out, "rc=1") || !strings.Contains(out, "Seccomp:\t2") {
				t.Errorf("container output %q: want EXDEV from mkdir and seccomp mode 2", out)
			}
			id, _ := b.startDetached("sleep", "1000")
			out, _, code := b.husk("exec", id, "sh", "-c", "mkdir /tmp/y 2>&1")
			if code == 0 || !strings.Contains(out, "Invalid cross-device link") {
				t.Errorf("exec'd mkdir: exit %d, %q: want the container's filter", code, out)
			}
		})
	}
}

// TestSeccompCompiledOnceAndCached checks that the filter compiled for a
// container is kept under the state root and used by the next one.
func TestSeccompCompiledOnceAndCached(t *testing.T) {
	if !isHusk() {
		t.Skip("husk-only: the compiled-filter cache")
	}
	t.Parallel()
	b := newBundle(t)
	b.Spec.Linux.Seccomp = errnoProfile()
	b.mustRun("true")
	files, _ := filepath.Glob(filepath.Join(b.Root, ":seccomp-cache", "*"))
	if len(files) != 1 {
		t.Fatalf("cache entries after one run: %v, want 1", files)
	}
	b.mustRun("true")
	again, _ := filepath.Glob(filepath.Join(b.Root, ":seccomp-cache", "*"))
	if len(again) != 1 || again[0] != files[0] {
		t.Errorf("second run with the same profile: %v, want the same single entry", again)
	}
}

// seccompAgent accepts the connections the runtime makes on path (one per
// process with the filter: the init, then each exec'd process), reports the
// container process state that comes with each listener fd, and answers
// every notification with ENOTSUP.
func seccompAgent(t *testing.T, path string) <-chan specs.ContainerProcessState {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan specs.ContainerProcessState, 16)
	go func() {
		for {
			conn, err := l.AcceptUnix()
			if err != nil {
				return
			}
			go serveSeccompListener(conn, got)
		}
	}()
	return got
}

func serveSeccompListener(conn *net.UnixConn, got chan<- specs.ContainerProcessState) {
	defer conn.Close()
	msg, rawFd, err := recvFd(conn)
	if err != nil {
		return
	}
	defer unix.Close(rawFd)
	var st specs.ContainerProcessState
	if json.Unmarshal(msg, &st) != nil {
		return
	}
	got <- st
	fd := libseccomp.ScmpFd(rawFd)
	for {
		req, err := libseccomp.NotifReceive(fd)
		if err != nil {
			return
		}
		libseccomp.NotifRespond(fd, &libseccomp.ScmpNotifResp{ID: req.ID, Error: int32(unix.ENOTSUP)})
	}
}

func TestSeccompNotifyReachesListener(t *testing.T) {
	if v, err := libseccomp.GetAPI(); err != nil || v < 6 {
		t.Skip("libseccomp API level 6 (notify) is not available here")
	}
	t.Parallel()
	b := newBundle(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	b.Spec.Process.NoNewPrivileges = true
	b.Spec.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction:    specs.ActAllow,
		ListenerPath:     sock,
		ListenerMetadata: "husk-test",
		Syscalls:         []specs.LinuxSyscall{{Names: []string{"mknod", "mknodat"}, Action: specs.ActNotify}},
	}
	got := seccompAgent(t, sock)
	id, pid := b.startDetached("sleep", "1000")
	var st specs.ContainerProcessState
	select {
	case st = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the seccomp agent got no listener fd for the container's init")
	}
	if st.Pid != pid || st.Metadata != "husk-test" || st.State.ID != id || len(st.Fds) != 1 || st.Fds[0] != specs.SeccompFdName {
		t.Errorf("agent got state %+v; want pid %d, metadata husk-test, id %s, fds [%s]", st, pid, id, specs.SeccompFdName)
	}
	// An exec'd process gets its own listener, sent with its own pid; the
	// agent answers its mknod with ENOTSUP.
	out, _, code := b.husk("exec", id, "sh", "-c", "mknod /tmp/p p 2>&1")
	if code == 0 || !strings.Contains(strings.ToLower(out), "not supported") {
		t.Errorf("mknod under a notify rule: exit %d, %q: want ENOTSUP from the agent", code, out)
	}
	select {
	case st = <-got:
		if st.Pid == pid || st.Pid <= 0 || st.State.ID != id {
			t.Errorf("exec'd process's listener came with state %+v: want its own pid", st)
		}
	default:
		t.Error("the agent got no listener fd for the exec'd process")
	}
}
