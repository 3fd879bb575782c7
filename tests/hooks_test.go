package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hookRecord is one line the logging hooks append: the hook's name and the
// state the runtime passed on its stdin.
type hookRecord struct {
	name  string
	state specs.State
}

// hookLog is the file all the test's hooks append to. It is inside the
// rootfs so that a startContainer hook, which runs in the container after
// pivot_root, writes the same file as the host-side hooks.
const hookLog = "/hooks.log"

// hostHook writes a host script that logs its name and stdin to the log.
func hostHook(t *testing.T, b *bundle, name string) specs.Hook {
	t.Helper()
	path := filepath.Join(filepath.Dir(b.Dir), "hook-"+name)
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s %%s\\n' \"$1\" \"$(cat)\" >>%s\n", filepath.Join(b.Rootfs, hookLog))
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return specs.Hook{Path: path, Args: []string{path, name}}
}

// containerHook writes the same script into the rootfs, for hooks that run
// in the container's mount namespace after pivot_root.
func containerHook(t *testing.T, b *bundle, name string) specs.Hook {
	t.Helper()
	path := "/bin/hook-" + name
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s %%s\\n' \"$1\" \"$(cat)\" >>%s\n", hookLog)
	if err := os.WriteFile(filepath.Join(b.Rootfs, path), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return specs.Hook{Path: path, Args: []string{path, name}}
}

// pidHook writes a host hook that runs script with $pid set to the
// container's PID from the state on its stdin, and returns it and the
// file its output goes to.
func pidHook(t *testing.T, b *bundle, name, script string) (specs.Hook, string) {
	t.Helper()
	path := filepath.Join(filepath.Dir(b.Dir), "hook-"+name)
	out := path + ".out"
	sh := "#!/bin/sh\npid=$(sed 's/.*\"pid\": *\\([0-9]*\\).*/\\1/')\n" + script + " >" + out + "\n"
	if err := os.WriteFile(path, []byte(sh), 0o755); err != nil {
		t.Fatal(err)
	}
	return specs.Hook{Path: path}, out
}

func readHookLog(t *testing.T, b *bundle) []hookRecord {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(b.Rootfs, hookLog))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var recs []hookRecord
	for _, l := range lines(string(data)) {
		name, js, _ := strings.Cut(l, " ")
		var r hookRecord
		r.name = name
		if err := json.Unmarshal([]byte(js), &r.state); err != nil {
			t.Errorf("hook %s got invalid state on stdin: %v: %q", name, err, js)
		}
		recs = append(recs, r)
	}
	return recs
}

func hookNames(recs []hookRecord) []string {
	var names []string
	for _, r := range recs {
		names = append(names, r.name)
	}
	return names
}

func TestHooksRunInOrderWithState(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	b.Spec.Hooks = &specs.Hooks{
		Prestart:        []specs.Hook{hostHook(t, b, "prestart")}, //nolint:staticcheck // deprecated, still run
		CreateRuntime:   []specs.Hook{hostHook(t, b, "createRuntime")},
		CreateContainer: []specs.Hook{hostHook(t, b, "createContainer")},
		StartContainer:  []specs.Hook{containerHook(t, b, "startContainer")},
		Poststart:       []specs.Hook{hostHook(t, b, "poststart")},
		Poststop:        []specs.Hook{hostHook(t, b, "poststop")},
	}
	id, pid := b.create("true")
	want := []string{"prestart", "createRuntime", "createContainer"}
	got := hookNames(readHookLog(t, b))
	// runc 1.1 runs poststart hooks at create, before the process starts.
	if !isHusk() && len(got) == 4 && got[3] == "poststart" {
		got = got[:3]
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("hooks run by create: %v, want %v", got, want)
	}

	b.mustHusk("start", id)
	b.waitStatus(id, specs.StateStopped)
	b.mustHusk("delete", id)
	recs := readHookLog(t, b)
	got = hookNames(recs)
	want = []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
	if !isHusk() && len(got) == 6 && got[3] == "poststart" {
		got[3], got[4] = got[4], got[3]
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("hooks ran in order %v, want %v", hookNames(recs), want)
	}
	for _, r := range recs {
		if r.state.ID != id {
			t.Errorf("%s hook: state id %q, want %q", r.name, r.state.ID, id)
		}
		if r.state.Bundle != b.Dir {
			t.Errorf("%s hook: state bundle %q, want %q", r.name, r.state.Bundle, b.Dir)
		}
		// Hooks running in the container see the PID in its namespace (1),
		// as with runc.
		inContainer := r.name == "createContainer" || r.name == "startContainer"
		if r.name != "poststop" && r.state.Pid != pid && (!inContainer || r.state.Pid != 1) {
			t.Errorf("%s hook: state pid %d, want %d", r.name, r.state.Pid, pid)
		}
		want := map[string][]specs.ContainerState{
			"prestart":        {specs.StateCreating},
			"createRuntime":   {specs.StateCreating},
			"createContainer": {specs.StateCreating},
			"startContainer":  {specs.StateCreated},
			// The process may already have exited; runc 1.1 runs
			// poststart at create.
			"poststart": {specs.StateRunning, specs.StateStopped, specs.StateCreated},
			"poststop":  {specs.StateStopped},
		}[r.name]
		ok := false
		for _, w := range want {
			ok = ok || r.state.Status == w
		}
		if !ok {
			t.Errorf("%s hook: state status %q, want one of %v", r.name, r.state.Status, want)
		}
	}
}

