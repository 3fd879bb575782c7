// Package selfmounts reads /proc/self/mountinfo once per process for the
// packages that look up the cgroup mounts in it: cgroups/fs (the
// hierarchies of a container's cgroup) and libcontainer/rootfs (the
// hierarchies to bind in the container's /sys/fs/cgroup). Both run in the
// same create, and the host's cgroup mounts are made at boot and do not
// move; one read (~0.05 ms here, more on hosts with many mounts) is enough.
// The same goes for the kind of file system at /sys/fs/cgroup.
package selfmounts

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"

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

// Provide makes b, this process's mountinfo as another process in the same
// mount namespace and with the same root read it moments ago (the husk
// binary's ahead stage, nsenter.AheadStage.Mountinfo), what Mountinfo
// returns; it does nothing once Mountinfo has run.
func Provide(b []byte) {
	once.Do(func() { data = b })
}

var (
	v2Once sync.Once
	v2     bool
	v2Err  error
)

// CgroupRoot is where the cgroup hierarchies are mounted: a tmpfs of v1
// hierarchies (and, on a hybrid host, cgroup2 at its "unified"), or the
// cgroup2 hierarchy itself on a pure v2 host.
const CgroupRoot = "/sys/fs/cgroup"

// CgroupV2Only reports whether CgroupRoot is a cgroup2 mount (a pure v2
// host), from one statfs(2) per process: the cgroup manager, the v2
// driver and the container's cgroup mount all ask.
func CgroupV2Only() (bool, error) {
	v2Once.Do(func() {
		var st unix.Statfs_t
		if err := unix.Statfs(CgroupRoot, &st); err != nil {
			v2Err = &os.PathError{Op: "statfs", Path: CgroupRoot, Err: err}
			return
		}
		v2 = st.Type == unix.CGROUP2_SUPER_MAGIC
	})
	return v2, v2Err
}
