// Package fs is the cgroup v1 driver: it places a container in the same
// absolute cgroup path of every mounted v1 hierarchy and, on hybrid hosts,
// of the cgroup2 hierarchy too (as runc does), and writes the limits into
// the v1 control files.
package fs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/cgroups/internal/cgfile"
	"golang.org/x/sys/unix"
)

// Manager is the cgroup v1 Manager of one container.
type Manager struct {
	path string
	// dirs are the container's directories, one per hierarchy, the
	// unified one (if any) last.
	dirs []dirEntry
	// bySubsystem maps "memory", "cpu"... and "name=systemd" to the dir.
	bySubsystem map[string]string
	unified     *hierarchy
	unifiedDir  string
	// unifiedCreated are the cgroup2 directories the Apply calls of this
	// Manager created, top-down: the only ones whose cgroup.subtree_control
	// husk may change (see setHugetlb).
	unifiedCreated []string
}

type dirEntry struct {
	h   *hierarchy
	dir string
	// early says ApplyEarly created it: Apply(-1) does not again.
	early bool
}

var (
	_ cgroups.Manager      = (*Manager)(nil)
	_ cgroups.EarlyApplier = (*Manager)(nil)
)

// NewManager returns the v1 Manager of the cgroup at the absolute,
// clean path (for example "/husk/<id>"). The hierarchies are found in
// /proc/self/mountinfo, read once per process.
func NewManager(cgroupPath string) (*Manager, error) {
	if !path.IsAbs(cgroupPath) || path.Clean(cgroupPath) != cgroupPath || cgroupPath == "/" {
		return nil, fmt.Errorf("cgroup path %q: must be a clean absolute path below the root", cgroupPath)
	}
	t, err := cgroupMounts()
	if err != nil {
		return nil, fmt.Errorf("find cgroup mounts: %w", err)
	}
	if len(t.v1) == 0 {
		return nil, errors.New("find cgroup mounts: no cgroup v1 hierarchy is mounted")
	}
	m := &Manager{path: cgroupPath, bySubsystem: make(map[string]string, 12)}
	for _, h := range t.v1 {
		d := h.dir(cgroupPath)
		m.dirs = append(m.dirs, dirEntry{h: h, dir: d})
		for _, s := range h.subsystems {
			m.bySubsystem[s] = d
		}
	}
	if t.unified != nil {
		m.unified = t.unified
		m.unifiedDir = t.unified.dir(cgroupPath)
		m.dirs = append(m.dirs, dirEntry{h: t.unified, dir: m.unifiedDir})
	}
	return m, nil
}

