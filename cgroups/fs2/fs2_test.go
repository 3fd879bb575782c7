package fs2

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

func ptr[T any](v T) *T { return &v }

func TestSharesToWeight(t *testing.T) {
	for _, c := range []struct{ shares, weight uint64 }{
		{0, 0}, {1, 1}, {2, 1}, {1024, 39}, {512, 20}, {262143, 9999}, {262144, 10000}, {1 << 40, 10000},
	} {
		if got := SharesToWeight(c.shares); got != c.weight {
			t.Errorf("SharesToWeight(%d) = %d, want %d", c.shares, got, c.weight)
		}
	}
}

func TestBlkioWeightToIOWeight(t *testing.T) {
	for _, c := range []struct {
		w    uint16
		want uint64
	}{{0, 0}, {10, 1}, {500, 4950}, {1000, 10000}} {
		if got := BlkioWeightToIOWeight(c.w); got != c.want {
			t.Errorf("BlkioWeightToIOWeight(%d) = %d, want %d", c.w, got, c.want)
		}
	}
}

func TestCPUMax(t *testing.T) {
	for _, c := range []struct {
		quota  *int64
		period *uint64
		cur    string
		want   string
		ok     bool
	}{
		{nil, nil, "max 100000\n", "", false},
		{ptr(int64(0)), ptr(uint64(0)), "max 100000\n", "", false},
		{ptr(int64(50000)), ptr(uint64(100000)), "", "50000 100000", true},
		{ptr(int64(-1)), ptr(uint64(250000)), "", "max 250000", true},
		{ptr(int64(20000)), nil, "max 100000\n", "20000 100000", true},
		{nil, ptr(uint64(50000)), "30000 100000\n", "30000 50000", true},
		{ptr(int64(20000)), nil, "", "20000", true},
	} {
		got, ok := cpuMax(c.quota, c.period, c.cur)
		if got != c.want || ok != c.ok {
			t.Errorf("cpuMax(%v, %v, %q) = %q, %v; want %q, %v", c.quota, c.period, c.cur, got, ok, c.want, c.ok)
		}
	}
}

func TestIOMaxLines(t *testing.T) {
	dev := func(maj, min int64, rate uint64) specs.LinuxThrottleDevice {
		return specs.LinuxThrottleDevice{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: maj, Minor: min}, Rate: rate}
	}
	b := &specs.LinuxBlockIO{
		ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{dev(8, 0, 1048576)},
		ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{dev(8, 16, 0)},
		ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{dev(8, 0, 100)},
	}
	want := []string{"8:0 rbps=1048576 wiops=100", "8:16 wbps=max"}
	if got := ioMaxLines(b); !slices.Equal(got, want) {
		t.Errorf("ioMaxLines = %q, want %q", got, want)
	}
}

func TestSwapToV2(t *testing.T) {
	for _, c := range []struct {
		swap, limit, want int64
		err               bool
	}{
		{0, 0, 0, false},
		{0, -1, -1, false},
		{-1, 100, -1, false},
		{300, 100, 200, false},
		{100, 100, 0, false},
		{50, 100, 0, true},
		{300, 0, 0, true},
	} {
		got, err := swapToV2(c.swap, c.limit)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("swapToV2(%d, %d) = %d, %v; want %d, error %v", c.swap, c.limit, got, err, c.want, c.err)
		}
	}
}

func TestNewManagerRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"", "x", "/", "/a/./b"} {
		if _, err := NewManager(p); err == nil {
			t.Errorf("NewManager(%q) accepted", p)
		}
	}
}

// cgroup2Root returns a cgroup2 mountpoint to test on: /sys/fs/cgroup on
// a v2 host, the hybrid hierarchy at /sys/fs/cgroup/unified (which has
// freezing and process membership, but few controllers) otherwise.
func cgroup2Root(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	for _, p := range []string{UnifiedMountpoint, UnifiedMountpoint + "/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p
		}
	}
	t.Skip("no cgroup2 hierarchy mounted")
	return ""
}

// requireV2Host skips tests of controllers only a pure v2 host has.
func requireV2Host(t *testing.T) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(UnifiedMountpoint, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Skip("needs a cgroup v2 host: /sys/fs/cgroup is not cgroup2")
	}
}

