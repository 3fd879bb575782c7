// Package fs2 is the cgroup v2 driver: one unified hierarchy, controllers
// enabled top-down through cgroup.subtree_control, freezing through
// cgroup.freeze.
package fs2

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/cgroups/internal/cgfile"
	"github.com/husk-runtime/husk/internal/selfmounts"
	"golang.org/x/sys/unix"
)

// UnifiedMountpoint is where a cgroup v2 host mounts its hierarchy.
const UnifiedMountpoint = selfmounts.CgroupRoot

// Manager is the cgroup v2 Manager of one container.
type Manager struct {
	root string // mountpoint of the hierarchy
	dir  string // the container's directory
	// systemRoot is set when root is the hierarchy of a pure cgroup v2
	// host. There, as runc does, husk may enable controllers in existing
	// ancestors (the root included): that is how containers get their
	// controllers on such hosts. On the cgroup2 hierarchy of a hybrid
	// host, which the system uses for its own purposes, husk only changes
	// cgroups it created.
	systemRoot bool
}

var _ cgroups.Manager = (*Manager)(nil)

// NewManager returns the Manager of the cgroup at the absolute, clean
// cgroupPath (for example "/husk/<id>") of the hierarchy mounted at
// UnifiedMountpoint.
func NewManager(cgroupPath string) (*Manager, error) {
	return newManager(UnifiedMountpoint, cgroupPath)
}

func newManager(root, cgroupPath string) (*Manager, error) {
	if !path.IsAbs(cgroupPath) || path.Clean(cgroupPath) != cgroupPath || cgroupPath == "/" {
		return nil, fmt.Errorf("cgroup path %q: must be a clean absolute path below the root", cgroupPath)
	}
	return &Manager{root: root, dir: root + cgroupPath, systemRoot: root == UnifiedMountpoint && isV2Host()}, nil
}

// isV2Host reports whether UnifiedMountpoint is a cgroup2 mount, that is
// whether this is a pure cgroup v2 host.
func isV2Host() bool {
	v2, err := selfmounts.CgroupV2Only()
	return err == nil && v2
}

// Apply creates the cgroup, makes the parent's controllers available in
// it, and moves pid into it (pid -1: only create).
func (m *Manager) Apply(pid int) error {
	created, err := cgfile.Mkdir(m.root, m.dir)
	if err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	if !m.systemRoot {
		// Only the ancestors created just now are husk's; each enables
		// what its parent gave it, top-down.
		for _, d := range created {
			if d == m.dir {
				break
			}
			if err := enableMissing(d, false); err != nil {
				return err
			}
		}
	} else if err := m.enableControllers(); err != nil {
		return err
	}
	if pid == -1 {
		return nil
	}
	if err := cgfile.Write(m.dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("join cgroup: %w", err)
	}
	return nil
}

// enableControllers enables, on a pure v2 host, in the subtree_control of
// every ancestor of the container's cgroup, each controller the ancestor
// has and has not yet enabled, top-down (a controller can only be enabled where the parent
// enabled it). The common case, a parent that already enables every
// controller of the root, costs two reads. Enabling is best effort at each level: an
// existing cgroup that has processes of its own refuses domain
// controllers (the "no internal processes" rule), and the limits that
// need them then fail with a clear error in Set.
func (m *Manager) enableControllers() error {
	parent := path.Dir(m.dir)
	all, err := cgfile.Read(m.root, "cgroup.controllers")
	if err != nil {
		return err
	}
	enabled, err := cgfile.Read(parent, "cgroup.subtree_control")
	if err != nil {
		return err
	}
	done := true
	for _, c := range strings.Fields(all) {
		if !cgfile.HasWord(enabled, c) {
			done = false
			break
		}
	}
	if done {
		return nil
	}
	for d := m.root; ; {
		if err := enableMissing(d, d == m.root); err != nil {
			return err
		}
		if d == parent {
			return nil
		}
		next := strings.IndexByte(parent[len(d)+1:], '/')
		if next < 0 {
			d = parent
		} else {
			d = parent[:len(d)+1+next]
		}
	}
}

// enableMissing enables in dir's subtree_control the controllers dir has
// and does not enable yet. It is best effort: when the write of all of
// them is refused (an existing cgroup with processes refuses domain
// controllers), each is tried alone, and what still fails is reported by
// Set when a limit needs it.
//
// A cgroup other than the root (isRoot) that has processes of its own is
// left alone: the kernel refuses it domain controllers (memory, io) but
// accepts threaded ones (cpu, cpuset, pids), and those alone make it a
// thread root, which turns its children into "domain invalid" cgroups
// that no process can join (clone3 CLONE_INTO_CGROUP and cgroup.procs
// fail with EOPNOTSUPP). That is the parent of an exec --cgroup
// sub-cgroup: the running container's own cgroup.
func enableMissing(dir string, isRoot bool) error {
	missing, err := missingControllers(dir)
	if err != nil || len(missing) == 0 {
		return err
	}
	if !isRoot {
		procs, err := cgfile.Read(dir, "cgroup.procs")
		if err != nil {
			return err
		}
		if strings.TrimSpace(procs) != "" {
			return nil
		}
	}
	if err := cgfile.Write(dir, "cgroup.subtree_control", "+"+strings.Join(missing, " +")); err != nil {
		for _, c := range missing {
			_ = cgfile.Write(dir, "cgroup.subtree_control", "+"+c)
		}
	}
	return nil
}

