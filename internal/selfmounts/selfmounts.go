// Package selfmounts reads /proc/self/mountinfo once per process for the
// packages that look up the cgroup mounts in it: cgroups/fs (the
// hierarchies of a container's cgroup) and libcontainer/rootfs (the
// hierarchies to bind in the container's /sys/fs/cgroup). Both run in the
// same create, and the host's cgroup mounts are made at boot and do not
// move; one read (~0.05 ms here, more on hosts with many mounts) is enough.
package selfmounts

import (
	"sync"

	"github.com/husk-runtime/husk/internal/rawfile"
)

var (
	once sync.Once
	data []byte
	err  error
)

// Mountinfo returns the content of /proc/self/mountinfo as it was at the
// first call in this process. The caller must not modify it.
func Mountinfo() ([]byte, error) {
	once.Do(func() {
		data, err = rawfile.ReadFileSize("/proc/self/mountinfo", 16<<10)
	})
	return data, err
}
