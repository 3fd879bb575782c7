package tests

import (
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A new container's namespaces are made ahead, by a husk-init stage the
// husk binary starts before its Go runtime (nsenter.AheadStage), which
// then clones the container's process into them (ns-ahead, fork-ahead;
// it reads husk's mountinfo for create first, mountinfo-ahead):
// the process has namespaces of its own (a network namespace with only a
// loopback device, PID 1, the config's hostname). A config the guess made
// in C cannot read gets its network namespace made by a thread once
// create has read it (netns-make) and its process cloned by husk
// (fork-exec+nsenter), as library users do; so does one the guess reads
// but whose process libcontainer sets up in Go (a createContainer hook),
// which discards the stage. Either way husk's only children, once the
// container runs, are its process and the poststart hook: no stage is
// left unreaped. (TestCVE_2024_21626_NoHostFdOrCwd checks that no fd the
// process was passed is left open.)
func TestNamespacesMadeAhead(t *testing.T) {
	if !isHusk() {
		t.Skip("husk's trace phases")
	}
	t.Parallel()
	for _, tc := range []struct {
		name   string
		phases []string
		config func([]byte) []byte
		spec   func(*specs.Spec)
	}{
		{"before the runtime", []string{"mountinfo-ahead", "ns-ahead", "plan-ahead", "take-ahead"}, nil, nil},
		{"set-up not ahead", []string{"mountinfo-ahead", "ns-ahead", "fork-ahead"}, nil, func(s *specs.Spec) {
			// A scheduler: the stage does not plan for one.
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther}
		}},
		{"by create", []string{"netns-make", "fork-exec+nsenter"}, hideNetworkNamespace, nil},
		{"stage discarded", nil, nil, func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true"}}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t)
			id := b.newID()
			b.Spec.Process.Args = sh("readlink /proc/self/ns/net; echo $$; hostname; cat /proc/net/dev")
			hook, children := pidHook(t, b, "children", "{ echo $pid $$; cat /proc/$PPID/task/*/children; }")
			b.Spec.Hooks = &specs.Hooks{Poststart: []specs.Hook{hook}}
			if tc.spec != nil {
				tc.spec(b.Spec)
				b.Spec.Hooks.Poststart = []specs.Hook{hook}
			}
			b.writeSpec(id)
			if tc.config != nil {
				b.editConfig(tc.config)
			}
			want := tc.phases
			if want != nil && contains(want, "take-ahead") && !setsUpAhead(t) {
				// A cgroup v2 host: the stage makes the namespaces,
				// create sets the process up.
				want = []string{"mountinfo-ahead", "ns-ahead", "fork-ahead"}
			}
			if runtime.NumCPU() < 2 && want != nil {
				// On one CPU nothing is made ahead of the
				// runtime (it would only be made sooner).
				want = []string{"netns-make", "fork-exec+nsenter"}
			}
			out, events := b.traced("run", "--bundle", b.Dir, id)
			var phases []string
			for _, e := range events {
				if e.Process == "husk" && (strings.HasPrefix(e.Name, "netns-") || strings.HasPrefix(e.Name, "fork-") ||
					strings.HasSuffix(e.Name, "-ahead")) {
					phases = append(phases, e.Name)
				}
			}
			if contains(want, "ns-ahead") && !contains(phases, "ns-ahead") && !pidfdThreadSupported() &&
				contains(phases, "fork-exec+nsenter") {
				// Before Linux 6.9 (no PIDFD_THREAD) create cannot wait
				// for the thread that started the stage to end, and
				// drops a stage whose thread still runs (nsenter's
				// threadGone): on a loaded machine, create clones the
				// process itself. The container is checked below.
				t.Logf("phases %q: the stage's thread still ran, and this kernel has no PIDFD_THREAD", phases)
				want = []string{"netns-make", "fork-exec+nsenter"}
			}
			for _, p := range want {
				if !contains(phases, p) {
					t.Errorf("phases %q, want %q", phases, want)
					break
				}
			}
			if want == nil && (contains(phases, "ns-ahead") || contains(phases, "fork-ahead") || contains(phases, "take-ahead")) {
				t.Errorf("phases %q: the stage made ahead was used", phases)
			}
			l := lines(out)
			if len(l) < 4 || l[0] == hostNsLink(t, "net") || l[1] != "1" || l[2] != b.Spec.Hostname {
				t.Fatalf("want the container's own network namespace, PID 1 and hostname %q: %q", b.Spec.Hostname, out)
			}
			var devs []string
			for _, line := range l[3:] {
				if name, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !strings.Contains(name, "|") {
					devs = append(devs, name)
				}
			}
			if strings.Join(devs, " ") != "lo" {
				t.Errorf("network devices in the container: %q, want only lo", devs)
			}
			data, err := os.ReadFile(children)
			if err != nil {
				t.Fatalf("poststart hook: %v", err)
			}
			f := strings.Fields(string(data))
			if len(f) < 2 {
				t.Fatalf("poststart hook wrote %q", data)
			}
			got := append([]string(nil), f[2:]...)
			sort.Strings(got)
			wantKids := []string{f[0], f[1]}
			sort.Strings(wantKids)
			if strings.Join(got, " ") != strings.Join(wantKids, " ") {
				t.Errorf("husk's children at poststart: %q, want only the container's process and the hook %q", got, wantKids)
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
