package rootfs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer/configs"
)

func TestParseCgroupMounts(t *testing.T) {
	const text = `22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:10 master:3 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /a\040b /sys/fs/cgroup/mem\134ory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 1 0:40 / /mnt/x\040-\040cgroup rw - ext4 /dev/sda1 rw
51 1 0:40 / /mnt/odd rw - cgroupfoo none rw`
	got := parseCgroupMounts([]byte(text))
	want := []cgroupMount{
		{dev: "0:29", root: "/", mountpoint: "/sys/fs/cgroup/cpu,cpuacct", superOpts: "rw,cpu,cpuacct"},
		{dev: "0:32", root: "/a b", mountpoint: `/sys/fs/cgroup/mem\ory`, superOpts: "rw,memory"},
		{dev: "0:38", root: "/", mountpoint: "/sys/fs/cgroup/unified", cgroup2: true, superOpts: "rw,nsdelegate"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseCgroupMounts:\n got %+v\nwant %+v", got, want)
	}
}

func TestConfigHierarchies(t *testing.T) {
	mounts := []cgroupMount{
		{dev: "0:29", root: "/", mountpoint: "/sys/fs/cgroup/cpu,cpuacct"},
		// A second mount of the same hierarchy is not another hierarchy.
		{dev: "0:29", root: "/", mountpoint: "/run/cpu"},
		// A mount of a sub-cgroup is replaced by a later mount of the root.
		{dev: "0:32", root: "/other", mountpoint: "/run/memory"},
		{dev: "0:32", root: "/", mountpoint: "/sys/fs/cgroup/memory"},
		// Only a sub-cgroup is mounted (a nested container): the path is
		// relative to it when below it, as the cgroup manager takes it.
		{dev: "0:33", root: "/husk", mountpoint: "/sys/fs/cgroup/pids"},
		{dev: "0:34", root: "/docker/x", mountpoint: "/sys/fs/cgroup/devices"},
		{dev: "0:38", root: "/", mountpoint: "/sys/fs/cgroup/unified", cgroup2: true},
		{dev: "0:39", root: "/", mountpoint: "/elsewhere", cgroup2: true},
	}
	got := configHierarchies(mounts, "/husk/c1")
	want := []hierarchy{
		{name: "cpu,cpuacct", hostDir: "/sys/fs/cgroup/cpu,cpuacct/husk/c1"},
		{name: "memory", hostDir: "/sys/fs/cgroup/memory/husk/c1"},
		{name: "pids", hostDir: "/sys/fs/cgroup/pids/c1"},
		{name: "devices", hostDir: "/sys/fs/cgroup/devices/husk/c1"},
		{name: "unified", hostDir: "/sys/fs/cgroup/unified/husk/c1"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("configHierarchies:\n got %+v\nwant %+v", got, want)
	}
	if got := configHierarchies(mounts[4:5], "/husk"); got[0].hostDir != "/sys/fs/cgroup/pids" {
		t.Errorf("path equal to the mount root: %s", got[0].hostDir)
	}
}

func TestHierarchyOf(t *testing.T) {
	paths := map[string]string{"cpu,cpuacct": "/a", "memory": "/b", "name=systemd": "/c", "cpuset": "/d"}
	for opts, want := range map[string]string{
		"rw,cpu,cpuacct":        "cpu,cpuacct",
		"rw,memory":             "memory",
		"rw,xattr,name=systemd": "name=systemd",
		"rw,cpuset,noprefix":    "cpuset",
		"rw,pids":               "",
	} {
		if got := hierarchyOf(opts, paths); got != want {
			t.Errorf("hierarchyOf(%q) = %q, want %q", opts, got, want)
		}
	}
}

// needCgroupV1 skips unless the host has cgroup v1 hierarchies.
func needCgroupV1(t *testing.T) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type == unix.CGROUP2_SUPER_MAGIC {
		t.Skip("needs a cgroup v1 or hybrid host")
	}
	if os.Getuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
}

// cgroupMountpoints lists the mount points of the host's cgroup
// hierarchies under /sys/fs/cgroup (cgroup2 included).
func cgroupMountpoints(t *testing.T) []string {
	t.Helper()
	var mps []string
	for mp, m := range readMounts(t) {
		if (m.fstype == "cgroup" || m.fstype == "cgroup2") && m.root == "/" && filepath.Dir(mp) == "/sys/fs/cgroup" {
			mps = append(mps, mp)
		}
	}
	if len(mps) == 0 {
		t.Skip("no cgroup hierarchy mounted under /sys/fs/cgroup")
	}
	slices.Sort(mps)
	return mps
}

// makeTestCgroups creates /husk-test-<random>/<sub> for every sub in every
// hierarchy and returns /husk-test-<random>. Only what it created is
// removed, when t ends, however it ends.
func makeTestCgroups(t *testing.T, subs ...string) string {
	t.Helper()
	parent := fmt.Sprintf("/husk-test-%x", rand.Uint64())
	var created []string
	t.Cleanup(func() {
		for _, d := range slices.Backward(created) {
			// The child has been reaped, but a cgroup can stay busy
			// for a moment while the kernel finishes with its tasks.
			var err error
			for range 100 {
				if err = unix.Rmdir(d); !errors.Is(err, unix.EBUSY) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err != nil {
				t.Errorf("remove test cgroup %s: %v", d, err)
			}
		}
	})
	for _, mp := range cgroupMountpoints(t) {
		for _, d := range append([]string{parent}, subs...) {
			dir := filepath.Join(mp, parent)
			if d != parent {
				dir = filepath.Join(dir, d)
			}
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			created = append(created, dir)
			// A new cpuset cgroup has no cpus or memory nodes, and
			// no task can join it until it gets its parent's.
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				b, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
				if errors.Is(err, os.ErrNotExist) {
					break
				}
				if err == nil {
					err = os.WriteFile(filepath.Join(dir, f), b, 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return parent
}

// TestCgroupDirsFromConfig: on v1 the container's cgroup directories come
// from cfg.Cgroup.Path, not /proc/self/cgroup, which does not show the
// memory cgroup yet while Prepare runs (init joins it right before exec).
// The child is put in <parent>/a and the config names <parent>/b.
func TestCgroupDirsFromConfig(t *testing.T) {
	if inChild(t) {
		childSetup(t)
		parent := os.Getenv(extraEnv)
		mps := cgroupMountpoints(t)
		type ident struct{ dev, ino uint64 }
		want := map[string]ident{}
		for _, mp := range mps {
			if err := os.WriteFile(filepath.Join(mp, parent, "a", "cgroup.procs"), []byte("0"), 0o644); err != nil {
				t.Fatal(err)
			}
			var st unix.Stat_t
			if err := unix.Stat(filepath.Join(mp, parent, "b"), &st); err != nil {
				t.Fatal(err)
			}
			want[filepath.Base(mp)] = ident{st.Dev, st.Ino}
		}
		self, err := os.ReadFile("/proc/self/cgroup")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(self), ":memory:"+parent+"/a\n") {
			t.Fatalf("the child is not in %s/a:\n%s", parent, self)
		}

		cfg := defaultConfig(os.Getenv(rootfsEnv))
		cfg.Cgroup = &configs.Cgroup{Path: parent + "/b"}
		if err := Prepare(cfg, nil); err != nil {
			t.Fatal(err)
		}
		for name, w := range want {
			var st unix.Stat_t
			if err := unix.Stat("/sys/fs/cgroup/"+name, &st); err != nil {
				t.Errorf("stat /sys/fs/cgroup/%s: %v", name, err)
				continue
			}
			if (ident{st.Dev, st.Ino}) != w {
				t.Errorf("/sys/fs/cgroup/%s is not the host's %s/b", name, parent)
			}
		}
		// <parent>/a holds this process (pid 1 here); <parent>/b nothing.
		if b, err := os.ReadFile("/sys/fs/cgroup/memory/cgroup.procs"); err != nil || len(b) != 0 {
			t.Errorf("container's memory cgroup.procs = %q (%v), want the empty %s/b", b, err, parent)
		}
		return
	}
	needCgroupV1(t)
	rootfs := makeRootfs(t)
	runChild(t, rootfs, makeTestCgroups(t, "a", "b"), 0)
}

// TestCgroupNamespaceMounts: with a cgroup namespace, the v1 layout is
// still the bind mounts of the container's own directories. Prepare runs
// in the host's cgroup namespace (init unshares it right before exec), so
// a cgroup mount there would show the host's whole hierarchy.
func TestCgroupNamespaceMounts(t *testing.T) {
	if inChild(t) {
		childSetup(t)
		path := os.Getenv(extraEnv) + "/b"
		cfg := defaultConfig(os.Getenv(rootfsEnv))
		cfg.Namespaces = []configs.Namespace{{Type: configs.NEWCGROUP}}
		cfg.Cgroup = &configs.Cgroup{Path: path}
		hierarchies := len(cgroupMountpoints(t))
		if err := Prepare(cfg, nil); err != nil {
			t.Fatal(err)
		}
		mounts := readMounts(t)
		if m := mounts["/sys/fs/cgroup"]; m.fstype != "tmpfs" || !hasOpt(m.opts, "ro") {
			t.Errorf("/sys/fs/cgroup: %+v, want a read-only tmpfs", m)
		}
		n := 0
		for mp, m := range mounts {
			if !strings.HasPrefix(mp, "/sys/fs/cgroup/") {
				continue
			}
			n++
			if m.root != path {
				t.Errorf("%s shows cgroup %s, want the container's %s", mp, m.root, path)
			}
			for _, o := range []string{"ro", "nosuid", "nodev", "noexec"} {
				if !hasOpt(m.opts, o) {
					t.Errorf("%s: options %s lack %s", mp, m.opts, o)
				}
			}
		}
		if n != hierarchies {
			t.Errorf("%d cgroup hierarchies mounted, want %d: %v", n, hierarchies, mounts)
		}
		return
	}
	needCgroupV1(t)
	rootfs := makeRootfs(t)
	runChild(t, rootfs, makeTestCgroups(t, "b"), 0)
}

// BenchmarkReadCgroupInfo times the read of the host's cgroup layout that
// every container start with a cgroup mount pays.
func BenchmarkReadCgroupInfo(b *testing.B) {
	for _, c := range []struct {
		name string
		cg   *configs.Cgroup
	}{{"config", &configs.Cgroup{Path: "/husk/bench"}}, {"proc", nil}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := readCgroupInfo(c.cg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
