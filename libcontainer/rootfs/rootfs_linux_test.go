package rootfs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer/configs"
)

func TestPrepareDefaultMounts(t *testing.T) {
	if inChild(t) {
		childPrepareDefaultMounts(t)
		return
	}
	rootfs := makeRootfs(t)
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "hello"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	runChild(t, rootfs, data, 0)
}

func childPrepareDefaultMounts(t *testing.T) {
	childSetup(t)
	rootfs, data := os.Getenv(rootfsEnv), os.Getenv(extraEnv)
	// On a pure cgroup v2 host the "cgroup" mount is a single cgroup2
	// mount, not a tmpfs of v1 hierarchies.
	var cgSt unix.Statfs_t
	hostV2 := unix.Statfs("/sys/fs/cgroup", &cgSt) == nil && cgSt.Type == unix.CGROUP2_SUPER_MAGIC
	cfg := defaultConfig(rootfs)
	cfg.Readonly = true
	cfg.Process = &configs.Process{Terminal: true}
	cfg.Mounts = append(cfg.Mounts,
		configs.Mount{Source: data, Destination: "/mnt/data", Device: "bind", Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY | unix.MS_NOSUID},
		configs.Mount{Source: filepath.Join(data, "hello"), Destination: "/etc/hello", Device: "bind", Flags: unix.MS_BIND},
		configs.Mount{Source: "tmpfs", Destination: "/run/a/b", Device: "tmpfs", Flags: unix.MS_NODEV,
			PropagationFlags: []int{unix.MS_PRIVATE}, RecAttrSet: unix.MOUNT_ATTR_NOEXEC},
	)

	// Which masked file to check depends on the kernel's procfs.
	maskedFile := ""
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list"} {
		if _, err := os.Stat(p); err == nil {
			maskedFile = p
			break
		}
	}
	_, kcoreErr := os.Stat("/proc/kcore")

	pivoted := false
	beforePivot := func() error {
		// Still in the host's root: the rootfs is visible at its host path.
		if _, err := os.Stat(filepath.Join(rootfs, "bin/busybox")); err != nil {
			return fmt.Errorf("beforePivot ran after pivot: %w", err)
		}
		pivoted = true
		return nil
	}
	if err := Prepare(cfg, beforePivot); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if !pivoted {
		t.Fatal("beforePivot was not called")
	}

	// Console: open a pty of the container's own devpts and bind it.
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	if err := MountConsole(slave); err != nil {
		t.Fatalf("MountConsole: %v", err)
	}

	if err := Finalize(cfg); err != nil {
		t.Fatalf("Finalize: %v", err)
	}

	// The host's root is gone: the rootfs's host path does not exist here.
	if _, err := os.Stat(rootfs); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("host path %s visible after pivot: %v", rootfs, err)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Errorf("rootfs is not /: %v", err)
	}

	mounts := readMounts(t)
	want := map[string]struct {
		fstype string
		opts   []string
	}{
		"/":                  {"", []string{"ro"}},
		"/proc":              {"proc", []string{"nosuid", "nodev", "noexec"}},
		"/dev":               {"tmpfs", []string{"nosuid"}},
		"/dev/pts":           {"devpts", []string{"nosuid", "noexec"}},
		"/dev/shm":           {"tmpfs", []string{"nosuid", "nodev", "noexec"}},
		"/dev/mqueue":        {"mqueue", []string{"nosuid", "nodev", "noexec"}},
		"/sys":               {"sysfs", []string{"ro", "nosuid", "nodev", "noexec"}},
		"/sys/fs/cgroup":     {"tmpfs", []string{"ro", "nosuid", "nodev", "noexec"}},
		"/sys/fs/cgroup/cpu": {"cgroup", []string{"ro", "nosuid", "nodev", "noexec"}},
		"/mnt/data":          {"", []string{"ro", "nosuid"}},
		"/etc/hello":         {"", nil},
		"/run/a/b":           {"tmpfs", []string{"nodev", "noexec"}},
		"/dev/console":       {"devpts", nil},
		"/proc/sys":          {"proc", []string{"ro"}},
		"/sys/firmware":      {"tmpfs", []string{"ro"}},
	}
	if hostV2 {
		cg := want["/sys/fs/cgroup"]
		cg.fstype = "cgroup2"
		want["/sys/fs/cgroup"] = cg
		delete(want, "/sys/fs/cgroup/cpu")
	}
	for mp, w := range want {
		got, ok := mounts[mp]
		if !ok {
			t.Errorf("no mount on %s", mp)
			continue
		}
		if w.fstype != "" && got.fstype != w.fstype {
			t.Errorf("%s: fstype %s, want %s", mp, got.fstype, w.fstype)
		}
		for _, o := range w.opts {
			if !hasOpt(got.opts, o) {
				t.Errorf("%s: options %s lack %s", mp, got.opts, o)
			}
		}
	}
	for mp := range mounts {
		if mp == "/" || mp == "/proc" || mp == "/dev" || mp == "/sys" || mp == "/mnt/data" || mp == "/etc/hello" || mp == "/run/a/b" ||
			strings.HasPrefix(mp, "/proc/") || strings.HasPrefix(mp, "/dev/") || strings.HasPrefix(mp, "/sys/") {
			continue
		}
		t.Errorf("unexpected mount %s (%+v): host mount leaked into the container?", mp, mounts[mp])
	}
	if hasOpt(mounts["/dev"].opts, "ro") {
		t.Errorf("/dev is read-only but its mount did not ask for it")
	}

	// cgroup v1 hybrid: every hierarchy we are in, and symlinks for
	// combined ones.
	for _, h := range []string{"memory", "pids", "systemd"} {
		if _, ok := mounts["/sys/fs/cgroup/"+h]; !ok {
			if _, err := os.Stat("/sys/fs/cgroup/" + h); err == nil {
				t.Errorf("/sys/fs/cgroup/%s exists but is not a mount", h)
			}
		}
	}

	// Devices.
	var st unix.Stat_t
	if err := unix.Lstat("/dev/null", &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) || st.Mode&0o777 != 0o666 {
		t.Errorf("/dev/null: mode %#o rdev %#x, want char 1:3 0666", st.Mode, st.Rdev)
	}
	for name, target := range map[string]string{
		"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0", "/dev/stdout": "/proc/self/fd/1",
		"/dev/stderr": "/proc/self/fd/2", "/dev/ptmx": "pts/ptmx",
	} {
		if got, err := os.Readlink(name); err != nil || got != target {
			t.Errorf("%s -> %q (%v), want %q", name, got, err, target)
		}
	}
	var cst unix.Stat_t
	if err := unix.Fstat(int(slave.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat("/dev/console", &cst); err != nil || cst.Rdev != st.Rdev {
		t.Errorf("/dev/console is not the pty slave: %v rdev %#x want %#x", err, cst.Rdev, st.Rdev)
	}

	if got, err := os.Readlink("/dev/core"); (kcoreErr == nil) != (err == nil) || err == nil && got != "/proc/kcore" {
		t.Errorf("/dev/core -> %q (%v); /proc/kcore: %v", got, err, kcoreErr)
	}

	// Masked paths read empty.
	if maskedFile != "" {
		if _, ok := mounts[maskedFile]; !ok {
			t.Errorf("no mount on %s", maskedFile)
		}
		if b, err := os.ReadFile(maskedFile); err != nil || len(b) != 0 {
			t.Errorf("%s not masked: %d bytes, %v", maskedFile, len(b), err)
		}
	}
	if ents, err := os.ReadDir("/sys/firmware"); err != nil || len(ents) != 0 {
		t.Errorf("/sys/firmware not masked: %d entries, %v", len(ents), err)
	}

	// Readonly paths and the readonly root refuse writes.
	for _, p := range []string{"/proc/sys/kernel/domainname", "/proc/sysrq-trigger"} {
		if _, err := os.Stat(p); err != nil {
			continue // not in every kernel
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err == nil {
			f.Close()
		}
		if !errors.Is(err, unix.EROFS) {
			t.Errorf("open %s for writing: %v, want EROFS", p, err)
		}
	}
	if err := os.WriteFile("/tmp/x", nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write to read-only root: %v, want EROFS", err)
	}
	if err := os.WriteFile("/mnt/data/x", nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write to ro bind: %v, want EROFS", err)
	}
	if b, err := os.ReadFile("/etc/hello"); err != nil || string(b) != "hi" {
		t.Errorf("file bind mount: %q, %v", b, err)
	}
	if err := os.WriteFile("/dev/shm/x", []byte("x"), 0o644); err != nil {
		t.Errorf("/dev/shm not writable: %v", err)
	}

	// The rootfs's own busybox runs: the root really is the new one.
	out, err := exec.Command("/bin/sh", "-c", "ls /").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "busybox") && !strings.Contains(string(out), "bin") {
		t.Errorf("busybox ls /: %v\n%s", err, out)
	}
}

// TestSymlinkDestinationStaysInRootfs is CVE-2021-30465: mount destinations
// that are symlinks to host paths (absolute, and climbing with "..") must
// be resolved inside the rootfs.
func TestSymlinkDestinationStaysInRootfs(t *testing.T) {
	if inChild(t) {
		childSymlinkDestination(t)
		return
	}
	rootfs := makeRootfs(t)
	host := t.TempDir()
	if err := os.Symlink(host, filepath.Join(rootfs, "abs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.Repeat("../", 20)+strings.TrimPrefix(host, "/"), filepath.Join(rootfs, "etc/rel")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(rootfs, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	runChild(t, rootfs, host, 0)
	if ents, err := os.ReadDir(host); err != nil || len(ents) != 0 {
		t.Errorf("host directory %s was written to: %v %v", host, ents, err)
	}
}

func childSymlinkDestination(t *testing.T) {
	childSetup(t)
	rootfs, host := os.Getenv(rootfsEnv), os.Getenv(extraEnv)
	cfg := &configs.Config{
		Rootfs: rootfs,
		Mounts: []configs.Mount{
			{Source: "tmpfs", Destination: "/abs", Device: "tmpfs"},
			{Source: filepath.Join(rootfs, "src"), Destination: "/etc/rel/sub", Device: "bind", Flags: unix.MS_BIND},
		},
	}
	check := func() error {
		mounts := readMounts(t)
		for _, bad := range []string{host, host + "/sub"} {
			if _, ok := mounts[bad]; ok {
				return fmt.Errorf("mount landed on host path %s", bad)
			}
		}
		for _, good := range []string{rootfs + host, rootfs + host + "/sub"} {
			if _, ok := mounts[good]; !ok {
				return fmt.Errorf("no mount on %s inside the rootfs", good)
			}
		}
		return nil
	}
	if err := Prepare(cfg, check); err != nil {
		t.Fatal(err)
	}
}

// TestProcOnSymlinkRejected is CVE-2019-16884/CVE-2023-27561: procfs must
// not be mounted through a symlink, which would leave a fake /proc.
func TestProcOnSymlinkRejected(t *testing.T) {
	if inChild(t) {
		childSetup(t)
		cfg := &configs.Config{
			Rootfs: os.Getenv(rootfsEnv),
			Mounts: []configs.Mount{{Source: "proc", Destination: "/proc", Device: "proc", Flags: nsd}},
		}
		err := Prepare(cfg, nil)
		if err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Fatalf("Prepare with /proc a symlink: %v, want a symlink error", err)
		}
		return
	}
	rootfs := makeRootfs(t)
	if err := os.Remove(filepath.Join(rootfs, "proc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(rootfs, "fakeproc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("fakeproc", filepath.Join(rootfs, "proc")); err != nil {
		t.Fatal(err)
	}
	runChild(t, rootfs, "", 0)
}

// TestMaskRefusesFakeDevNull is CVE-2025-31133: a /dev/null that is not the
// null device must not be used to mask paths.
func TestMaskRefusesFakeDevNull(t *testing.T) {
	if inChild(t) {
		childSetup(t)
		rootfs := os.Getenv(rootfsEnv)
		cfg := &configs.Config{
			Rootfs: rootfs,
			Mounts: []configs.Mount{
				{Source: "proc", Destination: "/proc", Device: "proc", Flags: nsd},
				{Source: filepath.Join(rootfs, "fakedev"), Destination: "/dev", Device: "bind", Flags: unix.MS_BIND},
			},
			MaskedPaths: []string{"/proc/kcore"},
		}
		if err := Prepare(cfg, nil); err != nil {
			t.Fatal(err)
		}
		err := Finalize(cfg)
		if err == nil || !strings.Contains(err.Error(), "not the null device") {
			t.Fatalf("Finalize with /dev/null a symlink: %v, want refusal", err)
		}
		return
	}
	rootfs := makeRootfs(t)
	if err := os.Mkdir(filepath.Join(rootfs, "fakedev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/sys/kernel/core_pattern", filepath.Join(rootfs, "fakedev/null")); err != nil {
		t.Fatal(err)
	}
	runChild(t, rootfs, "", 0)
}

func TestNoPivotRoot(t *testing.T) {
	if inChild(t) {
		childSetup(t)
		rootfs := os.Getenv(rootfsEnv)
		cfg := defaultConfig(rootfs)
		cfg.NoPivotRoot = true
		if err := Prepare(cfg, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat("/bin/busybox"); err != nil {
			t.Fatalf("not in the rootfs: %v", err)
		}
		if _, err := os.Stat(rootfs); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("host path visible: %v", err)
		}
		return
	}
	runChild(t, makeRootfs(t), "", 0)
}

func TestWriteSysctls(t *testing.T) {
	if inChild(t) {
		childSetup(t)
		if err := WriteSysctls(map[string]string{"net.ipv4.ip_forward": "1", "kernel.hostname": "husk-test"}); err != nil {
			t.Fatal(err)
		}
		for p, want := range map[string]string{"/proc/sys/net/ipv4/ip_forward": "1", "/proc/sys/kernel/hostname": "husk-test"} {
			if b, err := os.ReadFile(p); err != nil || strings.TrimSpace(string(b)) != want {
				t.Errorf("%s = %q (%v), want %q", p, b, err, want)
			}
		}
		err := WriteSysctls(map[string]string{"kernel.does_not_exist": "1"})
		if want := "write sysctl kernel.does_not_exist=1: no such file or directory"; err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
		if err := WriteSysctls(map[string]string{"net/../../../etc": "1"}); err == nil {
			t.Error("a key climbing out of /proc/sys was accepted")
		}
		if err := WriteProcSelf("oom_score_adj", []byte("123")); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile("/proc/self/oom_score_adj"); err != nil || strings.TrimSpace(string(b)) != "123" {
			t.Errorf("oom_score_adj = %q (%v), want 123", b, err)
		}
		return
	}
	// New net and UTS namespaces: the sysctls written are the child's own.
	runChild(t, "", "", syscall.CLONE_NEWNET|syscall.CLONE_NEWUTS)
}

// BenchmarkPrepareDefaultMounts times Prepare with runc's default mounts,
// devices and pivot_root. The work runs in a child process: each iteration
// unshares a fresh mount namespace on a locked thread, which the runtime
// discards with the thread, so nothing accumulates.
func BenchmarkPrepareDefaultMounts(b *testing.B) {
	if inChild(b) {
		childSetup(b)
		n, _ := strconv.Atoi(os.Getenv(extraEnv))
		cfg := defaultConfig(os.Getenv(rootfsEnv))
		var total time.Duration
		for i := 0; i < n; i++ {
			errc := make(chan error, 1)
			go func() {
				// Never unlocked: the thread, with its namespace, exits
				// when this goroutine returns.
				runtime.LockOSThread()
				if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
					errc <- err
					return
				}
				start := time.Now()
				err := Prepare(cfg, nil)
				total += time.Since(start)
				errc <- err
			}()
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
		}
		fmt.Printf("PREPARE_NS_PER_OP %d\n", total.Nanoseconds()/int64(max(n, 1)))
		return
	}
	rootfs := makeRootfs(b)
	out := runChild(b, rootfs, strconv.Itoa(b.N), 0, "-test.run=^$", "-test.bench=^"+b.Name()+"$", "-test.benchtime=1x")
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "PREPARE_NS_PER_OP "); ok {
			ns, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(ns, "ns/prepare")
			return
		}
	}
	b.Fatalf("child reported no timing:\n%s", out)
}

// TestSharedRootPropagation: with "/" rshared, the rootfs's parent mount is
// shared too, which pivot_root refuses unless Prepare makes it private.
func TestSharedRootPropagation(t *testing.T) {
	if inChild(t) {
		// childSetup makes everything a slave of the host first, so the
		// shared peer group below is the child's own.
		childSetup(t)
		cfg := defaultConfig(os.Getenv(rootfsEnv))
		cfg.RootPropagation = unix.MS_SHARED | unix.MS_REC
		if err := Prepare(cfg, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat("/bin/busybox"); err != nil {
			t.Fatalf("not in the rootfs: %v", err)
		}
		return
	}
	runChild(t, makeRootfs(t), "", 0)
}
