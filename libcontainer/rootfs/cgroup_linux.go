package rootfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/internal/selfmounts"
	"github.com/husk-runtime/husk/libcontainer/configs"
)

// cgroupDirFlags are the flags of the tmpfs holding the v1 hierarchies, as
// runc.
const cgroupDirFlags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// hierarchy is one cgroup hierarchy the container is in.
type hierarchy struct {
	name string // directory under the cgroup mount ("cpu", "cpu,cpuacct", "systemd", "unified")
	// hostDir is the host directory of the container's cgroup in the
	// hierarchy, bind-mounted into the container.
	hostDir string
}

// cgroupInfo is what the cgroup mounts need to know about the host.
type cgroupInfo struct {
	unifiedOnly bool // the host runs cgroup v2 only
	hierarchies []hierarchy
}

// cgroupInfo reads the host's cgroup layout once per Prepare.
func (s *setup) cgroupInfo() (*cgroupInfo, error) {
	if s.cgroups != nil {
		return s.cgroups, nil
	}
	info, err := readCgroupInfo(s.cfg.Cgroup)
	if err != nil {
		return nil, err
	}
	s.cgroups = info
	return info, nil
}

// readCgroupInfo finds the container's directory in every v1 hierarchy
// (and in the cgroup2 one of a hybrid host).
//
// On a v1/hybrid host init joins the memory hierarchy only right before
// execve (so that its own allocations are not charged to the container's
// limit), which makes /proc/self/cgroup wrong for memory while Prepare
// runs. husk's cgroup manager uses the configured absolute path in every
// hierarchy, so that path is the truth; /proc/self/cgroup is read only when
// there is none (no cgroup, the systemd driver, a relative path).
func readCgroupInfo(c *configs.Cgroup) (*cgroupInfo, error) {
	info := &cgroupInfo{}
	v2, err := selfmounts.CgroupV2Only()
	if err != nil {
		return nil, err
	}
	info.unifiedOnly = v2
	if info.unifiedOnly {
		return info, nil
	}
	mounts, err := readCgroupMounts()
	if err != nil {
		return nil, err
	}
	if c != nil && !c.Systemd && filepath.IsAbs(c.Path) {
		info.hierarchies = configHierarchies(mounts, filepath.Clean(c.Path))
		return info, nil
	}
	paths, v2Path, err := readProcCgroup()
	if err != nil {
		return nil, err
	}
	info.hierarchies = procHierarchies(mounts, paths, v2Path)
	return info, nil
}

// configHierarchies returns the directory of the absolute cgroup path in
// every mounted hierarchy, chosen as husk's cgroup manager (cgroups/fs)
// chooses it, so that it is the directory the manager created: among the
// mounts of one hierarchy the first, or a later one of its root; the path
// is relative to the mount's root when below it, else taken as a path in
// what the mount shows (a hierarchy bind-mounted from a sub-cgroup, as in a
// nested container).
func configHierarchies(mounts []cgroupMount, path string) []hierarchy {
	// Hierarchies are few (a dozen at most): slices beat maps here.
	var picked []cgroupMount
	unified := -1
next:
	for _, m := range mounts {
		for i := range picked {
			if picked[i].dev == m.dev {
				if picked[i].root != "/" && m.root == "/" {
					picked[i] = m
				}
				continue next
			}
		}
		if m.cgroup2 {
			// Only one cgroup2 mount can be "unified".
			if unified >= 0 {
				if picked[unified].root != "/" && m.root == "/" {
					picked[unified] = m
				}
				continue
			}
			unified = len(picked)
		}
		picked = append(picked, m)
	}
	hs := make([]hierarchy, 0, len(picked))
	for _, m := range picked {
		rel := path
		if m.root != "/" {
			if path == m.root {
				rel = "/"
			} else if strings.HasPrefix(path, m.root+"/") {
				rel = path[len(m.root):]
			}
		}
		hs = append(hs, hierarchy{name: m.name(), hostDir: filepath.Join(m.mountpoint, rel)})
	}
	return hs
}

// readProcCgroup reads /proc/self/cgroup: "id:controllers:path" per v1
// hierarchy, and "0::path" for cgroup2.
func readProcCgroup() (paths map[string]string, v2Path string, err error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	paths = map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2Path = parts[2]
			continue
		}
		paths[parts[1]] = parts[2]
	}
	if err := sc.Err(); err != nil {
		return nil, "", fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	return paths, v2Path, nil
}

// procHierarchies returns this process's own directory in every hierarchy
// it is in, according to /proc/self/cgroup.
func procHierarchies(mounts []cgroupMount, paths map[string]string, v2Path string) []hierarchy {
	var hs []hierarchy
	seen := map[string]bool{}
	for _, m := range mounts {
		var cgPath, key string
		if m.cgroup2 {
			if v2Path == "" {
				continue
			}
			cgPath = v2Path
		} else {
			key = hierarchyOf(m.superOpts, paths)
			if key == "" {
				continue
			}
			cgPath = paths[key]
		}
		if seen[key] {
			continue
		}
		// The mount's root must contain our cgroup for a bind mount of
		// it to be possible (a mount of a sub-cgroup elsewhere does not).
		rel, err := filepath.Rel(m.root, cgPath)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		seen[key] = true
		hs = append(hs, hierarchy{name: m.name(), hostDir: filepath.Join(m.mountpoint, rel)})
	}
	return hs
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
		return s.mountCgroup2(m, dest)
	}
	return s.mountCgroupV1(m, dest, info)
}

