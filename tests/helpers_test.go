// Package tests runs real containers through the husk binary (a
// runc-compatible CLI) and checks their behaviour from inside the container
// and from the host.
//
// The binary is $HUSK_BINARY, or ../husk relative to this directory. The
// suite must also pass against runc (HUSK_BINARY=/usr/sbin/runc), except for
// the few assertions guarded by isHusk(), where husk deliberately differs.
//
// The test binary re-executes itself in a private mount namespace, so a mount
// that a buggy runtime leaks to "the host" is caught by the leak check and
// vanishes with the test process instead of polluting the machine.
package tests

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer"
	"github.com/husk-runtime/husk/nsenter/inithelper"
	"github.com/husk-runtime/husk/specconv"
)

// mntnsEnv marks the re-executed test binary that already runs in its own
// mount namespace.
const mntnsEnv = "HUSK_TESTS_IN_MNTNS"

var (
	// huskBinary is the absolute path of the runtime under test.
	huskBinary string
	// skipReason is set when the suite cannot run; every test skips with it.
	skipReason string
)

func TestMain(m *testing.M) {
	bin := os.Getenv("HUSK_BINARY")
	if bin == "" {
		bin = "../husk"
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "resolve HUSK_BINARY %q: %v\n", bin, err)
		os.Exit(2)
	}
	huskBinary = abs
	switch {
	case os.Geteuid() != 0:
		skipReason = "integration tests need root"
	case !isExecutable(huskBinary):
		skipReason = fmt.Sprintf("runtime binary %s not found (build husk or set HUSK_BINARY)", huskBinary)
	}
	if skipReason != "" {
		fmt.Fprintf(os.Stderr, "tests: skipping all integration tests: %s\n", skipReason)
		os.Exit(m.Run())
	}
	if os.Getenv(mntnsEnv) == "" {
		reexecInMountNamespace()
	}
	// Inside the private namespace, make mounts shared again (new peer
	// groups, local to this namespace) so that the container sees a host
	// like a real one, where systemd makes / shared; the propagation tests
	// depend on it.
	if err := unix.Mount("", "/", "", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		fmt.Fprintf(os.Stderr, "make / rshared in the test mount namespace: %v\n", err)
		os.Exit(2)
	}
	hadParent := defaultParentExists()
	code := m.Run()
	if !hadParent {
		removeDefaultParent()
	}
	os.Exit(code)
}

// defaultParentExists reports whether husk's default cgroup parent /husk
// exists in the memory hierarchy.
func defaultParentExists() bool {
	_, err := os.Stat("/sys/fs/cgroup/memory/husk")
	return err == nil
}

// removeDefaultParent removes the /husk cgroup parent that the tests of
// relative cgroup paths made husk create, in every hierarchy where it is
// empty (rmdir fails on a cgroup with children or processes).
func removeDefaultParent() {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/husk")
	for _, d := range dirs {
		unix.Rmdir(d)
	}
}

// reexecInMountNamespace replaces the test process with itself running
// under `unshare --mount --propagation private`. It returns only on error.
func reexecInMountNamespace() {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests: need unshare(1) to isolate mounts: %v\n", err)
		os.Exit(2)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests: find test binary: %v\n", err)
		os.Exit(2)
	}
	args := append([]string{"unshare", "--mount", "--propagation", "private", "--", self}, os.Args[1:]...)
	env := append(os.Environ(), mntnsEnv+"=1")
	err = syscall.Exec(unshare, args, env)
	fmt.Fprintf(os.Stderr, "tests: exec %s: %v\n", unshare, err)
	os.Exit(2)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// isHusk reports whether the runtime under test is husk (rather than runc
// or crun used to validate the suite). Only behaviour where husk
// deliberately differs from runc is guarded by it.
func isHusk() bool {
	return strings.HasPrefix(filepath.Base(huskBinary), "husk")
}

