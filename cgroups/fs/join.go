package fs

import (
	"path/filepath"

	"github.com/husk-runtime/husk/cgroups"
)

// JoinSpec returns the tasks file of every v1 hierarchy and, on a hybrid
// host, the unified directory (see cgroups.JoinSpec).
func (m *Manager) JoinSpec() cgroups.JoinSpec {
	var j cgroups.JoinSpec
	for _, d := range m.dirs {
		if d.dir == m.unifiedDir {
			j.Cgroup2Dir = d.dir
			continue
		}
		if d.dir == m.bySubsystem["memory"] {
			j.LateTasksFile = filepath.Join(d.dir, "tasks")
			continue
		}
		j.TasksFiles = append(j.TasksFiles, filepath.Join(d.dir, "tasks"))
	}
	return j
}
