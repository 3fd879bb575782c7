package fs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/cgroups/internal/cgfile"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// testParent returns a fresh "/husk-test-<random>" cgroup path and removes
// it, with everything below it, from every hierarchy when the test ends.
// Register it before starting processes: cleanups run last-in first-out,
// so the processes are gone before their cgroups are removed.
func testParent(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type == unix.CGROUP2_SUPER_MAGIC {
		t.Skip("needs a cgroup v1 or hybrid host (/sys/fs/cgroup is cgroup2 or missing)")
	}
	tbl, err := cgroupMounts()
	if err != nil || len(tbl.v1) == 0 {
		t.Skipf("no cgroup v1 hierarchy mounted: %v", err)
	}
	parent := fmt.Sprintf("/husk-test-%016x", rand.Uint64())
	t.Cleanup(func() {
		hs := append([]*hierarchy{}, tbl.v1...)
		if tbl.unified != nil {
			hs = append(hs, tbl.unified)
		}
		for _, h := range hs {
			if err := cgfile.Remove(h.dir(parent)); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return parent
}

// startSleep starts a process the test owns and kills it at the end.
func startSleep(t testing.TB) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

func newManager(t testing.TB, path string) *Manager {
	t.Helper()
	m, err := NewManager(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readFile(t testing.TB, dir, file string) string {
	t.Helper()
	s, err := cgfile.ReadTrim(dir, file)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestApplyJoinsEveryHierarchy(t *testing.T) {
	parent := testParent(t)
	pid := startSleep(t)
	m := newManager(t, parent+"/c1")
	if m.Exists() {
		t.Fatal("Exists before Apply")
	}
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	if !m.Exists() {
		t.Fatal("not Exists after Apply")
	}
	tbl, _ := cgroupMounts()
	for _, h := range tbl.v1 {
		dir := h.dir(parent + "/c1")
		if got := readFile(t, dir, "cgroup.procs"); got != strconv.Itoa(pid) {
			t.Errorf("%s/cgroup.procs = %q, want %d", dir, got, pid)
		}
	}
	if tbl.unified != nil {
		if got := readFile(t, m.Path(""), "cgroup.procs"); got != strconv.Itoa(pid) {
			t.Errorf("unified cgroup.procs = %q, want %d", got, pid)
		}
	}
	// The kernel's own view: every line of /proc/pid/cgroup names the path.
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if !strings.HasSuffix(line, ":"+parent+"/c1") {
			t.Errorf("/proc/%d/cgroup line %q is not in %s/c1", pid, line, parent)
		}
	}
	if got, want := m.Path("memory"), "/sys/fs/cgroup/memory"+parent+"/c1"; got != want {
		t.Errorf("Path(memory) = %q, want %q", got, want)
	}
	if m.Path("systemd") == "" || m.Path("systemd") != m.Path("name=systemd") {
		t.Errorf("Path(systemd) = %q, Path(name=systemd) = %q", m.Path("systemd"), m.Path("name=systemd"))
	}
	if got := m.Path("no-such-controller"); got != "" {
		t.Errorf("Path(no-such-controller) = %q, want empty", got)
	}
	pids, err := m.GetPids()
	if err != nil || !slices.Equal(pids, []int{pid}) {
		t.Errorf("GetPids = %v, %v; want [%d]", pids, err, pid)
	}
}

func TestApplyInitialisesNewCpusetParents(t *testing.T) {
	parent := testParent(t)
	pid := startSleep(t)
	m := newManager(t, parent+"/a/b/c")
	// Moving a task into a cpuset with empty cpus fails (ENOSPC), so this
	// Apply only succeeds if every created level was filled in.
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	root := "/sys/fs/cgroup/cpuset"
	want := readFile(t, root, "cpuset.cpus")
	for _, p := range []string{parent, parent + "/a", parent + "/a/b", parent + "/a/b/c"} {
		if got := readFile(t, root+p, "cpuset.cpus"); got != want {
			t.Errorf("%s cpuset.cpus = %q, want %q", p, got, want)
		}
		if got := readFile(t, root+p, "cpuset.mems"); got == "" {
			t.Errorf("%s cpuset.mems is empty", p)
		}
	}
	// The parents husk made pass their cpus and mems on by themselves
	// (clone_children): a cgroup made there by anyone starts usable.
	for _, p := range []string{parent, parent + "/a", parent + "/a/b"} {
		if got := readFile(t, root+p, "cgroup.clone_children"); got != "1" {
			t.Errorf("%s cgroup.clone_children = %q, want 1", p, got)
		}
	}
	sibling := root + parent + "/a/b/d"
	if err := os.Mkdir(sibling, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, sibling, "cpuset.cpus"); got != want {
		t.Errorf("new sibling cgroup: cpuset.cpus = %q, want %q from the kernel", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

func TestSetWritesLimits(t *testing.T) {
	parent := testParent(t)
	pid := startSleep(t)
	m := newManager(t, parent+"/c1")
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{
			Limit:       ptr(int64(64 << 20)),
			Swap:        ptr(int64(128 << 20)),
			Reservation: ptr(int64(32 << 20)),
			Swappiness:  ptr(uint64(10)),
		},
		CPU: &specs.LinuxCPU{
			Shares: ptr(uint64(512)),
			Quota:  ptr(int64(20000)),
			Period: ptr(uint64(100000)),
			Cpus:   "0",
			Mems:   "0",
		},
		Pids: &specs.LinuxPids{Limit: ptr(int64(42))},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ subsys, file, want string }{
		{"memory", "memory.limit_in_bytes", strconv.Itoa(64 << 20)},
		{"memory", "memory.memsw.limit_in_bytes", strconv.Itoa(128 << 20)},
		{"memory", "memory.soft_limit_in_bytes", strconv.Itoa(32 << 20)},
		{"memory", "memory.swappiness", "10"},
		{"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "20000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpuset", "cpuset.cpus", "0"},
		{"cpuset", "cpuset.mems", "0"},
		{"pids", "pids.max", "42"},
	}
	for _, c := range checks {
		if got := readFile(t, m.Path(c.subsys), c.file); got != c.want {
			t.Errorf("%s = %q, want %q", c.file, got, c.want)
		}
	}

	// A nil pointer leaves a value alone.
	if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr(uint64(256))}}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, m.Path("cpu"), "cpu.cfs_quota_us"); got != "20000" {
		t.Errorf("cpu.cfs_quota_us changed to %q by a Set without quota", got)
	}
	if got := readFile(t, m.Path("memory"), "memory.limit_in_bytes"); got != strconv.Itoa(64<<20) {
		t.Errorf("memory.limit_in_bytes changed to %q by a Set without memory", got)
	}
}

// unifiedHugetlb skips a test unless hugetlb limits go to the cgroup2
// hierarchy of this hybrid host (no v1 hugetlb hierarchy) and that
// hierarchy offers the controller. It returns the hierarchy.
func unifiedHugetlb(t *testing.T) *hierarchy {
	t.Helper()
	tbl, _ := cgroupMounts()
	if m := newManager(t, "/x"); m.Path("hugetlb") != "" {
		t.Skip("hugetlb is a v1 hierarchy here: no cgroup2 controller to enable")
	}
	if tbl.unified == nil {
		t.Skip("no cgroup2 hierarchy mounted")
	}
	avail, err := cgfile.Read(tbl.unified.mountpoint, "cgroup.controllers")
	if err != nil || !cgfile.HasWord(avail, "hugetlb") {
		t.Skipf("the cgroup2 hierarchy does not offer hugetlb (%q, %v)", avail, err)
	}
	return tbl.unified
}

// TestSetHugetlb sets a hugepage limit where the hugetlb controller is:
// a v1 hierarchy, or the cgroup2 one of a hybrid host, whose root husk
// must not change (the system's), so the test needs it to enable hugetlb
// already.
func TestSetHugetlb(t *testing.T) {
	parent := testParent(t)
	m := newManager(t, parent+"/c1")
	hugeDir, hugeFile := m.Path("hugetlb"), "hugetlb.2MB.limit_in_bytes"
	if hugeDir == "" {
		u := unifiedHugetlb(t)
		if cur, err := cgfile.Read(u.mountpoint, "cgroup.subtree_control"); err != nil || !cgfile.HasWord(cur, "hugetlb") {
			t.Skipf("hugetlb limits on this hybrid host need hugetlb in %s/cgroup.subtree_control (%q, %v), which husk does not change", u.mountpoint, cur, err)
		}
		hugeDir, hugeFile = m.Path(""), "hugetlb.2MB.max"
	}
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, hugeDir, hugeFile); got != strconv.Itoa(4<<20) {
		t.Errorf("%s = %q, want %d", hugeFile, got, 4<<20)
	}
}

// TestHugetlbNeverEnabledInExistingCgroup creates the test parent in the
// cgroup2 hierarchy itself, so it exists before Apply and does not enable
// hugetlb: Set must then fail naming the files to change (the root's too
// when it lacks hugetlb), and write to neither.
func TestHugetlbNeverEnabledInExistingCgroup(t *testing.T) {
	parent := testParent(t)
	u := unifiedHugetlb(t)
	if err := os.Mkdir(u.dir(parent), 0o755); err != nil {
		t.Fatal(err)
	}
	before := map[string]string{}
	for _, d := range []string{u.mountpoint, u.dir(parent)} {
		before[d] = readFile(t, d, "cgroup.subtree_control")
	}
	var want []string
	if !cgfile.HasWord(before[u.mountpoint], "hugetlb") {
		want = append(want, u.mountpoint+"/cgroup.subtree_control")
	}
	want = append(want, u.dir(parent)+"/cgroup.subtree_control")

	m := newManager(t, parent+"/a/c1")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	err := m.Set(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}})
	msg := "hugetlb limits need the hugetlb controller: enable it in " + strings.Join(want, ", then in ")
	if err == nil || err.Error() != msg {
		t.Errorf("Set hugetlb: err = %v, want %q", err, msg)
	}
	for d, b := range before {
		if got := readFile(t, d, "cgroup.subtree_control"); got != b {
			t.Errorf("%s/cgroup.subtree_control changed from %q to %q", d, b, got)
		}
	}
	// The cgroup Apply created between the two was not touched either:
	// enabling there alone could not help.
	if got := readFile(t, u.dir(parent+"/a"), "cgroup.subtree_control"); got != "" {
		t.Errorf("%s/cgroup.subtree_control = %q, want empty", u.dir(parent+"/a"), got)
	}
}

// TestSetMemoryOrdersSwapWrites raises and then lowers memory and swap
// past each other's current values: the kernel refuses a memory limit
// above memsw, so only the right write order succeeds both ways.
func TestSetMemoryOrdersSwapWrites(t *testing.T) {
	parent := testParent(t)
	m := newManager(t, parent+"/c1")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	dir := m.Path("memory")
	if _, err := cgfile.Read(dir, "memory.memsw.limit_in_bytes"); err != nil {
		t.Skipf("no swap accounting: %v", err)
	}
	for _, step := range []struct{ limit, swap int64 }{
		{64 << 20, 128 << 20},
		{256 << 20, 512 << 20},
		{16 << 20, 32 << 20},
		{-1, -1},
		{8 << 20, 8 << 20},
	} {
		r := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(step.limit), Swap: ptr(step.swap)}}
		if err := m.Set(r); err != nil {
			t.Fatalf("limit %d swap %d: %v", step.limit, step.swap, err)
		}
		if step.limit < 0 {
			continue
		}
		if got := readFile(t, dir, "memory.limit_in_bytes"); got != strconv.FormatInt(step.limit, 10) {
			t.Errorf("memory.limit_in_bytes = %s, want %d", got, step.limit)
		}
		if got := readFile(t, dir, "memory.memsw.limit_in_bytes"); got != strconv.FormatInt(step.swap, 10) {
			t.Errorf("memory.memsw.limit_in_bytes = %s, want %d", got, step.swap)
		}
	}
	// An unlimited memory limit alone lifts the swap limit too (else the
	// kernel would refuse it against the old memsw).
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(-1))}}); err != nil {
		t.Fatal(err)
	}
}

