package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer/configs"
)

// devSymlinks are the links every container's /dev has.
var devSymlinks = [...][2]string{
	{"/proc/self/fd", "fd"},
	{"/proc/self/fd/0", "stdin"},
	{"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"},
}

// setupDev populates the container's /dev: device nodes, the default
// symlinks and the /dev/console placeholder. A /dev bound from the host is
// left alone (only the console placeholder is ensured).
//
// Every entry is made relative to an fd of /dev, with O_NOFOLLOW-style
// calls and type checks on anything that already exists, so a symlink the
// image placed in /dev cannot redirect a device node, a bind mount or the
// console onto a host file (CVE-2025-52565, CVE-2026-41579).
func (s *setup) setupDev() error {
	bindDev, hasPts := false, false
	for i := range s.cfg.Mounts {
		switch cleanPath(s.cfg.Mounts[i].Destination) {
		case "/dev":
			bindDev = s.cfg.Mounts[i].IsBind()
		case "/dev/pts":
			hasPts = true
		}
	}
	terminal := s.cfg.Process != nil && s.cfg.Process.Terminal
	if bindDev && !terminal {
		return nil
	}
	dev, rel, err := s.root.mkdirAll("/dev")
	if err != nil {
		return fmt.Errorf("open /dev: %w", err)
	}
	defer unix.Close(dev)
	if rel != "dev" {
		return fmt.Errorf("open /dev: /dev is a symlink to /%s", rel)
	}
	if !bindDev {
		if err := s.createDevices(dev); err != nil {
			return err
		}
		for _, l := range devSymlinks {
			if err := symlinkIn(dev, l[0], l[1]); err != nil {
				return err
			}
		}
		if _, err := os.Stat("/proc/kcore"); err == nil {
			if err := symlinkIn(dev, "/proc/kcore", "core"); err != nil {
				return err
			}
		}
		if hasPts {
			// The container's ptmx must be the one of its own devpts
			// instance, not a node of the host's.
			if err := unix.Unlinkat(dev, "ptmx", 0); err != nil && !errors.Is(err, unix.ENOENT) {
				return &os.PathError{Op: "remove", Path: "/dev/ptmx", Err: err}
			}
			if err := symlinkIn(dev, "pts/ptmx", "ptmx"); err != nil {
				return err
			}
		}
	}
	if terminal {
		if err := createConsole(dev); err != nil {
			return err
		}
	}
	return nil
}

// symlinkIn creates /dev/name -> target; an existing symlink is kept.
func symlinkIn(dev int, target, name string) error {
	err := unix.Symlinkat(target, dev, name)
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if err := unix.Fstatat(dev, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return nil
		}
	}
	if err != nil {
		return &os.PathError{Op: "symlink " + target, Path: "/dev/" + name, Err: err}
	}
	return nil
}

// createConsole creates /dev/console as an empty regular file for
// MountConsole to bind the pty onto. An existing regular file or character
// device (a /dev bound from the host) is accepted; anything else, a symlink
// in particular, is an error.
func createConsole(dev int) error {
	err := createEmpty(dev, "console", 0o600)
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if err := unix.Fstatat(dev, "console", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "stat", Path: "/dev/console", Err: err}
		}
		if t := st.Mode & unix.S_IFMT; t == unix.S_IFREG || t == unix.S_IFCHR {
			return nil
		}
		return fmt.Errorf("create /dev/console: exists and is not a regular file or device (mode %#o)", st.Mode)
	}
	if err != nil {
		return &os.PathError{Op: "create", Path: "/dev/console", Err: err}
	}
	return nil
}

// DeviceType returns the S_IF* type of a configs.Device; the init plan's
// encoder (libcontainer) uses it too.
func DeviceType(d *configs.Device) (uint32, error) {
	switch d.Type {
	case 'c', 'u':
		return unix.S_IFCHR, nil
	case 'b':
		return unix.S_IFBLK, nil
	case 'p':
		return unix.S_IFIFO, nil
	}
	return 0, fmt.Errorf("device %s: unknown type %q", d.Path, d.Type)
}

// createDevices creates cfg.Devices under /dev. mknod is refused in a user
// namespace: from the first EPERM on, each device is instead an empty file
// with the host's device node bind-mounted onto it, as runc.
func (s *setup) createDevices(dev int) error {
	if len(s.cfg.Devices) == 0 {
		return nil
	}
	// The modes are exact: the umask must not mask them.
	old := unix.Umask(0)
	defer unix.Umask(old)
	bind := false
	for i := range s.cfg.Devices {
		d := &s.cfg.Devices[i]
		typ, err := DeviceType(d)
		if err != nil {
			return err
		}
		p := cleanPath(d.Path)
		rel, ok := strings.CutPrefix(p, "/dev/")
		if !ok {
			return fmt.Errorf("device %s: not under /dev", d.Path)
		}
		parent, name, err := devParent(dev, rel)
		if err != nil {
			return fmt.Errorf("device %s: %w", p, err)
		}
		rdev := int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))
		if !bind {
			err = mknodDevice(parent, name, typ|d.FileMode&0o7777, rdev, d)
			if errors.Is(err, unix.EPERM) {
				bind = true
			}
		}
		if bind {
			err = bindDevice(parent, name, p, typ, rdev)
		}
		if parent != dev {
			unix.Close(parent)
		}
		if err != nil {
			return fmt.Errorf("create device %s: %w", p, err)
		}
	}
	return nil
}

