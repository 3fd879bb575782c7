package specconv

import (
	"os"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/libcontainer/caps"
	"github.com/husk-runtime/husk/libcontainer/configs"
	"github.com/husk-runtime/husk/seccomp"
)

func TestExampleIsRuncsDefaultWithHuskHostname(t *testing.T) {
	s := Example()
	if s.Version != specs.Version || s.Version != "1.3.0" {
		t.Errorf("ociVersion %q", s.Version)
	}
	if s.Hostname != "husk" {
		t.Errorf("hostname %q", s.Hostname)
	}
	p := s.Process
	if !p.Terminal || !reflect.DeepEqual(p.Args, []string{"sh"}) || p.Cwd != "/" || p.User.UID != 0 || p.User.GID != 0 || !p.NoNewPrivileges {
		t.Errorf("process %+v", p)
	}
	if len(p.Env) != 2 || !strings.HasPrefix(p.Env[0], "PATH=") || p.Env[1] != "TERM=xterm" {
		t.Errorf("env %q", p.Env)
	}
	wantCaps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	c := p.Capabilities
	if !reflect.DeepEqual(c.Bounding, wantCaps) || !reflect.DeepEqual(c.Effective, wantCaps) ||
		!reflect.DeepEqual(c.Permitted, wantCaps) || c.Inheritable != nil || c.Ambient != nil {
		t.Errorf("capabilities %+v", c)
	}
	if !reflect.DeepEqual(p.Rlimits, []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}}) {
		t.Errorf("rlimits %+v", p.Rlimits)
	}
	if s.Root.Path != "rootfs" || !s.Root.Readonly {
		t.Errorf("root %+v", s.Root)
	}
	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination+":"+m.Type)
	}
	wantMounts := []string{"/proc:proc", "/dev:tmpfs", "/dev/pts:devpts", "/dev/shm:tmpfs", "/dev/mqueue:mqueue", "/sys:sysfs", "/sys/fs/cgroup:cgroup"}
	if !reflect.DeepEqual(dests, wantMounts) {
		t.Errorf("mounts %q", dests)
	}
	var ns []string
	for _, n := range s.Linux.Namespaces {
		ns = append(ns, string(n.Type))
	}
	if !reflect.DeepEqual(ns, []string{"pid", "network", "ipc", "uts", "mount", "cgroup"}) {
		t.Errorf("namespaces %q", ns)
	}
	if s.Linux.CgroupsPath != "" || s.Linux.Resources != nil {
		t.Errorf("cgroupsPath %q resources %+v: want neither", s.Linux.CgroupsPath, s.Linux.Resources)
	}
	for _, want := range []string{"/proc/kcore", "/proc/keys", "/sys/firmware", "/proc/scsi"} {
		if !contains(s.Linux.MaskedPaths, want) {
			t.Errorf("maskedPaths lacks %s", want)
		}
	}
	if !contains(s.Linux.ReadonlyPaths, "/proc/sys") || !contains(s.Linux.ReadonlyPaths, "/proc/sysrq-trigger") {
		t.Errorf("readonlyPaths %q", s.Linux.ReadonlyPaths)
	}

	bundle := newBundle(t)
	cfg, err := Convert(s, Options{ID: "demo", Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cgroup.Path != "/husk/demo" || cfg.Cgroup.Resources != nil {
		t.Errorf("cgroup %+v", cfg.Cgroup)
	}
	checkConversion(t, "example", Example(), roundTrip(t, cfg), Options{ID: "demo", Bundle: bundle})
}

func TestToRootless(t *testing.T) {
	s := Example()
	s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(5))}}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"uid=5", "mode=700", "gid=7"}})
	ToRootless(s)

	var ns []string
	for _, n := range s.Linux.Namespaces {
		if n.Path != "" {
			t.Errorf("namespace %+v has a path", n)
		}
		ns = append(ns, string(n.Type))
	}
	if !reflect.DeepEqual(ns, []string{"pid", "ipc", "uts", "mount", "cgroup", "user"}) {
		t.Errorf("namespaces %q", ns)
	}
	wantUID := []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Geteuid()), Size: 1}}
	wantGID := []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getegid()), Size: 1}}
	if !reflect.DeepEqual(s.Linux.UIDMappings, wantUID) || !reflect.DeepEqual(s.Linux.GIDMappings, wantGID) {
		t.Errorf("mappings %+v %+v", s.Linux.UIDMappings, s.Linux.GIDMappings)
	}
	if s.Linux.Resources != nil {
		t.Errorf("resources kept: %+v", s.Linux.Resources)
	}
	for _, m := range s.Mounts {
		for _, o := range m.Options {
			if strings.HasPrefix(o, "uid=") || strings.HasPrefix(o, "gid=") {
				t.Errorf("mount %s keeps %s", m.Destination, o)
			}
		}
		switch m.Destination {
		case "/sys":
			want := specs.Mount{Destination: "/sys", Type: "none", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
			if !reflect.DeepEqual(m, want) {
				t.Errorf("/sys mount %+v", m)
			}
		case "/x":
			if !reflect.DeepEqual(m.Options, []string{"mode=700"}) {
				t.Errorf("/x options %q", m.Options)
			}
		}
	}
	if len(s.Mounts) != 8 {
		t.Errorf("%d mounts, want 8", len(s.Mounts))
	}

	bundle := newBundle(t)
	c, err := Convert(s, Options{ID: "rootless", Bundle: bundle})
	if err != nil {
		t.Fatalf("rootless spec does not convert: %v", err)
	}
	if !c.NewNamespace(configs.NEWUSER) || c.NewNamespace(configs.NEWNET) {
		t.Errorf("namespaces %+v", c.Namespaces)
	}

	// Applying it twice changes nothing more.
	again := *s
	linux := *s.Linux
	again.Linux = &linux
	ToRootless(&again)
	if !reflect.DeepEqual(again.Linux.Namespaces, s.Linux.Namespaces) {
		t.Errorf("second ToRootless changed namespaces to %+v", again.Linux.Namespaces)
	}
}