// mountCgroup2 mounts cgroup2 on a v2-only host. Without the privilege to
// (a user namespace without its own cgroup namespace) it bind-mounts the
// host's hierarchy instead, narrowed to the container's own cgroup when it
// has a cgroup namespace, as runc.
func (s *setup) mountCgroup2(m *configs.Mount, dest string) error {
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
// per hierarchy (plus "unified" on a hybrid host), each a bind mount of the
// container's own cgroup directory, so the container never sees its
// parents.
//
// This holds with a new cgroup namespace too. On v1 init unshares it only
// right before execve, after its late join of the memory hierarchy, so
// here it is still in the host's cgroup namespace, where a fresh cgroup
// mount would show the host's whole hierarchy. The bind mounts give the
// view a namespaced mount would: each hierarchy's root is the container's
// cgroup.
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

	for _, h := range info.hierarchies {
		sub := dest + "/" + h.name
		if err := mountHierarchy(dir, sub, h, m.Flags); err != nil {
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
	if m.Flags&unix.MS_RDONLY != 0 {
		if err := remountBind(dir, dest, cgroupDirFlags|unix.MS_RDONLY, 0); err != nil {
			return err
		}
	}
	return nil
}

// mountHierarchy bind-mounts h's host directory on h.name in the fresh
// tmpfs dir (which no one else has seen, so plain *at calls are safe in
// it), with the cgroup mount's flags.
func mountHierarchy(dir int, sub string, h hierarchy, flags int) error {
	if err := unix.Mkdirat(dir, h.name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return &os.PathError{Op: "mkdir", Path: sub, Err: err}
	}
	fd, err := unix.Openat(dir, h.name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: sub, Err: err}
	}
	defer unix.Close(fd)
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

// mountinfoSep ends the optional fields of a mountinfo line.
var mountinfoSep = []byte(" - ")

// cgroupMount is one cgroup or cgroup2 line of /proc/self/mountinfo.
type cgroupMount struct {
	dev        string // "major:minor", shared by all mounts of a hierarchy
	root       string // cgroup path of the mount's root directory
	mountpoint string
	cgroup2    bool
	superOpts  string // "rw,cpu,cpuacct", "rw,xattr,name=systemd"
}

// name is the directory of m under the container's /sys/fs/cgroup.
func (m *cgroupMount) name() string {
	if m.cgroup2 {
		return "unified"
	}
	return filepath.Base(m.mountpoint)
}

// readCgroupMounts returns the cgroup mounts of /proc/self/mountinfo in
// its order. It parses only the lines it keeps, rather than every line as a
// generic mountinfo parser does: this runs on every container start.
func readCgroupMounts() ([]cgroupMount, error) {
	data, err := selfmounts.Mountinfo()
	if err != nil {
		return nil, err
	}
	return parseCgroupMounts(data), nil
}

// parseCgroupMounts extracts the cgroup and cgroup2 mounts from mountinfo
// text: "id parent major:minor root mountpoint options [optional...] -
// fstype source superoptions".
func parseCgroupMounts(data []byte) []cgroupMount {
	var mounts []cgroupMount
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		// Spaces in fields are escaped (\040), so the first " - " is
		// the separator.
		sep := bytes.Index(line, mountinfoSep)
		if sep < 0 {
			continue
		}
		fstype, rest := field(line[sep+3:])
		var cgroup2 bool
		switch string(fstype) { // no allocation: the compiler compares in place
		case "cgroup":
		case "cgroup2":
			cgroup2 = true
		default:
			continue
		}
		_, rest = field(rest) // source
		superOpts, _ := field(rest)
		pre := line[:sep]
		_, pre = field(pre) // mount id
		_, pre = field(pre) // parent id
		dev, pre := field(pre)
		root, pre := field(pre)
		mountpoint, _ := field(pre)
		if len(mountpoint) == 0 {
			continue
		}
		mounts = append(mounts, cgroupMount{
			dev:        string(dev),
			root:       unescapeMountinfo(root),
			mountpoint: unescapeMountinfo(mountpoint),
			cgroup2:    cgroup2,
			superOpts:  string(superOpts),
		})
	}
	return mounts
}

// field returns the first space-separated field of b and what follows it.
func field(b []byte) (f, rest []byte) {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for i, c := range b {
		if c == ' ' {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

// unescapeMountinfo decodes the octal escapes (\040 for a space, \134 for a
// backslash) the kernel writes in mountinfo paths.
func unescapeMountinfo(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && isOctal(b[i+1]) && isOctal(b[i+2]) && isOctal(b[i+3]) {
			out = append(out, (b[i+1]-'0')<<6|(b[i+2]-'0')<<3|(b[i+3]-'0'))
			i += 3
			continue
		}
		out = append(out, b[i])
	}
	return string(out)
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// CgroupV1Layout returns what a cgroup mount shows in a container on a v1
// or hybrid host whose cgroup is at the absolute path c.Path: for each
// hierarchy its directory name under the mount and the host directory to
// bind there (the same choice Prepare makes). ok is false when that is not
// known in advance: a v2-only host, the systemd driver, no absolute path.
// The parent calls it for an init plan (libcontainer), whose C code then
// only binds what it is given; the child's mount namespace is a copy of the
// caller's, so the caller's mountinfo is the child's.
func CgroupV1Layout(c *configs.Cgroup) (names, hostDirs []string, ok bool, err error) {
	if c == nil || c.Systemd || !filepath.IsAbs(c.Path) {
		return nil, nil, false, nil
	}
	if v2, err := selfmounts.CgroupV2Only(); err != nil || v2 {
		return nil, nil, false, err
	}
	mounts, err := readCgroupMounts()
	if err != nil {
		return nil, nil, false, err
	}
	for _, h := range configHierarchies(mounts, filepath.Clean(c.Path)) {
		names = append(names, h.name)
		hostDirs = append(hostDirs, h.hostDir)
	}
	return names, hostDirs, true, nil
}
