package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// traceEvent is a phase of a `husk --trace` timeline.
type traceEvent struct {
	Name, Process string
	StartUs       float64 `json:"start_us"`
	DurUs         float64 `json:"dur_us"`
}

// traced runs `husk --trace F <args>` and returns the output and the
// phases of the trace.
func (b *bundle) traced(args ...string) (string, []traceEvent) {
	b.t.Helper()
	trace := filepath.Join(b.t.TempDir(), "trace.json")
	out := b.mustHusk(append([]string{"--trace", trace}, args...)...)
	data, err := os.ReadFile(trace)
	if err != nil {
		b.t.Fatal(err)
	}
	var tr struct{ Events []traceEvent }
	if err := json.Unmarshal(data, &tr); err != nil {
		b.t.Fatalf("trace %s: %v", data, err)
	}
	return out, tr.Events
}

// initPhases runs `husk --trace F <args>` and returns the output and the
// names of the phases timed inside the container.
func (b *bundle) initPhases(args ...string) (string, []string) {
	b.t.Helper()
	out, events := b.traced(args...)
	var names []string
	for _, e := range events {
		if e.Process == "init" {
			names = append(names, e.Name)
		}
	}
	return out, names
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A plain exec is set up by nsexec's C code (exec plan) and never starts
// Go in the container: its trace has the C phase "exec-plan" and not the
// Go runtime's "go-init-start". The process still gets its user, groups,
// no_new_privs, umask, cwd and seccomp-free capabilities.
func TestExecUsesCPath(t *testing.T) {
	if !isHusk() {
		t.Skip("--trace is husk's own flag")
	}
	t.Parallel()
	b := newBundle(t)
	id, _ := execTarget(t, b)
	out, phases := b.initPhases("exec", "--no-new-privs", "-u", "1000:1000", "-g", "7", "--cwd", "/tmp", id,
		"sh", "-c", `id -u; id -g; id -G; umask; pwd; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status`)
	if !contains(phases, "exec-plan") || contains(phases, "go-init-start") {
		t.Errorf("init phases %q: want the C path (exec-plan, no go-init-start)", phases)
	}
	want := "1000\n1000\n1000 7\n0022\n/tmp\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\n"
	if out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	// A message with quotes and a backslash reaches the user intact
	// through the C side's JSON encoding (the log escapes them again).
	_, stderr, code := b.husk("exec", id, `no"such\prog`)
	if code == 0 || !strings.Contains(stderr, `no\"such\\prog`) || !strings.Contains(stderr, "executable file not found in $PATH") {
		t.Errorf("exec of a missing program: exit %d, stderr %q", code, stderr)
	}
}

// oom_score_adj is written by nsexec.c before the namespaces and
// inherited, so an exec with it stays on the C path.
func TestExecOOMScoreAdjOnCPath(t *testing.T) {
	if !isHusk() {
		t.Skip("--trace is husk's own flag")
	}
	t.Parallel()
	b := newBundle(t)
	id, _ := execTarget(t, b)
	proc := filepath.Join(b.Dir, "oom-process.json")
	if err := os.WriteFile(proc, []byte(`{"args": ["cat", "/proc/self/oom_score_adj"], "cwd": "/", "oomScoreAdj": 123, "env": ["PATH=/bin"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, phases := b.initPhases("exec", "--process", proc, id)
	if !contains(phases, "exec-plan") || contains(phases, "go-init-start") {
		t.Errorf("init phases %q: want the C path", phases)
	}
	if out != "123\n" {
		t.Errorf("oom_score_adj %q, want 123", out)
	}
}

// What the C path leaves to Go still works: an AppArmor profile, which
// husk ignores on a host without AppArmor.
func TestExecFallsBackToGo(t *testing.T) {
	if !isHusk() {
		t.Skip("--trace is husk's own flag")
	}
	if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil && len(b) > 0 && b[0] == 'Y' {
		t.Skip("AppArmor is enabled here: an unknown profile would fail the exec")
	}
	t.Parallel()
	b := newBundle(t)
	id, _ := execTarget(t, b)
	out, phases := b.initPhases("exec", "--apparmor", "husk-test-unconfined", id, "id", "-u")
	if !contains(phases, "go-init-start") {
		t.Errorf("init phases %q: want the Go path", phases)
	}
	if out != "0\n" {
		t.Errorf("exec --apparmor: output %q, want 0", out)
	}
}
