package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// capHex is the /proc/<pid>/status mask of the capability numbers cs.
func capHex(cs ...int) string {
	var m uint64
	for _, c := range cs {
		m |= 1 << uint(c)
	}
	return fmt.Sprintf("%016x", m)
}

// defaultCapNums are defaultCaps as numbers.
var defaultCapNums = []int{unix.CAP_AUDIT_WRITE, unix.CAP_KILL, unix.CAP_NET_BIND_SERVICE}

// execTarget starts a long-running container to exec into and returns its
// ID and the host PID of its init.
func execTarget(t *testing.T, b *bundle) (string, int) {
	t.Helper()
	return b.startDetached("sleep", "1000")
}

// mustExec runs `husk exec <flags> id args...` in the foreground and
// returns its stdout; any non-zero exit fails the test.
func (b *bundle) mustExec(id string, flags []string, args ...string) string {
	b.t.Helper()
	full := append(append(append([]string{"exec"}, flags...), id), args...)
	return b.mustHusk(full...)
}

// execDetached runs `husk exec -d --pid-file F <flags> id args...` and
// returns the exec'd process's host PID once it runs args.
func (b *bundle) execDetached(id string, flags []string, args ...string) int {
	b.t.Helper()
	pidFile := filepath.Join(b.Dir, "exec-"+randomHex(4)+".pid")
	full := append(append(append([]string{"exec", "-d", "--pid-file", pidFile}, flags...), id), args...)
	b.mustHusk(full...)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		b.t.Fatalf("read exec pid file: %v", err)
	}
	pid, err := strconv.Atoi(string(data))
	if err != nil || pid <= 0 {
		b.t.Fatalf("exec pid file holds %q, want a PID without newline", data)
	}
	// runc may return before the process's execve. husk returns once
	// execve is past its point of no return (it closed the sync socket),
	// but the kernel fills in the new command line a moment later: a read
	// in between sees "".
	waitCmdline(b.t, pid, strings.Join(args, "\x00")+"\x00")
	return pid
}

// cgroupLines returns /proc/<pid>/cgroup as "controllers -> path".
func cgroupLines(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range lines(string(data)) {
		f := strings.SplitN(l, ":", 3)
		if len(f) == 3 {
			m[f[0]+":"+f[1]] = f[2]
		}
	}
	return m
}

