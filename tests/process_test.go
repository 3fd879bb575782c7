package tests

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestProcessArgsEnvCwd(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	b.Spec.Process.Env = append(b.Spec.Process.Env, "FOO=bar  baz", "EMPTY=")
	b.Spec.Process.Cwd = "/home/user"
	out := b.mustRun("sh", "-c", `pwd; echo "$FOO"; printf '<%s>' "$0" "$1" "$#"; echo; env`, "arg zero", "arg one")
	ls := strings.Split(out, "\n")
	if len(ls) < 3 {
		t.Fatalf("unexpected output %q", out)
	}
	if ls[0] != "/home/user" {
		t.Errorf("cwd %q, want /home/user", ls[0])
	}
	if ls[1] != "bar  baz" {
		t.Errorf("FOO=%q, want %q", ls[1], "bar  baz")
	}
	if ls[2] != "<arg zero><arg one><1>" {
		t.Errorf("args %q, want <arg zero><arg one><1>", ls[2])
	}
	env := map[string]bool{}
	for _, l := range ls[3:] {
		env[l] = true
	}
	for _, want := range b.Spec.Process.Env {
		if !env[want] {
			t.Errorf("environment lacks %q: %q", want, ls[3:])
		}
	}
}

func TestProcessMissingCwdIsCreated(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	b.Spec.Process.Cwd = "/new/work/dir"
	if out := strings.TrimSpace(b.mustRun("pwd")); out != "/new/work/dir" {
		t.Errorf("cwd %q, want /new/work/dir", out)
	}
}

func TestProcessUserAndGroups(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	b.Spec.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1001, 1002}}
	out := lines(b.mustRun(sh("id; grep -E '^(Uid|Gid|Groups):' /proc/self/status")...))
	if len(out) != 4 {
		t.Fatalf("unexpected output %q", out)
	}
	if !strings.HasPrefix(out[0], "uid=1000(user) gid=1000(user) groups=") ||
		!strings.Contains(out[0], "1001(extra1)") || !strings.Contains(out[0], "1002(extra2)") {
		t.Errorf("id: %q", out[0])
	}
	for _, l := range out[1:3] {
		if f := strings.Fields(l); len(f) != 5 || f[1] != "1000" || f[2] != "1000" || f[3] != "1000" || f[4] != "1000" {
			t.Errorf("%q: want real, effective, saved and fs IDs 1000", l)
		}
	}
	if f := strings.Fields(out[3]); strings.Join(f[1:], " ") != "1001 1002" {
		t.Errorf("supplementary groups %q, want exactly 1001 1002", out[3])
	}

	// The host sees the same IDs.
	_, pid := b.startDetached("sleep", "100")
	status := readProcFile(pid, "status")
	if f := strings.Fields(statusField(status, "Uid")); len(f) == 0 || f[0] != "1000" {
		t.Errorf("host view of Uid: %q", statusField(status, "Uid"))
	}
	if g := statusField(status, "Groups"); g != "1001 1002" {
		t.Errorf("host view of Groups: %q", g)
	}
}

func TestProcessUmask(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	umask := uint32(0o027)
	b.Spec.Process.User.Umask = &umask
	out := lines(b.mustRun(sh("umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d")...))
	if want := []string{"0027", "640", "750"}; strings.Join(out, " ") != strings.Join(want, " ") {
		t.Errorf("umask 027: got %q, want %q", out, want)
	}
}

// capNumbers are the capabilities the tests use.
var capNumbers = map[string]uint{
	"CAP_CHOWN": 0, "CAP_KILL": 5, "CAP_NET_BIND_SERVICE": 10,
	"CAP_NET_RAW": 13, "CAP_SYS_CHROOT": 18, "CAP_AUDIT_WRITE": 29,
}

func capMask(t *testing.T, names []string) string {
	t.Helper()
	var m uint64
	for _, n := range names {
		bit, ok := capNumbers[n]
		if !ok {
			t.Fatalf("capability %s not in the test's table", n)
		}
		m |= 1 << bit
	}
	return fmt.Sprintf("%016x", m)
}

