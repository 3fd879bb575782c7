package libcontainer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/cgroups/fs"
	"github.com/husk-runtime/husk/internal/selfmounts"
	"github.com/husk-runtime/husk/nsenter"
	"github.com/husk-runtime/husk/specconv"
)

// aheadBundle writes config (spec marshalled, or raw when text is set) in a
// new bundle with an empty rootfs, and returns the bundle.
func aheadBundle(t *testing.T, s *specs.Spec, text string) string {
	t.Helper()
	b := t.TempDir()
	if err := os.Mkdir(filepath.Join(b, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if text == "" {
		j, err := json.MarshalIndent(s, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		text = string(j)
	}
	if err := os.WriteFile(filepath.Join(b, "config.json"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

// aheadCase writes a bundle with runc's default spec, edited by edit (if
// any), as JSON, rewritten by text (if any); with a directory "src" for
// relative bind sources. It returns the bundle and its config.json.
func aheadCase(t *testing.T, edit func(*specs.Spec), text func(string) string) (string, []byte) {
	t.Helper()
	s := specconv.Example()
	s.Process.Terminal = false
	if edit != nil {
		edit(s)
	}
	raw := ""
	if text != nil {
		j, err := json.MarshalIndent(s, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		raw = text(string(j))
	}
	bundle := aheadBundle(t, s, raw)
	if err := os.Mkdir(filepath.Join(bundle, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	config, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	return bundle, config
}

// goAheadPlan is what create makes of the bundle: the container part of
// its init plan and its cgroup directories; nil when create would refuse
// the config or set the container up in Go.
func goAheadPlan(t *testing.T, bundle, id string, noNewKeyring, noPivot bool) ([]byte, []string) {
	t.Helper()
	spec, err := specconv.LoadSpec(bundle)
	if err != nil {
		return nil, nil
	}
	cfg, err := specconv.Convert(spec, specconv.Options{ID: id, Bundle: bundle, NoNewKeyring: noNewKeyring, NoPivotRoot: noPivot})
	if err != nil {
		return nil, nil
	}
	plan, err := encodeInitPlan(id, cfg, nil, 0)
	if err != nil || plan == nil {
		return nil, nil
	}
	m, err := fs.NewManager(cfg.Cgroup.Path)
	if err != nil {
		t.Fatalf("cgroup manager: %v", err)
	}
	return initPlanContainerPart(plan), m.Dirs()
}

func aheadInput(t *testing.T, bundle, id string, noNewKeyring, noPivot bool) nsenter.AheadPlanInput {
	t.Helper()
	mi, err := selfmounts.Mountinfo()
	if err != nil {
		t.Fatal(err)
	}
	_, kerr := os.Stat("/proc/kcore")
	return nsenter.AheadPlanInput{Bundle: bundle, ID: id, Mountinfo: mi, NoNewKeyring: noNewKeyring, NoPivot: noPivot, Kcore: kerr == nil}
}

// The plan the C planner computes is create's own, byte for byte, for
// every config it computes one for, and its cgroup directories are the
// cgroup manager's: create takes the process set up with it only then.
func TestAheadPlanIsCreates(t *testing.T) {
	if v2, err := selfmounts.CgroupV2Only(); err != nil || v2 {
		t.Skip("the C planner computes plans on cgroup v1 and hybrid hosts only")
	}
	u := func(v uint32) *uint32 { return &v }
	mode := os.FileMode(0o600)
	for _, tc := range []struct {
		name         string
		edit         func(*specs.Spec)
		text         func(string) string
		noNewKeyring bool
		noPivot      bool
	}{
		{name: "example spec", edit: func(s *specs.Spec) { s.Linux.CgroupsPath = "/husk-test-ahead/c" }},
		{name: "default cgroup path"},
		{name: "relative cgroup path", edit: func(s *specs.Spec) { s.Linux.CgroupsPath = "pods/../x/./c" }},
		{name: "flags", noNewKeyring: true, noPivot: true},
		{name: "mounts", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/data//x/", Type: "bind", Source: "src", Options: []string{"rbind", "ro", "rslave"}},
				specs.Mount{Destination: "/etc/hosts", Source: "/etc/hosts", Options: []string{"bind", "rw", "nosuid", "rprivate", "private"}},
				specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"defaults", "mode=1777", "size=1m", "noatime", "atime", "rro", "rnoatime", "rrw", "rstrictatime"}},
				specs.Mount{Destination: "/run", Type: "tmpfs", Options: []string{"nosuid", "strictatime", "rnosymfollow", "rsuid", "x-whatever"}},
			)
		}},
		{name: "bind /dev", edit: func(s *specs.Spec) {
			s.Mounts[1] = specs.Mount{Destination: "/dev", Type: "bind", Source: "/dev", Options: []string{"rbind", "ro"}}
		}},
		{name: "read-only /dev", edit: func(s *specs.Spec) { s.Mounts[1].Options = append(s.Mounts[1].Options, "ro") }},
		{name: "devices", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{
				{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: &mode, UID: u(1000), GID: u(1000)},
				{Path: "/dev//null", Type: "c", Major: 1, Minor: 3},
				{Path: "/dev/sub/dir/pipe", Type: "p"},
				{Path: "/dev/sda", Type: "b", Major: 8, Minor: 0},
				{Path: "/dev/ttyX", Type: "u", Major: 4, Minor: 7},
			}
		}},
		{name: "propagation rprivate", edit: func(s *specs.Spec) { s.Linux.RootfsPropagation = "rprivate" }},
		{name: "propagation runbindable", edit: func(s *specs.Spec) { s.Linux.RootfsPropagation = "runbindable" }},
		{name: "no cgroup mount, writable root, domain", edit: func(s *specs.Spec) {
			s.Mounts = s.Mounts[:len(s.Mounts)-1]
			s.Root.Readonly = false
			s.Hostname = ""
			s.Domainname = "example.org"
		}},
		{name: "absolute rootfs, no masked paths", edit: func(s *specs.Spec) {
			s.Linux.MaskedPaths = nil
			s.Linux.ReadonlyPaths = []string{}
		}},
		{name: "escapes", text: func(c string) string {
			return strings.NewReplacer(`"/proc/acpi"`, `"\/proc\/acpi"`, `"husk"`, `"h\u00e9te\ud83d\ude00"`).Replace(c)
		}},
		{name: "hooks before pivot_root", edit: func(s *specs.Spec) {
			timeout := 5
			s.Hooks = &specs.Hooks{
				Prestart:      []specs.Hook{{Path: "/bin/true", Args: []string{"true", "x"}, Env: []string{"A=1"}}},
				CreateRuntime: []specs.Hook{{Path: "/bin/true", Timeout: &timeout}},
			}
		}},
		{name: "poststart hook, seccomp, resources", edit: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/true"}}, Poststop: []specs.Hook{{Path: "/bin/true"}}}
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
			limit := int64(1 << 30)
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
			s.Process.OOMScoreAdj = new(int)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bundle, config := aheadCase(t, tc.edit, tc.text)
			const id = "ahead-1"
			wantPlan, wantDirs := goAheadPlan(t, bundle, id, tc.noNewKeyring, tc.noPivot)
			if wantPlan == nil {
				t.Fatal("create makes no plan of this config; the test wants one")
			}
			got, reason := nsenter.PlanAhead(config, aheadInput(t, bundle, id, tc.noNewKeyring, tc.noPivot))
			if got == nil {
				t.Fatalf("the C planner computes no plan: %s", reason)
			}
			if !bytes.Equal(got.Plan, wantPlan) {
				t.Errorf("plans differ:\nC      %q\ncreate %q", got.Plan, wantPlan)
			}
			if !slices.Equal(got.Dirs, wantDirs) {
				t.Errorf("cgroup directories %q, want the manager's %q", got.Dirs, wantDirs)
			}
		})
	}
}

// What the C planner does not compute as create does, it declines; and
// whenever it computes a plan, it is create's (a config create refuses or
// sets up in Go gets none).
func TestAheadPlanDeclines(t *testing.T) {
	if v2, err := selfmounts.CgroupV2Only(); err != nil || v2 {
		t.Skip("the C planner computes plans on cgroup v1 and hybrid hosts only")
	}
	for _, tc := range []struct {
		name string
		edit func(*specs.Spec)
		text func(string) string
	}{
		{name: "terminal", edit: func(s *specs.Spec) { s.Process.Terminal = true }},
		{name: "user namespace", edit: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
			s.Linux.GIDMappings = s.Linux.UIDMappings
		}},
		{name: "namespace by path", edit: func(s *specs.Spec) {
			s.Linux.Namespaces[1] = specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"}
		}},
		{name: "no mount namespace", edit: func(s *specs.Spec) {
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.MountNamespace })
		}},
		{name: "sysctl", edit: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"} }},
		{name: "createContainer hook", edit: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true"}}}
		}},
		{name: "relative hook path", edit: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "bin/true"}}}
		}},
		{name: "scheduler", edit: func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther} }},
		{name: "idmap", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/tmp", Options: []string{"bind", "idmap"}})
		}},
		{name: "tmpcopyup", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "tmpfs", Options: []string{"tmpcopyup"}})
		}},
		{name: "mount on /", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/", Type: "tmpfs"})
		}},
		{name: "relative destination", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "x", Type: "tmpfs"})
		}},
		{name: "mount without type", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x"})
		}},
		{name: "propagation shared", edit: func(s *specs.Spec) { s.Linux.RootfsPropagation = "rshared" }},
		{name: "apparmor", edit: func(s *specs.Spec) { s.Process.ApparmorProfile = "x" }},
		{name: "device outside /dev", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/tmp/null", Type: "c", Major: 1, Minor: 3}}
		}},
		{name: "duplicate device", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "c"}, {Path: "/dev//x", Type: "c"}}
		}},
		{name: "missing rootfs", edit: func(s *specs.Spec) { s.Root.Path = "nothing" }},
		{name: "old version", edit: func(s *specs.Spec) { s.Version = "0.9.0" }},
		{name: "unknown key", text: func(c string) string { return strings.Replace(c, `"hostname"`, `"Hostname"`, 1) }},
		{name: "duplicate key", text: func(c string) string {
			return strings.Replace(c, `"hostname": "husk"`, `"hostname": "a", "hostname": "husk"`, 1)
		}},
		{name: "NUL", text: func(c string) string { return strings.Replace(c, `"husk"`, `"hu\u0000sk"`, 1) }},
		{name: "bad UTF-8", text: func(c string) string { return strings.Replace(c, `"husk"`, "\"hu\xffsk\"", 1) }},
		{name: "trailing garbage", text: func(c string) string { return c + "x" }},
		{name: "hugepage limits", edit: func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bundle, config := aheadCase(t, tc.edit, tc.text)
			got, _ := nsenter.PlanAhead(config, aheadInput(t, bundle, "ahead-2", false, false))
			if got != nil {
				want, _ := goAheadPlan(t, bundle, "ahead-2", false, false)
				t.Errorf("the C planner computed a plan (create's: %v)", bytes.Equal(got.Plan, want))
			}
		})
	}
}