// assertOnlyInit checks that the container's cgroup holds init alone: no
// exec'd process was left behind.
func (b *bundle) assertOnlyInit(id string, initPid int) {
	b.t.Helper()
	var procs []int
	deadline := time.Now().Add(5 * time.Second)
	for {
		procs = cgroupProcs(filepath.Join(procsHierarchy(b.t), b.cgroupPath(id)))
		if len(procs) == 1 && procs[0] == initPid {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("container cgroup holds %v, want only init %d", procs, initPid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestExecInheritsContainerProcess(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	b.Spec.Process.Env = append(b.Spec.Process.Env, "FROM_SPEC=1")
	id, _ := execTarget(t, b)
	out := b.mustExec(id, nil, sh(`id; pwd; readlink /proc/self/cwd; echo "env:$FROM_SPEC:$TERM"; grep -E '^(Cap|NoNewPrivs)' /proc/self/status`)...)
	l := lines(out)
	if len(l) < 4 {
		t.Fatalf("unexpected output %q", out)
	}
	if !strings.HasPrefix(l[0], "uid=0(root) gid=0(root)") {
		t.Errorf("id: %q, want root", l[0])
	}
	if l[1] != "/" || l[2] != "/" {
		t.Errorf("pwd %q, /proc/self/cwd %q, want /", l[1], l[2])
	}
	if l[3] != "env:1:xterm" {
		t.Errorf("environment from the container's process: %q", l[3])
	}
	want := capHex(defaultCapNums...)
	for field, v := range map[string]string{"CapBnd": want, "CapEff": want, "CapPrm": want, "CapInh": capHex(), "CapAmb": capHex(), "NoNewPrivs": "1"} {
		if got := statusField(out, field); got != v {
			t.Errorf("%s = %q, want %q", field, got, v)
		}
	}
}

func TestExecUserGroupsCwdEnv(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, _ := execTarget(t, b)
	out := b.mustExec(id, []string{"-u", "1000:1000", "-g", "1001", "-g", "1002", "--cwd", "/home/user", "-e", "FOO=bar baz", "-e", "TERM=dumb"},
		sh(`id; pwd; readlink /proc/self/cwd; env | grep -c '^TERM='; echo "$FOO|$TERM"`)...)
	l := lines(out)
	want := []string{"uid=1000(user) gid=1000(user) groups=1001(extra1),1002(extra2)", "/home/user", "/home/user", "1", "bar baz|dumb"}
	if strings.Join(l, "\n") != strings.Join(want, "\n") {
		t.Errorf("exec -u -g --cwd -e:\ngot  %q\nwant %q", l, want)
	}
	// A uid alone keeps the container's gid.
	if out := strings.TrimSpace(b.mustExec(id, []string{"--user", "1000"}, "id")); !strings.HasPrefix(out, "uid=1000(user) gid=0(root)") {
		t.Errorf("exec -u 1000: %q, want uid 1000 with the container's gid 0", out)
	}
}

func TestExecCapNoNewPrivsAndInheritable(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	b.Spec.Process.NoNewPrivileges = false
	id, _ := execTarget(t, b)
	status := func(flags ...string) string {
		return b.mustExec(id, flags, "cat", "/proc/self/status")
	}
	out := status()
	if got := statusField(out, "NoNewPrivs"); got != "0" {
		t.Errorf("NoNewPrivs without --no-new-privs: %q, want 0 (the container's value)", got)
	}
	out = status("--no-new-privs", "--cap", "CAP_SYS_ADMIN", "--cap", "CAP_SYS_PTRACE")
	if got := statusField(out, "NoNewPrivs"); got != "1" {
		t.Errorf("NoNewPrivs with --no-new-privs: %q, want 1", got)
	}
	want := capHex(append([]int{unix.CAP_SYS_ADMIN, unix.CAP_SYS_PTRACE}, defaultCapNums...)...)
	for _, f := range []string{"CapBnd", "CapEff", "CapPrm"} {
		if got := statusField(out, f); got != want {
			t.Errorf("%s with --cap: %s, want %s", f, got, want)
		}
	}
	// CVE-2022-29162: --cap must not fill the inheritable (or ambient) set.
	for _, f := range []string{"CapInh", "CapAmb"} {
		if got := statusField(out, f); got != capHex() {
			t.Errorf("%s with --cap: %s, want empty", f, got)
		}
	}
	// The container's own process keeps its capabilities.
	if got := statusField(readProcFile(b.firstPid(id), "status"), "CapBnd"); got != capHex(defaultCapNums...) {
		t.Errorf("container init's bounding set changed to %s", got)
	}
}

// unquoteLog undoes the quoting of the text log format (msg="... \"x\"").
func unquoteLog(s string) string { return strings.ReplaceAll(s, `\"`, `"`) }

// firstPid is the container's init PID from `state`.
func (b *bundle) firstPid(id string) int {
	b.t.Helper()
	return b.state(id).Pid
}

func TestExecRejectsBadFlags(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, pid := execTarget(t, b)
	// runc words its errors differently: only husk's messages are checked.
	// (runc also merely warns about an unknown --cap, and creates no
	// missing sub-cgroup.)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"exec", "--cap", "CAP_BOGUS", id, "true"}, `unknown capability "CAP_BOGUS"`},
		{[]string{"exec", "-u", "root", id, "true"}, `--user "root"`},
		{[]string{"exec", "-u", "0:wheel", id, "true"}, `gid "wheel"`},
		{[]string{"exec", "-g", "-1", id, "true"}, `--additional-gids "-1"`},
		{[]string{"exec", "--cwd", "tmp", id, "true"}, "absolute"},
		{[]string{"exec", "-e", "NOEQUALS", id, "true"}, "NAME=VALUE"},
		{[]string{"exec", id}, "no command"},
		{[]string{"exec", "-t", "-d", id, "sh"}, "console socket"},
		{[]string{"exec", "--console-socket", "/nonexistent", id, "true"}, "tty"},
		{[]string{"exec", "--cgroup", "cpu:/a", "--cgroup", "memory:/b", id, "true"}, "different"},
		{[]string{"exec", "--cgroup", "nosuchctl:/a", id, "true"}, `unknown cgroup controller "nosuchctl"`},
		{[]string{"exec", "no-such-container", "true"}, "does not exist"},
		{[]string{"exec", id, "/bin/no-such-binary"}, `"/bin/no-such-binary"`},
		{[]string{"exec", id, "no-such-binary"}, "not found in $PATH"},
		{[]string{"exec", "--cwd", "/no/such/dir", id, "true"}, "/no/such/dir"},
	} {
		if !isHusk() && tc.args[1] == "--cap" {
			continue
		}
		_, stderr, code := b.husk(tc.args...)
		stderr = unquoteLog(stderr)
		if code == 0 || (isHusk() && !strings.Contains(stderr, tc.want)) {
			t.Errorf("husk %v: exit %d, stderr %q; want failure mentioning %q", tc.args, code, stderr, tc.want)
		}
	}
	b.assertOnlyInit(id, pid)
}

func TestExecJoinsAllNamespaces(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		userns bool
	}{{"root", false}, {"userns", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t)
			b.Spec.Linux.Namespaces = append(b.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
			nsNames := []string{"cgroup", "ipc", "mnt", "net", "pid", "uts"}
			// runc 1.1 predates time namespaces.
			if isHusk() {
				b.Spec.Linux.Namespaces = append(b.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
				nsNames = append(nsNames, "time")
			}
			if tc.userns {
				userNsSpec(b.Spec)
				nsNames = append(nsNames, "user")
			}
			id, initPid := execTarget(t, b)

			// Inside: every namespace equals PID 1's.
			var script strings.Builder
			for _, ns := range nsNames {
				fmt.Fprintf(&script, `echo %s $(readlink /proc/self/ns/%s) $(readlink /proc/1/ns/%s); `, ns, ns, ns)
			}
			script.WriteString("id -u")
			out := lines(b.mustExec(id, nil, sh(script.String())...))
			if len(out) != len(nsNames)+1 {
				t.Fatalf("unexpected output %q", out)
			}
			for _, l := range out[:len(nsNames)] {
				f := strings.Fields(l)
				if len(f) != 3 || f[1] != f[2] {
					t.Errorf("namespace in exec vs PID 1: %q", l)
				}
			}
			if out[len(nsNames)] != "0" {
				t.Errorf("uid in the container: %q, want 0", out[len(nsNames)])
			}

			// From the host: the exec'd process has init's namespaces,
			// none of them the host's.
			pid := b.execDetached(id, nil, "sleep", "100")
			for _, ns := range nsNames {
				got, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
				want, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", initPid, ns))
				if err1 != nil || err2 != nil || got != want {
					t.Errorf("%s namespace: exec'd %q (%v), init %q (%v)", ns, got, err1, want, err2)
				}
				if got == hostNsLink(t, ns) {
					t.Errorf("%s namespace of the exec'd process is the host's", ns)
				}
			}
			if tc.userns {
				if uid := strings.Fields(statusField(readProcFile(pid, "status"), "Uid")); len(uid) == 0 || uid[0] != "100000" {
					t.Errorf("host view of the exec'd process's uid: %v, want 100000", uid)
				}
			}
		})
	}
}

func TestExecCgroup(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, initPid := execTarget(t, b)
	want := cgroupLines(t, initPid)
	pid := b.execDetached(id, nil, "sleep", "100")
	got := cgroupLines(t, pid)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("exec'd process's cgroups:\n%v\ninit's:\n%v", got, want)
	}
	for k, p := range got {
		if k != "1:name=systemd" && p != b.cgroupPath(id) && !strings.HasSuffix(k, ":") {
			t.Errorf("cgroup %s: %s, want %s", k, p, b.cgroupPath(id))
		}
	}

	// --cgroup puts it in a sub-cgroup, in every hierarchy; controller
	// pairs naming the same path are accepted.
	for _, flags := range [][]string{{"--cgroup", "sub1"}, {"--cgroup", "cpu,cpuacct:/sub2", "--cgroup", "memory:/sub2"}} {
		sub := strings.TrimPrefix(flags[len(flags)-1][strings.LastIndex(flags[len(flags)-1], ":")+1:], "/")
		if !isHusk() {
			// runc only joins existing sub-cgroups; husk creates them.
			for _, mnt := range cgroupMounts(t) {
				dir := filepath.Join(mnt, b.cgroupPath(id), sub)
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				// A new cpuset cgroup has no CPUs or memory nodes.
				for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
					if v, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f)); err == nil {
						if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
		}
		pid := b.execDetached(id, flags, "sleep", "100")
		for k, p := range cgroupLines(t, pid) {
			// runc moves only the named controllers; husk has one
			// sub-cgroup for all.
			if !isHusk() && len(flags) > 2 && !strings.Contains(k, "cpu,") && !strings.Contains(k, "memory") {
				continue
			}
			if p != b.cgroupPath(id)+"/"+sub {
				t.Errorf("exec %v: cgroup %s is %s, want %s/%s", flags, k, p, b.cgroupPath(id), sub)
			}
		}
	}
	// The container's processes, sub-cgroups included, are all listed.
	var ps []int
	if err := json.Unmarshal([]byte(b.mustHusk("ps", "--format", "json", id)), &ps); err != nil || len(ps) != 4 {
		t.Errorf("ps --format json: %v (%v), want init and 3 exec'd processes", ps, err)
	}
}

func TestExecExitCodes(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, pid := execTarget(t, b)
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 42", 42},
		{"kill -TERM $$", 128 + int(unix.SIGTERM)},
		{"kill -KILL $$", 128 + int(unix.SIGKILL)},
	} {
		if _, stderr, code := b.husk("exec", id, "sh", "-c", tc.script); code != tc.want {
			t.Errorf("exec sh -c %q: exit %d, want %d (stderr %q)", tc.script, code, tc.want, stderr)
		}
	}
	b.assertOnlyInit(id, pid)
}

