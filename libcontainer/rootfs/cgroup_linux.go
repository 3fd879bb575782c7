package rootfs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer/configs"
)

// cgroupDirFlags are the flags of the tmpfs holding the v1 hierarchies and
// of each hierarchy mounted in a cgroup namespace, as runc.
const cgroupDirFlags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// hierarchy is one cgroup hierarchy the init process is in.
type hierarchy struct {
	name string // directory under the cgroup mount ("cpu", "cpu,cpuacct", "systemd", "unified")
	// fstype is "cgroup" (v1) or "cgroup2" (the hybrid unified hierarchy).
	fstype string
	// data is the v1 mount option naming the hierarchy ("cpu,cpuacct",
	// "name=systemd"); "" for cgroup2.
	data string
	// hostDir is the host directory of this process's own cgroup in the
	// hierarchy, bind-mounted when there is no cgroup namespace.
	hostDir string
}

// cgroupInfo is what the cgroup mounts need to know about the host.
type cgroupInfo struct {
	unifiedOnly bool // the host runs cgroup v2 only
	hierarchies []hierarchy
	v2Path      string // this process's cgroup v2 path ("0::" line)
}

// cgroupInfo reads the host's cgroup layout once per Prepare.
func (s *setup) cgroupInfo() (*cgroupInfo, error) {
	if s.cgroups != nil {
		return s.cgroups, nil
	}
	info, err := readCgroupInfo()
	if err != nil {
		return nil, err
	}
	s.cgroups = info
	return info, nil
}

func readCgroupInfo() (*cgroupInfo, error) {
	info := &cgroupInfo{}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return nil, &os.PathError{Op: "statfs", Path: "/sys/fs/cgroup", Err: err}
	}
	info.unifiedOnly = st.Type == unix.CGROUP2_SUPER_MAGIC

	// /proc/self/cgroup: "id:controllers:path"; the v2 line is "0::path".
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	paths := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			info.v2Path = parts[2]
			continue
		}
		paths[parts[1]] = parts[2]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	if info.unifiedOnly {
		return info, nil
	}

	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	seen := map[string]bool{}
	for _, m := range mounts {
		var h hierarchy
		var cgPath string
		if m.FSType == "cgroup2" {
			if info.v2Path == "" || seen[""] {
				continue
			}
			h = hierarchy{name: "unified", fstype: "cgroup2"}
			cgPath = info.v2Path
		} else {
			ctrl := hierarchyOf(m.VFSOptions, paths)
			if ctrl == "" || seen[ctrl] {
				continue
			}
			name := filepath.Base(m.Mountpoint)
			h = hierarchy{name: name, fstype: "cgroup", data: ctrl}
			cgPath = paths[ctrl]
		}
		// The mount's root must contain our cgroup for a bind mount of
		// it to be possible (a mount of a sub-cgroup elsewhere does not).
		rel, err := filepath.Rel(m.Root, cgPath)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		h.hostDir = filepath.Join(m.Mountpoint, rel)
		seen[h.data] = true
		info.hierarchies = append(info.hierarchies, h)
	}
	return info, nil
}

// hierarchyOf returns the /proc/self/cgroup controller list of the v1
// hierarchy whose super options are opts, or "" when we are not in it.
func hierarchyOf(opts string, paths map[string]string) string {
	have := map[string]bool{}
	for _, o := range strings.Split(opts, ",") {
		have[o] = true
	}
	for ctrl := range paths {
		all := ctrl != ""
		for _, c := range strings.Split(ctrl, ",") {
			all = all && have[c]
		}
		if all {
			return ctrl
		}
	}
	return ""
}

// mountCgroup mounts the container's view of its cgroups on dest.
func (s *setup) mountCgroup(m *configs.Mount, dest string) error {
	info, err := s.cgroupInfo()
	if err != nil {
		return fmt.Errorf("mount cgroup on %s: %w", dest, err)
	}
	if info.unifiedOnly {
		return s.mountCgroup2(m, dest, info)
	}
	return s.mountCgroupV1(m, dest, info)
}

