// Package manager picks the cgroup driver for the host and builds the
// container's cgroups.Manager. It is separate from package cgroups so the
// drivers can import cgroups without an import cycle.
package manager

import (
	"errors"
	"fmt"
	"path"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/cgroups/fs"
	"github.com/husk-runtime/husk/cgroups/fs2"
	"github.com/husk-runtime/husk/internal/selfmounts"
	"github.com/husk-runtime/husk/libcontainer/configs"
)

// IsCgroup2UnifiedMode reports whether /sys/fs/cgroup is a cgroup v2
// mount (a pure v2 host). A hybrid host, with v1 hierarchies and a cgroup2
// mount at /sys/fs/cgroup/unified, is not. The answer is computed once per
// process.
func IsCgroup2UnifiedMode() (bool, error) {
	return selfmounts.CgroupV2Only()
}

// New returns the Manager of the cgroup c describes: the fs2 driver on a
// cgroup v2 host, the fs driver on a v1 or hybrid one. c.Path must be
// absolute; callers resolve relative cgroupsPath values first.
func New(c *configs.Cgroup) (cgroups.Manager, error) {
	if c == nil {
		return nil, errors.New("create cgroup manager: no cgroup configuration")
	}
	if c.Systemd {
		return nil, errors.New("systemd cgroup driver is not supported yet (--systemd-cgroup)")
	}
	if !path.IsAbs(c.Path) {
		return nil, fmt.Errorf("create cgroup manager: cgroup path %q is not absolute", c.Path)
	}
	p := path.Clean(c.Path)
	v2, err := IsCgroup2UnifiedMode()
	if err != nil {
		return nil, err
	}
	// The drivers return concrete pointers: convert only on success, so a
	// failure is a nil interface, not an interface holding a nil pointer.
	if v2 {
		m, err := fs2.NewManager(p)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	m, err := fs.NewManager(p)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Layout returns what m learnt from the host that a later process can
// reuse through Restore (the v1 hierarchies), or nil.
func Layout(m cgroups.Manager) []byte {
	switch m := m.(type) {
	case *fs.Manager:
		return m.AppendLayout([]byte{layoutV1})
	case *fs2.Manager:
		return []byte{layoutV2}
	}
	return nil
}

// Files names the files and directories of a container's cgroup that a
// program without the Go drivers needs to tell whether the container is
// paused and to remove its cgroup (cmd/husk's fast path, fastpath.c):
// what Manager.FreezerState, GetAllPids and Destroy use.
type Files struct {
	// Dirs are the directories Destroy removes, in its order.
	Dirs []string
	// ProcsDir is the directory whose cgroup.procs lists the processes.
	ProcsDir string
	// FreezeFile is the freezer's state file ("" when there is none):
	// v1's freezer.state, which says FROZEN when the cgroup is frozen, or
	// v2's cgroup.freeze (FreezeV2), which says 1 when a freeze was asked
	// for, complete or not: only cgroup.events tells.
	FreezeFile string
	FreezeV2   bool
}

// FilesOf returns the Files of m, and false for a driver they cannot
// describe.
func FilesOf(m cgroups.Manager) (Files, bool) {
	switch m := m.(type) {
	case *fs.Manager:
		f := Files{Dirs: m.Dirs(), ProcsDir: m.ProcsDir()}
		if d := m.Path("freezer"); d != "" {
			f.FreezeFile = d + "/freezer.state"
		}
		return f, true
	case *fs2.Manager:
		d := m.Path("")
		return Files{Dirs: []string{d}, ProcsDir: d, FreezeFile: d + "/cgroup.freeze", FreezeV2: true}, true
	}
	return Files{}, false
}

const (
	layoutV1 = 1
	layoutV2 = 2
)

// Restore is New for a container whose manager's Layout was saved: it
// reads neither /proc/self/mountinfo nor the cgroup mode. An empty or
// unknown layout falls back to New.
func Restore(c *configs.Cgroup, layout []byte) (cgroups.Manager, error) {
	if len(layout) == 0 || c == nil || c.Systemd {
		return New(c)
	}
	switch layout[0] {
	case layoutV1:
		m, err := fs.NewManagerFromLayout(path.Clean(c.Path), layout[1:])
		if err != nil {
			return New(c)
		}
		return m, nil
	case layoutV2:
		m, err := fs2.NewManager(path.Clean(c.Path))
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	return New(c)
}