func TestExecForwardsSignals(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, _ := execTarget(t, b)
	pidFile := filepath.Join(b.Dir, "fg.pid")
	cmd := b.command("exec", "--pid-file", pidFile, id, "sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { done <- exitCode(t, cmd, cmd.Wait()) }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// The pid file is written once the process runs.
	deadline := time.Now().Add(10 * time.Second)
	var pid int
	for pid == 0 {
		if data, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(string(data))
		}
		if time.Now().After(deadline) {
			t.Fatal("foreground exec wrote no pid file")
		}
		time.Sleep(5 * time.Millisecond)
	}
	waitCmdline(t, pid, "sleep\x00100\x00")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 128+int(unix.SIGTERM) {
			t.Errorf("exec after SIGTERM to husk: exit %d, want %d", code, 128+int(unix.SIGTERM))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("husk exec did not forward SIGTERM")
	}
	if procAlive(pid) {
		t.Errorf("exec'd process %d still runs", pid)
	}
}

func TestExecStoppedContainer(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, _ := b.create("true")
	b.mustHusk("start", id)
	b.waitStatus(id, specs.StateStopped)
	_, stderr, code := b.husk("exec", id, "true")
	if code == 0 || !strings.Contains(stderr, "stopped") {
		t.Errorf("exec into a stopped container: exit %d, stderr %q; want an error saying it is stopped", code, stderr)
	}
	if procs := b.processes(); len(procs) != 0 {
		t.Errorf("processes left: %v", procs)
	}
}