// mountCgroup2 mounts cgroup2 on a v2-only host. Without the privilege to
// (a user namespace without its own cgroup namespace) it bind-mounts the
// host's hierarchy instead, narrowed to the container's own cgroup when it
// has a cgroup namespace, as runc.
func (s *setup) mountCgroup2(m *configs.Mount, dest string, info *cgroupInfo) error {
	target, rel, err := s.root.mkdirAll(dest)
	if err != nil {
		return fmt.Errorf("mount cgroup2 on %s: %w", dest, err)
	}
	defer unix.Close(target)
	err = unix.Mount(m.Source, procFd(target), "cgroup2", uintptr(m.Flags), m.Data)
	if err == nil {
		return s.finishMount(m, dest, target, rel)
	}
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("mount cgroup2 on %s: %w", dest, err)
	}
	src := "/sys/fs/cgroup"
	if s.cfg.NewNamespace(configs.NEWCGROUP) {
		// In our own cgroup namespace /proc/self/cgroup says "/": the
		// configured path is the only way to name our cgroup.
		c := s.cfg.Cgroup
		if c == nil || c.Systemd || !filepath.IsAbs(c.Path) {
			return fmt.Errorf("mount cgroup2 on %s: %w", dest, err)
		}
		src = filepath.Join(src, c.Path)
	}
	return s.bindFallback(m, dest, src, target, rel, unix.MS_REC)
}

// mountCgroupV1 builds the v1 layout: a tmpfs at dest with one directory
// per hierarchy (plus "unified" on a hybrid host). In a new cgroup
// namespace each hierarchy is a fresh cgroup mount, which shows the
// namespace's root; otherwise the container's own cgroup directory of each
// hierarchy is bind-mounted, so the container never sees its parents.
func (s *setup) mountCgroupV1(m *configs.Mount, dest string, info *cgroupInfo) error {
	target, rel, err := s.root.mkdirAll(dest)
	if err != nil {
		return fmt.Errorf("mount cgroup on %s: %w", dest, err)
	}
	defer unix.Close(target)
	if err := unix.Mount("tmpfs", procFd(target), "tmpfs", cgroupDirFlags, withMountLabel("mode=755", s.label)); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dest, err)
	}
	dir, err := s.root.mountRoot(target, rel)
	if err != nil {
		return fmt.Errorf("mount cgroup on %s: %w", dest, err)
	}
	defer unix.Close(dir)

	cgroupns := s.cfg.NewNamespace(configs.NEWCGROUP)
	ro := m.Flags & unix.MS_RDONLY
	for _, h := range info.hierarchies {
		sub := dest + "/" + h.name
		if err := mountHierarchy(dir, sub, h, cgroupns, m.Flags, ro); err != nil {
			return err
		}
		// A combined hierarchy gets a symlink per controller
		// (cpu -> cpu,cpuacct), where tools look for it.
		if strings.Contains(h.name, ",") {
			for _, c := range strings.Split(h.name, ",") {
				if err := unix.Symlinkat(h.name, dir, c); err != nil && !errors.Is(err, unix.EEXIST) {
					return &os.PathError{Op: "symlink", Path: dest + "/" + c, Err: err}
				}
			}
		}
	}
	if err := applyMountOptions(dir, dest, m.PropagationFlags, m.RecAttrSet, m.RecAttrClr); err != nil {
		return err
	}
	if ro != 0 {
		if err := remountBind(dir, dest, cgroupDirFlags|unix.MS_RDONLY, 0); err != nil {
			return err
		}
	}
	return nil
}

// mountHierarchy mounts one hierarchy on name h.name in the fresh tmpfs dir
// (which no one else has seen, so plain *at calls are safe in it).
func mountHierarchy(dir int, sub string, h hierarchy, cgroupns bool, flags, ro int) error {
	if err := unix.Mkdirat(dir, h.name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return &os.PathError{Op: "mkdir", Path: sub, Err: err}
	}
	fd, err := unix.Openat(dir, h.name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: sub, Err: err}
	}
	defer unix.Close(fd)
	if cgroupns {
		if err := unix.Mount(h.fstype, procFd(fd), h.fstype, uintptr(cgroupDirFlags|ro), h.data); err != nil {
			return fmt.Errorf("mount %s (%s) on %s: %w", h.fstype, h.data, sub, err)
		}
		return nil
	}
	if err := unix.Mount(h.hostDir, procFd(fd), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind mount %s on %s: %w", h.hostDir, sub, err)
	}
	top, err := unix.Openat(dir, h.name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: sub, Err: err}
	}
	defer unix.Close(top)
	return remountBind(top, sub, flags, 0)
}
