package hooks

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// script writes an executable /bin/sh script into dir and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func intp(i int) *int { return &i }

func TestHooksRunInOrderWithStateOnStdin(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	state := []byte(`{"ociVersion":"1.3.0","id":"c1","status":"creating","pid":42,"bundle":"/b"}`)
	hooks := []specs.Hook{
		{Path: script(t, dir, "a", "echo a >> "+log+"; cat > "+filepath.Join(dir, "stdin-a"))},
		{Path: script(t, dir, "b", "echo b >> "+log+"; cat > "+filepath.Join(dir, "stdin-b")), Timeout: intp(5)},
	}
	if err := Run("createRuntime", hooks, state); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, log); got != "a\nb\n" {
		t.Errorf("hooks ran as %q, want a then b", got)
	}
	for _, f := range []string{"stdin-a", "stdin-b"} {
		if got := readFile(t, filepath.Join(dir, f)); got != string(state) {
			t.Errorf("%s = %q, want the state", f, got)
		}
	}
}

func TestHookGetsExactlyItsEnv(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	t.Setenv("HUSK_HOOK_TEST_LEAK", "1")
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{env: []string{"A=1", "B=two words"}, want: "A=1\x00B=two words\x00"},
		{env: nil, want: ""},
	} {
		// /proc/PID/environ is the environment execve gave the shell.
		h := specs.Hook{Path: script(t, dir, "env.sh", "cat /proc/$$/environ > "+out), Env: tc.env}
		if err := Run("prestart", []specs.Hook{h}, nil); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, out); got != tc.want {
			t.Errorf("env %q: hook saw %q, want %q", tc.env, got, tc.want)
		}
	}
}

func TestHookArgsZeroIsArgv0(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skipf("needs /bin/busybox: %v", err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "cmdline")
	// busybox picks its applet from argv[0], and the shell's cmdline shows
	// the argv the hook was started with ("; true" stops the shell from
	// exec-ing cat in its place).
	h := specs.Hook{Path: "/bin/busybox", Args: []string{"sh", "-c", "cat /proc/$$/cmdline > " + out + "; true"}}
	if err := Run("poststart", []specs.Hook{h}, nil); err != nil {
		t.Fatal(err)
	}
	want := strings.Join(h.Args, "\x00") + "\x00"
	if got := readFile(t, out); got != want {
		t.Errorf("argv = %q, want %q", got, want)
	}
}

func TestHookWithoutArgsGetsNoArguments(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "args")
	h := specs.Hook{Path: script(t, dir, "noargs", `echo "$#:$*" > `+out)}
	if err := Run("poststop", []specs.Hook{h}, nil); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, out); got != "0:\n" {
		t.Errorf("hook saw arguments %q, want none", got)
	}
}

func TestFailingHookErrorNamesItAndShowsOutput(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "third-ran")
	ok := script(t, dir, "ok", "true")
	bad := script(t, dir, "bad", "echo to stdout; echo to stderr >&2; exit 3")
	third := script(t, dir, "third", "touch "+marker)
	err := Run("createRuntime", []specs.Hook{{Path: ok}, {Path: bad}, {Path: third}}, nil)
	if err == nil {
		t.Fatal("failing hook did not fail Run")
	}
	want := "createRuntime hook #1 (" + bad + "): exit status 3: to stdout\nto stderr"
	if err.Error() != want {
		t.Errorf("error %q\nwant    %q", err, want)
	}
	if _, serr := os.Stat(marker); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("hook after the failing one ran (stat: %v)", serr)
	}
}

func TestFailingHookOutputIsBounded(t *testing.T) {
	dir := t.TempDir()
	bad := script(t, dir, "loud", `i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; exit 1`)
	err := Run("prestart", []specs.Hook{{Path: bad}}, nil)
	if err == nil {
		t.Fatal("failing hook did not fail Run")
	}
	msg := err.Error()
	if len(msg) > maxOutput+200 {
		t.Errorf("error is %d bytes, want at most about %d", len(msg), maxOutput)
	}
	if !strings.HasSuffix(msg, "line 1999") || !strings.Contains(msg, ": ...") {
		t.Errorf("error does not end with the output's tail: %q", msg[len(msg)-100:])
	}
}

func TestMissingHookBinary(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope")
	err := Run("startContainer", []specs.Hook{{Path: p}}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "startContainer hook #0 ("+p+"): ") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error = %v, want one naming the hook and ENOENT", err)
	}
}

func TestInvalidTimeout(t *testing.T) {
	err := Run("prestart", []specs.Hook{{Path: "/bin/true", Timeout: intp(0)}}, nil)
	if err == nil || !strings.Contains(err.Error(), "invalid timeout 0") {
		t.Errorf("error = %v, want invalid timeout", err)
	}
}

func TestHookTimeoutKillsHookAndItsChildren(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child-pid")
	// The background sleep holds the hook's stdout and outlives the hook
	// unless the whole process group is killed.
	h := specs.Hook{
		Path:    script(t, dir, "slow", "sleep 100 & echo $! > "+pidFile+"; echo waiting; wait"),
		Timeout: intp(1),
	}
	start := time.Now()
	err := Run("createContainer", []specs.Hook{h}, nil)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("slow hook did not time out")
	}
	want := "createContainer hook #0 (" + h.Path + "): timed out after 1s: waiting"
	if err.Error() != want {
		t.Errorf("error %q\nwant    %q", err, want)
	}
	if elapsed > 5*time.Second {
		t.Errorf("Run took %v with a 1s timeout", elapsed)
	}
	pid, perr := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
	if perr != nil {
		t.Fatal(perr)
	}
	// The orphan is reaped by init; SIGKILL is delivered at once, so it is
	// at worst a zombie for a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			unix.Kill(pid, unix.SIGKILL)
			t.Fatalf("hook's child %d survived the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHookExitingBeforeTimeoutSucceeds(t *testing.T) {
	dir := t.TempDir()
	h := specs.Hook{Path: script(t, dir, "quick", "exit 0"), Timeout: intp(1)}
	if err := Run("poststart", []specs.Hook{h}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestRunLeaksNoFds(t *testing.T) {
	dir := t.TempDir()
	hooks := []specs.Hook{
		{Path: script(t, dir, "ok", "cat >/dev/null"), Timeout: intp(5)},
		{Path: script(t, dir, "bad", "echo no; exit 1")},
	}
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := count()
	for i := 0; i < 20; i++ {
		_ = Run("prestart", hooks, []byte("{}"))
	}
	if after := count(); after != before {
		t.Errorf("open fds went from %d to %d", before, after)
	}
}