func TestSetErrorNamesFileAndValue(t *testing.T) {
	parent := testParent(t)
	m := newManager(t, parent+"/c1")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "4095"}})
	if err == nil {
		t.Fatal("cpuset.cpus 4095 accepted")
	}
	want := fmt.Sprintf("write /sys/fs/cgroup/cpuset%s/c1/cpuset.cpus: \"4095\": ", parent)
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}
}

func TestSetDevices(t *testing.T) {
	parent := testParent(t)
	m := newManager(t, parent+"/c1")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	rules := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(3)), Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr(int64(136)), Access: "rw"},
	}
	if err := m.Set(&specs.LinuxResources{Devices: rules}); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, m.Path("devices"), "devices.list")
	if want := "c 1:3 rwm\nc 136:* rw"; got != want {
		t.Errorf("devices.list = %q, want %q", got, want)
	}
	err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "x"}}})
	if err == nil {
		t.Error("device type x accepted")
	}
}

func TestGetAllPidsIncludesSubCgroups(t *testing.T) {
	parent := testParent(t)
	pid1, pid2 := startSleep(t), startSleep(t)
	m := newManager(t, parent+"/c1")
	if err := m.Apply(pid1); err != nil {
		t.Fatal(err)
	}
	if err := newManager(t, parent+"/c1/sub").Apply(pid2); err != nil {
		t.Fatal(err)
	}
	pids, err := m.GetPids()
	if err != nil || !slices.Equal(pids, []int{pid1}) {
		t.Errorf("GetPids = %v, %v; want [%d]", pids, err, pid1)
	}
	all, err := m.GetAllPids()
	slices.Sort(all)
	want := []int{pid1, pid2}
	slices.Sort(want)
	if err != nil || !slices.Equal(all, want) {
		t.Errorf("GetAllPids = %v, %v; want %v", all, err, want)
	}
}

