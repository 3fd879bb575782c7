package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// waitCmdline waits until pid runs want (an exec after `start` returned
// may take a moment).
func waitCmdline(t *testing.T, pid int, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := readProcFile(pid, "cmdline")
		if got == want {
			return
		}
		if !procAlive(pid) {
			t.Fatalf("process %d exited before running %q", pid, want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d runs %q, want %q", pid, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCreateBlocksBeforeExec(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, pid := b.create("sleep", "100")
	const container = "sleep\x00100\x00"
	// Still the runtime's init, parked before execve, with the container's
	// namespaces already set up.
	if got := readProcFile(pid, "cmdline"); got == container || got == "" {
		t.Errorf("created container process %d runs %q before start", pid, got)
	}
	if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); l == hostNsLink(t, "pid") {
		t.Errorf("created container process is in the host pid namespace")
	}
	// It stays parked.
	time.Sleep(50 * time.Millisecond)
	if got := readProcFile(pid, "cmdline"); got == container {
		t.Errorf("container process exec'd without start")
	}
	if st := b.state(id); st.Status != specs.StateCreated || st.Pid != pid {
		t.Errorf("state after create: %+v, want created with pid %d", st, pid)
	}
	b.mustHusk("start", id)
	waitCmdline(t, pid, container)
	if st := b.state(id); st.Status != specs.StateRunning {
		t.Errorf("state after start: %q, want running", st.Status)
	}
}

func TestLifecycleCreateStartKillDelete(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	b.Spec.Annotations = map[string]string{"org.husk.test": "yes"}
	id, pid := b.create("sleep", "100")

	st := b.state(id)
	if st.ID != id || st.Pid != pid || st.Status != specs.StateCreated || st.Bundle != b.Dir {
		t.Errorf("state after create: %+v (want id %s pid %d created bundle %s)", st, id, pid, b.Dir)
	}
	if st.Annotations["org.husk.test"] != "yes" {
		t.Errorf("state annotations %v lack the spec's", st.Annotations)
	}
	if out := b.mustHusk("list", "-q"); strings.TrimSpace(out) != id {
		t.Errorf("list -q: %q, want %s", out, id)
	}

	b.mustHusk("start", id)
	if st := b.state(id); st.Status != specs.StateRunning || st.Pid != pid {
		t.Errorf("state after start: %+v, want running pid %d", st, pid)
	}
	var ps []int
	if err := json.Unmarshal([]byte(b.mustHusk("ps", "--format", "json", id)), &ps); err != nil || len(ps) != 1 || ps[0] != pid {
		t.Errorf("ps --format json: %v %v, want [%d]", ps, err, pid)
	}

	// sleep is PID 1 in its namespace and has no handler for SIGTERM, so
	// only SIGKILL stops it.
	b.mustHusk("kill", id, "KILL")
	b.waitStatus(id, specs.StateStopped)
	if procAlive(pid) {
		t.Errorf("container process %d alive after kill", pid)
	}

	b.mustHusk("delete", id)
	if _, _, code := b.husk("state", id); code == 0 {
		t.Error("state of a deleted container succeeded")
	}
	if out := b.mustHusk("list", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("list -q after delete: %q", out)
	}
	b.assertNothingLeft()
}

func TestPidFileWrittenByRun(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id := b.newID()
	b.Spec.Process.Args = []string{"sh", "-c", "echo $$"}
	b.writeSpec(id)
	pidFile := filepath.Join(b.Dir, "run.pid")
	stdout, errOut, code := b.husk("run", "--bundle", b.Dir, "--pid-file", pidFile, id)
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	if strings.TrimSpace(stdout) != "1" {
		t.Errorf("container process is PID %q in its namespace, want 1", stdout)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("read pid file: %v", err)
	}
	var pid int
	if _, err := fmt.Sscanf(string(data), "%d", &pid); err != nil || pid <= 1 || strings.ContainsAny(string(data), " \n") {
		t.Errorf("pid file %q: want a host PID and nothing else", data)
	}
}

func TestStartTwiceFails(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, _ := b.startDetached("sleep", "100")
	if _, _, code := b.husk("start", id); code == 0 {
		t.Error("second start of a running container succeeded")
	}
	if st := b.state(id); st.Status != specs.StateRunning {
		t.Errorf("state after a failed second start: %q", st.Status)
	}
}

func TestDeleteForceKillsRunningContainer(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, pid := b.startDetached("sleep", "100")
	if _, _, code := b.husk("delete", id); code == 0 {
		t.Error("delete without -f of a running container succeeded")
	}
	if !procAlive(pid) {
		t.Fatal("a refused delete killed the container")
	}
	b.mustHusk("delete", "-f", id)
	if procAlive(pid) {
		t.Errorf("container process %d alive after delete -f", pid)
	}
	b.assertNothingLeft()
}

func TestDeleteForceCreatedContainer(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, pid := b.create("sleep", "100")
	b.mustHusk("delete", "-f", id)
	if procAlive(pid) {
		t.Errorf("init process %d of a created container alive after delete -f", pid)
	}
	b.assertNothingLeft()
}

func TestStateStoppedAfterProcessDies(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, _ := b.create("true")
	b.mustHusk("start", id)
	b.waitStatus(id, specs.StateStopped)

	// Killed behind the runtime's back: the recorded PID is dead (and may
	// be reused), the state must still say stopped.
	id2, pid2 := b.startDetached("sleep", "100")
	if err := unix.Kill(pid2, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b.waitStatus(id2, specs.StateStopped)
	for _, c := range []string{id, id2} {
		b.mustHusk("delete", c)
	}
	b.assertNothingLeft()
}

func TestFailedCreateLeavesNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(b *bundle)
	}{
		{"bad-mount-source", func(b *bundle) {
			b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{
				Destination: "/data", Type: "bind", Source: "/nonexistent-" + randomHex(4), Options: []string{"rbind"},
			})
		}},
		{"missing-binary", func(b *bundle) {
			b.Spec.Process.Args = []string{"/bin/does-not-exist"}
		}},
		{"bad-rlimit", func(b *bundle) {
			b.Spec.Process.Rlimits = append(b.Spec.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_BOGUS", Hard: 1, Soft: 1})
		}},
		{"bad-cwd", func(b *bundle) {
			b.Spec.Process.Cwd = "relative/cwd"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t)
			b.Spec.Process.Args = []string{"sleep", "100"}
			tc.mutate(b)
			id := b.newID()
			b.writeSpec(id)
			out, errOut, code := b.husk("create", "--bundle", b.Dir, "--pid-file", filepath.Join(b.Dir, "pid"), id)
			if code == 0 {
				t.Fatalf("create succeeded: %s%s", out, errOut)
			}
			if strings.TrimSpace(errOut) == "" {
				t.Error("failed create printed no error")
			}
			if _, _, code := b.husk("state", id); code == 0 {
				t.Error("state of a container whose create failed succeeded")
			}
			b.assertNothingLeft()
		})
	}
}

