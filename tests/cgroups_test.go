package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v1Mount returns the mount point of the cgroup v1 hierarchy holding
// controller (or named hierarchy, e.g. "name=systemd").
func v1Mount(t *testing.T, controller string) string {
	t.Helper()
	for _, m := range readMountinfo(t, "self") {
		if m.fstype == "cgroup" && hasOption(m.superOptions, controller) {
			return m.mountpoint
		}
	}
	t.Skipf("no cgroup v1 hierarchy with %s on this host", controller)
	return ""
}

// procCgroups parses /proc/<pid>/cgroup of a v1 process into controller
// list → path, skipping the unified (v2) line.
func procCgroups(t *testing.T, pid int) map[string]string {
	t.Helper()
	res := map[string]string{}
	for _, l := range lines(readProcFile(pid, "cgroup")) {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			t.Fatalf("bad /proc/%d/cgroup line %q", pid, l)
		}
		if parts[1] != "" {
			res[parts[1]] = parts[2]
		}
	}
	if len(res) == 0 {
		t.Skip("no cgroup v1 hierarchies on this host")
	}
	return res
}

// hostIsCgroup2 reports whether the host runs cgroup v2 only.
func hostIsCgroup2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// assertCgroupsGone fails if path still exists in any hierarchy.
func assertCgroupsGone(t *testing.T, path string) {
	t.Helper()
	for _, mnt := range cgroupMounts(t) {
		if _, err := os.Stat(filepath.Join(mnt, path)); err == nil {
			t.Errorf("cgroup %s still exists after delete", filepath.Join(mnt, path))
		}
	}
}

func TestCgroupPathInEveryHierarchy(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, pid := b.startDetached("sleep", "100")
	want := b.cgroupPath(id)
	for controllers, path := range procCgroups(t, pid) {
		if path != want {
			t.Errorf("container in %s cgroup %q, want %q", controllers, path, want)
			continue
		}
		mnt := v1Mount(t, strings.Split(controllers, ",")[0])
		procs := cgroupProcs(filepath.Join(mnt, path))
		if len(procs) != 1 || procs[0] != pid {
			t.Errorf("%s/cgroup.procs = %v, want [%d]", filepath.Join(mnt, path), procs, pid)
		}
	}
	b.mustHusk("delete", "-f", id)
	assertCgroupsGone(t, want)
}

func TestCgroupResourcesApplied(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	limit := int64(64 << 20)
	shares := uint64(512)
	quota := int64(50000)
	period := uint64(100000)
	pids := int64(50)
	b.Spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	b.Spec.Linux.Resources.CPU = &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period, Cpus: "0", Mems: "0"}
	b.Spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}

	// Inside: the container's own cgroup is what it sees mounted.
	files := "/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max"
	if hostIsCgroup2() {
		files = "/sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"
	}
	out := lines(b.mustRun(sh("cat " + files)...))
	if want := []string{"67108864", "50"}; strings.Join(out, " ") != strings.Join(want, " ") {
		t.Errorf("limits seen in the container: %q, want %q", out, want)
	}

	id, _ := b.startDetached("sleep", "100")
	cg := b.cgroupPath(id)
	for _, f := range []struct{ controller, file, want string }{
		{"memory", "memory.limit_in_bytes", "67108864"},
		{"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpuset", "cpuset.cpus", "0"},
		{"cpuset", "cpuset.mems", "0"},
		{"pids", "pids.max", "50"},
	} {
		path := filepath.Join(v1Mount(t, f.controller), cg, f.file)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("read %s: %v", path, err)
			continue
		}
		if got := strings.TrimSpace(string(data)); got != f.want {
			t.Errorf("%s = %q, want %q", path, got, f.want)
		}
	}
	b.mustHusk("delete", "-f", id)
	assertCgroupsGone(t, cg)
}

func TestCgroupRelativePathUnderHusk(t *testing.T) {
	t.Parallel()
	if !isHusk() {
		t.Skip("a relative cgroupsPath lands under /husk only with husk; runc must not be run with one on this host")
	}
	b := newBundle(t)
	parent := "husk-test-" + randomHex(6)
	b.mu.Lock()
	b.extraCgroups = append(b.extraCgroups, "/husk/"+parent)
	b.mu.Unlock()
	id := b.newID()
	b.Spec.Linux.CgroupsPath = parent + "/" + id
	b.Spec.Process.Args = []string{"sleep", "100"}
	b.writeSpec(id)
	pidFile := filepath.Join(b.Dir, "pid")
	b.mustHusk("create", "--bundle", b.Dir, "--pid-file", pidFile, id)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	want := "/husk/" + parent + "/" + id
	for controllers, path := range procCgroups(t, pid) {
		if path != want {
			t.Errorf("container in %s cgroup %q, want %q", controllers, path, want)
		}
	}
	b.mustHusk("delete", "-f", id)
	assertCgroupsGone(t, want)
}

