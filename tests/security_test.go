package tests

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// TestCVE_2019_5736_ExeNotWritable: while a container's process still runs
// the runtime's binary (created, not started), its /proc/<pid>/exe must not
// be the host's binary opened for writing, from the host or from inside.
// husk runs either its init helper from a sealed memfd (ETXTBSY while it
// runs, and sealed against writes) or its own binary through a read-only
// overlayfs view (EROFS).
func TestCVE_2019_5736_ExeNotWritable(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	before := fileHash(t, huskBinary)
	id, pid := b.create("true")
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	if f, err := os.OpenFile(exe, os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Fatalf("%s of a created container opened for writing from the host", exe)
	} else if isHusk() && !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.ETXTBSY) {
		t.Errorf("open %s for writing: %v, want EROFS or ETXTBSY (a read-only view of the binary, or a sealed memfd)", exe, err)
	}
	if isHusk() {
		var host, seen unix.Stat_t
		if err := unix.Stat(huskBinary, &host); err != nil {
			t.Fatal(err)
		}
		if err := unix.Stat(exe, &seen); err != nil {
			t.Fatal(err)
		}
		if host.Dev == seen.Dev && host.Ino == seen.Ino {
			t.Errorf("%s is the host's husk binary itself", exe)
		}
		if target, _ := os.Readlink(exe); strings.HasPrefix(target, "/memfd:") {
			f, err := os.Open(exe)
			if err != nil {
				t.Fatal(err)
			}
			seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
			f.Close()
			if want := unix.F_SEAL_WRITE | unix.F_SEAL_SEAL; err != nil || seals&want != want {
				t.Errorf("%s (%s): seals %#x, %v: want write and seal sealed", exe, target, seals, err)
			}
		}
	}
	// From inside the container: a process that tries to overwrite the
	// runtime through PID 1's exe.
	out, _, _ := b.husk("exec", id, "sh", "-c", "echo pwned >> /proc/1/exe && echo WROTE; exit 0")
	if strings.Contains(out, "WROTE") {
		t.Errorf("a container process wrote to /proc/1/exe: %q", out)
	}
	if fileHash(t, huskBinary) != before {
		t.Fatal("the host's husk binary changed")
	}
}

// TestCVE_2024_21626_NoHostFdOrCwd: the container's process gets no fd of
// the runtime's, and a cwd through a leaked fd (/proc/self/fd/N) can never
// land outside the container.
func TestCVE_2024_21626_NoHostFdOrCwd(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	out := b.mustRun("ls", "/proc/self/fd")
	// ls itself holds one fd (3) for the directory it lists.
	if got := strings.Fields(out); strings.Join(got, " ") != "0 1 2 3" {
		t.Errorf("fds in the container's process: %q, want 0 1 2 (and ls's own 3)", got)
	}
	for fd := 3; fd <= 12; fd++ {
		b.Spec.Process.Cwd = fmt.Sprintf("/proc/self/fd/%d", fd)
		stdout, stderr, code := b.run("sh", "-c", "pwd -P; ls /")
		if code == 0 && !strings.HasPrefix(stdout, "/proc/") && !strings.Contains(stdout, "bin") {
			t.Errorf("cwd %s: the process started in %q, outside the container (stderr %q)", b.Spec.Process.Cwd, stdout, stderr)
		}
		if code == 0 && strings.Contains(stdout, "(unreachable)") {
			t.Errorf("cwd %s: the process runs in an unreachable (host) directory: %q", b.Spec.Process.Cwd, stdout)
		}
	}
}
