package nsenter

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

func waitExit(t *testing.T, pid int) syscall.WaitStatus {
	t.Helper()
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			if err != nil {
				t.Fatal(err)
			}
			return ws
		}
	}
}

// spawnOutput runs argv with Spawn, fd 1 on a file and the rest of fds
// (3, 4, ...) as given, and returns what it wrote.
func spawnOutput(t *testing.T, argv []string, extra ...int) string {
	t.Helper()
	return spawnOutputWith(t, func(path string, argv, env []string, fds []int) (int, error) {
		return Spawn(path, argv, env, fds)
	}, argv, extra...)
}

// spawnOutputWith is spawnOutput with another way to spawn.
func spawnOutputWith(t *testing.T, spawn func(path string, argv, env []string, fds []int) (int, error), argv []string, extra ...int) string {
	t.Helper()
	out, err := os.OpenFile(filepath.Join(t.TempDir(), "out"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	fds := append([]int{int(os.Stdin.Fd()), int(out.Fd()), int(os.Stderr.Fd())}, extra...)
	pid, err := spawn(argv[0], argv, []string{"PATH=/bin:/usr/bin"}, fds)
	if err != nil {
		t.Fatal(err)
	}
	if ws := waitExit(t, pid); ws.ExitStatus() != 0 {
		t.Fatalf("%v: %v", argv, ws)
	}
	b, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Spawn puts fds[i] at fd i, whatever their numbers here (fds that would
// be overwritten before their turn are moved aside first), passes no other
// fd, and the child starts with every signal blocked.
func TestSpawnMapsFdsAndBlocksSignals(t *testing.T) {
	dir := t.TempDir()
	a, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	// Low numbers taken by the fds themselves: if a and null landed on 3
	// and 4 here, in either order, mapping one clobbers the other unless
	// it was moved aside.
	got := spawnOutput(t, []string{"/bin/sh", "-c", "readlink /proc/self/fd/3 /proc/self/fd/4 /proc/self/fd/5"},
		int(null.Fd()), int(a.Fd()), int(null.Fd()))
	if want := os.DevNull + "\n" + dir + "\n" + os.DevNull + "\n"; got != want {
		t.Errorf("fds 3-5 are %q, want %q", got, want)
	}
	// The child gets the same fds as from syscall.ForkExec (which, like
	// Spawn, also passes on what this process inherited without
	// close-on-exec: a test runner's fds may show up in both).
	ls := []string{"/bin/ls", "/proc/self/fd"}
	got = spawnOutput(t, ls, int(a.Fd()))
	out, err := os.OpenFile(filepath.Join(t.TempDir(), "out"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	pid, err := syscall.ForkExec(ls[0], ls, &syscall.ProcAttr{Files: []uintptr{os.Stdin.Fd(), out.Fd(), os.Stderr.Fd(), a.Fd()}})
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, pid)
	if want, _ := os.ReadFile(out.Name()); got != string(want) || !strings.HasPrefix(got, "0\n1\n") {
		t.Errorf("the child has fds %q; from syscall.ForkExec %q", got, want)
	}
	if got := spawnOutput(t, []string{"/bin/grep", "SigBlk", "/proc/self/status"}); !strings.HasPrefix(got, "SigBlk:\tfffffffe") {
		t.Errorf("the child's blocked signals: %q, want all", got)
	}
}

func TestSpawnReportsExecFailure(t *testing.T) {
	_, err := Spawn("/nonexistent/prog", []string{"x"}, nil, []int{0, 1, 2})
	if err != syscall.ENOENT {
		t.Errorf("spawn of a missing program: %v, want ENOENT", err)
	}
}

func requireSpawnInto(t *testing.T) {
	t.Helper()
	if !CanSpawnInto {
		t.Skip("SpawnInto is not implemented on " + runtime.GOARCH)
	}
	if os.Geteuid() != 0 {
		t.Skip("creating namespaces needs root")
	}
}

// SpawnInto creates the process in its new namespaces (it is PID 1 of
// its PID namespace), maps the fds as Spawn does and blocks every signal.
func TestSpawnIntoNewNamespaces(t *testing.T) {
	requireSpawnInto(t)
	dir := t.TempDir()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	flags := uintptr(syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWPID | syscall.CLONE_NEWNET)
	into := func(path string, argv, env []string, fds []int) (int, error) {
		return SpawnInto(path, argv, env, fds, flags, -1)
	}
	got := spawnOutputWith(t, into, []string{"/bin/sh", "-c", "echo $$; readlink /proc/self/fd/3; " +
		"for ns in mnt uts ipc pid net; do readlink /proc/self/ns/$ns; done"}, int(d.Fd()))
	l := strings.Split(strings.TrimSpace(got), "\n")
	if len(l) != 7 {
		t.Fatalf("unexpected output %q", got)
	}
	if l[0] != "1" || l[1] != dir {
		t.Errorf("pid %q (want 1), fd 3 %q (want %s)", l[0], l[1], dir)
	}
	for i, ns := range []string{"mnt", "uts", "ipc", "pid", "net"} {
		if own, _ := os.Readlink("/proc/self/ns/" + ns); l[2+i] == own {
			t.Errorf("the child is in this process's %s namespace %s", ns, own)
		}
	}
	if got := spawnOutputWith(t, into, []string{"/bin/grep", "SigBlk", "/proc/self/status"}); !strings.HasPrefix(got, "SigBlk:\tfffffffe") {
		t.Errorf("the child's blocked signals: %q, want all", got)
	}
}

func TestSpawnIntoReportsExecFailure(t *testing.T) {
	requireSpawnInto(t)
	_, err := SpawnInto("/nonexistent/prog", []string{"x"}, nil, []int{0, 1, 2}, syscall.CLONE_NEWUTS, -1)
	if err != syscall.ENOENT {
		t.Errorf("spawn of a missing program: %v, want ENOENT", err)
	}
}

// With a cgroup v2 directory's fd, the process starts in that cgroup.
func TestSpawnIntoCgroup(t *testing.T) {
	requireSpawnInto(t)
	mnt := cgroup2Mount(t)
	dir, err := os.MkdirTemp(mnt, "husk-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The child has been reaped: the cgroup is empty.
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove test cgroup: %v", err)
		}
	})
	cg, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	into := func(path string, argv, env []string, fds []int) (int, error) {
		return SpawnInto(path, argv, env, fds, syscall.CLONE_NEWUTS, int(cg.Fd()))
	}
	got := spawnOutputWith(t, into, []string{"/bin/grep", "^0::", "/proc/self/cgroup"})
	if want := "0::/" + filepath.Base(dir) + "\n"; !strings.HasSuffix(got, want) {
		t.Errorf("the child's cgroup v2: %q, want %q", got, want)
	}
}

// cgroup2Mount returns where the cgroup v2 hierarchy is mounted, or skips.
func cgroup2Mount(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		for i, v := range f {
			if v == "-" && i+1 < len(f) && f[i+1] == "cgroup2" && len(f) > 4 {
				return f[4]
			}
		}
	}
	t.Skip("no cgroup v2 hierarchy is mounted")
	return ""
}
