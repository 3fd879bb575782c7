package rootfs

import (
	"errors"
	"fmt"
	"os"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer/configs"
)

// lockableFlags are the per-mount flags the kernel locks when a mount is
// copied into a less privileged user namespace: a remount there must keep
// them (or get EPERM).
const lockableFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | atimeFlags

const atimeFlags = unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

// statfsFlags maps statfs(2) f_flags to the mount(2) flags they report.
var statfsFlags = [...]struct{ st, ms int }{
	{unix.ST_RDONLY, unix.MS_RDONLY},
	{unix.ST_NOSUID, unix.MS_NOSUID},
	{unix.ST_NODEV, unix.MS_NODEV},
	{unix.ST_NOEXEC, unix.MS_NOEXEC},
	{unix.ST_NOATIME, unix.MS_NOATIME},
	{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
	{unix.ST_RELATIME, unix.MS_RELATIME},
}

// mountFlagsOf returns the per-mount flags of the mount fd is on.
func mountFlagsOf(fd int) (int, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return 0, os.NewSyscallError("fstatfs", err)
	}
	flags := 0
	for _, f := range statfsFlags {
		if int(st.Flags)&f.st != 0 {
			flags |= f.ms
		}
	}
	return flags, nil
}

// mount performs one configs.Mount.
func (s *setup) mount(m *configs.Mount) error {
	if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
		return fmt.Errorf("mount %s on %s: id-mapped mounts are not supported", m.Source, m.Destination)
	}
	dest := cleanPath(m.Destination)
	if dest == "/" {
		return fmt.Errorf("mount %s on %s: cannot mount over the rootfs", m.Source, m.Destination)
	}
	switch m.Device {
	case "bind":
		return s.mountBind(m, dest)
	case "cgroup":
		return s.mountCgroup(m, dest)
	default:
		return s.mountFS(m, dest)
	}
}

// flagsFor returns m's flags for the initial mount. /dev stays writable
// until Finalize because Prepare still creates devices and symlinks in it.
func flagsFor(m *configs.Mount, dest string) int {
	if dest == "/dev" {
		return m.Flags &^ unix.MS_RDONLY
	}
	return m.Flags
}

// mountFS mounts a new filesystem instance (proc, sysfs, tmpfs, devpts,
// mqueue, and any other type) on dest.
func (s *setup) mountFS(m *configs.Mount, dest string) error {
	target, rel, err := s.root.mkdirAll(dest)
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", m.Device, dest, err)
	}
	defer unix.Close(target)

	data := m.Data
	switch m.Device {
	case "proc", "sysfs":
		// Only a real procfs/sysfs may sit at the requested path: a
		// symlink in the image (/proc -> /fake) would leave a fake /proc
		// that swallows LSM label and sysctl writes (CVE-2019-16884,
		// CVE-2023-27561, CVE-2023-28642).
		if "/"+rel != dest {
			return fmt.Errorf("mount %s on %s: destination is a symlink (to /%s), %s must be mounted on an ordinary directory", m.Device, dest, rel, m.Device)
		}
		var st unix.Stat_t
		if err := unix.Fstat(target, &st); err != nil {
			return &os.PathError{Op: "fstat", Path: dest, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("mount %s on %s: destination is not a directory", m.Device, dest)
		}
	case "mqueue":
	default:
		data = withMountLabel(data, s.label)
	}

	err = unix.Mount(m.Source, procFd(target), m.Device, uintptr(flagsFor(m, dest)), data)
	if err != nil && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY)) {
		// In a user namespace that does not own the network (sysfs) or
		// IPC (mqueue) namespace the kernel refuses a new instance; bind
		// the host's one instead, as runc does.
		switch m.Device {
		case "sysfs":
			return s.bindFallback(m, dest, "/sys", target, rel, unix.MS_REC)
		case "mqueue":
			return s.bindFallback(m, dest, "/dev/mqueue", target, rel, 0)
		}
	}
	if err != nil {
		return fmt.Errorf("mount %s (%s) on %s: %w", m.Source, m.Device, dest, err)
	}
	if m.Device == "mqueue" && s.label != "" && selinuxEnabled {
		if err := s.withMountRoot(target, rel, dest, func(fd int) error {
			return setFileLabel(fd, s.label)
		}); err != nil {
			return err
		}
	}
	return s.finishMount(m, dest, target, rel)
}

// bindFallback bind-mounts the host's src onto target in place of a new
// filesystem instance and applies m's flags to it.
func (s *setup) bindFallback(m *configs.Mount, dest, src string, target int, rel string, rec int) error {
	if err := unix.Mount(src, procFd(target), "", uintptr(unix.MS_BIND|rec), ""); err != nil {
		return fmt.Errorf("bind mount %s on %s (fallback for %s): %w", src, dest, m.Device, err)
	}
	if err := s.withMountRoot(target, rel, dest, func(fd int) error {
		return remountBind(fd, dest, flagsFor(m, dest), m.ClearedFlags)
	}); err != nil {
		return err
	}
	return s.finishMount(m, dest, target, rel)
}