func TestExecPausedContainer(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, _ := execTarget(t, b)
	b.mustHusk("pause", id)
	_, stderr, code := b.husk("exec", id, "echo", "hi")
	if code == 0 || !strings.Contains(stderr, "paused") {
		t.Errorf("exec into a paused container: exit %d, stderr %q; want an error saying it is paused", code, stderr)
	}
	// With --ignore-paused the exec goes ahead: the process joins the
	// frozen cgroup, freezes, and runs once the container is resumed.
	var out bytes.Buffer
	cmd := b.command("exec", "--ignore-paused", id, "echo", "hi")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { done <- exitCode(t, cmd, cmd.Wait()) }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case code := <-done:
		t.Fatalf("exec --ignore-paused returned (exit %d, %q) while the container is frozen", code, out.String())
	case <-time.After(300 * time.Millisecond):
	}
	b.mustHusk("resume", id)
	select {
	case code := <-done:
		if code != 0 || strings.TrimSpace(out.String()) != "hi" {
			t.Errorf("exec --ignore-paused: exit %d, output %q; want 0, hi", code, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("exec --ignore-paused did not finish after resume")
	}
}

func TestExecKillAllReachesExecProcesses(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	// No PID namespace: killing init does not take the exec'd processes
	// with it, only kill --all does.
	var nss []specs.LinuxNamespace
	for _, ns := range b.Spec.Linux.Namespaces {
		if ns.Type != specs.PIDNamespace {
			nss = append(nss, ns)
		}
	}
	b.Spec.Linux.Namespaces = nss
	id, initPid := execTarget(t, b)
	pids := []int{b.execDetached(id, nil, "sleep", "101"), b.execDetached(id, nil, "sleep", "102")}
	var ps []int
	if err := json.Unmarshal([]byte(b.mustHusk("ps", "--format", "json", id)), &ps); err != nil {
		t.Fatal(err)
	}
	sort.Ints(ps)
	want := append([]int{initPid}, pids...)
	sort.Ints(want)
	if fmt.Sprint(ps) != fmt.Sprint(want) {
		t.Errorf("ps: %v, want %v", ps, want)
	}
	b.mustHusk("kill", "--all", id, "KILL")
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range append(pids, initPid) {
		for procAlive(p) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d survived kill --all", p)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func TestExecNoFdLeakAndPreserveFds(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, _ := execTarget(t, b)
	// "; true" keeps the shell alive while ls lists its fds (busybox sh
	// execs a last command in place, and ls's own directory fd would show).
	out := b.mustExec(id, nil, sh("ls /proc/$$/fd; true")...)
	if got := strings.Join(lines(out), " "); got != "0 1 2" {
		t.Errorf("fds of an exec'd shell: %q, want 0 1 2", got)
	}

	// Two extra fds reach husk; --preserve-fds 1 passes only the first.
	dir := t.TempDir()
	var extra []*os.File
	for i, content := range []string{"preserved", "not-preserved"} {
		p := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		extra = append(extra, f)
	}
	cmd := b.command("exec", "--preserve-fds", "1", id, "sh", "-c", "cat <&3; echo; ls /proc/$$/fd; true")
	cmd.ExtraFiles = extra
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if code := runCmd(t, cmd); code != 0 {
		t.Fatalf("exec --preserve-fds: exit %d: %s", code, stderr.String())
	}
	l := lines(stdout.String())
	if len(l) < 1 || l[0] != "preserved" || strings.Join(l[1:], " ") != "0 1 2 3" {
		t.Errorf("exec --preserve-fds 1: %q, want the preserved file's content and fds 0 1 2 3", l)
	}
}

func TestExecProcessJSON(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, pid := execTarget(t, b)
	p := specs.Process{
		Args: []string{"sh", "-c", `id; pwd; echo "$X"; grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status`},
		Env:  []string{"PATH=/bin", "X=from-json"},
		Cwd:  "/tmp",
		User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1002}},
		Capabilities: &specs.LinuxCapabilities{
			Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"},
		},
		NoNewPrivileges: true,
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(b.Dir, "process.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{"uid=1000(user) gid=1000(user) groups=1002(extra2)", "/tmp", "from-json", "CapBnd:\t" + capHex(unix.CAP_KILL), "NoNewPrivs:\t1"}
	check := func(how, out string) {
		if got := lines(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("exec --process (%s):\ngot  %q\nwant %q", how, got, want)
		}
	}
	check("file", b.mustHusk("exec", "--process", path, id))
	if !isHusk() {
		return // runc reads no process from stdin; its messages differ
	}
	out, stderr, code := b.huskStdin(bytes.NewReader(data), "exec", "-p", "-", id)
	if code != 0 {
		t.Fatalf("exec -p -: exit %d: %s", code, stderr)
	}
	check("stdin", out)

	for _, tc := range []struct {
		json, want string
	}{
		{`{"args": "sh", "cwd": "/"}`, "args"},
		{`{"args": ["true"], "cwd": "/",`, "line 1"},
		{`{"args": [], "cwd": "/"}`, "process.args"},
		{`{"args": ["true"]}`, "process.cwd"},
		{`{"args": ["true"], "cwd": "/", "capabilities": {"bounding": ["CAP_NOPE"]}}`, `process.capabilities.bounding[0]: unknown capability "CAP_NOPE"`},
		{`{"args": ["true"], "cwd": "/", "rlimits": [{"type": "RLIMIT_NOPE", "hard": 1, "soft": 1}]}`, `process.rlimits[0].type: unknown rlimit "RLIMIT_NOPE"`},
		{`{"args": ["true"], "cwd": "/", "env": ["NOVALUE"]}`, "process.env[0]"},
	} {
		_, stderr, code := b.huskStdin(strings.NewReader(tc.json), "exec", "--process", "-", id)
		stderr = unquoteLog(stderr)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("exec --process %s: exit %d, stderr %q; want failure mentioning %q", tc.json, code, stderr, tc.want)
		}
	}
	if _, stderr, code := b.husk("exec", "--process", filepath.Join(b.Dir, "missing.json"), id); code == 0 || !strings.Contains(stderr, "missing.json") {
		t.Errorf("exec --process with a missing file: exit %d, stderr %q", code, stderr)
	}
	b.assertOnlyInit(id, pid)
}

// ptyReader collects what a pty master outputs.
type ptyReader struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *ptyReader) run(master console.Console) {
	b := make([]byte, 4096)
	for {
		n, err := master.Read(b)
		r.mu.Lock()
		r.buf.Write(b[:n])
		r.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// waitFor waits until the output after offset contains s and returns the
// offset just past it.
func (r *ptyReader) waitFor(from int, s string, timeout time.Duration) (int, bool) {
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		out := r.buf.String()
		r.mu.Unlock()
		if from > len(out) {
			from = len(out)
		}
		if i := strings.Index(out[from:], s); i >= 0 {
			return from + i + len(s), true
		}
		if time.Now().After(deadline) {
			return len(out), false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *ptyReader) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

func TestExecInteractiveTTY(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	if err := os.Symlink("busybox", filepath.Join(b.Rootfs, "bin", "stty")); err != nil {
		t.Fatal(err)
	}
	id, _ := execTarget(t, b)

	master, slavePath, err := console.NewPty()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer master.Close()
	if err := master.Resize(console.WinSize{Height: 30, Width: 100}); err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := b.command("exec", "-t", id, "sh")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// husk runs as an interactive program would: session leader with the
	// pty as its controlling terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	done := make(chan int, 1)
	go func() { done <- exitCode(t, cmd, cmd.Wait()) }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	r := &ptyReader{}
	go r.run(master)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\npty output so far: %q", append(args, r.String())...)
	}
	typeLine := func(s string) {
		t.Helper()
		if _, err := master.Write([]byte(s + "\n")); err != nil {
			fail("type %q: %v", s, err)
		}
	}

	typeLine("echo hi-$((1+2))")
	off, ok := r.waitFor(0, "hi-3", 10*time.Second)
	if !ok {
		fail("the shell did not run the typed command")
	}
	// The pty got the caller's window size at start...
	typeLine("stty size")
	if off, ok = r.waitFor(off, "30 100", 5*time.Second); !ok {
		fail("initial window size not 30x100")
	}
	// ...and follows it on SIGWINCH.
	if err := master.Resize(console.WinSize{Height: 50, Width: 120}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(unix.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	resized := false
	for i := 0; i < 20 && !resized; i++ {
		typeLine("stty size")
		off, resized = r.waitFor(off, "50 120", 500*time.Millisecond)
	}
	if !resized {
		fail("window size did not follow the resize to 50x120")
	}
	typeLine("exit 3")
	select {
	case code := <-done:
		if code != 3 {
			fail("exec -t: exit %d, want 3", code)
		}
	case <-time.After(10 * time.Second):
		fail("exec -t did not return after exit")
	}
}

func TestExecStress(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, initPid := execTarget(t, b)
	fds := func() string {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", initPid))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return strings.Join(names, " ")
	}
	mounts := func() string { return readProcFile(initPid, "mountinfo") }
	hostMounts := len(readMountinfo(t, "self"))
	fds0, mounts0 := fds(), mounts()

	execTrue := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, huskBinary, "--root", b.Root, "exec", id, "true")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	for i := 0; i < 200; i++ {
		if err := execTrue(); err != nil {
			t.Fatalf("sequential exec %d: %v", i, err)
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10)
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := execTrue(); err != nil {
				errs <- fmt.Errorf("concurrent exec %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	b.assertOnlyInit(id, initPid)
	// No zombie: nothing in the container is a child of anything but
	// husk, and nothing in /proc has init as its parent.
	if ents, err := os.ReadDir("/proc"); err == nil {
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			stat := readProcFile(pid, "stat")
			i := strings.LastIndexByte(stat, ')')
			if i < 0 || i+2 >= len(stat) {
				continue
			}
			f := strings.Fields(stat[i+2:])
			if len(f) > 1 && f[1] == strconv.Itoa(initPid) {
				t.Errorf("process %d (state %s) is a child of the container's init", pid, f[0])
			}
		}
	}
	if got := fds(); got != fds0 {
		t.Errorf("container init's fds changed: %q, were %q", got, fds0)
	}
	if got := mounts(); got != mounts0 {
		t.Errorf("container's mounts changed:\n%s\nwere:\n%s", got, mounts0)
	}
	if got := len(readMountinfo(t, "self")); got != hostMounts {
		t.Errorf("host mount count changed from %d to %d", hostMounts, got)
	}
}
