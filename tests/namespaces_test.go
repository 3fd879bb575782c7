package tests

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestNamespacesDifferFromHost(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	b.Spec.Linux.Namespaces = append(b.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	nss := []string{"pid", "net", "mnt", "ipc", "uts", "cgroup"}
	script := ""
	for _, ns := range nss {
		script += "readlink /proc/1/ns/" + ns + "; "
	}
	out := lines(b.mustRun(sh(script)...))
	if len(out) != len(nss) {
		t.Fatalf("got %d namespace links, want %d: %q", len(out), len(nss), out)
	}
	for i, ns := range nss {
		host := hostNsLink(t, ns)
		if !strings.HasPrefix(out[i], ns+":[") {
			t.Errorf("container %s link %q is not a namespace link", ns, out[i])
		}
		if out[i] == host {
			t.Errorf("container %s namespace %s is the host's", ns, out[i])
		}
	}
}

func TestNamespaceJoinByPath(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	// A process of our own in a new network namespace, the one to join.
	holder := exec.Command("unshare", "--net", "sleep", "100")
	if err := holder.Start(); err != nil {
		t.Fatalf("start unshare: %v", err)
	}
	t.Cleanup(func() {
		_ = holder.Process.Kill()
		_ = holder.Wait()
	})
	nsPath := fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)
	want := waitNsChange(t, nsPath, hostNsLink(t, "net"))

	for i, ns := range b.Spec.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			b.Spec.Linux.Namespaces[i].Path = nsPath
		}
	}
	out := strings.TrimSpace(b.mustRun("readlink", "/proc/self/ns/net"))
	if out != want {
		t.Errorf("container net namespace %q, want the joined %q", out, want)
	}
	// Joining must not have changed the holder's namespace.
	if got, _ := os.Readlink(nsPath); got != want {
		t.Errorf("holder net namespace changed to %q", got)
	}
}

// waitNsChange waits until the namespace link at path differs from old
// (unshare has done its work) and returns it.
func waitNsChange(t *testing.T, path, old string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := os.Readlink(path)
		if err == nil && l != old {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still %q (%v)", path, l, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// userNsSpec maps container root to host uid/gid 100000 (65536 IDs).
func userNsSpec(s *specs.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	// A cgroup v1 hierarchy cannot be mounted from inside a user namespace.
	var mounts []specs.Mount
	for _, m := range s.Mounts {
		if m.Destination != "/sys/fs/cgroup" {
			mounts = append(mounts, m)
		}
	}
	s.Mounts = mounts
}

func TestUserNamespaceMappings(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	userNsSpec(b.Spec)
	out := lines(b.mustRun(sh("cat /proc/self/uid_map /proc/self/gid_map; id; readlink /proc/self/ns/user")...))
	if len(out) != 4 {
		t.Fatalf("unexpected output %q", out)
	}
	for i, m := range out[:2] {
		if f := strings.Fields(m); strings.Join(f, " ") != "0 100000 65536" {
			t.Errorf("map %d is %q, want 0 100000 65536", i, m)
		}
	}
	if !strings.HasPrefix(out[2], "uid=0(root) gid=0(root)") {
		t.Errorf("id in container: %q", out[2])
	}
	if out[3] == hostNsLink(t, "user") {
		t.Errorf("container shares the host user namespace %s", out[3])
	}

	// From the host, the container's root is uid 100000.
	_, pid := b.startDetached("sleep", "100")
	status := readProcFile(pid, "status")
	if uid := strings.Fields(statusField(status, "Uid")); len(uid) == 0 || uid[0] != "100000" {
		t.Errorf("host view of container uid: %q", statusField(status, "Uid"))
	}
	if gid := strings.Fields(statusField(status, "Gid")); len(gid) == 0 || gid[0] != "100000" {
		t.Errorf("host view of container gid: %q", statusField(status, "Gid"))
	}
}

func TestCgroupNamespaceHidesHostPath(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	b.Spec.Linux.Namespaces = append(b.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	out := lines(b.mustRun("cat", "/proc/self/cgroup"))
	if len(out) == 0 {
		t.Fatal("empty /proc/self/cgroup")
	}
	for _, l := range out {
		if !strings.HasSuffix(l, ":/") {
			t.Errorf("cgroup line %q in a cgroup namespace, want path /", l)
		}
	}

	// The host sees the real path.
	id, pid := b.startDetached("sleep", "100")
	for _, l := range lines(readProcFile(pid, "cgroup")) {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) == 3 && parts[1] != "" && parts[2] != b.cgroupPath(id) {
			t.Errorf("host view of container cgroup %q, want %s", l, b.cgroupPath(id))
		}
	}
}

func TestTimeNamespaceOffsets(t *testing.T) {
	t.Parallel()
	if !isHusk() {
		t.Skip("runc 1.1 has no time namespace support")
	}
	b := newBundle(t)
	b.Spec.Linux.Namespaces = append(b.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
	b.Spec.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
		"boottime":  {Secs: 10000},
		"monotonic": {Secs: 5000},
	}
	before := hostUptime(t)
	out := strings.TrimSpace(b.mustRun("cat", "/proc/uptime"))
	after := hostUptime(t)
	f := strings.Fields(out)
	if len(f) == 0 {
		t.Fatalf("container /proc/uptime: %q", out)
	}
	got, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatalf("container /proc/uptime: %q", out)
	}
	// /proc/uptime has two decimals: 12177.73+10000 is a hair above
	// 22177.73 in floating point.
	if got < before+10000-0.01 || got > after+10000+1 {
		t.Errorf("container uptime %.2f, want host uptime (%.2f..%.2f) + 10000", got, before, after)
	}
	if h := hostUptime(t); h > 10000+after {
		t.Errorf("host uptime %.2f shifted too", h)
	}

	// The host sees the offsets on the container's process.
	_, pid := b.startDetached("sleep", "100")
	offsets := readProcFile(pid, "timens_offsets")
	for _, want := range []string{"boottime 10000 0", "monotonic 5000 0"} {
		found := false
		for _, l := range lines(offsets) {
			if strings.Join(strings.Fields(l), " ") == want {
				found = true
			}
		}
		if !found {
			t.Errorf("timens_offsets %q lacks %q", offsets, want)
		}
	}
	if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/time", pid)); l == hostNsLink(t, "time") {
		t.Errorf("container shares the host time namespace %s", l)
	}
}

func hostUptime(t *testing.T) float64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		t.Fatal(err)
	}
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}