// devParent returns an fd of the directory that holds /dev/rel (creating
// it) and the final name. Subdirectories are opened with O_NOFOLLOW: no
// symlink may be on the way.
func devParent(dev int, rel string) (int, string, error) {
	dir, name := filepath.Split(rel)
	dir = strings.Trim(dir, "/")
	if dir == "" {
		return dev, name, nil
	}
	cur := dev
	for _, c := range strings.Split(dir, "/") {
		if err := unix.Mkdirat(cur, c, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			if cur != dev {
				unix.Close(cur)
			}
			return -1, "", os.NewSyscallError("mkdirat "+c, err)
		}
		next, err := unix.Openat(cur, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if cur != dev {
			unix.Close(cur)
		}
		if err != nil {
			return -1, "", os.NewSyscallError("open "+c, err)
		}
		cur = next
	}
	return cur, name, nil
}

// mknodDevice creates the node and chowns it. An existing entry is
// accepted only if it is the very same device.
func mknodDevice(parent int, name string, mode uint32, rdev int, d *configs.Device) error {
	err := unix.Mknodat(parent, name, mode, rdev)
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if serr := unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW); serr != nil {
			return os.NewSyscallError("fstatat", serr)
		}
		if st.Mode&unix.S_IFMT != mode&unix.S_IFMT || (mode&unix.S_IFMT != unix.S_IFIFO && int(st.Rdev) != rdev) {
			return fmt.Errorf("exists as a different file (mode %#o)", st.Mode)
		}
		return nil
	}
	if err != nil {
		return os.NewSyscallError("mknodat", err)
	}
	if err := unix.Fchownat(parent, name, int(d.UID), int(d.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return os.NewSyscallError("fchownat", err)
	}
	return nil
}

// bindDevice bind-mounts the host's node at hostPath onto a new empty file
// parent/name, after checking the host node is the expected device.
func bindDevice(parent int, name, hostPath string, typ uint32, rdev int) error {
	src, err := unix.Open(hostPath, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open host device", Path: hostPath, Err: err}
	}
	defer unix.Close(src)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return &os.PathError{Op: "fstat", Path: hostPath, Err: err}
	}
	if st.Mode&unix.S_IFMT != typ || (typ != unix.S_IFIFO && int(st.Rdev) != rdev) {
		return fmt.Errorf("host %s is not the configured device", hostPath)
	}
	if err := createEmpty(parent, name, 0o600); err != nil && !errors.Is(err, unix.EEXIST) {
		return os.NewSyscallError("create", err)
	}
	dst, err := unix.Openat(parent, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("open", err)
	}
	defer unix.Close(dst)
	if err := unix.Fstat(dst, &st); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("bind target is not a regular file (mode %#o)", st.Mode)
	}
	if err := unix.Mount(procFd(src), procFd(dst), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind mount %s: %w", hostPath, err)
	}
	return nil
}

// MountConsole bind-mounts the container's pty slave, already open as
// slave, onto /dev/console. It runs after Prepare (inside the new root).
// /dev/console must be the regular file Prepare created (or a device node
// of a /dev bound from the host), never a symlink: CVE-2025-52565 used a
// /dev/console symlink to /proc files to get them bound writable. The slave
// is mounted through its fd, so no path to it is looked up again.
func MountConsole(slave *os.File) error {
	if err := checkProcfs("/proc"); err != nil {
		return fmt.Errorf("mount console: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(slave.Fd()), &st); err != nil {
		return &os.PathError{Op: "fstat", Path: slave.Name(), Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return fmt.Errorf("mount console: %s is not a terminal device", slave.Name())
	}
	dst, err := unix.Openat2(unix.AT_FDCWD, "/dev/console", &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		dst, err = unix.Open("/dev/console", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: "/dev/console", Err: err}
	}
	defer unix.Close(dst)
	if err := unix.Fstat(dst, &st); err != nil {
		return &os.PathError{Op: "fstat", Path: "/dev/console", Err: err}
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFCHR {
		return fmt.Errorf("mount console: /dev/console is not a regular file or device (mode %#o)", st.Mode)
	}
	if err := unix.Mount(procFd(int(slave.Fd())), procFd(dst), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind mount %s on /dev/console: %w", slave.Name(), err)
	}
	return nil
}
