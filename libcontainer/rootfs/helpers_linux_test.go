package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer/configs"
)

func openDir(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// TestCVE_2025_52565_ConsoleSymlinkRefused: a /dev/console symlink (to a
// procfs file, say) must not become the console bind target.
func TestCVE_2025_52565_ConsoleSymlinkRefused(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "console")); err != nil {
		t.Fatal(err)
	}
	if err := createConsole(openDir(t, dir)); err == nil {
		t.Fatal("createConsole accepted a symlink")
	}

	clean := t.TempDir()
	fd := openDir(t, clean)
	if err := createConsole(fd); err != nil {
		t.Fatal(err)
	}
	// Idempotent on the regular file it created.
	if err := createConsole(fd); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(clean, "console")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("console: %v %v", fi, err)
	}
}

// TestCVE_2026_41579_DeviceOverExistingEntryRefused: an entry already in
// /dev with another type (here a symlink) is not taken for the device.
func TestCVE_2026_41579_DeviceOverExistingEntryRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "fifo")); err != nil {
		t.Fatal(err)
	}
	d := &configs.Device{Path: "/dev/fifo", Type: 'p', FileMode: 0o600}
	fd := openDir(t, dir)
	if err := mknodDevice(fd, "fifo", unix.S_IFIFO|0o600, 0, d); err == nil {
		t.Fatal("mknodDevice accepted an existing symlink")
	}
	// A fifo needs no privilege: the normal path works and is repeatable.
	d.UID, d.GID = uint32(os.Getuid()), uint32(os.Getgid())
	for range 2 {
		if err := mknodDevice(fd, "real", unix.S_IFIFO|0o600, 0, d); err != nil {
			t.Fatal(err)
		}
	}
	// Subdirectories of /dev are walked without following symlinks.
	if err := os.Symlink("/etc", filepath.Join(dir, "net")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := devParent(fd, "net/tun"); err == nil {
		t.Fatal("devParent followed a symlinked directory")
	}
	p, name, err := devParent(fd, "a/b/c")
	if err != nil || name != "c" {
		t.Fatalf("devParent: %v %q", err, name)
	}
	unix.Close(p)
	if fi, err := os.Lstat(filepath.Join(dir, "a/b")); err != nil || !fi.IsDir() {
		t.Fatalf("devParent did not create a/b: %v", err)
	}
}

func TestSysctlPath(t *testing.T) {
	for key, want := range map[string]string{
		"net.ipv4.ip_forward":               "net/ipv4/ip_forward",
		"net/ipv4/conf/eth0.100/forwarding": "net/ipv4/conf/eth0.100/forwarding",
	} {
		if got := sysctlPath(key); got != want || !validProcPath(got) {
			t.Errorf("sysctlPath(%q) = %q (valid %v), want %q", key, got, validProcPath(got), want)
		}
	}
	for _, bad := range []string{"", "/etc/passwd", "net/../../1/attr/exec", "a//b", "./x", "net."} {
		if validProcPath(sysctlPath(bad)) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWithMountLabel(t *testing.T) {
	old := selinuxEnabled
	t.Cleanup(func() { selinuxEnabled = old })
	selinuxEnabled = true
	got := withMountLabel("mode=755", "system_u:object_r:container_file_t:s0:c1,c2")
	if want := `mode=755,context="system_u:object_r:container_file_t:s0:c1,c2"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	selinuxEnabled = false
	if got := withMountLabel("mode=755", "x"); got != "mode=755" {
		t.Errorf("label added without SELinux: %s", got)
	}
}

func TestRootOpenStaysInside(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "abs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.Repeat("../", 10)+"etc", filepath.Join(dir, "rel")); err != nil {
		t.Fatal(err)
	}
	r, err := openRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	fd, rel, err := r.mkdirAll("/abs/x")
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if want := strings.TrimPrefix(outside, "/") + "/x"; rel != want {
		t.Errorf("mkdirAll(/abs/x) at /%s, want /%s", rel, want)
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Error("mkdirAll created a directory outside the root")
	}
	fd, rel, err = r.createFile("/rel/f")
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if rel != "etc/f" {
		t.Errorf("createFile(/rel/f) at /%s, want /etc/f", rel)
	}
}
