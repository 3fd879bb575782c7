package tests

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/libcontainer"
)

// A container created with StartHere has no exec.fifo: its process waits
// for Start on the sync socket, and runs its program only once Start
// comes.
func TestCreateStartHereWaitsForStartWithoutFifo(t *testing.T) {
	b := newBundle(t)
	c, id := createInProcess(t, b, &libcontainer.CreateOpts{HoldLock: true, StartHere: true}, "sh", "-c", "exit 7")
	fifo := filepath.Join(b.Root, id, "exec.fifo")
	if _, err := os.Lstat(fifo); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("StartHere made %s (lstat: %v)", fifo, err)
	}
	st, err := c.State()
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != libcontainer.Created {
		t.Errorf("before Start: status %q, want %q", st.Status, libcontainer.Created)
	}
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(c.Pid()) + "/comm")
	if err != nil {
		t.Fatalf("before Start the container's process is gone: %v", err)
	}
	if strings.TrimSpace(string(comm)) == "sh" {
		t.Error("the program runs before Start")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if code, err := c.Wait(); err != nil || code != 7 {
		t.Errorf("wait: exit %d, %v; want the program's 7", code, err)
	}
	if err := c.Delete(false); err != nil {
		t.Error(err)
	}
	b.assertNothingLeft()
}

// A container created with StartHere and deleted before Start is created,
// not running: Delete without force removes it, and leaves nothing.
func TestCreateStartHereDeleteBeforeStart(t *testing.T) {
	b := newBundle(t)
	c, _ := createInProcess(t, b, &libcontainer.CreateOpts{StartHere: true}, "sleep", "100")
	pid := c.Pid()
	if err := c.Delete(false); err != nil {
		t.Fatalf("delete of a created container: %v", err)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		t.Errorf("container process %d still exists after delete", pid)
	}
	b.assertNothingLeft()
}

// A container whose process died by itself before Start (killed from
// outside) is stopped: Delete collects the zombie its creator holds, and
// leaves nothing.
func TestCreateStartHereDeleteAfterProcessDied(t *testing.T) {
	b := newBundle(t)
	c, _ := createInProcess(t, b, &libcontainer.CreateOpts{StartHere: true}, "sleep", "100")
	pid := c.Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Until it is a zombie: "Z" in /proc/<pid>/stat, after the comm.
	for {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatalf("the process was reaped by someone else: %v", err)
		}
		if i := strings.LastIndexByte(string(data), ')'); i > 0 && strings.HasPrefix(string(data[i:]), ") Z") {
			break
		}
		runtime.Gosched()
	}
	if st, err := c.State(); err != nil || st.Status != libcontainer.Stopped {
		t.Fatalf("state of a container whose process died: %v, %v; want stopped", st, err)
	}
	if err := c.Delete(false); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		t.Errorf("container process %d left a zombie after delete", pid)
	}
	b.assertNothingLeft()
}

// `husk run` starts the container over the sync socket (no exec fifo): the
// poststart hooks still run only once the program runs, after the
// startContainer hooks. (A startContainer hook runs in the container,
// which only the Go path does: both subtests take it.)
func TestRunPoststartHookAfterExec(t *testing.T) {
	t.Parallel()
	eachInitPath(t, func(t *testing.T, b *bundle, _ string) {
		// The startContainer hook holds the process back a while
		// before its exec; the poststart hook then records what
		// the container's process runs.
		hook := "/bin/hook-slow"
		if err := os.WriteFile(filepath.Join(b.Rootfs, hook), []byte("#!/bin/sh\nsleep 0.3\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		// What the process executes, not its comm: busybox's sh runs
		// "sleep" by re-executing itself as /proc/self/exe, whose comm
		// is "exe" until the applet renames itself.
		post, seen := pidHook(t, b, "poststart", "readlink /proc/$pid/exe")
		b.Spec.Hooks = &specs.Hooks{
			StartContainer: []specs.Hook{{Path: hook}},
			Poststart:      []specs.Hook{post},
		}
		if _, errOut, code := b.run(sh("sleep 0.5")...); code != 0 {
			t.Fatalf("run: exit %d: %s", code, errOut)
		}
		got, err := os.ReadFile(seen)
		if err != nil {
			t.Fatalf("poststart hook did not run: %v", err)
		}
		if exe := strings.TrimSpace(string(got)); !strings.HasSuffix(exe, "/busybox") {
			t.Errorf("poststart hook ran before the program: the process executed %q, not busybox", exe)
		}
	})
}
