package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestRootReadonly(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	b.Spec.Root.Readonly = true
	out, errOut, code := b.run(sh("touch /x; echo rc=$?; cat /proc/self/mountinfo")...)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if !strings.Contains(out, "rc=1") || !strings.Contains(out+errOut, "Read-only file system") {
		t.Errorf("touch /x on a read-only root: stdout %q stderr %q, want EROFS", out, errOut)
	}
	if m, ok := findMount(parseMountinfo(out), "/"); !ok || !hasOption(m.options, "ro") {
		t.Errorf("root mount not read-only: %q", out)
	}
	if _, err := os.Lstat(filepath.Join(b.Rootfs, "x")); err == nil {
		t.Error("/x was created in the rootfs")
	}
	// Only the container's view is read-only.
	if err := os.WriteFile(filepath.Join(b.Rootfs, "hostwrite"), nil, 0o644); err != nil {
		t.Errorf("rootfs read-only on the host too: %v", err)
	}
}

func TestMountTmpfsWithOptions(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{
		Destination: "/scratch", Type: "tmpfs", Source: "tmpfs",
		Options: []string{"nosuid", "noexec", "nodev", "mode=1770", "size=1m"},
	})
	out := b.mustRun(sh("stat -c %a /scratch; grep ' /scratch ' /proc/self/mountinfo")...)
	ls := lines(out)
	if len(ls) != 2 {
		t.Fatalf("unexpected output %q", out)
	}
	if ls[0] != "1770" {
		t.Errorf("/scratch mode %s, want 1770", ls[0])
	}
	m := parseMountinfo(ls[1])
	if len(m) != 1 {
		t.Fatalf("no mountinfo line for /scratch: %q", out)
	}
	if m[0].fstype != "tmpfs" {
		t.Errorf("/scratch fstype %s, want tmpfs", m[0].fstype)
	}
	for _, o := range []string{"nosuid", "noexec", "nodev", "rw"} {
		if !hasOption(m[0].options, o) {
			t.Errorf("/scratch mount options %q lack %s", m[0].options, o)
		}
	}
	for _, o := range []string{"size=1024k", "mode=1770"} {
		if !hasOption(m[0].superOptions, o) {
			t.Errorf("/scratch superblock options %q lack %s", m[0].superOptions, o)
		}
	}
	// The mount happened in the container only.
	if _, ok := findMount(readMountinfo(t, "self"), filepath.Join(b.Rootfs, "scratch")); ok {
		t.Error("tmpfs mounted on the host")
	}
}

func TestBindMountReadonly(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "file"), []byte("from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{
		Destination: "/data", Type: "bind", Source: src,
		Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"},
	})
	out := b.mustRun(sh("cat /data/file; touch /data/new 2>&1; echo rc=$?; grep ' /data ' /proc/self/mountinfo")...)
	if !strings.HasPrefix(out, "from-host\n") {
		t.Errorf("bind-mounted file not readable: %q", out)
	}
	if !strings.Contains(out, "Read-only file system") || !strings.Contains(out, "rc=1") {
		t.Errorf("write to a ro bind mount did not fail with EROFS: %q", out)
	}
	m, ok := findMount(parseMountinfo(out), "/data")
	if !ok {
		t.Fatalf("no mountinfo line for /data: %q", out)
	}
	for _, o := range []string{"ro", "nosuid", "nodev", "noexec"} {
		if !hasOption(m.options, o) {
			t.Errorf("/data mount options %q lack %s", m.options, o)
		}
	}
	entries, err := os.ReadDir(src)
	if err != nil || len(entries) != 1 {
		t.Errorf("host source dir changed: %v %v", entries, err)
	}
	// A read-only bind mount must not make the host's directory read-only.
	if err := os.WriteFile(filepath.Join(src, "hostwrite"), nil, 0o644); err != nil {
		t.Errorf("host source dir became read-only: %v", err)
	}
}