func TestFeaturesMatchWhatConvertAccepts(t *testing.T) {
	f := Features()
	if f.OCIVersionMin != "1.0.0" || f.OCIVersionMax != specs.Version {
		t.Errorf("versions %q..%q", f.OCIVersionMin, f.OCIVersionMax)
	}
	if !reflect.DeepEqual(f.MountOptions, MountOptions()) {
		t.Error("mountOptions differ from the parser's table")
	}
	if !reflect.DeepEqual(f.Hooks, []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}) {
		t.Errorf("hooks %q", f.Hooks)
	}
	l := f.Linux
	if !reflect.DeepEqual(l.Capabilities, caps.Names()) {
		t.Error("capabilities differ from caps.Names")
	}
	if len(l.Namespaces) != 8 {
		t.Errorf("namespaces %q", l.Namespaces)
	}
	if !*l.Cgroup.V1 || !*l.Cgroup.V2 || *l.Cgroup.Systemd || *l.Cgroup.SystemdUser || *l.Cgroup.Rdma {
		t.Errorf("cgroup %+v", l.Cgroup)
	}
	if !*l.Seccomp.Enabled || !reflect.DeepEqual(l.Seccomp.Actions, seccomp.KnownActions()) ||
		!reflect.DeepEqual(l.Seccomp.Operators, seccomp.KnownOperators()) || !reflect.DeepEqual(l.Seccomp.Archs, seccomp.KnownArchs()) ||
		!reflect.DeepEqual(l.Seccomp.KnownFlags, seccomp.KnownFlags()) || !reflect.DeepEqual(l.Seccomp.SupportedFlags, seccomp.SupportedFlags()) {
		t.Errorf("seccomp %+v", l.Seccomp)
	}
	if *l.Apparmor.Enabled || !*l.Selinux.Enabled || *l.IntelRdt.Enabled || *l.MountExtensions.IDMap.Enabled || *l.NetDevices.Enabled {
		t.Error("apparmor/selinux/intelRdt/idmap/netDevices not as husk implements them")
	}

	// Everything advertised is accepted.
	bundle := newBundle(t)
	base := func() *specs.Spec {
		s := fullSpec()
		s.Process.Capabilities = &specs.LinuxCapabilities{}
		return s
	}
	s := base()
	s.Process.Capabilities.Bounding = l.Capabilities
	for _, name := range RlimitNames() {
		s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: name})
	}
	s.Process.Rlimits = s.Process.Rlimits[2:] // fullSpec's two, replaced by the full list.
	if _, err := Convert(s, Options{ID: "f", Bundle: bundle}); err != nil {
		t.Errorf("all capabilities and rlimits: %v", err)
	}
	// fullSpec uses every namespace type; it must use each advertised one.
	var used []string
	for _, ns := range fullSpec().Linux.Namespaces {
		used = append(used, string(ns.Type))
	}
	for _, ns := range l.Namespaces {
		if !contains(used, ns) {
			t.Errorf("advertised namespace %q is not exercised", ns)
		}
	}
	for _, o := range f.MountOptions {
		s := base()
		m := specs.Mount{Destination: "/m", Source: "/src", Type: "bind", Options: []string{o}}
		switch o {
		case "tmpcopyup":
			m = specs.Mount{Destination: "/m", Source: "tmpfs", Type: "tmpfs", Options: []string{o}}
		case "remount":
			m = specs.Mount{Destination: "/m", Source: "tmpfs", Type: "tmpfs", Options: []string{o}}
		}
		s.Mounts = append(s.Mounts, m)
		if _, err := Convert(s, Options{ID: "f", Bundle: bundle}); err != nil {
			t.Errorf("advertised mount option %q: %v", o, err)
		}
	}
}
