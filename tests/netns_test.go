package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A new network namespace is made ahead, while husk prepares the rest of
// the container (nsenter.NetNS), and the container's process joins it. It
// is a namespace of its own, with only a loopback device.
// (TestCVE_2024_21626_NoHostFdOrCwd checks that the fd it was passed as is
// not left open.) The husk binary makes it before its Go runtime starts,
// when config.json says the container wants one (cmd/husk/ahead.c:
// netns-ahead); a config that guess cannot read gets one made by a thread
// once create has read it (netns-make), as library users do.
func TestNetNSMadeAhead(t *testing.T) {
	if !isHusk() {
		t.Skip("husk's trace phases")
	}
	t.Parallel()
	for _, tc := range []struct {
		name, phase string
		config      func([]byte) []byte
	}{
		{"before the runtime", "netns-ahead", nil},
		// The escape hides the namespace from the guess made in C, not
		// from encoding/json.
		{"by create", "netns-make", func(data []byte) []byte {
			return bytes.Replace(data, []byte(`"network"`), []byte(`"netw\u006frk"`), 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t)
			id := b.newID()
			b.Spec.Process.Args = sh("readlink /proc/self/ns/net; cat /proc/net/dev")
			b.writeSpec(id)
			if tc.config != nil {
				path := filepath.Join(b.Dir, "config.json")
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if edited := tc.config(data); !bytes.Equal(edited, data) {
					data = edited
				} else {
					t.Fatalf("no network namespace to hide in %s", data)
				}
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			phase := tc.phase
			if runtime.NumCPU() < 2 {
				// On one CPU nothing is made ahead of the
				// runtime (it would only be made sooner).
				phase = "netns-make"
			}
			out, events := b.traced("run", "--bundle", b.Dir, id)
			var phases []string
			for _, e := range events {
				if e.Process == "husk" && strings.HasPrefix(e.Name, "netns-") {
					phases = append(phases, e.Name)
				}
			}
			if !contains(phases, "netns-wait") || !contains(phases, phase) {
				t.Errorf("network namespace phases %q, want netns-wait and %s", phases, phase)
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
		})
	}
}

// husk clones the container's process without waiting for the network
// namespace made ahead: the process starts in husk's and joins it when
// the "join" message brings it, before it needs it. So sysfs, whose view
// of /sys/class/net is the mounter's network namespace, shows only the
// container's loopback device, and the createRuntime hooks see the
// process in the namespace it keeps.
func TestNetNSJoinedBeforeSysfsAndHooks(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	hook, seen := pidHook(t, b, "netns", "readlink /proc/$pid/ns/net")
	b.Spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{hook}}
	host := hostNsLink(t, "net")
	for i := 0; i < 2; i++ {
		out := lines(b.mustRun(sh("readlink /proc/self/ns/net; ls /sys/class/net")...))
		if len(out) != 2 || out[1] != "lo" {
			t.Errorf("run %d: want the container's namespace and only lo in /sys/class/net: %q", i, out)
			continue
		}
		if out[0] == host {
			t.Errorf("run %d: the container's network namespace is the host's: %s", i, out[0])
		}
		data, err := os.ReadFile(seen)
		if err != nil {
			t.Fatalf("createRuntime hook did not run: %v", err)
		}
		if got := strings.TrimSpace(string(data)); got != out[0] {
			t.Errorf("run %d: the createRuntime hook saw network namespace %s, the program %s", i, got, out[0])
		}
	}
}
