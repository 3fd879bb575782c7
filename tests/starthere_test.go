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
	"time"

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

// HoldMountNamespace gives the creator the container's mount namespace,
// and refuses a container with poststop hooks (they may expect its
// filesystems gone when they run).
func TestHoldMountNamespace(t *testing.T) {
	b := newBundle(t)
	c, _ := createInProcess(t, b, &libcontainer.CreateOpts{HoldLock: true, StartHere: true}, "true")
	ns, err := c.HoldMountNamespace()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.Readlink("/proc/" + strconv.Itoa(c.Pid()) + "/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(ns.Fd()))); err != nil || got != want {
		t.Errorf("held %q (%v), want the container's %q", got, err, want)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(false); err != nil {
		t.Fatal(err)
	}
	ns.Close()
	b.assertNothingLeft()

	b2 := newBundle(t)
	b2.Spec.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}}
	c2, _ := createInProcess(t, b2, &libcontainer.CreateOpts{}, "true")
	defer c2.Delete(true)
	if f, err := c2.HoldMountNamespace(); err == nil {
		f.Close()
		t.Error("HoldMountNamespace held the namespace of a container with poststop hooks")
	}
}

// `husk run` holds the container's mount namespace while it waits (see
// HoldMountNamespace), unless poststop hooks are due.
func TestRunHoldsMountNamespace(t *testing.T) {
	if !isHusk() {
		t.Skip("husk's own optimisation")
	}
	t.Parallel()
	for _, poststop := range []bool{false, true} {
		b := newBundle(t)
		if poststop {
			b.Spec.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}}
		}
		id := b.newID()
		b.Spec.Process.Args = []string{"sleep", "100"}
		b.writeSpec(id)
		cmd := b.command("run", "--bundle", b.Dir, id)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The container exists once run has created it.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, _, code := b.husk("state", id); code == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run did not create %s", id)
			}
		}
		b.waitStatus(id, specs.StateRunning)
		mnt, err := os.Readlink("/proc/" + strconv.Itoa(b.state(id).Pid) + "/ns/mnt")
		if err != nil {
			t.Fatal(err)
		}
		// run holds it once start returned: wait for it a while.
		held := false
		for deadline := time.Now().Add(5 * time.Second); !held && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			fds, _ := os.ReadDir("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/fd")
			for _, fd := range fds {
				if l, _ := os.Readlink("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/fd/" + fd.Name()); l == mnt {
					held = true
				}
			}
			if poststop {
				break
			}
		}
		b.mustHusk("kill", id, "KILL")
		if code := exitCode(t, cmd, cmd.Wait()); code != 128+9 {
			t.Errorf("run: exit %d, want %d", code, 128+9)
		}
		if held == poststop {
			t.Errorf("poststop hooks %v: run holds the container's mount namespace: %v", poststop, held)
		}
	}
}
