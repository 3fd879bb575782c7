package nsenter

import (
	"os"
	"path/filepath"
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
	out, err := os.OpenFile(filepath.Join(t.TempDir(), "out"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	fds := append([]int{int(os.Stdin.Fd()), int(out.Fd()), int(os.Stderr.Fd())}, extra...)
	pid, err := Spawn(argv[0], argv, []string{"PATH=/bin:/usr/bin"}, fds)
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