// The C planner reads every mount option as specconv does: the two tables
// (nsenter/aheadplan.c, specconv/mounts.go) are held to each other, one
// option at a time, on a tmpfs and on a bind mount.
func TestAheadPlanKnowsEveryMountOption(t *testing.T) {
	if v2, err := selfmounts.CgroupV2Only(); err != nil || v2 {
		t.Skip("the C planner computes plans on cgroup v1 and hybrid hosts only")
	}
	for _, opt := range append(specconv.MountOptions(), "mode=0700", "x-unknown") {
		for _, m := range []specs.Mount{
			{Destination: "/opt", Type: "tmpfs", Source: "tmpfs", Options: []string{opt}},
			{Destination: "/opt", Type: "bind", Source: "src", Options: []string{"rbind", opt}},
		} {
			t.Run(m.Type+"/"+opt, func(t *testing.T) {
				bundle, config := aheadCase(t, func(s *specs.Spec) { s.Mounts = append(s.Mounts, m) }, nil)
				want, _ := goAheadPlan(t, bundle, "opt", false, false)
				got, why := nsenter.PlanAhead(config, aheadInput(t, bundle, "opt", false, false))
				switch {
				case got == nil && want != nil && opt != "idmap" && opt != "ridmap" && opt != "tmpcopyup":
					t.Errorf("the C planner declines what create plans: %s", why)
				case got != nil && !bytes.Equal(got.Plan, want):
					t.Errorf("plans differ:\nC      %q\ncreate %q", got.Plan, want)
				}
			})
		}
	}
}
