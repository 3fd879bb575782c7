package fs2

import "github.com/husk-runtime/husk/cgroups"

// JoinSpec returns the cgroup's directory, entered with
// clone3(CLONE_INTO_CGROUP) (see cgroups.JoinSpec).
func (m *Manager) JoinSpec() cgroups.JoinSpec {
	return cgroups.JoinSpec{Cgroup2Dir: m.dir}
}