func TestMountPropagation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		option    string
		propagate bool
	}{
		{"rslave", true},
		{"rprivate", false},
	} {
		t.Run(tc.option, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t)
			// A shared mount point on the host that the container binds.
			src := t.TempDir()
			if err := unix.Mount("tmpfs", src, "tmpfs", 0, "size=1m"); err != nil {
				t.Fatalf("mount tmpfs on %s: %v", src, err)
			}
			t.Cleanup(func() { _ = unix.Unmount(src, unix.MNT_DETACH) })
			if err := unix.Mount("", src, "", unix.MS_SHARED, ""); err != nil {
				t.Fatalf("make %s shared: %v", src, err)
			}
			if err := os.Mkdir(filepath.Join(src, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{
				Destination: "/prop", Type: "bind", Source: src,
				Options: []string{"rbind", tc.option},
			})
			_, pid := b.startDetached("sleep", "100")

			// Mounted on the host after the container started.
			sub := filepath.Join(src, "sub")
			if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
				t.Fatalf("mount tmpfs on %s: %v", sub, err)
			}
			t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })

			mounts := readMountinfo(t, fmt.Sprint(pid))
			prop, ok := findMount(mounts, "/prop")
			if !ok {
				t.Fatal("no /prop mount in the container")
			}
			slave := false
			for _, o := range prop.optional {
				if strings.HasPrefix(o, "master:") {
					slave = true
				}
				if strings.HasPrefix(o, "shared:") {
					t.Errorf("/prop is shared with the host (%v): container mounts would leak out", prop.optional)
				}
			}
			if slave != tc.propagate {
				t.Errorf("/prop propagation %v, want slave=%v", prop.optional, tc.propagate)
			}
			_, got := findMount(mounts, "/prop/sub")
			if got != tc.propagate {
				t.Errorf("host mount on %s visible in the container: %v, want %v", sub, got, tc.propagate)
			}
		})
	}
}

func TestNoPivotRoot(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	var st syscall.Stat_t
	if err := syscall.Stat(b.Rootfs, &st); err != nil {
		t.Fatal(err)
	}
	for _, flags := range [][]string{nil, {"--no-pivot"}} {
		out, errOut, code := b.runWith(flags, sh("stat -c '%d %i' /; cat /etc/group >/dev/null && echo ok")...)
		if code != 0 {
			t.Fatalf("run %v: exit %d: %s%s", flags, code, out, errOut)
		}
		want := fmt.Sprintf("%d %d\nok\n", st.Dev, st.Ino)
		if out != want {
			t.Errorf("run %v: container root is %q, want the rootfs %q", flags, out, want)
		}
	}
}

func TestMaskedPaths(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	// Masked files become /dev/null; which ones exist depends on the
	// kernel's configuration (this host has no /proc/kcore).
	var files []string
	for _, f := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list"} {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		t.Fatal("none of the masked files exists on this kernel")
	}
	script := ""
	for _, f := range files {
		script += fmt.Sprintf("stat -c '%%F %%t:%%T' %s; wc -c <%s; ", f, f)
	}
	script += "ls -A /sys/firmware | wc -l"
	out := lines(b.mustRun(sh(script)...))
	var want []string
	for range files {
		want = append(want, "character special file 1:3", "0")
	}
	want = append(want, "0")
	if strings.Join(out, "|") != strings.Join(want, "|") {
		t.Errorf("masked paths %v + /sys/firmware: got %q, want %q", files, out, want)
	}
	// Masking is confined to the container.
	if entries, err := os.ReadDir("/sys/firmware"); err != nil || len(entries) == 0 {
		t.Errorf("host /sys/firmware is empty or unreadable: %v", err)
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Mode()&os.ModeCharDevice != 0 {
			t.Errorf("host %s masked too: %v", f, err)
		}
	}
}

func TestReadonlyPaths(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	out := b.mustRun(sh("echo x 2>&1 >/proc/sys/kernel/domainname; echo rc=$?; grep ' /proc/sys ' /proc/self/mountinfo")...)
	if !strings.Contains(out, "Read-only file system") || !strings.Contains(out, "rc=1") {
		t.Errorf("write to /proc/sys did not fail with EROFS: %q", out)
	}
	m, ok := findMount(parseMountinfo(out), "/proc/sys")
	if !ok || !hasOption(m.options, "ro") {
		t.Errorf("/proc/sys not a read-only mount: %q", out)
	}
}