func TestFreezeAndThaw(t *testing.T) {
	parent := testParent(t)
	pid := startSleep(t)
	m := newManager(t, parent+"/c1")
	if st, err := m.FreezerState(); err != nil || st != cgroups.Undefined {
		t.Errorf("FreezerState before Apply = %q, %v; want Undefined", st, err)
	}
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	if st, err := m.FreezerState(); err != nil || st != cgroups.Thawed {
		t.Errorf("FreezerState = %q, %v; want THAWED", st, err)
	}
	if err := m.Freeze(cgroups.Frozen); err != nil {
		t.Fatal(err)
	}
	if st, err := m.FreezerState(); err != nil || st != cgroups.Frozen {
		t.Errorf("FreezerState = %q, %v; want FROZEN", st, err)
	}
	if err := m.Freeze(cgroups.Thawed); err != nil {
		t.Fatal(err)
	}
	if st, err := m.FreezerState(); err != nil || st != cgroups.Thawed {
		t.Errorf("FreezerState = %q, %v; want THAWED", st, err)
	}
	if err := m.Freeze("BOGUS"); err == nil {
		t.Error("Freeze(BOGUS) accepted")
	}
}

func TestDestroyRemovesEveryHierarchy(t *testing.T) {
	parent := testParent(t)
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	m := newManager(t, parent+"/c1")
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := newManager(t, parent+"/c1/sub/deeper").Apply(-1); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, d := range m.dirs {
		if _, err := os.Stat(d.dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after Destroy (%v)", d.dir, err)
		}
		if _, err := os.Stat(d.h.dir(parent)); err != nil {
			t.Errorf("Destroy removed the parent %s: %v", d.h.dir(parent), err)
		}
	}
	if m.Exists() {
		t.Error("Exists after Destroy")
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

func TestNewManagerRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"", "relative/x", "/", "/a/../b", "/a/"} {
		if _, err := NewManager(p); err == nil {
			t.Errorf("NewManager(%q) accepted", p)
		}
	}
}

