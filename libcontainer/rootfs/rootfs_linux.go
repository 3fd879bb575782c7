// Package rootfs builds a container's root filesystem. It is init-side code:
// it runs inside the container's init process, already in its new mount and
// PID namespaces, before capabilities are dropped.
//
// The order is Prepare (mounts, /dev, pivot_root), MountConsole (when the
// process has a terminal), then Finalize (readonly and masked paths, read-only
// root). WriteSysctls and WriteProcSelf write procfs files through a procfs
// handle that cannot be faked by the container image.
//
// Every mount target is resolved inside the rootfs with
// openat2(RESOLVE_IN_ROOT), opened O_PATH, checked to still be inside the
// rootfs, and mounted through its fd (/proc/self/fd/N): a symlink swapped into
// the image during setup can redirect a mount only to somewhere else inside
// the rootfs, never onto the host (CVE-2021-30465).
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer/configs"
)

// Prepare builds the root filesystem of cfg and switches the calling
// process's root to it. It makes "/" cfg.RootPropagation (default rslave) so
// nothing propagates back to the host, performs cfg.Mounts in order, creates
// cfg.Devices and the default /dev symlinks when /dev is not bound from the
// host, creates /dev/console when the process has a terminal, calls
// beforePivot (the createContainer hooks run there; it may be nil), and then
// pivot_roots into cfg.Rootfs (or moves it onto "/" and chroots when
// cfg.NoPivotRoot).
func Prepare(cfg *configs.Config, beforePivot func() error) error {
	if err := prepareRoot(cfg); err != nil {
		return err
	}
	if err := checkProcfs("/proc"); err != nil {
		return err
	}
	r, err := openRoot(cfg.Rootfs)
	if err != nil {
		return err
	}
	defer r.close()

	s := &setup{cfg: cfg, root: r}
	if cfg.MountLabel != "" {
		s.label = cfg.MountLabel
		detectSELinux()
	}
	for i := range cfg.Mounts {
		if err := s.mount(&cfg.Mounts[i]); err != nil {
			return err
		}
	}
	if err := s.setupDev(); err != nil {
		return err
	}
	if beforePivot != nil {
		if err := beforePivot(); err != nil {
			return err
		}
	}
	if cfg.NoPivotRoot {
		return moveRoot(cfg.Rootfs)
	}
	return pivotRoot(cfg.Rootfs)
}

// setup carries the state of one Prepare call.
type setup struct {
	cfg   *configs.Config
	root  *root
	label string // mount label, "" when none
	// cgroups is read from /proc/self/mountinfo (and /proc/self/cgroup
	// without a configured cgroup path) on the first cgroup mount and
	// reused.
	cgroups *cgroupInfo
}

// prepareRoot isolates the container's mount tree from the host and turns
// the rootfs into a mount point that pivot_root accepts.
func prepareRoot(cfg *configs.Config) error {
	prop := cfg.RootPropagation
	if prop == 0 {
		prop = unix.MS_SLAVE | unix.MS_REC
	}
	if err := unix.Mount("", "/", "", uintptr(prop), ""); err != nil {
		return fmt.Errorf("set propagation of / to %#x: %w", prop, err)
	}
	if err := parentMountPrivate(cfg.Rootfs, prop); err != nil {
		return err
	}
	if err := unix.Mount(cfg.Rootfs, cfg.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind mount rootfs %s onto itself: %w", cfg.Rootfs, err)
	}
	return nil
}

// parentMountPrivate makes the mount holding the rootfs private when it is
// shared: pivot_root(2) fails with EINVAL when the new root's parent mount is
// shared, and a shared parent would also propagate the rootfs bind mount to
// its peers. A recursive slave, private or unbindable "/" leaves no shared
// mount behind, so mountinfo is only read in the rare other cases.
func parentMountPrivate(rootfs string, prop int) error {
	if prop&unix.MS_REC != 0 && prop&(unix.MS_SLAVE|unix.MS_PRIVATE|unix.MS_UNBINDABLE) != 0 {
		return nil
	}
	mounts, err := mountinfo.GetMounts(mountinfo.ParentsFilter(filepath.Dir(rootfs)))
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	var parent *mountinfo.Info
	for _, m := range mounts {
		if parent == nil || len(m.Mountpoint) >= len(parent.Mountpoint) {
			parent = m
		}
	}
	if parent == nil || !strings.Contains(parent.Optional, "shared:") {
		return nil
	}
	if err := unix.Mount("", parent.Mountpoint, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make parent mount %s of rootfs private: %w", parent.Mountpoint, err)
	}
	return nil
}