func requireRuntime(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// applets are the busybox commands linked into every test rootfs.
var applets = []string{
	"sh", "cat", "ls", "id", "readlink", "stat", "touch", "sleep", "echo",
	"grep", "hostname", "true", "false", "kill", "head", "wc", "mkdir",
	"env", "pwd", "test", "sysctl", "mount", "tail", "cut", "tr", "sed",
	"awk", "date", "ps", "rm", "printf",
}

// bundle is an OCI bundle in a temporary directory together with its own
// state root (--root) and its own cgroup parent /husk-test-<random>.
// Everything it creates is removed, and checked to be gone, by t.Cleanup.
type bundle struct {
	t      *testing.T
	Dir    string
	Rootfs string
	// Root is the runtime's state directory (--root).
	Root string
	// CgroupParent is the absolute cgroup path under which this bundle's
	// containers live, in every hierarchy.
	CgroupParent string
	// Spec is written to config.json by writeSpec (and by every helper
	// that starts a container); tests mutate it first.
	Spec *specs.Spec

	mu  sync.Mutex
	ids []string // containers to delete on cleanup
	// extraCgroups are more cgroup paths (relative to each hierarchy's
	// root) that belong to this bundle only and that cleanup removes.
	extraCgroups []string
}

// newBundle builds a busybox bundle with the default spec and registers its
// cleanup.
func newBundle(t *testing.T) *bundle {
	t.Helper()
	requireRuntime(t)
	tmp := t.TempDir()
	b := &bundle{
		t:            t,
		Dir:          filepath.Join(tmp, "bundle"),
		Rootfs:       filepath.Join(tmp, "bundle", "rootfs"),
		Root:         filepath.Join(tmp, "state"),
		CgroupParent: "/husk-test-" + randomHex(6),
	}
	if err := os.MkdirAll(b.Root, 0o700); err != nil {
		t.Fatal(err)
	}
	// t.TempDir directories are 0700; a container root mapped to another
	// host uid (user namespace) must be able to reach its rootfs.
	for _, d := range []string{filepath.Dir(tmp), tmp} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	makeRootfs(t, b.Rootfs)
	b.Spec = defaultSpec()
	t.Cleanup(b.cleanup)
	return b
}

// makeRootfs creates a minimal busybox root filesystem at dir.
func makeRootfs(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc", "root", "mnt", "home/user"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := copyFile("/bin/busybox", filepath.Join(dir, "bin", "busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range applets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nuser:x:1000:\nextra1:x:1001:\nextra2:x:1002:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return out.Close()
}

// defaultCaps is runc's default capability set.
var defaultCaps = []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}