func TestParseMountinfo(t *testing.T) {
	const data = `22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/name\040space rw,relatime - cgroup cgroup rw,xattr,name=systemd
35 31 0:32 /sub /mnt/memsub rw,relatime - cgroup cgroup rw,memory
36 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:33 / /mnt/empty rw,relatime - cgroup cgroup rw,release_agent=/x
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate`
	tbl := parseMountinfo(data)
	if len(tbl.v1) != 3 {
		t.Fatalf("got %d v1 hierarchies, want 3: %+v", len(tbl.v1), tbl.v1)
	}
	if h := tbl.v1[0]; !slices.Equal(h.subsystems, []string{"cpu", "cpuacct"}) || h.mountpoint != "/sys/fs/cgroup/cpu" {
		t.Errorf("first hierarchy = %+v", h)
	}
	if h := tbl.v1[1]; !slices.Equal(h.subsystems, []string{"name=systemd"}) || h.mountpoint != "/sys/fs/cgroup/name space" {
		t.Errorf("second hierarchy = %+v", h)
	}
	if h := tbl.v1[2]; h.mountpoint != "/sys/fs/cgroup/memory" || h.root != "/" {
		t.Errorf("memory hierarchy = %+v, want the mount of its root", h)
	}
	if tbl.unified == nil || tbl.unified.mountpoint != "/sys/fs/cgroup/unified" {
		t.Errorf("unified = %+v", tbl.unified)
	}
	sub := &hierarchy{mountpoint: "/mnt/memsub", root: "/sub"}
	if got := sub.dir("/sub/c1"); got != "/mnt/memsub/c1" {
		t.Errorf("dir under a sub-tree mount = %q", got)
	}
}

// BenchmarkApplyDestroy measures a container's cgroup set-up and teardown
// in every hierarchy of this host: create-only (Apply(-1)), and with a
// process joining and leaving (moved back to the test parent so the
// cgroup can be removed).
func BenchmarkApplyDestroy(b *testing.B) {
	parent := testParent(b)
	b.Run("create", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			m := newManager(b, parent+"/c"+strconv.Itoa(i))
			if err := m.Apply(-1); err != nil {
				b.Fatal(err)
			}
			if err := m.Destroy(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("join", func(b *testing.B) {
		pid := startSleep(b)
		home := newManager(b, parent)
		if err := home.Apply(pid); err != nil {
			b.Fatal(err)
		}
		for i := 0; b.Loop(); i++ {
			m := newManager(b, parent+"/j"+strconv.Itoa(i))
			if err := m.Apply(pid); err != nil {
				b.Fatal(err)
			}
			if err := home.Apply(pid); err != nil {
				b.Fatal(err)
			}
			if err := m.Destroy(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