func TestProcessCapabilities(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		uid  uint32
		caps specs.LinuxCapabilities
		// want is the expected /proc/self/status sets; nil: the spec's.
		want map[string][]string
	}{
		{name: "default", caps: specs.LinuxCapabilities{
			Bounding: defaultCaps, Effective: defaultCaps, Permitted: defaultCaps,
		}},
		{name: "inheritable", caps: specs.LinuxCapabilities{
			Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
			Permitted:   []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
			Effective:   []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
			Inheritable: []string{"CAP_KILL"},
		}},
		{
			// For a non-root user, execve keeps only the ambient set in
			// the permitted and effective sets.
			name: "ambient-non-root", uid: 1000,
			caps: specs.LinuxCapabilities{
				Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_CHROOT"},
				Permitted:   []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
				Effective:   []string{"CAP_CHOWN", "CAP_KILL"},
				Inheritable: []string{"CAP_KILL", "CAP_NET_RAW"},
				Ambient:     []string{"CAP_KILL"},
			},
			want: map[string][]string{
				"CapInh": {"CAP_KILL", "CAP_NET_RAW"},
				"CapPrm": {"CAP_KILL"},
				"CapEff": {"CAP_KILL"},
				"CapBnd": {"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_CHROOT"},
				"CapAmb": {"CAP_KILL"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t)
			caps := tc.caps
			b.Spec.Process.Capabilities = &caps
			b.Spec.Process.User = specs.User{UID: tc.uid, GID: tc.uid}
			want := tc.want
			if want == nil {
				want = map[string][]string{
					"CapInh": caps.Inheritable, "CapPrm": caps.Permitted, "CapEff": caps.Effective,
					"CapBnd": caps.Bounding, "CapAmb": caps.Ambient,
				}
			}
			check := func(where, status string) {
				for field, names := range want {
					if got, w := statusField(status, field), capMask(t, names); got != w {
						t.Errorf("%s: %s = %s, want %s (%v)", where, field, got, w, names)
					}
				}
			}
			check("container", b.mustRun("grep", "^Cap", "/proc/self/status"))
			_, pid := b.startDetached("sleep", "100")
			check("host view", readProcFile(pid, "status"))
		})
	}
}

func TestProcessRlimits(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	var hostBefore unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &hostBefore); err != nil {
		t.Fatal(err)
	}
	b.Spec.Process.Rlimits = []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 768},
		{Type: "RLIMIT_CORE", Soft: 0, Hard: 0},
	}
	out := lines(b.mustRun(sh("ulimit -n; ulimit -Hn; ulimit -c")...))
	if want := []string{"512", "768", "0"}; strings.Join(out, " ") != strings.Join(want, " ") {
		t.Errorf("rlimits: got %q, want %q", out, want)
	}
	var hostAfter unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &hostAfter); err != nil {
		t.Fatal(err)
	}
	if hostAfter != hostBefore {
		t.Errorf("host RLIMIT_NOFILE changed from %v to %v", hostBefore, hostAfter)
	}
}

func TestProcessRlimitAboveHostHardLimitFails(t *testing.T) {
	t.Parallel()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// Whether raising a hard limit fails depends on the host: here the
	// runtime lacks CAP_SYS_RESOURCE. Probe with a child's limit.
	if raisable(t, lim.Max+10000) {
		t.Skip("this host lets root raise RLIMIT_NOFILE above its hard limit")
	}
	b := newBundle(t)
	b.Spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: lim.Max + 10000, Hard: lim.Max + 10000}}
	out, errOut, code := b.run("true")
	if code == 0 {
		t.Fatalf("container with RLIMIT_NOFILE %d above the hard limit %d ran", lim.Max+10000, lim.Max)
	}
	msg := strings.ToLower(out + errOut)
	if !strings.Contains(msg, "rlimit") {
		t.Errorf("error does not mention the rlimit: %q", out+errOut)
	}
	if isHusk() && !strings.Contains(out+errOut, "RLIMIT_NOFILE") {
		t.Errorf("error does not name RLIMIT_NOFILE: %q", out+errOut)
	}
	b.assertNothingLeft()
}