// mountBind bind-mounts m.Source onto dest, then applies m's flags with a
// bind remount (the initial MS_BIND ignores them).
func (s *setup) mountBind(m *configs.Mount, dest string) error {
	target, rel, err := s.root.open(dest)
	if errors.Is(err, unix.ENOENT) {
		var st unix.Stat_t
		if err := unix.Stat(m.Source, &st); err != nil {
			return fmt.Errorf("bind mount %s on %s: %w", m.Source, dest, &os.PathError{Op: "stat", Path: m.Source, Err: err})
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			target, rel, err = s.root.mkdirAll(dest)
		} else {
			target, rel, err = s.root.createFile(dest)
		}
	}
	if err != nil {
		return fmt.Errorf("bind mount %s on %s: %w", m.Source, dest, err)
	}
	defer unix.Close(target)

	if err := unix.Mount(m.Source, procFd(target), "", uintptr(unix.MS_BIND|m.Flags&unix.MS_REC), ""); err != nil {
		return fmt.Errorf("bind mount %s on %s: %w", m.Source, dest, err)
	}
	flags := flagsFor(m, dest)
	if flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0 || m.ClearedFlags != 0 {
		if err := s.withMountRoot(target, rel, dest, func(fd int) error {
			return remountBind(fd, dest, flags, m.ClearedFlags)
		}); err != nil {
			return err
		}
	}
	return s.finishMount(m, dest, target, rel)
}

// remountBind applies flags to the bind mount fd is the root of, emulating
// "mount --bind -o ...": only the requested flags are set. In a user
// namespace the kernel locks some flags of mounts inherited from the host
// (nosuid, nodev, noexec, ro, atime); when the plain remount is refused, the
// locked flags the mount already has are kept, unless the user explicitly
// cleared one of them, which cannot be honoured and stays an error.
func remountBind(fd int, dest string, flags, cleared int) error {
	flags = flags&^unix.MS_REC | unix.MS_BIND | unix.MS_REMOUNT
	err := unix.Mount("", procFd(fd), "", uintptr(flags), "")
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EPERM) {
		cur, ferr := mountFlagsOf(fd)
		if ferr != nil {
			return fmt.Errorf("remount %s: %w", dest, ferr)
		}
		locked := cur & lockableFlags
		atimeOK := flags&atimeFlags == 0 || flags&atimeFlags == locked&atimeFlags
		if locked&cleared == 0 && atimeOK {
			if flags&atimeFlags != 0 {
				locked &^= atimeFlags
			}
			err = unix.Mount("", procFd(fd), "", uintptr(flags|locked), "")
			if err == nil {
				return nil
			}
		}
	}
	return fmt.Errorf("remount %s with flags %#x: %w", dest, flags, err)
}

// withMountRoot calls fn with an O_PATH fd of the mount just made on
// target.
func (s *setup) withMountRoot(target int, rel, dest string, fn func(fd int) error) error {
	fd, err := s.root.mountRoot(target, rel)
	if err != nil {
		return fmt.Errorf("mount on %s: %w", dest, err)
	}
	defer unix.Close(fd)
	return fn(fd)
}

// finishMount applies m's propagation flags in order and its recursive
// mount attributes to the mount just made on target.
func (s *setup) finishMount(m *configs.Mount, dest string, target int, rel string) error {
	if len(m.PropagationFlags) == 0 && m.RecAttrSet == 0 && m.RecAttrClr == 0 {
		return nil
	}
	return s.withMountRoot(target, rel, dest, func(fd int) error {
		return applyMountOptions(fd, dest, m.PropagationFlags, m.RecAttrSet, m.RecAttrClr)
	})
}

func applyMountOptions(fd int, dest string, prop []int, set, clr uint64) error {
	for _, p := range prop {
		if err := unix.Mount("", procFd(fd), "", uintptr(p), ""); err != nil {
			return fmt.Errorf("set propagation %#x on %s: %w", p, dest, err)
		}
	}
	if set != 0 || clr != 0 {
		attr := unix.MountAttr{Attr_set: set, Attr_clr: clr}
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			return fmt.Errorf("mount_setattr %s (set %#x, clear %#x): %w", dest, set, clr, err)
		}
	}
	return nil
}

// selinuxEnabled is decided once in Prepare, before pivot_root hides the
// host's /sys/fs/selinux.
var selinuxEnabled bool

func detectSELinux() {
	var st unix.Statfs_t
	selinuxEnabled = unix.Statfs("/sys/fs/selinux", &st) == nil && st.Type == unix.SELINUX_MAGIC
}

// withMountLabel adds the SELinux context option for label to mount data.
// The value is quoted because MCS labels contain commas.
func withMountLabel(data, label string) string {
	if label == "" || !selinuxEnabled {
		return data
	}
	opt := `context="` + label + `"`
	if data == "" {
		return opt
	}
	return data + "," + opt
}

// setFileLabel sets the SELinux label of the file fd refers to.
func setFileLabel(fd int, label string) error {
	p := procFd(fd)
	if err := unix.Lsetxattr(p, "security.selinux", []byte(label), 0); err != nil {
		return &os.PathError{Op: "set label on", Path: p, Err: err}
	}
	return nil
}

// openInRootCompat resolves p inside dir on kernels without openat2 (before
// 5.6), with filepath-securejoin's userspace emulation of RESOLVE_IN_ROOT.
func openInRootCompat(dir *os.File, p string) (int, error) {
	f, err := pathrs.OpenatInRoot(dir, strings.TrimPrefix(p, "/"))
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return -1, pe.Err
		}
		return -1, err
	}
	defer f.Close()
	return unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
}
