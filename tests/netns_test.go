package tests

import (
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
	// Not spawned directly otherwise (no namespace made ahead).
	b.withoutCgroupMount()
	id := b.newID()
	b.Spec.Process.Args = sh("readlink /proc/self/ns/net; cat /proc/net/dev")
	b.writeSpec(id)
	out, events := b.traced("run", "--bundle", b.Dir, id)
	ahead := false
	for _, e := range events {
		ahead = ahead || e.Process == "husk" && e.Name == "netns-wait"
	}
	if !ahead {
		t.Errorf("no netns-wait phase in the trace: the network namespace was not made ahead: %v", events)
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