// testParent returns "/husk-test-<random>" and removes it at the end.
func testParent(t *testing.T, root string) string {
	t.Helper()
	parent := fmt.Sprintf("/husk-test-%016x", rand.Uint64())
	t.Cleanup(func() {
		if err := cgfile.Remove(root + parent); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return parent
}

func startSleep(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

func mustManager(t *testing.T, root, p string) *Manager {
	t.Helper()
	m, err := newManager(root, p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestApplyPidsFreezeDestroy(t *testing.T) {
	root := cgroup2Root(t)
	parent := testParent(t, root)
	pid1, pid2 := startSleep(t), startSleep(t)
	m := mustManager(t, root, parent+"/c1")
	if m.Exists() {
		t.Fatal("Exists before Apply")
	}
	if st, err := m.FreezerState(); err != nil || st != cgroups.Undefined {
		t.Errorf("FreezerState before Apply = %q, %v; want Undefined", st, err)
	}
	if err := m.Apply(pid1); err != nil {
		t.Fatal(err)
	}
	if err := mustManager(t, root, parent+"/c1/sub").Apply(pid2); err != nil {
		t.Fatal(err)
	}
	if !m.Exists() || m.Path("") != root+parent+"/c1" {
		t.Fatalf("Exists = %v, Path = %q", m.Exists(), m.Path(""))
	}
	if pids, err := m.GetPids(); err != nil || !slices.Equal(pids, []int{pid1}) {
		t.Errorf("GetPids = %v, %v; want [%d]", pids, err, pid1)
	}
	all, err := m.GetAllPids()
	slices.Sort(all)
	want := []int{pid1, pid2}
	slices.Sort(want)
	if err != nil || !slices.Equal(all, want) {
		t.Errorf("GetAllPids = %v, %v; want %v", all, err, want)
	}

	if err := m.Freeze(cgroups.Frozen); err != nil {
		t.Fatal(err)
	}
	if st, err := m.FreezerState(); err != nil || st != cgroups.Frozen {
		t.Errorf("FreezerState = %q, %v; want FROZEN", st, err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid2))
	if err != nil {
		t.Fatal(err)
	}
	// A frozen task sleeps in the freezer; sub-cgroups freeze with it.
	if f := strings.Fields(string(stat)); len(f) < 3 || (f[2] != "S" && f[2] != "D") {
		t.Errorf("frozen task state %v", f)
	}
	if err := m.Freeze(cgroups.Thawed); err != nil {
		t.Fatal(err)
	}
	if st, err := m.FreezerState(); err != nil || st != cgroups.Thawed {
		t.Errorf("FreezerState = %q, %v; want THAWED", st, err)
	}

	if err := unix.Kill(pid1, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(pid2, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Reap them, so the cgroup is empty and Destroy can remove it.
	var ws unix.WaitStatus
	_, _ = unix.Wait4(pid1, &ws, 0, nil)
	_, _ = unix.Wait4(pid2, &ws, 0, nil)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if m.Exists() {
		t.Error("Exists after Destroy")
	}
	if _, err := os.Stat(root + parent); err != nil {
		t.Errorf("Destroy removed the parent: %v", err)
	}
}

// hugetlbRoot returns the cgroup2 root for the hugetlb tests, skipping
// unless it offers hugetlb.
func hugetlbRoot(t *testing.T) string {
	t.Helper()
	root := cgroup2Root(t)
	avail, err := cgfile.Read(root, "cgroup.controllers")
	if err != nil {
		t.Fatal(err)
	}
	if !cgfile.HasWord(avail, "hugetlb") {
		t.Skipf("the cgroup2 hierarchy at %s does not offer hugetlb", root)
	}
	return root
}

func TestSetHugetlbAndUnified(t *testing.T) {
	root := hugetlbRoot(t)
	parent := testParent(t, root)
	m := mustManager(t, root, parent+"/c1")
	if !m.systemRoot {
		// husk changes only the cgroups it created on the cgroup2
		// hierarchy of a hybrid host, never its root.
		if cur, err := cgfile.Read(root, "cgroup.subtree_control"); err != nil || !cgfile.HasWord(cur, "hugetlb") {
			t.Skipf("hugetlb limits on this hybrid host need hugetlb in %s/cgroup.subtree_control (%q, %v), which husk does not change", root, cur, err)
		}
	}
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	r := &specs.LinuxResources{
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 8 << 20}},
		Unified:        map[string]string{"hugetlb.1GB.max": "1073741824"},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{"hugetlb.2MB.max": strconv.Itoa(8 << 20), "hugetlb.1GB.max": "1073741824"} {
		if got, err := cgfile.ReadTrim(m.dir, file); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", file, got, err, want)
		}
	}
	for _, bad := range []string{"../cgroup.procs", "hugetlb/x", ".hidden", "noperiod"} {
		if err := m.Set(&specs.LinuxResources{Unified: map[string]string{bad: "1"}}); err == nil {
			t.Errorf("unified key %q accepted", bad)
		}
	}
	if err := m.Set(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB/../x", Limit: 1}}}); err == nil {
		t.Error("hugepage size 2MB/../x accepted")
	}
}

// TestSetDevices applies device rules, which become an eBPF program (see
// package devices for what it enforces).
func TestSetDevices(t *testing.T) {
	root := cgroup2Root(t)
	parent := testParent(t, root)
	m := mustManager(t, root, parent+"/c1")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}); err != nil {
		t.Fatal(err)
	}
	err := m.Set(&specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "x"}},
		Pids:    &specs.LinuxPids{Limit: ptr(int64(5))},
	})
	if err == nil || err.Error() != `set device rules: invalid device cgroup type "x"` {
		t.Errorf("bad device rule: err = %v", err)
	}
}

