package tests

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// huskVia runs husk with its C fast path (cmd/husk/fastpath.c) on, or off
// (_HUSK_NOFAST=1), and reports whether the Go runtime started: with
// GODEBUG=inittrace=1 it prints a line per package init to stderr, which
// are taken out of the stderr returned.
func (b *bundle) huskVia(fast bool, args ...string) (stdout, stderr string, code int, goRan bool) {
	b.t.Helper()
	cmd := b.command(args...)
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	if !fast {
		cmd.Env = append(cmd.Env, "_HUSK_NOFAST=1")
	}
	stdout, errOut, code := b.runCaptured(cmd)
	var rest []string
	for _, l := range lines(errOut) {
		if strings.HasPrefix(l, "init ") && strings.Contains(l, " ms clock") {
			goRan = true
			continue
		}
		rest = append(rest, l)
	}
	return stdout, strings.Join(rest, "\n"), code, goRan
}

// fastPathBundle is newBundle for a test of husk's fast path, run in
// parallel with others.
func fastPathBundle(t *testing.T) *bundle {
	t.Helper()
	if !isHusk() {
		t.Skip("husk's fast path")
	}
	t.Parallel()
	return newBundle(t)
}

// mustFast runs a command that the fast path must complete by itself.
func (b *bundle) mustFast(args ...string) string {
	b.t.Helper()
	out, errOut, code, goRan := b.huskVia(true, args...)
	if code != 0 || goRan {
		b.t.Fatalf("husk %s: exit %d, Go runtime started: %v\nstderr: %s", strings.Join(args, " "), code, goRan, errOut)
	}
	return out
}

// sameState checks that `husk state` prints the same with the fast path
// on and off, and that the fast path printed it alone.
func (b *bundle) sameState(id string, want specs.ContainerState) {
	b.t.Helper()
	b.sameStateVia(id, want, true)
}

// sameStateVia is sameState for a state the fast path may leave to Go
// (byItself false).
func (b *bundle) sameStateVia(id string, want specs.ContainerState, byItself bool) {
	b.t.Helper()
	fast, errOut, code, goRan := b.huskVia(true, "state", id)
	if code != 0 || goRan == byItself {
		b.t.Fatalf("state %s: exit %d, Go runtime started: %v\nstderr: %s", id, code, goRan, errOut)
	}
	slow, errOut, code, _ := b.huskVia(false, "state", id)
	if code != 0 {
		b.t.Fatalf("state %s through Go: exit %d: %s", id, code, errOut)
	}
	if fast != slow {
		b.t.Errorf("state %s: fast path prints\n%s\nGo prints\n%s", id, fast, slow)
	}
	if st := b.state(id); st.Status != want {
		b.t.Errorf("state %s: status %q, want %q", id, st.Status, want)
	}
}

// state, start, kill and delete of a plain container run in C, before the
// Go runtime starts, and do what Go does: the same JSON, the program
// started, the signal delivered, the cgroup and state directory removed.
func TestFastPathLifecycle(t *testing.T) {
	b := fastPathBundle(t)
	id, pid := b.create("sleep", "1000")
	b.sameState(id, specs.StateCreated)
	b.mustFast("start", id)
	waitCmdline(t, pid, "sleep\x001000\x00")
	b.sameState(id, specs.StateRunning)
	b.mustFast("kill", id, "sigkill")
	b.waitStatus(id, specs.StateStopped)
	b.sameState(id, specs.StateStopped)
	b.mustFast("delete", id)
	if _, err := os.Stat(filepath.Join(b.Root, id)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state directory after delete: %v", err)
	}
	assertCgroupsGone(t, b.cgroupPath(id))

	// A created container and a running one (--force) are killed first.
	id, pid = b.create("sleep", "1000")
	b.mustFast("delete", id)
	if procAlive(pid) {
		t.Errorf("the created container's process %d survived delete", pid)
	}
	assertCgroupsGone(t, b.cgroupPath(id))
	id, pid = b.startDetached("sleep", "1000")
	b.mustFast("--log", filepath.Join(b.Dir, "log.json"), "--log-format", "json", "delete", "-f", id)
	if procAlive(pid) {
		t.Errorf("the running container's process %d survived delete --force", pid)
	}
	assertCgroupsGone(t, b.cgroupPath(id))
	if _, err := os.Stat(filepath.Join(b.Dir, "log.json")); err != nil {
		t.Errorf("--log file: %v (husk creates it whatever the command does)", err)
	}
}

