package rootfs

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer/configs"
)

// Finalize applies the protections that must come last, inside the new
// root (after Prepare and MountConsole): cfg.ReadonlyPaths become read-only
// bind mounts of themselves, cfg.MaskedPaths are covered (files by
// /dev/null, directories by an empty read-only tmpfs), /dev is remounted
// read-only if its mount asked for it, and "/" too when cfg.Readonly.
// Readonly and masked paths that do not exist are skipped, as runc.
func Finalize(cfg *configs.Config) error {
	if err := checkProcfs("/proc"); err != nil {
		return fmt.Errorf("finalize rootfs: %w", err)
	}
	r, err := openRoot("/")
	if err != nil {
		return err
	}
	defer r.close()

	for _, p := range cfg.ReadonlyPaths {
		if err := readonlyPath(r, p); err != nil {
			return err
		}
	}
	if len(cfg.MaskedPaths) > 0 {
		if err := maskPaths(r, cfg.MaskedPaths, cfg.MountLabel); err != nil {
			return err
		}
	}
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		if cleanPath(m.Destination) != "/dev" || m.Flags&unix.MS_RDONLY == 0 {
			continue
		}
		if err := remountPath(r, "/dev", m.Flags, m.ClearedFlags); err != nil {
			return err
		}
	}
	if cfg.Readonly {
		if err := remountPath(r, "/", unix.MS_RDONLY|unix.MS_REC, 0); err != nil {
			return err
		}
	}
	return nil
}

// remountPath bind-remounts the mount at p with flags.
func remountPath(r *root, p string, flags, cleared int) error {
	fd, _, err := r.open(p)
	if err != nil {
		return fmt.Errorf("remount %s: %w", p, err)
	}
	defer unix.Close(fd)
	return remountBind(fd, p, flags|unix.MS_RDONLY, cleared)
}

// readonlyPath bind-mounts p onto itself and makes that mount read-only,
// keeping its nosuid/nodev/noexec flags (which may be locked); a p that
// resolves to the root makes the root mount read-only.
func readonlyPath(r *root, p string) error {
	fd, rel, err := r.open(p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	defer unix.Close(fd)
	// A p that resolves to the root: a bind mount stacked on the root
	// could not be reached (lookups start beneath it), so, as with runc,
	// the root mount itself becomes read-only.
	top := fd
	if rel != "" {
		if err := unix.Mount(procFd(fd), procFd(fd), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind mount %s onto itself: %w", p, err)
		}
		if top, err = r.mountRoot(fd, rel); err != nil {
			return fmt.Errorf("make %s read-only: %w", p, err)
		}
		defer unix.Close(top)
	}
	flags, err := mountFlagsOf(top)
	if err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	flags = flags&(unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC) | unix.MS_RDONLY
	return remountBind(top, p, flags, 0)
}

// maskPaths hides each path: a file under a bind mount of /dev/null, a
// directory under an empty read-only tmpfs.
//
// /dev/null comes from the container's /dev and is checked to be the
// character device 1:3 before use, and is mounted by fd: CVE-2025-31133
// replaced it with a symlink to a procfs file, which masking then
// bind-mounted writable over the path it was meant to hide.
func maskPaths(r *root, paths []string, label string) error {
	null, rel, err := r.open("/dev/null")
	if err != nil {
		return fmt.Errorf("mask paths: %w", err)
	}
	defer unix.Close(null)
	var st unix.Stat_t
	if err := unix.Fstat(null, &st); err != nil {
		return &os.PathError{Op: "fstat", Path: "/dev/null", Err: err}
	}
	if rel != "dev/null" || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		return fmt.Errorf("mask paths: /dev/null is not the null device (resolves to /%s, mode %#o)", rel, st.Mode)
	}
	for _, p := range paths {
		if err := maskPath(r, p, null, label); err != nil {
			return err
		}
	}
	return nil
}

func maskPath(r *root, p string, null int, label string) error {
	fd, _, err := r.open(p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "fstat", Path: p, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := unix.Mount("tmpfs", procFd(fd), "tmpfs", unix.MS_RDONLY, withMountLabel("", label)); err != nil {
			return fmt.Errorf("mask %s with tmpfs: %w", p, err)
		}
		return nil
	}
	if err := unix.Mount(procFd(null), procFd(fd), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mask %s with /dev/null: %w", p, err)
	}
	return nil
}