// TestMemoryLimit512KiBRunsTrue runs /bin/true under a 512 KiB memory limit
// (crun can; runc cannot, its Go init is charged to the container). husk's
// init joins the v1 memory cgroup late, with the thread that execs, so what
// husk allocated before is not charged to the container. The limit is
// still enforced on the program: a shell holding 4 MiB is killed.
func TestMemoryLimit512KiBRunsTrue(t *testing.T) {
	if !isHusk() {
		t.Skip("husk-only: runc's init is charged to the container's memory cgroup")
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err != nil {
		t.Skip("the late memory-cgroup join needs a cgroup v1 memory hierarchy; this host has none")
	}
	t.Parallel()
	b := newBundle(t)
	limit := int64(512 << 10)
	b.Spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	for i := 0; i < 3; i++ {
		if _, stderr, code := b.run("true"); code != 0 {
			t.Fatalf("true under a 512 KiB limit: exit %d, stderr %q", code, stderr)
		}
	}
	if _, _, code := b.run(sh(`x=$(head -c 4194304 /dev/zero | tr '\0' a); echo ${#x}`)...); code == 0 {
		t.Fatal("a shell holding 4 MiB ran under a 512 KiB limit: the limit is not enforced")
	}
}

// On a cgroup v1 host the container's process is cloned once its cgroup2
// and memory directories exist, and the other hierarchies' directories are
// made while it starts ("cgroup-create-rest" after the clone, or
// "cgroup-ahead" when the stage set it up ahead); it joins them before it
// needs them. The createRuntime hooks, which run once its
// /dev is made and may look at its cgroups, find it in the container's
// cgroup in every hierarchy but memory (joined last), on both init paths.
func TestCgroupsMadeWhileProcessStarts(t *testing.T) {
	if hostIsCgroup2() {
		t.Skip("cgroup v2 host: the process is cloned into its whole cgroup")
	}
	t.Parallel()
	eachInitPath(t, func(t *testing.T, b *bundle, path string) {
		hook, seen := pidHook(t, b, "cgroup", "cat /proc/$pid/cgroup")
		b.Spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{hook}}
		id := b.newID()
		b.Spec.Process.Args = []string{"true"}
		b.writeSpec(id)
		args := []string{"run", "--bundle", b.Dir, id}
		if !isHusk() {
			b.mustHusk(args...)
		} else {
			_, events := b.traced(args...)
			at := map[string]float64{}
			for _, e := range events {
				at[e.Name] = e.StartUs
			}
			// The process is cloned by husk (fork-exec+nsenter) or by
			// the stage made ahead (fork-ahead).
			rest, ok := at["cgroup-create-rest"]
			fork, forked := at["fork-ahead"]
			if f, ok := at["fork-exec+nsenter"]; ok {
				fork, forked = f, true
			}
			// Set up ahead, the stage makes every directory while
			// the process sets up its root filesystem (cgroup-ahead).
			_, ahead := at["take-ahead"]
			if _, made := at["cgroup-ahead"]; ahead && !made {
				t.Errorf("phases %v: set up ahead without cgroup-ahead", events)
			}
			if path == "C" && !ahead && (!ok || !forked || rest < fork) {
				t.Errorf("phases %v: want cgroup-create-rest after the process's clone", events)
			}
		}
		data, err := os.ReadFile(seen)
		if err != nil {
			t.Fatalf("createRuntime hook did not run: %v", err)
		}
		want := b.cgroupPath(id)
		n := 0
		for _, l := range lines(string(data)) {
			parts := strings.SplitN(l, ":", 3)
			// The memory cgroup comes last, right before execve
			// (cgroups.JoinSpec.LateTasksFile).
			if len(parts) != 3 || parts[1] == "" || parts[1] == "memory" {
				continue
			}
			n++
			if parts[2] != want {
				t.Errorf("createRuntime hook: the process is in %s cgroup %q, want %q", parts[1], parts[2], want)
			}
		}
		if n == 0 {
			t.Errorf("createRuntime hook saw no v1 cgroup: %q", data)
		}
	})
}