func TestConcurrentCreateSameID(t *testing.T) {
	t.Parallel()
	for _, sameConfig := range []bool{false, true} {
		name := "distinct-cgroups"
		if sameConfig {
			name = "same-config"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if sameConfig && !isHusk() {
				t.Skip("runc 1.1: the losing create's cleanup destroys the winner's cgroup")
			}
			concurrentCreate(t, sameConfig)
		})
	}
}

// concurrentCreate races two creates of one ID. With sameConfig both use
// the same bundle (and cgroup); otherwise each has its own config.json and
// cgroupsPath, so only the ID is contended.
func concurrentCreate(t *testing.T, sameConfig bool) {
	b := newBundle(t)
	id := b.newID()
	b.Spec.Process.Args = []string{"sleep", "100"}
	b.Spec.Root.Path = b.Rootfs
	b.writeSpec(id)

	const n = 2
	bundles := make([]string, n)
	for i := range bundles {
		bundles[i] = b.Dir
		if i == 0 || sameConfig {
			continue
		}
		bundles[i] = filepath.Join(filepath.Dir(b.Dir), fmt.Sprintf("bundle%d", i))
		if err := os.Mkdir(bundles[i], 0o755); err != nil {
			t.Fatal(err)
		}
		spec := *b.Spec
		linux := *spec.Linux
		linux.CgroupsPath = b.cgroupPath(fmt.Sprintf("%s-%d", id, i))
		spec.Linux = &linux
		data, err := json.Marshal(&spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bundles[i], "config.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	errs := make([]error, n)
	outs := make([]*os.File, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		outs[i] = b.tempFile("concurrent")
		defer outs[i].Close()
		cmd := b.command("create", "--bundle", bundles[i], id)
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = cmd.Run()
		}(i)
	}
	wg.Wait()
	ok := 0
	var msgs []string
	for i, err := range errs {
		var ee *exec.ExitError
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &ee):
			t.Fatalf("create %d: %v", i, err)
		}
		msgs = append(msgs, readAll(t, outs[i]))
	}
	if ok == 0 && !isHusk() {
		// runc 1.1's losing create removes the winner's state directory.
		t.Skipf("runc lost both racing creates (a runc bug): %q", msgs)
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent creates of %s succeeded, want exactly 1: %q", ok, n, id, msgs)
	}
	if out := b.mustHusk("list", "-q"); strings.TrimSpace(out) != id {
		t.Errorf("list -q: %q, want one %s", out, id)
	}
	if st := b.state(id); st.Status != specs.StateCreated || !procAlive(st.Pid) {
		t.Errorf("state of the winner: %+v, want created and alive", st)
	}
}