// Apply creates the cgroup in every hierarchy and moves pid into it
// (pid -1: only create). A new cpuset cgroup starts with empty cpus and
// mems, into which no task can be moved, so every cpuset directory created
// here gets its parent's values. The cgroup2 directories created are
// remembered, so Set may enable controllers in them and only in them.
func (m *Manager) Apply(pid int) error {
	spid := strconv.Itoa(pid)
	for _, d := range m.dirs {
		if pid == -1 && d.early {
			continue
		}
		if err := m.create(d); err != nil {
			return err
		}
		if pid == -1 {
			continue
		}
		if err := cgfile.Write(d.dir, "cgroup.procs", spid); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	return nil
}

// ApplyEarly creates the cgroup2 and memory directories (see
// cgroups.EarlyApplier); Apply(-1) then creates the others.
func (m *Manager) ApplyEarly() error {
	for i, d := range m.dirs {
		if d.dir != m.unifiedDir && d.dir != m.bySubsystem["memory"] {
			continue
		}
		if err := m.create(d); err != nil {
			return err
		}
		m.dirs[i].early = true
	}
	return nil
}

// create makes d's directory and any missing parent.
func (m *Manager) create(d dirEntry) error {
	created, err := cgfile.Mkdir(d.h.mountpoint, d.dir)
	if err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	if d.dir == m.unifiedDir {
		m.unifiedCreated = append(m.unifiedCreated, created...)
	}
	if len(created) > 0 && d.dir == m.bySubsystem["cpuset"] {
		for _, c := range created {
			if err := initCpuset(c, c != d.dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// initCpuset copies the parent's cpuset.cpus and cpuset.mems into dir
// when they are empty (they are, unless the parent has clone_children).
// A parent directory husk creates (parent) gets clone_children: the kernel
// then gives each container cgroup made in it its cpus and mems at mkdir,
// which saves the next containers the copy (~15 system calls each). Only
// cpuset reads the flag; it is inherited by the directories below.
func initCpuset(dir string, parent bool) error {
	if err := copyCpuset(dir); err != nil {
		return err
	}
	if parent {
		return cgfile.Write(dir, "cgroup.clone_children", "1")
	}
	return nil
}

func copyCpuset(dir string) error {
	parent := path.Dir(dir)
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := cgfile.ReadTrim(dir, f)
		if err != nil {
			return err
		}
		if cur != "" {
			continue
		}
		v, err := cgfile.ReadTrim(parent, f)
		if err != nil {
			return err
		}
		if err := cgfile.Write(dir, f, v); err != nil {
			return err
		}
	}
	return nil
}

// Dirs returns the container's directories, one per hierarchy, in the
// order Destroy removes them.
func (m *Manager) Dirs() []string {
	dirs := make([]string, len(m.dirs))
	for i, d := range m.dirs {
		dirs[i] = d.dir
	}
	return dirs
}

// pidDir is the directory whose cgroup.procs lists the container's
// processes: a v1 hierarchy every container is in.
func (m *Manager) pidDir() string {
	for _, s := range []string{"pids", "freezer", "memory", "devices", "cpu", "name=systemd"} {
		if d, ok := m.bySubsystem[s]; ok {
			return d
		}
	}
	return m.dirs[0].dir
}

// ProcsDir returns the directory whose cgroup.procs GetPids and
// GetAllPids read.
func (m *Manager) ProcsDir() string { return m.pidDir() }

// GetPids returns the PIDs in the cgroup itself.
func (m *Manager) GetPids() ([]int, error) {
	return cgfile.Pids(m.pidDir())
}

// GetAllPids returns the PIDs in the cgroup and all its sub-cgroups.
func (m *Manager) GetAllPids() ([]int, error) {
	return cgfile.AllPids(m.pidDir())
}

// Destroy removes the container's cgroup, with its sub-cgroups, from every
// hierarchy. Parent directories are left alone: other containers may use
// them, and husk cannot tell whether it created them.
func (m *Manager) Destroy() error {
	var errs []error
	for _, d := range m.dirs {
		if err := cgfile.Remove(d.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Path returns the container's directory in the hierarchy of subsystem
// ("" for the unified hierarchy of a hybrid host, "systemd" or
// "name=systemd" for the named systemd hierarchy), or "" when it is not
// mounted.
func (m *Manager) Path(subsystem string) string {
	if subsystem == "" {
		return m.unifiedDir
	}
	if d, ok := m.bySubsystem[subsystem]; ok {
		return d
	}
	return m.bySubsystem["name="+subsystem]
}

// Exists reports whether the cgroup exists (in the hierarchy its PIDs are
// read from).
func (m *Manager) Exists() bool {
	var st unix.Stat_t
	return unix.Stat(m.pidDir(), &st) == nil
}

// FreezerState reports whether the cgroup is frozen. It is Undefined when
// the freezer is not mounted or the cgroup does not exist.
func (m *Manager) FreezerState() (cgroups.FreezerState, error) {
	dir, ok := m.bySubsystem["freezer"]
	if !ok {
		return cgroups.Undefined, nil
	}
	s, err := cgfile.ReadTrim(dir, "freezer.state")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return cgroups.Undefined, nil
		}
		return cgroups.Undefined, err
	}
	if s == string(cgroups.Frozen) {
		return cgroups.Frozen, nil
	}
	// FREEZING is a freeze still in progress (or of a parent): the
	// container's tasks are not all stopped.
	return cgroups.Thawed, nil
}