// pivotRoot makes rootfs the root of the mount namespace and detaches the
// old root. pivot_root(".", ".") stacks the old root on top of the new one,
// so no directory for it is needed inside the rootfs.
func pivotRoot(rootfs string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open old root", Path: "/", Err: err}
	}
	defer unix.Close(oldRoot)
	if err := unix.Chdir(rootfs); err != nil {
		return &os.PathError{Op: "chdir", Path: rootfs, Err: err}
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return &os.PathError{Op: "pivot_root", Path: rootfs, Err: err}
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return &os.PathError{Op: "fchdir", Path: "old root", Err: err}
	}
	// The old root may still be shared with the host: make it a slave
	// first so that unmounting it does not propagate the unmount to the
	// host's mounts.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

// moveRoot is the --no-pivot path: move the rootfs mount onto "/" and
// chroot into it. Unlike pivot_root it leaves the host's mounts in the
// namespace (hidden under the rootfs), so a process with CAP_SYS_CHROOT can
// escape the chroot; that is why pivot_root is the default.
func moveRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return &os.PathError{Op: "chdir", Path: rootfs, Err: err}
	}
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move rootfs %s onto /: %w", rootfs, err)
	}
	if err := unix.Chroot("."); err != nil {
		return &os.PathError{Op: "chroot", Path: rootfs, Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

// root is an O_PATH handle on a root directory (the rootfs before pivot,
// "/" after) and its real path, to check that resolved files stay inside.
type root struct {
	dir  *os.File
	path string // real path of dir, ending in "/"
}

func openRoot(path string) (*root, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open rootfs", Path: path, Err: err}
	}
	real, err := fdPath(fd)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	if !strings.HasSuffix(real, "/") {
		real += "/"
	}
	return &root{dir: os.NewFile(uintptr(fd), path), path: real}, nil
}

func (r *root) close() { r.dir.Close() }

// open resolves p inside the root, following symlinks as if the root were
// "/", and returns an O_PATH fd together with the real path of what it
// found, relative to the root and without symlinks ("" for the root
// itself). Magic links (/proc/self/root and the like) are refused. The real
// path is read back from the kernel and checked to be inside the root, which
// also catches a directory moved out of the rootfs after the lookup.
func (r *root) open(p string) (int, string, error) {
	p = cleanPath(p)
	fd, err := unix.Openat2(int(r.dir.Fd()), p, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		fd, err = openInRootCompat(r.dir, p)
	}
	if err != nil {
		return -1, "", &os.PathError{Op: "open in rootfs", Path: p, Err: err}
	}
	real, err := fdPath(fd)
	if err != nil {
		unix.Close(fd)
		return -1, "", err
	}
	rel, ok := r.rel(real)
	if !ok {
		unix.Close(fd)
		return -1, "", fmt.Errorf("open %s in rootfs: resolved to %s outside of rootfs %s", p, real, r.path)
	}
	return fd, rel, nil
}

// rel returns real relative to the root, and whether it is inside it.
func (r *root) rel(real string) (string, bool) {
	if real+"/" == r.path {
		return "", true
	}
	if !strings.HasPrefix(real, r.path) {
		return "", false
	}
	return real[len(r.path):], true
}

// maxSymlinks bounds how many dangling symlinks mkdirAll and createFile
// follow, as the kernel's MAXSYMLINKS bounds a lookup.
const maxSymlinks = 40

// mkdirAll returns an O_PATH fd of directory p inside the root, creating
// missing components with mode 0755. Each component is created with mkdirat
// relative to its already resolved parent and then looked up again inside
// the root, so a symlink swapped in meanwhile can only redirect inside it.
// A dangling symlink on the way is followed inside the root: its target is
// created there, as a lookup of the link inside the container would expect.
func (r *root) mkdirAll(p string) (int, string, error) {
	return r.create(p, false, 0)
}

// createFile returns an O_PATH fd of p inside the root, creating it as an
// empty regular file when missing (a bind mount target for a file source).
func (r *root) createFile(p string) (int, string, error) {
	return r.create(p, true, 0)
}

func (r *root) create(p string, file bool, links int) (int, string, error) {
	fd, rel, err := r.open(p)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, rel, err
	}
	p = cleanPath(p)
	parent, prel, err := r.create(filepath.Dir(p), false, links)
	if err != nil {
		return -1, "", err
	}
	defer unix.Close(parent)
	base := filepath.Base(p)
	if file {
		err = createEmpty(parent, base, 0o644)
	} else {
		err = unix.Mkdirat(parent, base, 0o755)
	}
	if errors.Is(err, unix.EEXIST) {
		var buf [unix.PathMax]byte
		if n, lerr := unix.Readlinkat(parent, base, buf[:]); lerr == nil {
			if links >= maxSymlinks {
				return -1, "", &os.PathError{Op: "create in rootfs", Path: p, Err: unix.ELOOP}
			}
			target := string(buf[:n])
			if !filepath.IsAbs(target) {
				target = "/" + prel + "/" + target
			}
			return r.create(target, file, links+1)
		}
		err = nil
	}
	if err != nil {
		return -1, "", &os.PathError{Op: "create in rootfs", Path: p, Err: err}
	}
	return r.open(p)
}