// missingControllers lists the controllers dir has but does not enable
// for its children.
func missingControllers(dir string) ([]string, error) {
	avail, err := cgfile.Read(dir, "cgroup.controllers")
	if err != nil {
		return nil, err
	}
	enabled, err := cgfile.Read(dir, "cgroup.subtree_control")
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, c := range strings.Fields(avail) {
		if !cgfile.HasWord(enabled, c) {
			missing = append(missing, c)
		}
	}
	return missing, nil
}

// GetPids returns the PIDs in the cgroup itself.
func (m *Manager) GetPids() ([]int, error) { return cgfile.Pids(m.dir) }

// GetAllPids returns the PIDs in the cgroup and all its sub-cgroups.
func (m *Manager) GetAllPids() ([]int, error) { return cgfile.AllPids(m.dir) }

// Destroy removes the cgroup and its sub-cgroups. Parents are left alone.
func (m *Manager) Destroy() error { return cgfile.Remove(m.dir) }

// Path returns the cgroup's directory: every controller shares it.
func (m *Manager) Path(string) string { return m.dir }

// Exists reports whether the cgroup exists.
func (m *Manager) Exists() bool {
	var st unix.Stat_t
	return unix.Stat(m.dir, &st) == nil
}

// freezeTimeout bounds how long Freeze waits for cgroup.events to report
// the new state.
const freezeTimeout = 5 * time.Second

// Freeze freezes or thaws the cgroup through cgroup.freeze. The kernel
// stops the tasks asynchronously and then updates "frozen" in
// cgroup.events, signalling the change as a file modification, so Freeze
// waits for that with inotify instead of polling. A freeze that does not
// complete in time is undone.
func (m *Manager) Freeze(state cgroups.FreezerState) error {
	var want string
	switch state {
	case cgroups.Frozen:
		want = "1"
	case cgroups.Thawed:
		want = "0"
	default:
		return fmt.Errorf("freeze: invalid freezer state %q", state)
	}
	// Watch before writing, so the event cannot be missed.
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return os.NewSyscallError("inotify_init1", err)
	}
	defer unix.Close(fd)
	events := m.dir + "/cgroup.events"
	if _, err := unix.InotifyAddWatch(fd, events, unix.IN_MODIFY); err != nil {
		return &os.PathError{Op: "inotify_add_watch", Path: events, Err: err}
	}
	if err := cgfile.Write(m.dir, "cgroup.freeze", want); err != nil {
		return err
	}
	deadline := time.Now().Add(freezeTimeout)
	buf := make([]byte, 4096)
	for {
		s, err := cgfile.Read(m.dir, "cgroup.events")
		if err != nil {
			return err
		}
		if eventValue(s, "frozen") == want {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			err := fmt.Errorf("freeze %s: cgroup.events still says frozen %s after %v", m.dir, eventValue(s, "frozen"), freezeTimeout)
			if state == cgroups.Frozen {
				if terr := cgfile.Write(m.dir, "cgroup.freeze", "0"); terr != nil {
					return fmt.Errorf("%w; thaw: %w", err, terr)
				}
			}
			return err
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, int(left/time.Millisecond)+1); err != nil && err != unix.EINTR {
			return os.NewSyscallError("poll", err)
		}
		// Drain the queued events; only the file's content matters.
		for {
			if _, err := unix.Read(fd, buf); err != nil {
				break
			}
		}
	}
}

// eventValue returns the value of key in the "key value" lines of a
// cgroup.events file.
func eventValue(s, key string) string {
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// FreezerState reports whether the cgroup is frozen: Frozen once every
// task is stopped, Thawed otherwise (also while a freeze is in progress),
// Undefined when the cgroup does not exist or the kernel has no
// cgroup.freeze (before Linux 5.2).
func (m *Manager) FreezerState() (cgroups.FreezerState, error) {
	s, err := cgfile.ReadTrim(m.dir, "cgroup.freeze")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return cgroups.Undefined, nil
		}
		return cgroups.Undefined, err
	}
	if s != "1" {
		return cgroups.Thawed, nil
	}
	ev, err := cgfile.Read(m.dir, "cgroup.events")
	if err != nil {
		return cgroups.Undefined, err
	}
	if eventValue(ev, "frozen") == "1" {
		return cgroups.Frozen, nil
	}
	return cgroups.Thawed, nil
}