// raisable reports whether a process of ours may raise RLIMIT_NOFILE to n,
// probed on a short-lived child so the test process keeps its limits.
func raisable(t *testing.T, n uint64) bool {
	t.Helper()
	cmd := newSleep(t)
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	err := unix.Prlimit(cmd.Process.Pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: n}, nil)
	return err == nil
}

func TestProcessNoNewPrivileges(t *testing.T) {
	t.Parallel()
	for _, nnp := range []bool{true, false} {
		t.Run(strconv.FormatBool(nnp), func(t *testing.T) {
			t.Parallel()
			b := newBundle(t)
			b.Spec.Process.NoNewPrivileges = nnp
			want := "0"
			if nnp {
				want = "1"
			}
			if got := statusField(b.mustRun("cat", "/proc/self/status"), "NoNewPrivs"); got != want {
				t.Errorf("NoNewPrivs %q, want %s", got, want)
			}
		})
	}
}

func TestProcessOOMScoreAdj(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	before := readProcFile(os.Getpid(), "oom_score_adj")
	adj := 423
	b.Spec.Process.OOMScoreAdj = &adj
	if out := strings.TrimSpace(b.mustRun("cat", "/proc/self/oom_score_adj")); out != "423" {
		t.Errorf("oom_score_adj %q, want 423", out)
	}
	_, pid := b.startDetached("sleep", "100")
	if got := strings.TrimSpace(readProcFile(pid, "oom_score_adj")); got != "423" {
		t.Errorf("host view of oom_score_adj %q, want 423", got)
	}
	if after := readProcFile(os.Getpid(), "oom_score_adj"); after != before {
		t.Errorf("test process oom_score_adj changed from %q to %q", before, after)
	}
}