// mountRoot returns an O_PATH fd of the mount just made on target (whose
// path relative to the root is rel). The fd of the covered directory cannot
// be used for that: /proc/self/fd/N of it still names the directory beneath
// the new mount. The path is looked up again and must resolve to the same
// place (no symlink on the way) on a different mount than target.
func (r *root) mountRoot(target int, rel string) (int, error) {
	fd, rel2, err := r.open(rel)
	if err != nil {
		return -1, err
	}
	if rel2 != rel {
		unix.Close(fd)
		return -1, fmt.Errorf("reopen mount /%s: now resolves to /%s", rel, rel2)
	}
	under, err := mountID(target)
	if err == nil {
		var top uint64
		if top, err = mountID(fd); err == nil && top == under {
			err = fmt.Errorf("reopen mount /%s: no mount found there", rel)
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// cleanPath makes p absolute and lexically clean, so that ".." cannot climb
// above "/" and filepath.Dir/Base split it sensibly.
func cleanPath(p string) string {
	return filepath.Clean("/" + p)
}

// procFd names fd for syscalls that only take paths (mount(2)). The
// magic link resolves to exactly the file the fd refers to, with no second
// path lookup that an attacker could race.
func procFd(fd int) string {
	return "/proc/self/fd/" + strconv.Itoa(fd)
}

// fdPath returns the kernel's path for fd.
func fdPath(fd int) (string, error) {
	var buf [unix.PathMax]byte
	link := procFd(fd)
	n, err := unix.Readlink(link, buf[:])
	if err != nil {
		return "", &os.PathError{Op: "readlink", Path: link, Err: err}
	}
	return string(buf[:n]), nil
}

// mountID returns the id of the mount fd is on.
func mountID(fd int) (uint64, error) {
	var st unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &st); err != nil {
		return 0, os.NewSyscallError("statx", err)
	}
	return st.Mnt_id, nil
}

// checkProcfs verifies that path is a procfs, so that /proc/self/fd/N
// really names our fds (a fake /proc would let symlinks stand in for them).
func checkProcfs(path string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%s is not procfs (fs type %#x)", path, st.Type)
	}
	return nil
}

// createEmpty creates name in dir as an empty regular file, never following
// a symlink and never reusing an existing file.
func createEmpty(dir int, name string, mode uint32) error {
	fd, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, mode)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}
