package rootfs

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer/configs"
)

// The rootfs code needs root and changes the mount table, so each test
// re-executes the test binary in new mount and PID namespaces and does the
// real work there: whatever happens, the host's mount table stays clean,
// because the child's mounts die with its namespace.

const (
	childEnv  = "HUSK_ROOTFS_TEST_CHILD"  // name of the test the child runs
	rootfsEnv = "HUSK_ROOTFS_TEST_ROOTFS" // rootfs built by the parent
	extraEnv  = "HUSK_ROOTFS_TEST_EXTRA"  // a test-specific path
)

// inChild reports whether this process is the re-executed child of t.
func inChild(t testing.TB) bool {
	return os.Getenv(childEnv) == t.Name()
}

// runChild runs t's child half in new namespaces (CLONE_NEWNS|CLONE_NEWPID
// plus extra) and fails t with the child's output if it fails.
func runChild(t testing.TB, rootfs, extra string, cloneflags uintptr, args ...string) string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to mount in a private mount namespace")
	}
	argv := append([]string{"-test.run=^" + t.Name() + "$", "-test.v", "-test.count=1"}, args...)
	cmd := exec.Command(os.Args[0], argv...)
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name(), rootfsEnv+"="+rootfs, extraEnv+"="+extra)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | cloneflags,
		Pdeathsig:  syscall.SIGKILL,
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child of %s failed: %v\n%s", t.Name(), err, out)
	}
	// A child that matched no test or benchmark would pass silently.
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) && !strings.Contains(string(out), "PREPARE_NS_PER_OP") {
		t.Fatalf("child of %s did not run it:\n%s", t.Name(), out)
	}
	return string(out)
}

// childSetup locks the thread and cuts propagation to the host before the
// child does anything else, so that even a bug in the code under test
// cannot leak a mount to the host.
func childSetup(t testing.TB) {
	t.Helper()
	runtime.LockOSThread()
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		t.Fatalf("make / rslave: %v", err)
	}
}

// makeRootfs builds a minimal busybox rootfs in a temporary directory.
func makeRootfs(t testing.TB) string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to mount in a private mount namespace")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skipf("needs /bin/busybox to build a rootfs: %v", err)
	}
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc", "mnt"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src, err := os.Open("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(rootfs, "bin/busybox"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"sh", "ls", "cat", "mount", "stat"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", l)); err != nil {
			t.Fatal(err)
		}
	}
	return rootfs
}

const (
	nsd = unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV
)

// defaultConfig mirrors the mounts, devices, masked and readonly paths of
// runc's default spec.
func defaultConfig(rootfs string) *configs.Config {
	dev := func(path string, major, minor int64) configs.Device {
		return configs.Device{Path: path, Type: 'c', Major: major, Minor: minor, FileMode: 0o666}
	}
	return &configs.Config{
		Rootfs: rootfs,
		Mounts: []configs.Mount{
			{Source: "proc", Destination: "/proc", Device: "proc", Flags: nsd},
			{Source: "tmpfs", Destination: "/dev", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
			{Source: "devpts", Destination: "/dev/pts", Device: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
			{Source: "shm", Destination: "/dev/shm", Device: "tmpfs", Flags: nsd, Data: "mode=1777,size=65536k"},
			{Source: "mqueue", Destination: "/dev/mqueue", Device: "mqueue", Flags: nsd},
			{Source: "sysfs", Destination: "/sys", Device: "sysfs", Flags: nsd | unix.MS_RDONLY},
			{Source: "cgroup", Destination: "/sys/fs/cgroup", Device: "cgroup", Flags: nsd | unix.MS_RELATIME | unix.MS_RDONLY},
		},
		Devices: []configs.Device{
			dev("/dev/null", 1, 3), dev("/dev/zero", 1, 5), dev("/dev/full", 1, 7),
			dev("/dev/random", 1, 8), dev("/dev/urandom", 1, 9), dev("/dev/tty", 5, 0),
		},
		MaskedPaths: []string{
			"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
			"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
			"/sys/firmware", "/sys/devices/virtual/powercap",
		},
		ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
	}
}

// mountEntry is one line of /proc/self/mountinfo, keyed by mount point.
type mountEntry struct{ root, fstype, opts, superOpts string }

func readMounts(t testing.TB) map[string]mountEntry {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	mounts := map[string]mountEntry{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			t.Fatalf("bad mountinfo line %q", line)
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		mounts[f[4]] = mountEntry{root: f[3], fstype: g[0], opts: f[5], superOpts: g[2]}
	}
	return mounts
}

func hasOpt(opts, opt string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}