// A read-only path that is the root (runc accepts one) makes the root
// mount read-only, as with runc: a bind mount stacked on the root could not
// be reached from it.
func TestReadonlyPathRoot(t *testing.T) {
	eachInitPath(t, func(t *testing.T, b *bundle, _ string) {
		b.Spec.Root.Readonly = false
		b.Spec.Linux.ReadonlyPaths = append(b.Spec.Linux.ReadonlyPaths, "/")
		out, errOut, code := b.run(sh("touch /x; echo rc=$?; cat /proc/self/mountinfo")...)
		if code != 0 {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
		if !strings.Contains(out, "rc=1") || !strings.Contains(out+errOut, "Read-only file system") {
			t.Errorf("touch /x with / in readonlyPaths: stdout %q stderr %q, want EROFS", out, errOut)
		}
		for _, m := range parseMountinfo(out) {
			if m.mountpoint == "/" && m.root == "/" {
				t.Errorf("the host's root is mounted at / (%s on %s)", m.fstype, m.source)
			}
		}
	})
}

func TestDefaultDevices(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	devs := []struct{ name, want string }{
		{"null", "1:3"}, {"zero", "1:5"}, {"full", "1:7"},
		{"random", "1:8"}, {"urandom", "1:9"}, {"tty", "5:0"},
	}
	script := ""
	for _, d := range devs {
		script += "stat -c '%F %t:%T' /dev/" + d.name + "; "
	}
	links := []struct{ name, want string }{
		{"ptmx", "pts/ptmx"}, {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"},
		{"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
	}
	for _, l := range links {
		script += "readlink /dev/" + l.name + "; "
	}
	script += "echo hi >/dev/null && head -c 3 /dev/zero | wc -c"
	out := lines(b.mustRun(sh(script)...))
	if len(out) != len(devs)+len(links)+1 {
		t.Fatalf("unexpected output %q", out)
	}
	for i, d := range devs {
		// stat prints major:minor in hex; all of these are below 10.
		if want := "character special file " + d.want; out[i] != want {
			t.Errorf("/dev/%s: %q, want %q", d.name, out[i], want)
		}
	}
	for i, l := range links {
		if got := out[len(devs)+i]; got != l.want {
			t.Errorf("/dev/%s -> %q, want %q", l.name, got, l.want)
		}
	}
	if got := out[len(out)-1]; got != "3" {
		t.Errorf("reading /dev/zero: %q", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(b.Rootfs, "dev")); len(entries) != 0 {
		t.Errorf("devices created in the host's rootfs/dev instead of the container's tmpfs: %d entries", len(entries))
	}
}

func TestLinuxDevicesCreated(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	mode := os.FileMode(0o664)
	uid, gid := uint32(1000), uint32(1000)
	major, minor := int64(1), int64(5)
	b.Spec.Linux.Devices = []specs.LinuxDevice{{
		Path: "/dev/husk-zero", Type: "c", Major: major, Minor: minor,
		FileMode: &mode, UID: &uid, GID: &gid,
	}}
	b.Spec.Linux.Resources.Devices = append(b.Spec.Linux.Resources.Devices, specs.LinuxDeviceCgroup{
		Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rwm",
	})
	out := lines(b.mustRun(sh("stat -c '%F %t:%T %a %u:%g' /dev/husk-zero; head -c 4 /dev/husk-zero | wc -c")...))
	want := []string{"character special file 1:5 664 1000:1000", "4"}
	if strings.Join(out, "|") != strings.Join(want, "|") {
		t.Errorf("linux.devices entry: got %q, want %q", out, want)
	}
	if _, err := os.Lstat("/dev/husk-zero"); err == nil {
		t.Error("device created on the host")
	}
}

func TestHostnameAndDomainname(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	var before unix.Utsname
	if err := unix.Uname(&before); err != nil {
		t.Fatal(err)
	}
	b.Spec.Hostname = "husk-host"
	// A new UTS namespace starts with the host's domainname; runc 1.1
	// ignores the spec's domainname.
	want := "husk-host " + unix.ByteSliceToString(before.Domainname[:])
	if isHusk() {
		b.Spec.Domainname = "husk.example"
		want = "husk-host husk.example"
	}
	out := lines(b.mustRun(sh("hostname; cat /proc/sys/kernel/domainname")...))
	if strings.Join(out, " ") != want {
		t.Errorf("hostname and domainname in the container: %q, want %q", out, want)
	}
	var after unix.Utsname
	if err := unix.Uname(&after); err != nil {
		t.Fatal(err)
	}
	if before.Nodename != after.Nodename || before.Domainname != after.Domainname {
		t.Errorf("host names changed: %q/%q -> %q/%q",
			unix.ByteSliceToString(before.Nodename[:]), unix.ByteSliceToString(before.Domainname[:]),
			unix.ByteSliceToString(after.Nodename[:]), unix.ByteSliceToString(after.Domainname[:]))
	}
}

func TestSysctlInContainerOnly(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	const path = "/proc/sys/net/ipv4/ip_forward"
	hostBefore, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "1"
	if strings.TrimSpace(string(hostBefore)) == "1" {
		want = "0"
	}
	b.Spec.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": want}
	if out := strings.TrimSpace(b.mustRun("cat", path)); out != want {
		t.Errorf("container %s = %q, want %q", path, out, want)
	}
	if hostAfter, _ := os.ReadFile(path); string(hostAfter) != string(hostBefore) {
		t.Errorf("host %s changed from %q to %q", path, hostBefore, hostAfter)
	}
}

// TestMountSymlinkNotFollowedToHost covers CVE-2021-30465: a mount
// destination that passes through a symlink in the rootfs pointing to an
// absolute host path must be resolved inside the rootfs, never on the host.
func TestMountSymlinkNotFollowedToHost(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	hostDir := t.TempDir()
	if err := os.Symlink(hostDir, filepath.Join(b.Rootfs, "mnt", "link")); err != nil {
		t.Fatal(err)
	}
	b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{
		Destination: "/mnt/link/sub", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"},
	})
	out := b.mustRun(sh("touch /mnt/link/sub/marker && cat /proc/self/mountinfo")...)
	// Inside the container the mount sits on the symlink's target as
	// resolved in the container's root.
	if m, ok := findMount(parseMountinfo(out), filepath.Join(hostDir, "sub")); !ok || m.fstype != "tmpfs" {
		t.Errorf("tmpfs not mounted at %s inside the container:\n%s", filepath.Join(hostDir, "sub"), out)
	}
	entries, err := os.ReadDir(hostDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("host directory %s was touched through the symlink: %d entries", hostDir, len(entries))
	}
	if _, err := os.Stat(filepath.Join(b.Rootfs, hostDir, "sub")); err != nil {
		t.Errorf("mount point not created inside the rootfs: %v", err)
	}
}

// The old root is detached from the container's mount namespace before the
// container is ready: no mount at "/" is the host's root, neither for the
// container's process nor for an exec, which enters the mount namespace at
// its root (the topmost mount there), right after create returns.
func TestOldRootDetached(t *testing.T) {
	hostOnly := filepath.Join(t.TempDir(), "host-only")
	if err := os.WriteFile(hostOnly, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	checkMounts := func(t *testing.T, who, mountinfo string) {
		t.Helper()
		if len(parseMountinfo(mountinfo)) == 0 {
			t.Fatalf("%s: no mountinfo: %q", who, mountinfo)
		}
		for _, m := range parseMountinfo(mountinfo) {
			if m.mountpoint == "/" && m.root == "/" {
				t.Errorf("%s: the host's root is still mounted at / (%s on %s)", who, m.fstype, m.source)
			}
		}
	}
	eachInitPath(t, func(t *testing.T, b *bundle, _ string) {
		checkMounts(t, "run", b.mustRun("cat", "/proc/self/mountinfo"))
		id, _ := b.create("sleep", "100")
		checkMounts(t, "exec", b.mustHusk("exec", id, "cat", "/proc/self/mountinfo"))
		if out, _, code := b.husk("exec", id, "test", "-e", hostOnly); code == 0 {
			t.Errorf("exec sees the host's %s: %q", hostOnly, out)
		}
	})
}