// Lowering oom_score_adj needs CAP_SYS_RESOURCE, which root lacks on the
// test machine: the write fails in the container process's very first
// steps, before it reads anything from husk, and the user must still get
// the reason rather than a broken pipe.
func TestProcessOOMScoreAdjLoweringFailsClearly(t *testing.T) {
	t.Parallel()
	self, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	eff, err := strconv.ParseUint(statusField(string(self), "CapEff"), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	if eff&(1<<unix.CAP_SYS_RESOURCE) != 0 {
		t.Skip("the test runs with CAP_SYS_RESOURCE: lowering oom_score_adj succeeds")
	}
	b := newBundle(t)
	adj := -500
	b.Spec.Process.OOMScoreAdj = &adj
	out, errOut, code := b.run("true")
	if code == 0 {
		t.Fatal("container with oomScoreAdj -500 ran without CAP_SYS_RESOURCE")
	}
	if isHusk() && !strings.Contains(errOut, "oomScoreAdj") {
		t.Errorf("error does not name process.oomScoreAdj: %q", out+errOut)
	}
	b.assertNothingLeft()
}

func TestProcessExitCodes(t *testing.T) {
	t.Parallel()
	for _, want := range []int{0, 3} {
		b := newBundle(t)
		if _, errOut, code := b.run("sh", "-c", fmt.Sprintf("exit %d", want)); code != want {
			t.Errorf("exit %d: run returned %d (%s)", want, code, errOut)
		}
	}

	// Killed by SIGKILL from the host: 128+9.
	b := newBundle(t)
	id := b.newID()
	b.Spec.Process.Args = []string{"sleep", "100"}
	b.writeSpec(id)
	cmd := b.command("run", "--bundle", b.Dir, id)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitRunning(t, b, id)
	b.mustHusk("kill", id, "KILL")
	select {
	case err := <-done:
		if code := exitCode(t, cmd, err); code != 137 {
			t.Errorf("run of a SIGKILLed container returned %d, want 137", code)
		}
	case <-time.After(cmdTimeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("run did not return after its container was killed")
	}
}

// waitRunning waits for a container started by a concurrent `run` to be
// running.
func waitRunning(t *testing.T, b *bundle, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if out, _, code := b.husk("state", id); code == 0 && strings.Contains(out, `"running"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s never became running", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// husk runs its own start-up pinned to one CPU (cmd/husk/startcpu.go) and
// must give the set back before it starts anything: the container's
// process, and a process exec'd into it, may run on every CPU the caller
// may.
func TestProcessKeepsCallersCPUs(t *testing.T) {
	t.Parallel()
	self, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	want := statusField(string(self), "Cpus_allowed_list")
	if !strings.ContainsAny(want, ",-") {
		t.Skipf("the test runs on one CPU (%s): husk does not pin itself then", want)
	}
	b := newBundle(t)
	if got := statusField(b.mustRun("cat", "/proc/self/status"), "Cpus_allowed_list"); got != want {
		t.Errorf("container process: Cpus_allowed_list %q, want the caller's %q", got, want)
	}
	id, _ := execTarget(t, b)
	if got := statusField(b.mustExec(id, nil, "cat", "/proc/self/status"), "Cpus_allowed_list"); got != want {
		t.Errorf("exec'd process: Cpus_allowed_list %q, want the caller's %q", got, want)
	}
}

// A config that sets no RLIMIT_NOFILE leaves the container's processes
// the limit husk was started with, as runc does since 1.2, whichever way
// husk starts the process: cloned by the stage made ahead, by husk itself
// (a config the stage's guess cannot read), set up in Go (a
// createContainer hook), or exec'd. The Go runtime raises its own soft
// limit to the hard one at start; the processes it starts must not
// inherit that.
func TestUnsetNofileLimitIsTheCallers(t *testing.T) {
	if !isHusk() {
		t.Skip("runc before 1.2 gives the container its own raised limit")
	}
	t.Parallel()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	soft := uint64(512)
	if lim.Max <= soft {
		t.Skipf("hard RLIMIT_NOFILE %d: no lower soft limit to start husk with", lim.Max)
	}
	want := strconv.FormatUint(soft, 10)
	// husk, started by a shell that lowers the soft limit first.
	limited := func(b *bundle, args ...string) (string, string, int) {
		script := fmt.Sprintf(`ulimit -Sn %d && exec "$0" "$@"`, soft)
		cmd := exec.Command("sh", append([]string{"-c", script, huskBinary, "--root", b.Root}, args...)...)
		cmd.Dir = b.Dir
		return b.runCaptured(cmd)
	}
	for _, tc := range []struct {
		name   string
		spec   func(*specs.Spec)
		config func([]byte) []byte
	}{
		{"stage", nil, nil},
		{"cloned by husk", nil, hideNetworkNamespace},
		{"Go init", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true"}}}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t)
			b.Spec.Process.Rlimits = nil
			b.Spec.Process.Args = sh("ulimit -n")
			if tc.spec != nil {
				tc.spec(b.Spec)
			}
			id := b.newID()
			b.writeSpec(id)
			if tc.config != nil {
				b.editConfig(tc.config)
			}
			out, errOut, code := limited(b, "run", "--bundle", b.Dir, id)
			if code != 0 || strings.TrimSpace(out) != want {
				t.Errorf("run: exit %d, soft RLIMIT_NOFILE %q, want %s (stderr %q)", code, strings.TrimSpace(out), want, errOut)
			}
		})
	}
	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t)
		b.Spec.Process.Rlimits = nil
		id, _ := execTarget(t, b)
		out, errOut, code := limited(b, "exec", id, "sh", "-c", "ulimit -n")
		if code != 0 || strings.TrimSpace(out) != want {
			t.Errorf("exec: exit %d, soft RLIMIT_NOFILE %q, want %s (stderr %q)", code, strings.TrimSpace(out), want, errOut)
		}
	})
}