func TestHookFailingCreateRuntimeFailsCreate(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	path := filepath.Join(filepath.Dir(b.Dir), "failing-hook")
	script := "#!/bin/sh\necho hook-says-no-stdout\necho hook-says-no-stderr >&2\nexit 7\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	b.Spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: path}}}
	id := b.newID()
	b.Spec.Process.Args = []string{"true"}
	b.writeSpec(id)
	out, errOut, code := b.husk("create", "--bundle", b.Dir, id)
	if code == 0 {
		t.Fatal("create succeeded despite a failing createRuntime hook")
	}
	msg := out + errOut
	for _, want := range []string{"hook-says-no-stdout", "hook-says-no-stderr"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks the hook's output %q: %q", want, msg)
		}
	}
	// runc's message names the hook's index, not its path.
	if isHusk() && !strings.Contains(msg, path) {
		t.Errorf("error lacks the hook's path %s: %q", path, msg)
	}
	b.assertNothingLeft()
}

func TestHookFailingPoststartOnlyWarns(t *testing.T) {
	t.Parallel()
	if !isHusk() {
		t.Skip("runc kills the container when a poststart hook fails; the spec says warn")
	}
	b := newBundle(t)
	path := filepath.Join(filepath.Dir(b.Dir), "failing-hook")
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho poststart-broke >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b.Spec.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: path}}}
	id, _ := b.create("sh", "-c", "echo ran >/ran")
	_, errOut, code := b.husk("start", id)
	if code != 0 {
		t.Fatalf("start failed because of a poststart hook: %s", errOut)
	}
	if !strings.Contains(errOut, "poststart-broke") && !strings.Contains(errOut, path) {
		t.Errorf("no warning about the failing poststart hook: %q", errOut)
	}
	b.waitStatus(id, specs.StateStopped)
	if data, err := os.ReadFile(filepath.Join(b.Rootfs, "ran")); err != nil || string(data) != "ran\n" {
		t.Errorf("container process did not run: %q %v", data, err)
	}
	b.mustHusk("delete", id)
}

func TestStartDoesNotWaitForExecWithoutPoststartHooks(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	// The startContainer hook runs in the container once start has
	// released the process, before its exec; it waits for a file the
	// test makes only after start has returned. start must not wait for
	// the exec when no poststart hook is due (runc does not either).
	const hook = "/bin/hook-wait"
	script := "#!/bin/sh\nwhile [ ! -e /released ]; do sleep 0.01; done\n"
	if err := os.WriteFile(filepath.Join(b.Rootfs, hook), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	released := filepath.Join(b.Rootfs, "released")
	release := func() {
		if err := os.WriteFile(released, nil, 0o644); err != nil {
			t.Error(err)
		}
	}
	b.Spec.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: hook}}}
	id, pid := b.create("sleep", "100")
	type result struct {
		errOut string
		code   int
	}
	done := make(chan result, 1)
	go func() {
		_, errOut, code := b.husk("start", id)
		done <- result{errOut, code}
	}()
	select {
	case r := <-done:
		if r.code != 0 {
			release()
			t.Fatalf("start: exit %d: %s", r.code, r.errOut)
		}
	case <-time.After(10 * time.Second):
		release()
		<-done
		t.Fatal("start waited for the program's exec although no poststart hook is due")
	}
	release()
	waitCmdline(t, pid, "sleep\x00100\x00")
}
