package rootfs

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// procRootIno is the inode number of every procfs root.
const procRootIno = 1

// openProcfs returns an fd of the root of a procfs that the container
// cannot have tampered with. Preferably a private, detached instance
// (fsopen("proc")): nothing can be mounted over its files, so a write to
// /proc/sys/... cannot be redirected to another file by an overmount or a
// symlink (CVE-2025-52881). When that is not allowed (older kernels, or a
// user namespace where the container's /proc has masked paths and so a new
// instance would be "too revealing"), /proc itself is used after checking
// it is the root of a procfs.
func openProcfs() (int, error) {
	if fd, err := privateProcfs(); err == nil {
		return fd, nil
	}
	fd, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: "/proc", Err: err}
	}
	if err := checkProcRoot(fd); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func privateProcfs() (int, error) {
	ctx, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(ctx)
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, err
	}
	fd, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return -1, err
	}
	if err := checkProcRoot(fd); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// checkProcRoot verifies fd is the root directory of a procfs.
func checkProcRoot(fd int) error {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return os.NewSyscallError("fstatfs /proc", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return os.NewSyscallError("fstat /proc", err)
	}
	if sfs.Type != unix.PROC_SUPER_MAGIC || st.Ino != procRootIno {
		return fmt.Errorf("/proc is not the root of a procfs (fs type %#x, inode %d)", sfs.Type, st.Ino)
	}
	return nil
}

// openProcFile opens rel under the procfs root proc for writing. No
// symlink, magic link, "..", or mount crossing is allowed on the way, so
// the file opened is the procfs file named, nothing else.
func openProcFile(proc int, rel string) (int, error) {
	fd, err := unix.Openat2(proc, rel, &unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if errors.Is(err, unix.ENOSYS) {
		// Without openat2 the final component is at least not followed,
		// and the file is checked to be on procfs.
		fd, err = unix.Openat(proc, rel, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err == nil {
			var sfs unix.Statfs_t
			if err = unix.Fstatfs(fd, &sfs); err == nil && sfs.Type != unix.PROC_SUPER_MAGIC {
				err = unix.EXDEV
			}
			if err != nil {
				unix.Close(fd)
			}
		}
	}
	return fd, err
}

// validProcPath reports whether rel is a plain relative path with no "."
// or ".." components.
func validProcPath(rel string) bool {
	if rel == "" || strings.HasPrefix(rel, "/") {
		return false
	}
	for _, c := range strings.Split(rel, "/") {
		if c == "" || c == "." || c == ".." {
			return false
		}
	}
	return true
}

// sysctlPath turns a sysctl key into its path under /proc/sys: dots become
// slashes ("net.ipv4.ip_forward"), unless the key is already written with
// slashes (which lets interface names containing dots be used, as in
// sysctl(8)).
func sysctlPath(key string) string {
	if strings.Contains(key, "/") {
		return key
	}
	return strings.ReplaceAll(key, ".", "/")
}

// WriteSysctls writes each value to /proc/sys/<key> through a verified
// procfs handle. It runs inside the container after its /proc exists, so
// namespaced sysctls land in the container's namespaces.
func WriteSysctls(sysctl map[string]string) error {
	if len(sysctl) == 0 {
		return nil
	}
	proc, err := openProcfs()
	if err != nil {
		return fmt.Errorf("write sysctls: %w", err)
	}
	defer unix.Close(proc)
	for key, value := range sysctl {
		rel := sysctlPath(key)
		if !validProcPath(rel) {
			return fmt.Errorf("write sysctl %s=%s: invalid key", key, value)
		}
		if err := writeProcFile(proc, "sys/"+rel, []byte(value)); err != nil {
			return fmt.Errorf("write sysctl %s=%s: %w", key, value, err)
		}
	}
	return nil
}

// WriteProcSelf writes data to /proc/thread-self/<name> (e.g.
// "oom_score_adj", "attr/exec") through a verified procfs handle. The
// calling thread's own directory is used because LSM attributes can only be
// written by the thread they belong to.
func WriteProcSelf(name string, data []byte) error {
	if !validProcPath(name) {
		return fmt.Errorf("write /proc/thread-self/%s: invalid name", name)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	proc, err := openProcfs()
	if err != nil {
		return fmt.Errorf("write /proc/thread-self/%s: %w", name, err)
	}
	defer unix.Close(proc)
	// thread-self is a symlink ("<pid>/task/<tid>", numbered in the pid
	// namespace of this procfs instance); it is read here so that the
	// open below can refuse all symlinks.
	var buf [64]byte
	n, err := unix.Readlinkat(proc, "thread-self", buf[:])
	if err != nil {
		return fmt.Errorf("write /proc/thread-self/%s: %w", name, os.NewSyscallError("readlink thread-self", err))
	}
	self := string(buf[:n])
	if !validProcPath(self) {
		return fmt.Errorf("write /proc/thread-self/%s: unexpected thread-self link %q", name, self)
	}
	if err := writeProcFile(proc, self+"/"+name, data); err != nil {
		return fmt.Errorf("write /proc/thread-self/%s: %w", name, err)
	}
	return nil
}

// writeProcFile writes data in one write(2), as procfs files expect. The
// returned error is the bare errno so callers' messages end in the
// kernel's answer ("permission denied").
func writeProcFile(proc int, rel string, data []byte) error {
	fd, err := openProcFile(proc, rel)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	n, err := unix.Write(fd, data)
	if err != nil {
		return err
	}
	if n != len(data) {
		return fmt.Errorf("short write (%d of %d bytes)", n, len(data))
	}
	return nil
}