// defaultSpec is close to `runc spec`: the same mounts, namespaces, masked
// and read-only paths, capabilities (without ambient ones), NOFILE limit and
// noNewPrivileges, but no terminal and a writable root.
func defaultSpec() *specs.Spec {
	caps := func() []string { return append([]string(nil), defaultCaps...) }
	return &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{
			User: specs.User{UID: 0, GID: 0},
			Args: []string{"sh"},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps(),
				Effective: caps(),
				Permitted: caps(),
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Hostname: "husk-test",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
				"/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
}

// newID returns a fresh container ID and registers it for cleanup.
func (b *bundle) newID() string {
	id := "t" + randomHex(5)
	b.track(id)
	return id
}

func (b *bundle) track(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ids = append(b.ids, id)
}

// createInProcess creates the bundle's container, running args, with
// libcontainer in this process and opts.
func createInProcess(t *testing.T, b *bundle, opts *libcontainer.CreateOpts, args ...string) (*libcontainer.Container, string) {
	t.Helper()
	if !isHusk() {
		t.Skip("libcontainer API test: husk only")
	}
	if !inithelper.Present() {
		t.Skip("this test binary has no husk-init (make builds it): Create would re-execute the test binary as init")
	}
	// In this process Create can start husk-init only: the Go path would
	// re-execute the test binary as init. The default spec takes the C
	// path.
	id := b.newID()
	b.Spec.Process.Args = args
	b.writeSpec(id)
	spec, err := specconv.LoadSpec(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := specconv.Convert(spec, specconv.Options{ID: id, Bundle: b.Dir})
	if err != nil {
		t.Fatal(err)
	}
	c, err := libcontainer.Create(b.Root, id, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, id
}

// cgroupPath is the absolute cgroupsPath used for container id.
func (b *bundle) cgroupPath(id string) string {
	return b.CgroupParent + "/" + id
}

// writeSpec writes b.Spec as config.json for container id. An empty
// cgroupsPath, or one of a previous container of this bundle, is replaced
// by cgroupPath(id): the runtime must never fall back to a relative path on
// this host. A path a test set explicitly is kept.
func (b *bundle) writeSpec(id string) {
	b.t.Helper()
	if b.Spec.Linux == nil {
		b.Spec.Linux = &specs.Linux{}
	}
	if cg := b.Spec.Linux.CgroupsPath; cg == "" || strings.HasPrefix(cg, b.CgroupParent+"/") {
		b.Spec.Linux.CgroupsPath = b.cgroupPath(id)
	}
	data, err := json.MarshalIndent(b.Spec, "", "\t")
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "config.json"), data, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// cmdTimeout bounds every runtime invocation so that a hung runtime fails
// the test instead of the whole suite.
const cmdTimeout = 30 * time.Second

// husk runs the runtime with --root set to the bundle's state directory
// and returns its output and exit code.
func (b *bundle) husk(args ...string) (stdout, stderr string, code int) {
	b.t.Helper()
	return b.huskStdin(nil, args...)
}

func (b *bundle) huskStdin(stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	b.t.Helper()
	cmd := b.command(args...)
	cmd.Stdin = stdin
	return b.runCaptured(cmd)
}

// runCaptured runs cmd (a runtime invocation, see command) to completion
// and returns what it wrote and its exit code.
func (b *bundle) runCaptured(cmd *exec.Cmd) (stdout, stderr string, code int) {
	b.t.Helper()
	// Regular files, not pipes: a detached container inherits the
	// runtime's stdout/stderr, and exec.Cmd would wait for it to close
	// pipes before returning.
	outF, errF := b.tempFile("stdout"), b.tempFile("stderr")
	defer outF.Close()
	defer errF.Close()
	cmd.Stdout, cmd.Stderr = outF, errF
	code = runCmd(b.t, cmd)
	return readAll(b.t, outF), readAll(b.t, errF), code
}

func (b *bundle) tempFile(pattern string) *os.File {
	b.t.Helper()
	f, err := os.CreateTemp(filepath.Dir(b.Dir), pattern+"-*")
	if err != nil {
		b.t.Fatal(err)
	}
	return f
}

func readAll(t *testing.T, f *os.File) string {
	t.Helper()
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// command prepares a runtime invocation without running it.
func (b *bundle) command(args ...string) *exec.Cmd {
	full := append([]string{"--root", b.Root}, args...)
	cmd := exec.Command(huskBinary, full...)
	cmd.Dir = b.Dir
	return cmd
}

// runCmd runs cmd to completion (killing it after cmdTimeout) and returns
// its exit code, 128+N if a signal killed it.
func runCmd(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(cmdTimeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not finish within %v", cmd.Args, cmdTimeout)
	}
	return exitCode(t, cmd, err)
}

func exitCode(t *testing.T, cmd *exec.Cmd, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}

// mustHusk runs the runtime and fails the test unless it exits 0.
func (b *bundle) mustHusk(args ...string) string {
	b.t.Helper()
	out, errOut, code := b.husk(args...)
	if code != 0 {
		b.t.Fatalf("husk %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// run runs a new container in the foreground with args as its process and
// returns what it printed and its exit code.
func (b *bundle) run(args ...string) (stdout, stderr string, code int) {
	b.t.Helper()
	return b.runWith(nil, args...)
}

// runWith is run with extra flags for `husk run`.
func (b *bundle) runWith(flags []string, args ...string) (stdout, stderr string, code int) {
	b.t.Helper()
	id := b.newID()
	b.Spec.Process.Args = args
	b.writeSpec(id)
	full := append(append([]string{"run", "--bundle", b.Dir}, flags...), id)
	return b.husk(full...)
}

// runIn runs args in a fresh container built from spec (nil: the default
// spec) in the foreground and returns its output and exit code.
func runIn(t *testing.T, spec *specs.Spec, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	b := newBundle(t)
	if spec != nil {
		b.Spec = spec
	}
	return b.run(args...)
}

// mustRun is runIn that requires exit status 0 and returns stdout.
func mustRun(t *testing.T, spec *specs.Spec, args ...string) string {
	t.Helper()
	out, errOut, code := runIn(t, spec, args...)
	if code != 0 {
		t.Fatalf("container %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

// mustRun runs args in a new container of the bundle, requires exit status
// 0 and returns stdout.
func (b *bundle) mustRun(args ...string) string {
	b.t.Helper()
	out, errOut, code := b.run(args...)
	if code != 0 {
		b.t.Fatalf("container %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

// sh is the argv running script with the container's shell.
func sh(script string) []string { return []string{"sh", "-c", script} }

// create creates a container running args (without starting it), checks
// the pid file and returns the ID and the init's host PID.
func (b *bundle) create(args ...string) (id string, pid int) {
	b.t.Helper()
	id = b.newID()
	b.Spec.Process.Args = args
	b.writeSpec(id)
	pidFile := filepath.Join(b.Dir, id+".pid")
	b.mustHusk("create", "--bundle", b.Dir, "--pid-file", pidFile, id)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		b.t.Fatalf("read pid file: %v", err)
	}
	pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		b.t.Fatalf("pid file %s holds %q, want a positive PID", pidFile, data)
	}
	return id, pid
}

// startDetached creates and starts a container running args and returns
// its ID and host PID once the process runs args (start may return before
// the container's execve).
func (b *bundle) startDetached(args ...string) (id string, pid int) {
	b.t.Helper()
	id, pid = b.create(args...)
	b.mustHusk("start", id)
	waitCmdline(b.t, pid, strings.Join(args, "\x00")+"\x00")
	return id, pid
}

// state returns the parsed output of `husk state id`.
func (b *bundle) state(id string) specs.State {
	b.t.Helper()
	out := b.mustHusk("state", id)
	var st specs.State
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		b.t.Fatalf("parse state of %s: %v\n%s", id, err, out)
	}
	return st
}

// waitStatus polls `husk state` until the container reaches want. Only for
// transitions the runtime does not synchronise with (a process exiting on
// its own).
func (b *bundle) waitStatus(id string, want specs.ContainerState) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := b.state(id)
		if st.Status == want {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("container %s: status %q, want %q", id, st.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cgroupMounts returns the mount points of every cgroup hierarchy (v1 and
// v2) of this host.
func cgroupMounts(t *testing.T) []string {
	t.Helper()
	var mnts []string
	for _, m := range readMountinfo(t, "self") {
		if m.fstype == "cgroup" || m.fstype == "cgroup2" {
			mnts = append(mnts, m.mountpoint)
		}
	}
	if len(mnts) == 0 {
		t.Fatal("no cgroup hierarchy mounted")
	}
	return mnts
}

// setsUpAhead says whether the husk binary sets a new container's process
// up ahead here (nsenter.AheadSetUp): with two CPUs or more, on a cgroup v1
// or hybrid host.
func setsUpAhead(t *testing.T) bool {
	t.Helper()
	if !isHusk() || runtime.NumCPU() < 2 {
		return false
	}
	for _, m := range readMountinfo(t, "self") {
		if m.fstype == "cgroup2" && m.mountpoint == "/sys/fs/cgroup" {
			return false
		}
	}
	return true
}

// pidfdThreadSupported says whether pidfd_open(2) takes PIDFD_THREAD
// (Linux 6.9), which x/sys/unix does not name (O_EXCL's value).
func pidfdThreadSupported() bool {
	fd, err := unix.PidfdOpen(unix.Gettid(), unix.O_EXCL)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// procsHierarchy returns the mount point of a hierarchy that lists every
// process of a cgroup: the v1 pids hierarchy, or the cgroup2 root on a
// cgroup v2 host.
func procsHierarchy(t *testing.T) string {
	t.Helper()
	var v2 string
	for _, m := range readMountinfo(t, "self") {
		if m.fstype == "cgroup" && hasOption(m.superOptions, "pids") {
			return m.mountpoint
		}
		if m.fstype == "cgroup2" && m.mountpoint == "/sys/fs/cgroup" {
			v2 = m.mountpoint
		}
	}
	if v2 == "" {
		t.Fatal("neither a cgroup v1 pids hierarchy nor cgroup v2 at /sys/fs/cgroup")
	}
	return v2
}

// mountEntry is one line of /proc/<pid>/mountinfo.
type mountEntry struct {
	root, mountpoint, options, fstype, source, superOptions string
	optional                                                []string
}

func parseMountinfo(data string) []mountEntry {
	var res []mountEntry
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 6 || len(fields) < sep+3 {
			continue
		}
		res = append(res, mountEntry{
			root:         unescapeMountinfo(fields[3]),
			mountpoint:   unescapeMountinfo(fields[4]),
			options:      fields[5],
			optional:     fields[6:sep],
			fstype:       fields[sep+1],
			source:       fields[sep+2],
			superOptions: fields[sep+3],
		})
	}
	return res
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				sb.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

func readMountinfo(t *testing.T, pid string) []mountEntry {
	t.Helper()
	data, err := os.ReadFile("/proc/" + pid + "/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return parseMountinfo(string(data))
}

// findMount returns the last (topmost) entry mounted at mountpoint.
func findMount(mounts []mountEntry, mountpoint string) (mountEntry, bool) {
	var found mountEntry
	ok := false
	for _, m := range mounts {
		if m.mountpoint == mountpoint {
			found, ok = m, true
		}
	}
	return found, ok
}

func hasOption(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// cleanup force-deletes every container of the bundle, then checks that the
// runtime left nothing behind: no state, no cgroup, no mount, no process.
// Leftovers are removed as well as reported, so one failing test does not
// disturb the next.
func (b *bundle) cleanup() {
	t := b.t
	b.mu.Lock()
	ids := append([]string(nil), b.ids...)
	b.mu.Unlock()

	// Containers the test did not know about (e.g. created by a racing
	// create) are in the state root.
	if entries, err := os.ReadDir(b.Root); err == nil {
		for _, e := range entries {
			ids = append(ids, e.Name())
		}
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		cmd := b.command("delete", "-f", id)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		_ = cmd.Run() // deleting a container that never existed fails; that is fine
	}

	for _, l := range b.leftovers() {
		t.Errorf("after delete -f: %s", l)
	}
	b.removeLeftovers()
}

// assertNothingLeft fails the test if the runtime left any trace of the
// bundle's containers: a state directory, a cgroup, a process, a mount.
func (b *bundle) assertNothingLeft() {
	b.t.Helper()
	for _, l := range b.leftovers() {
		b.t.Errorf("left behind: %s", l)
	}
}

// leftovers describes every trace of the bundle's containers on the host.
func (b *bundle) leftovers() []string {
	var res []string
	if entries, err := os.ReadDir(b.Root); err == nil {
		for _, e := range entries {
			// husk keeps compiled seccomp filters under the root, in a
			// directory whose name can never be a container ID.
			if isHusk() && e.Name() == ":seccomp-cache" {
				continue
			}
			// and the state directory a delete emptied and kept for
			// the next create (libcontainer's spareDir).
			if isHusk() && e.Name() == ":spare" {
				if left, err := os.ReadDir(filepath.Join(b.Root, e.Name())); err == nil && len(left) == 0 {
					continue
				}
			}
			res = append(res, "state entry "+filepath.Join(b.Root, e.Name()))
		}
	}
	for _, mnt := range cgroupMounts(b.t) {
		for _, cg := range b.cgroupRoots() {
			dir := filepath.Join(mnt, cg)
			_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() && p != dir {
					res = append(res, "cgroup "+p)
				}
				return nil
			})
		}
	}
	for _, pid := range b.processes() {
		res = append(res, fmt.Sprintf("process %d (%s)", pid, strings.ReplaceAll(readProcFile(pid, "cmdline"), "\x00", " ")))
	}
	for _, m := range readMountinfo(b.t, "self") {
		if strings.HasPrefix(m.mountpoint, b.Dir) {
			res = append(res, "mount on "+m.mountpoint)
		}
	}
	return res
}

// cgroupRoots are the cgroup paths (relative to a hierarchy's root) that
// only this bundle's containers use.
func (b *bundle) cgroupRoots() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string{b.CgroupParent}, b.extraCgroups...)
}

// processes returns the live processes that belong to the bundle's
// containers: in one of its cgroups, or with their root inside the bundle.
func (b *bundle) processes() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		b.t.Fatal(err)
	}
	roots := b.cgroupRoots()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || !procAlive(pid) {
			continue
		}
		mine := false
		if root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); err == nil && strings.HasPrefix(root, b.Dir) {
			mine = true
		}
		cg := readProcFile(pid, "cgroup")
		for _, r := range roots {
			if strings.Contains(cg, ":"+r+"/") || strings.Contains(cg, ":"+r+"\n") {
				mine = true
			}
		}
		if mine {
			pids = append(pids, pid)
		}
	}
	return pids
}

// removeLeftovers kills the bundle's processes, unmounts what was leaked
// into the host and removes the bundle's cgroups, deepest first.
func (b *bundle) removeLeftovers() {
	for _, pid := range b.processes() {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	for _, m := range readMountinfo(b.t, "self") {
		if strings.HasPrefix(m.mountpoint, b.Dir) {
			_ = unix.Unmount(m.mountpoint, unix.MNT_DETACH)
		}
	}
	for _, mnt := range cgroupMounts(b.t) {
		for _, cg := range b.cgroupRoots() {
			b.removeCgroupTree(filepath.Join(mnt, cg))
		}
	}
}

// removeCgroupTree removes dir (a cgroup this test owns) and everything
// below it.
func (b *bundle) removeCgroupTree(dir string) {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		var err error
		// A process killed just now may take a moment to leave its cgroup.
		for try := 0; try < 100; try++ {
			if err = unix.Rmdir(dirs[i]); err == nil || errors.Is(err, unix.ENOENT) {
				err = nil
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			b.t.Errorf("remove cgroup %s: %v", dirs[i], err)
		}
	}
}

func cgroupProcs(dir string) []int {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// procAlive reports whether pid exists and is not a zombie.
func procAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised comm, which may contain spaces.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func readProcFile(pid int, name string) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
	return string(data)
}

// statusField returns a field of /proc/<pid>/status style text.
func statusField(status, name string) string {
	for _, line := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// hostNsLink returns the namespace link of the test process.
func hostNsLink(t *testing.T, ns string) string {
	t.Helper()
	l, err := os.Readlink("/proc/self/ns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// lines splits output into trimmed, non-empty lines.
func lines(s string) []string {
	var res []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			res = append(res, l)
		}
	}
	return res
}

// newSleep starts `sleep 100` on the host; the caller kills it.
func newSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sleep: %v", err)
	}
	return cmd
}

// editConfig rewrites the bundle's config.json, written by writeSpec,
// with edit, which must change it.
func (b *bundle) editConfig(edit func([]byte) []byte) {
	b.t.Helper()
	path := filepath.Join(b.Dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		b.t.Fatal(err)
	}
	edited := edit(data)
	if bytes.Equal(edited, data) {
		b.t.Fatalf("the edit changed nothing in %s", data)
	}
	if err := os.WriteFile(path, edited, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// hideNetworkNamespace escapes the first "network" of a config.json: the
// namespace stays for encoding/json, but the husk binary's guess in C,
// which reads no escapes, sees none, and makes nothing ahead
// (nsenter.AheadStage).
func hideNetworkNamespace(data []byte) []byte {
	return bytes.Replace(data, []byte(`"network"`), []byte(`"netw\u006frk"`), 1)
}