// TestNoWriteToExistingCgroupOnHybrid creates the test parent itself, so
// it exists before Apply and enables nothing: on the cgroup2 hierarchy of
// a hybrid host, Apply and Set must leave its subtree_control (and the
// root's) alone, and Set must name the files to change.
func TestNoWriteToExistingCgroupOnHybrid(t *testing.T) {
	root := hugetlbRoot(t)
	parent := testParent(t, root)
	if mustManager(t, root, parent).systemRoot {
		t.Skip("on a pure v2 host husk enables controllers in existing ancestors, as runc does")
	}
	if err := os.Mkdir(root+parent, 0o755); err != nil {
		t.Fatal(err)
	}
	before := map[string]string{}
	for _, d := range []string{root, root + parent} {
		s, err := cgfile.ReadTrim(d, "cgroup.subtree_control")
		if err != nil {
			t.Fatal(err)
		}
		before[d] = s
	}
	var want []string
	if !cgfile.HasWord(before[root], "hugetlb") {
		want = append(want, root+"/cgroup.subtree_control")
	}
	want = append(want, root+parent+"/cgroup.subtree_control", root+parent+"/a/cgroup.subtree_control")

	m := mustManager(t, root, parent+"/a/c1")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	err := m.Set(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 8 << 20}}})
	msg := "hugetlb limits need the hugetlb controller: enable it in " + strings.Join(want, ", then in ") + ": write "
	if err == nil || !strings.HasPrefix(err.Error(), msg) || !errors.Is(err, unix.ENOENT) {
		t.Errorf("Set hugetlb: err = %v, want it to start with %q", err, msg)
	}
	for d, b := range before {
		if got, err := cgfile.ReadTrim(d, "cgroup.subtree_control"); err != nil || got != b {
			t.Errorf("%s/cgroup.subtree_control changed from %q to %q (%v)", d, b, got, err)
		}
	}
}

func TestSetOnV2Host(t *testing.T) {
	requireV2Host(t)
	root := UnifiedMountpoint
	parent := testParent(t, root)
	pid := startSleep(t)
	m := mustManager(t, root, parent+"/c1")
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20)), Swap: ptr(int64(96 << 20)), Reservation: ptr(int64(16 << 20))},
		CPU:    &specs.LinuxCPU{Shares: ptr(uint64(1024)), Quota: ptr(int64(50000)), Period: ptr(uint64(100000)), Cpus: "0", Mems: "0"},
		Pids:   &specs.LinuxPids{Limit: ptr(int64(42))},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"memory.max":      strconv.Itoa(64 << 20),
		"memory.swap.max": strconv.Itoa(32 << 20),
		"memory.low":      strconv.Itoa(16 << 20),
		"cpu.weight":      "39",
		"cpu.max":         "50000 100000",
		"cpuset.cpus":     "0",
		"cpuset.mems":     "0",
		"pids.max":        "42",
	} {
		got, err := cgfile.ReadTrim(m.dir, file)
		if errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s missing: controller not enabled", file)
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", file, got, err, want)
		}
	}
}

// TestSubCgroupOfPopulatedCgroup creates a sub-cgroup of a cgroup that has
// processes, as exec --cgroup does in a running container. The parent must
// not get threaded controllers alone (the only ones a populated cgroup
// accepts): that would make it a thread root, and the sub-cgroup a
// "domain invalid" cgroup that refuses processes with EOPNOTSUPP.
func TestSubCgroupOfPopulatedCgroup(t *testing.T) {
	requireV2Host(t)
	root := UnifiedMountpoint
	parent := testParent(t, root)
	m := mustManager(t, root, parent+"/c1")
	if err := m.Apply(startSleep(t)); err != nil {
		t.Fatal(err)
	}
	sub := mustManager(t, root, parent+"/c1/sub")
	if err := sub.Apply(startSleep(t)); err != nil {
		t.Fatalf("join a sub-cgroup of a populated cgroup: %v", err)
	}
	if got, err := cgfile.ReadTrim(m.dir, "cgroup.subtree_control"); err != nil || got != "" {
		t.Errorf("%s/cgroup.subtree_control = %q, %v; want nothing enabled", m.dir, got, err)
	}
	if got, err := cgfile.ReadTrim(sub.dir, "cgroup.type"); err != nil || got != "domain" {
		t.Errorf("%s/cgroup.type = %q, %v; want domain", sub.dir, got, err)
	}
}