// What the fast path does not do as Go would is left to Go, which runs
// as if there were no fast path: refusals and errors (in the log format
// asked for), hooks, flags it does not know, a paused container on
// cgroup v2.
func TestFastPathLeavesTheRestToGo(t *testing.T) {
	b := fastPathBundle(t)
	id, pid := b.startDetached("sleep", "1000")
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"start", id}, 1, "cannot start an already running container"},
		{[]string{"delete", id}, 1, "that is not stopped: running"},
		{[]string{"kill", id, "NOSUCH"}, 1, `unknown signal "NOSUCH"`},
		{[]string{"kill", "--all", id, "0"}, 1, "invalid signal number 0"},
		{[]string{"--debug", "state", id}, 0, ""},
		{[]string{"state", "missing"}, 1, "does not exist"},
		{[]string{"--root", "rel", "state", id}, 1, "does not exist"},
	} {
		_, errOut, code, goRan := b.huskVia(true, c.args...)
		if !goRan || code != c.code || !strings.Contains(unquoteLog(errOut), c.err) {
			t.Errorf("husk %s: exit %d, Go ran: %v, stderr %q; want Go to exit %d saying %q",
				strings.Join(c.args, " "), code, goRan, errOut, c.code, c.err)
		}
	}
	if !procAlive(pid) {
		t.Fatal("the container died from commands that should have been refused")
	}
	// Paused: the v1 freezer's state is read by the fast path; cgroup v2's
	// cgroup.freeze does not say whether the freeze completed, so Go
	// answers.
	b.mustHusk("pause", id)
	b.sameStateVia(id, specs.ContainerState("paused"), !hostIsCgroup2())
	if _, errOut, code, goRan := b.huskVia(true, "delete", "--force", id); code != 0 || !goRan {
		t.Errorf("delete --force of a paused container: exit %d, Go ran: %v: %s", code, goRan, errOut)
	}

	// Poststop hooks are run by Go.
	marker := filepath.Join(b.Dir, "poststop-ran")
	b.Spec.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + marker}}}}
	id, _ = b.create("true")
	if _, errOut, code, goRan := b.huskVia(true, "delete", id); code != 0 || !goRan {
		t.Errorf("delete with a poststop hook: exit %d, Go ran: %v: %s", code, goRan, errOut)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("poststop hook: %v", err)
	}
}

// kill's signal names and numbers are the same in C as in Go (which
// shares fastpath.c's table): each reaches the process as that signal.
func TestFastPathKillSignals(t *testing.T) {
	b := fastPathBundle(t)
	// The shell reports each signal it traps in a file, then goes on.
	out := filepath.Join("/tmp", "sigs")
	script := "for s in HUP USR1 USR2 TERM; do trap \"echo $s >> " + out + "\" $s; done; echo ready > " + out + "; while :; do sleep 0.05; done"
	id, pid := b.startDetached("sh", "-c", script)
	host := filepath.Join(b.Rootfs, "tmp", "sigs")
	waitFile := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			data, _ := os.ReadFile(host)
			if strings.TrimSpace(string(data)) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("signals received: %q, want %q", data, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFile("ready")
	got := "ready"
	for _, c := range []struct{ arg, name string }{{"hup", "HUP"}, {"SIGUSR1", "USR1"}, {"12", "USR2"}, {"", "TERM"}} {
		args := []string{"kill", id}
		if c.arg != "" {
			args = append(args, c.arg)
		}
		b.mustFast(args...)
		got += "\n" + c.name
		waitFile(got)
	}
	b.mustFast("kill", id, "KILL")
	b.waitStatus(id, specs.StateStopped)
	if procAlive(pid) {
		t.Errorf("process %d alive after kill KILL", pid)
	}
	b.mustFast("delete", id)
}
