package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A new network namespace is made ahead, on another thread, while husk
// prepares the rest of the container (nsenter.NetNS); the container's
// process joins it. It is a namespace of its own, with only a loopback
// device. (TestCVE_2024_21626_NoHostFdOrCwd checks that the fd it was
// passed as is not left open.)
func TestNetNSMadeAhead(t *testing.T) {
	if !isHusk() {
		t.Skip("husk's trace phases")
	}
	t.Parallel()
	b := newBundle(t)
	// Without the cgroup mount, which on cgroup v2 takes the Go path (not
	// spawned directly: no namespace made ahead).
	mounts := b.Spec.Mounts[:0]
	for _, m := range b.Spec.Mounts {
		if m.Type != "cgroup" {
			mounts = append(mounts, m)
		}
	}
	b.Spec.Mounts = mounts
	trace := filepath.Join(t.TempDir(), "trace.json")
	id := b.newID()
	b.Spec.Process.Args = sh("readlink /proc/self/ns/net; cat /proc/net/dev")
	b.writeSpec(id)
	out := b.mustHusk("--trace", trace, "run", "--bundle", b.Dir, id)
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		Events []struct{ Name, Process string }
	}
	if err := json.Unmarshal(data, &tr); err != nil {
		t.Fatalf("trace %s: %v", data, err)
	}
	ahead := false
	for _, e := range tr.Events {
		ahead = ahead || e.Process == "husk" && e.Name == "netns-wait"
	}
	if !ahead {
		t.Errorf("no netns-wait phase in the trace: the network namespace was not made ahead\n%s", data)
	}
	l := lines(out)
	if len(l) < 2 || l[0] == hostNsLink(t, "net") {
		t.Fatalf("the container's network namespace is the host's, or missing: %q", out)
	}
	var devs []string
	for _, line := range l[1:] {
		if name, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !strings.Contains(name, "|") {
			devs = append(devs, name)
		}
	}
	if strings.Join(devs, " ") != "lo" {
		t.Errorf("network devices in the container: %q, want only lo", devs)
	}
}
