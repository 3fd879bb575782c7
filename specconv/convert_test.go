package specconv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer/configs"
)

// newBundle makes a bundle directory with an empty rootfs/.
func newBundle(t *testing.T) string {
	t.Helper()
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return bundle
}

func ptr[T any](v T) *T { return &v }

// fullSpec is Example with every field Convert handles set to something
// other than its zero value.
func fullSpec() *specs.Spec {
	s := Example()
	s.Domainname = "example.org"
	s.Annotations = map[string]string{"a": "b", "org.example/x": ""}
	s.Hooks = &specs.Hooks{
		Prestart:        []specs.Hook{{Path: "/bin/pre", Args: []string{"pre", "x"}, Env: []string{"A=1"}, Timeout: ptr(3)}},
		CreateRuntime:   []specs.Hook{{Path: "/bin/cr"}},
		CreateContainer: []specs.Hook{{Path: "/bin/cc"}},
		StartContainer:  []specs.Hook{{Path: "/bin/sc"}},
		Poststart:       []specs.Hook{{Path: "/bin/ps"}},
		Poststop:        []specs.Hook{{Path: "/bin/pst"}},
	}
	p := s.Process
	p.ConsoleSize = &specs.Box{Height: 24, Width: 80}
	p.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{5, 6}, Umask: ptr(uint32(0o027))}
	p.Capabilities.Inheritable = []string{"CAP_KILL"}
	p.Capabilities.Ambient = []string{"CAP_KILL"}
	p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_CORE", Hard: 10, Soft: 5})
	p.OOMScoreAdj = ptr(-500)
	p.ApparmorProfile = "husk-default"
	p.SelinuxLabel = "system_u:system_r:container_t:s0"
	p.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}
	p.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 4}
	p.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0", Final: "0-1"}
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/data", Source: "data", Type: "bind", Options: []string{"ro", "rw", "nosuid", "rprivate", "rro", "rnoatime", "ridmap"}},
		specs.Mount{Destination: "/ext", Source: "/srv", Options: []string{"rbind", "rslave", "rnosuid", "rsuid", "ratime"},
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 2000, Size: 10}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 3000, Size: 10}}},
		specs.Mount{Destination: "/tmp", Source: "tmpfs", Type: "tmpfs", Options: []string{"tmpcopyup", "defaults", "mode=1777", "noatime", "atime", "lazytime"}},
	)
	l := s.Linux
	l.Namespaces = append(l.Namespaces,
		specs.LinuxNamespace{Type: specs.UserNamespace},
		specs.LinuxNamespace{Type: specs.TimeNamespace})
	l.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	l.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	l.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 10}, "boottime": {Secs: -5, Nanosecs: 7}}
	l.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000", "fs.mqueue.msg_max": "20", "kernel.domainname": "x"}
	l.Devices = []specs.LinuxDevice{
		{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: ptr(os.FileMode(0o600)), UID: ptr(uint32(1)), GID: ptr(uint32(2))},
		{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: ptr(os.FileMode(0o640))},
		{Path: "/dev/fifo", Type: "p"},
	}
	l.RootfsPropagation = "rslave"
	l.MountLabel = "system_u:object_r:container_file_t:s0"
	l.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	l.CgroupsPath = "/custom/path"
	l.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{{
			Names: []string{"personality"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}},
		}},
	}
	l.Resources = &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(3)), Access: "rw"}},
		Memory:  &specs.LinuxMemory{Limit: ptr(int64(1 << 20)), Swap: ptr(int64(2 << 20))},
		CPU:     &specs.LinuxCPU{Shares: ptr(uint64(512)), Quota: ptr(int64(-1)), Cpus: "0-1", Mems: "0"},
		Pids:    &specs.LinuxPids{Limit: ptr(int64(100))},
	}
	return s
}

func TestFullSpecConvertsWithoutLoss(t *testing.T) {
	bundle := newBundle(t)
	opts := Options{ID: "full", Bundle: bundle, NoPivotRoot: true, NoNewKeyring: true}
	c, err := Convert(fullSpec(), opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConversion(t, "full", fullSpec(), roundTrip(t, c), opts)
	if got := c.Mounts[len(c.Mounts)-3].Source; got != filepath.Join(bundle, "data") {
		t.Errorf("relative bind source: got %q, want it under the bundle", got)
	}
}

// recorder is a reporter that notes failures; Fatalf stops the check.
type recorder struct{ failed bool }

type stopCheck struct{}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true; panic(stopCheck{}) }

func (r *recorder) check(spec *specs.Spec, c *configs.Config, opts Options) {
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(stopCheck); !ok {
				panic(v)
			}
		}
	}()
	checkConversion(r, "mutant", spec, c, opts)
}

// TestCheckConversionCatchesDroppedFields proves the fixture comparison is
// not vacuous: losing any one field of the conversion makes it fail.
func TestCheckConversionCatchesDroppedFields(t *testing.T) {
	bundle := newBundle(t)
	opts := Options{ID: "full", Bundle: bundle}
	mutations := map[string]func(c *configs.Config){
		"version":           func(c *configs.Config) { c.Version = "" },
		"rootfs":            func(c *configs.Config) { c.Rootfs = "/elsewhere" },
		"readonly":          func(c *configs.Config) { c.Readonly = false },
		"hostname":          func(c *configs.Config) { c.Hostname = "" },
		"domainname":        func(c *configs.Config) { c.Domainname = "" },
		"hooks":             func(c *configs.Config) { c.Hooks.Poststop = nil },
		"annotations":       func(c *configs.Config) { delete(c.Annotations, "a") },
		"args":              func(c *configs.Config) { c.Process.Args = c.Process.Args[1:] },
		"env":               func(c *configs.Config) { c.Process.Env = c.Process.Env[1:] },
		"cwd":               func(c *configs.Config) { c.Process.Cwd = "/x" },
		"uid":               func(c *configs.Config) { c.Process.UID = 0 },
		"gid":               func(c *configs.Config) { c.Process.GID = 0 },
		"additionalGids":    func(c *configs.Config) { c.Process.AdditionalGids = nil },
		"umask":             func(c *configs.Config) { c.Process.Umask = nil },
		"terminal":          func(c *configs.Config) { c.Process.Terminal = false },
		"consoleSize":       func(c *configs.Config) { c.Process.ConsoleSize = nil },
		"noNewPrivileges":   func(c *configs.Config) { c.Process.NoNewPrivileges = false },
		"oomScoreAdj":       func(c *configs.Config) { c.Process.OOMScoreAdj = nil },
		"apparmor":          func(c *configs.Config) { c.Process.ApparmorProfile = "" },
		"selinux":           func(c *configs.Config) { c.Process.SelinuxLabel = "" },
		"scheduler":         func(c *configs.Config) { c.Process.Scheduler = nil },
		"ioPriority":        func(c *configs.Config) { c.Process.IOPriority = nil },
		"execCPUAffinity":   func(c *configs.Config) { c.Process.ExecCPUAffinity = nil },
		"capabilities":      func(c *configs.Config) { c.Process.Capabilities.Ambient = nil },
		"rlimits":           func(c *configs.Config) { c.Process.Rlimits = c.Process.Rlimits[:1] },
		"mount count":       func(c *configs.Config) { c.Mounts = c.Mounts[1:] },
		"mount flags":       func(c *configs.Config) { c.Mounts[1].Flags &^= unix.MS_NOSUID },
		"mount cleared":     func(c *configs.Config) { c.Mounts[len(c.Mounts)-3].ClearedFlags = 0 },
		"mount data":        func(c *configs.Config) { c.Mounts[1].Data = "" },
		"mount prop":        func(c *configs.Config) { c.Mounts[len(c.Mounts)-2].PropagationFlags = nil },
		"mount recattr":     func(c *configs.Config) { c.Mounts[len(c.Mounts)-3].RecAttrSet = 0 },
		"mount atime":       func(c *configs.Config) { c.Mounts[len(c.Mounts)-2].RecAttrClr = 0 },
		"mount idmap":       func(c *configs.Config) { c.Mounts[len(c.Mounts)-3].IDMapRecursive = false },
		"mount uidmap":      func(c *configs.Config) { c.Mounts[len(c.Mounts)-2].UIDMappings = nil },
		"mount tmpcopyup":   func(c *configs.Config) { c.Mounts[len(c.Mounts)-1].Tmpcopyup = false },
		"mount source":      func(c *configs.Config) { c.Mounts[0].Source = "" },
		"mount type":        func(c *configs.Config) { c.Mounts[0].Device = "" },
		"mount order":       func(c *configs.Config) { c.Mounts[0], c.Mounts[1] = c.Mounts[1], c.Mounts[0] },
		"namespaces":        func(c *configs.Config) { c.Namespaces = c.Namespaces[1:] },
		"uidMappings":       func(c *configs.Config) { c.UIDMappings = nil },
		"gidMappings":       func(c *configs.Config) { c.GIDMappings = nil },
		"timeOffsets":       func(c *configs.Config) { delete(c.TimeOffsets, "boottime") },
		"rootPropagation":   func(c *configs.Config) { c.RootPropagation = 0 },
		"devices":           func(c *configs.Config) { c.Devices = c.Devices[1:] },
		"device mode":       func(c *configs.Config) { c.Devices[len(c.Devices)-2].FileMode = 0o666 },
		"maskedPaths":       func(c *configs.Config) { c.MaskedPaths = c.MaskedPaths[1:] },
		"readonlyPaths":     func(c *configs.Config) { c.ReadonlyPaths = nil },
		"sysctl":            func(c *configs.Config) { delete(c.Sysctl, "kernel.shmmax") },
		"mountLabel":        func(c *configs.Config) { c.MountLabel = "" },
		"personality":       func(c *configs.Config) { c.Personality = nil },
		"seccomp":           func(c *configs.Config) { c.Seccomp.Syscalls = nil },
		"resources":         func(c *configs.Config) { c.Cgroup.Resources.Pids = nil },
		"cgroup path":       func(c *configs.Config) { c.Cgroup.Path = "/husk/full" },
		"no pivot (flag)":   func(c *configs.Config) { c.NoPivotRoot = true },
		"no keyring (flag)": func(c *configs.Config) { c.NoNewKeyring = true },
	}
	for name, mutate := range mutations {
		c, err := Convert(fullSpec(), opts)
		if err != nil {
			t.Fatal(err)
		}
		c = roundTrip(t, c)
		mutate(c)
		var r recorder
		r.check(fullSpec(), c, opts)
		if !r.failed {
			t.Errorf("dropping %s went unnoticed by checkConversion", name)
		}
	}
}

// TestEverySpecFieldIsHandled fails when the runtime-spec grows a field
// (in a new version of specs-go) that Convert neither converts nor rejects.
func TestEverySpecFieldIsHandled(t *testing.T) {
	handled := map[reflect.Type][]string{
		reflect.TypeOf(specs.Spec{}): {"Version", "Process", "Root", "Hostname", "Domainname", "Mounts", "Hooks", "Annotations", "Linux",
			// Other platforms' sections, which a Linux runtime ignores.
			"Solaris", "Windows", "VM", "ZOS", "FreeBSD"},
		reflect.TypeOf(specs.Process{}): {"Terminal", "ConsoleSize", "User", "Args", "Env", "Cwd", "Capabilities", "Rlimits",
			"NoNewPrivileges", "ApparmorProfile", "OOMScoreAdj", "Scheduler", "SelinuxLabel", "IOPriority", "ExecCPUAffinity",
			"CommandLine"}, // Windows only.
		reflect.TypeOf(specs.User{}):  {"UID", "GID", "Umask", "AdditionalGids", "Username"}, // Username: Windows only.
		reflect.TypeOf(specs.Mount{}): {"Destination", "Type", "Source", "Options", "UIDMappings", "GIDMappings"},
		reflect.TypeOf(specs.Linux{}): {"UIDMappings", "GIDMappings", "Sysctl", "Resources", "CgroupsPath", "Namespaces",
			"Devices", "NetDevices", "Seccomp", "RootfsPropagation", "MaskedPaths", "ReadonlyPaths", "MountLabel",
			"IntelRdt", "MemoryPolicy", "Personality", "TimeOffsets"},
	}
	for typ, names := range handled {
		known := map[string]bool{}
		for _, n := range names {
			known[n] = true
		}
		for i := 0; i < typ.NumField(); i++ {
			if f := typ.Field(i); !known[f.Name] {
				t.Errorf("specs.%s.%s is not handled by Convert", typ.Name(), f.Name)
			}
		}
	}
}

func TestConvertErrors(t *testing.T) {
	bundle := newBundle(t)
	if err := os.WriteFile(filepath.Join(bundle, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(s *specs.Spec)
		want   string
	}{
		{"unknown namespace", func(s *specs.Spec) { s.Linux.Namespaces[2].Type = "foo" },
			`config.json: linux.namespaces[2].type: unknown namespace "foo"`},
		{"duplicate namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "pid", Path: "/proc/1/ns/pid"})
		}, `config.json: linux.namespaces[6].type: duplicate namespace "pid"`},
		{"relative namespace path", func(s *specs.Spec) { s.Linux.Namespaces[0].Path = "ns/pid" },
			`config.json: linux.namespaces[0].path: "ns/pid" is not absolute`},
		{"no mount namespace", func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:4] },
			`config.json: linux.namespaces: a mount namespace is required`},
		{"no linux section", func(s *specs.Spec) { s.Linux = nil }, `config.json: linux: missing`},
		{"user namespace without mappings", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
		}, `config.json: linux.uidMappings: a new user namespace needs both uidMappings and gidMappings`},
		{"mappings without user namespace", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{Size: 1}}
		}, `config.json: linux.uidMappings: mappings given without a user namespace`},
		{"zero-size mapping", func(s *specs.Spec) {
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{Size: 1}, {Size: 0}}
		}, `config.json: linux.gidMappings[1].size: must not be 0`},
		{"time offsets without time namespace", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, `config.json: linux.timeOffsets: offsets need a new time namespace`},
		{"unknown clock", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"realtime": {Secs: 1}}
		}, `config.json: linux.timeOffsets: unknown clock "realtime"`},
		{"relative mount destination", func(s *specs.Spec) {
			s.Mounts[3].Destination = "tmp"
		}, `config.json: mounts[3].destination: "tmp" is not absolute`},
		{"empty mount destination", func(s *specs.Spec) { s.Mounts[1].Destination = "" },
			`config.json: mounts[1].destination: empty`},
		{"mount without type", func(s *specs.Spec) { s.Mounts[0].Type = "" },
			`config.json: mounts[0].type: required for a mount that is not a bind mount`},
		{"bind without source", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind"})
		}, `config.json: mounts[7].source: a bind mount needs a source`},
		{"idmap on non-bind", func(s *specs.Spec) { s.Mounts[0].Options = []string{"idmap"} },
			`config.json: mounts[0].options: ID-mapped mounts are only supported for bind mounts`},
		{"idmap without user namespace", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Source: "/y", Options: []string{"rbind", "idmap"}})
		}, `config.json: mounts[7].options: idmap without uidMappings/gidMappings needs a new user namespace`},
		{"mount uid mappings only", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Source: "/y", Type: "bind",
				UIDMappings: []specs.LinuxIDMapping{{Size: 1}}})
		}, `config.json: mounts[7]: an ID-mapped mount needs both uidMappings and gidMappings`},
		{"tmpcopyup on proc", func(s *specs.Spec) { s.Mounts[0].Options = []string{"tmpcopyup"} },
			`config.json: mounts[0].options: tmpcopyup is only valid for tmpfs mounts, not "proc"`},
		{"remount bind", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Source: "/y", Options: []string{"bind", "remount"}})
		}, `config.json: mounts[7].options: remount cannot be combined with bind`},
		{"missing rootfs", func(s *specs.Spec) { s.Root.Path = "/x/rootfs" },
			`config.json: root.path: /x/rootfs: no such file or directory`},
		{"rootfs is a file", func(s *specs.Spec) { s.Root.Path = "file" },
			`config.json: root.path: ` + filepath.Join(bundle, "file") + `: not a directory`},
		{"no root", func(s *specs.Spec) { s.Root = nil }, `config.json: root.path: missing`},
		{"no process", func(s *specs.Spec) { s.Process = nil },
			`config.json: process: missing (required to create a container)`},
		{"no args", func(s *specs.Spec) { s.Process.Args = nil }, `config.json: process.args: empty`},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "home" },
			`config.json: process.cwd: "home" is not absolute`},
		{"no cwd", func(s *specs.Spec) { s.Process.Cwd = "" }, `config.json: process.cwd: missing`},
		{"env without =", func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "FOO") },
			`config.json: process.env[2]: "FOO" has no '='`},
		{"unknown rlimit", func(s *specs.Spec) { s.Process.Rlimits[0].Type = "RLIMIT_FOO" },
			`config.json: process.rlimits[0].type: unknown rlimit "RLIMIT_FOO"`},
		{"duplicate rlimit", func(s *specs.Spec) { s.Process.Rlimits = append(s.Process.Rlimits, s.Process.Rlimits[0]) },
			`config.json: process.rlimits[1].type: duplicate rlimit "RLIMIT_NOFILE"`},
		{"soft above hard", func(s *specs.Spec) { s.Process.Rlimits[0].Soft = 2048 },
			`config.json: process.rlimits[0]: soft limit 2048 of RLIMIT_NOFILE exceeds hard limit 1024`},
		{"unknown capability", func(s *specs.Spec) { s.Process.Capabilities.Bounding[1] = "CAP_FOO" },
			`config.json: process.capabilities.bounding[1]: unknown capability "CAP_FOO"`},
		{"lower-case capability", func(s *specs.Spec) { s.Process.Capabilities.Ambient = []string{"cap_kill"} },
			`config.json: process.capabilities.ambient[0]: unknown capability "cap_kill"`},
		{"oom score", func(s *specs.Spec) { s.Process.OOMScoreAdj = ptr(1001) },
			`config.json: process.oomScoreAdj: 1001 is outside [-1000, 1000]`},
		{"umask", func(s *specs.Spec) { s.Process.User.Umask = ptr(uint32(0o1000)) },
			`config.json: process.user.umask: 01000 is not a permission mask`},
		{"scheduler policy", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_FOO"} },
			`config.json: process.scheduler.policy: unknown policy "SCHED_FOO"`},
		{"scheduler priority", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO} },
			`config.json: process.scheduler.priority: 0 is outside [1, 99] for SCHED_FIFO`},
		{"io priority", func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 8}
		}, `config.json: process.ioPriority.priority: 8 is outside [0, 7]`},
		{"cpu affinity", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: "3-1"} },
			`config.json: process.execCPUAffinity.final: "3-1" is not a CPU list`},
		{"hostname without uts", func(s *specs.Spec) { s.Linux.Namespaces[3] = specs.LinuxNamespace{Type: "uts", Path: "/proc/1/ns/uts"} },
			`config.json: hostname: cannot be set without a new uts namespace`},
		{"domainname without uts", func(s *specs.Spec) {
			s.Hostname = ""
			s.Domainname = "d"
			s.Linux.Namespaces = append(s.Linux.Namespaces[:3], s.Linux.Namespaces[4:]...)
		}, `config.json: domainname: cannot be set without a new uts namespace`},
		{"net sysctl without netns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces[:1], s.Linux.Namespaces[2:]...)
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, `config.json: linux.sysctl: "net.ipv4.ip_forward" needs a network namespace`},
		{"net sysctl in host netns", func(s *specs.Spec) {
			s.Linux.Namespaces[1].Path = "/proc/self/ns/net"
			s.Linux.Sysctl = map[string]string{"net/ipv4/ip_forward": "1"}
		}, `config.json: linux.sysctl: "net/ipv4/ip_forward": the network namespace /proc/self/ns/net is the host's`},
		{"ipc sysctl without ipcns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces[:2], s.Linux.Namespaces[3:]...)
			s.Linux.Sysctl = map[string]string{"fs.mqueue.msg_max": "10"}
		}, `config.json: linux.sysctl: "fs.mqueue.msg_max" needs an ipc namespace`},
		{"hostname sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.hostname": "h"} },
			`config.json: linux.sysctl: "kernel.hostname" conflicts with the hostname field`},
		{"host-wide sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} },
			`config.json: linux.sysctl: "vm.swappiness" is not in a namespace the container can own`},
		{"relative masked path", func(s *specs.Spec) { s.Linux.MaskedPaths[2] = "proc/kcore" },
			`config.json: linux.maskedPaths[2]: "proc/kcore" is not absolute`},
		{"relative readonly path", func(s *specs.Spec) { s.Linux.ReadonlyPaths[0] = "proc/bus" },
			`config.json: linux.readonlyPaths[0]: "proc/bus" is not absolute`},
		{"device type", func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "x"}} },
			`config.json: linux.devices[0].type: unknown device type "x"`},
		{"relative device", func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "dev/x", Type: "c"}} },
			`config.json: linux.devices[0].path: "dev/x" is not absolute`},
		{"duplicate device", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "c"}, {Path: "/dev/x", Type: "b"}}
		}, `config.json: linux.devices[1].path: duplicate device "/dev/x"`},
		{"rootfs propagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "rfoo" },
			`config.json: linux.rootfsPropagation: unknown propagation "rfoo"`},
		{"relative hook", func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/a"}, {Path: "hook"}}} },
			`config.json: hooks.poststart[1].path: "hook" is not absolute`},
		{"hook timeout", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/a", Timeout: ptr(0)}}}
		},
			`config.json: hooks.createRuntime[0].timeout: 0 is not positive`},
		{"seccomp default action", func(s *specs.Spec) { s.Linux.Seccomp = &specs.LinuxSeccomp{} },
			`config.json: linux.seccomp.defaultAction: missing`},
		{"seccomp unknown action", func(s *specs.Spec) { s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_FOO"} },
			`config.json: linux.seccomp.defaultAction: unknown action "SCMP_ACT_FOO"`},
		{"personality domain", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "BSD"} },
			`config.json: linux.personality.domain: unknown domain "BSD"`},
		{"personality flags", func(s *specs.Spec) {
			s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux, Flags: []specs.LinuxPersonalityFlag{"X"}}
		}, `config.json: linux.personality.flags: not supported by husk`},
		{"intel rdt", func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "x"} },
			`config.json: linux.intelRdt: not supported by husk`},
		{"net devices", func(s *specs.Spec) { s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth1": {}} },
			`config.json: linux.netDevices: not supported by husk`},
		{"memory policy", func(s *specs.Spec) { s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{} },
			`config.json: linux.memoryPolicy: not supported by husk`},
		{"swap below limit", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(200)), Swap: ptr(int64(100))}}
		}, `config.json: linux.resources.memory.swap: 100 is below the memory limit 200`},
		{"device rule type", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "p", Access: "r"}}}
		}, `config.json: linux.resources.devices[0].type: unknown type "p"`},
		{"device rule access", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "c", Access: "rwx"}}}
		}, `config.json: linux.resources.devices[0].access: "rwx" may only hold r, w and m`},
		{"cpuset", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0,a"}}
		}, `config.json: linux.resources.cpu.cpus: "0,a" is not a CPU list`},
		{"empty version", func(s *specs.Spec) { s.Version = "" }, `config.json: ociVersion: missing`},
		{"version 2", func(s *specs.Spec) { s.Version = "2.0.0" },
			`config.json: ociVersion: "2.0.0" is not supported (husk implements 1.0.0 through 1.3.x)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Example()
			tt.mutate(s)
			_, err := Convert(s, Options{ID: "x", Bundle: bundle})
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to start with %q", err, tt.want)
			}
		})
	}
}

func TestConvertNeedsAbsoluteBundle(t *testing.T) {
	_, err := Convert(Example(), Options{ID: "x", Bundle: "rel"})
	if err == nil || !strings.Contains(err.Error(), `bundle "rel" is not absolute`) {
		t.Fatalf("got %v", err)
	}
}

func TestOCIVersions(t *testing.T) {
	bundle := newBundle(t)
	for _, v := range []string{"1.0.0", "1.0.0-rc5", "1.0.0-rc2-dev", "1.0.1", "1.0.2-dev", "1.1.0", "1.1.0-rc.1", "1.2.0", "1.2.1", "1.3.0", "1.3.7", "1.3.0+dev"} {
		s := Example()
		s.Version = v
		c, err := Convert(s, Options{ID: "x", Bundle: bundle})
		if err != nil {
			t.Errorf("%s: %v", v, err)
			continue
		}
		if c.Version != v {
			t.Errorf("%s: config has version %q", v, c.Version)
		}
	}
	for _, v := range []string{"", "0.9.0", "2.0.0", "1.4.0", "1.10.0", "1.0", "1", "v1.0.0", "1.0.x", "latest", "1.0.0.0"} {
		s := Example()
		s.Version = v
		if _, err := Convert(s, Options{ID: "x", Bundle: bundle}); err == nil || !strings.HasPrefix(err.Error(), "config.json: ociVersion: ") {
			t.Errorf("%q: got %v, want an ociVersion error", v, err)
		}
	}
}

func TestCgroupPathResolution(t *testing.T) {
	tests := []struct {
		path, parent, id string
		systemd          bool
		want             string
	}{
		{"", "", "abc", false, "/husk/abc"},
		{"", "/other", "abc", false, "/other/abc"},
		{"/abs//x/../y", "", "abc", false, "/abs/y"},
		{"rel/x", "", "abc", false, "/husk/rel/x"},
		{"rel/x", "/p", "abc", false, "/p/rel/x"},
		{"kubepods-besteffort.slice:cri-containerd:abc", "", "abc", false, "/husk/kubepods-besteffort.slice:cri-containerd:abc"},
		{"", "", "abc", true, "system.slice:husk:abc"},
		{"kubepods-besteffort.slice:cri-containerd:abc", "", "abc", true, "kubepods-besteffort.slice:cri-containerd:abc"},
		{":husk:abc", "", "abc", true, ":husk:abc"},
	}
	for _, tt := range tests {
		got, err := cgroupPath(tt.path, &Options{ID: tt.id, CgroupParent: tt.parent, SystemdCgroup: tt.systemd})
		if err != nil || got != tt.want {
			t.Errorf("cgroupPath(%q, parent %q, systemd %v) = %q, %v; want %q", tt.path, tt.parent, tt.systemd, got, err, tt.want)
		}
	}
	for _, bad := range []string{"/husk/abc", "a:b", "a:b:c:d", "system:husk:abc", "x.slice:husk:", "x.slice:husk:a/b"} {
		if got, err := cgroupPath(bad, &Options{ID: "abc", SystemdCgroup: true}); err == nil {
			t.Errorf("systemd cgroupPath(%q) = %q, want an error", bad, got)
		} else if !strings.HasPrefix(err.Error(), "linux.cgroupsPath: ") {
			t.Errorf("systemd cgroupPath(%q): error %q does not name the field", bad, err)
		}
	}
	if _, err := cgroupPath("", &Options{}); err == nil {
		t.Error("empty cgroupsPath and empty ID: want an error")
	}
}

func TestMountOptionParsing(t *testing.T) {
	tests := []struct {
		opts []string
		want configs.Mount
	}{
		{nil, configs.Mount{}},
		{[]string{"defaults"}, configs.Mount{}},
		{[]string{"ro", "nosuid", "nodev", "noexec"},
			configs.Mount{Flags: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC}},
		{[]string{"ro", "rw"}, configs.Mount{ClearedFlags: unix.MS_RDONLY}},
		{[]string{"rw", "ro"}, configs.Mount{Flags: unix.MS_RDONLY}},
		{[]string{"suid", "dev", "exec", "async", "atime", "diratime", "norelatime", "nostrictatime", "nomand"},
			configs.Mount{ClearedFlags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_SYNCHRONOUS |
				unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_MANDLOCK}},
		{[]string{"sync", "dirsync", "remount", "mand", "noatime", "nodiratime", "relatime", "strictatime"},
			configs.Mount{Flags: unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC | unix.MS_REMOUNT | unix.MS_MANDLOCK |
				unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME}},
		{[]string{"bind"}, configs.Mount{Flags: unix.MS_BIND}},
		{[]string{"rbind"}, configs.Mount{Flags: unix.MS_BIND | unix.MS_REC}},
		{[]string{"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"},
			configs.Mount{PropagationFlags: []int{
				unix.MS_PRIVATE, unix.MS_PRIVATE | unix.MS_REC, unix.MS_SHARED, unix.MS_SHARED | unix.MS_REC,
				unix.MS_SLAVE, unix.MS_SLAVE | unix.MS_REC, unix.MS_UNBINDABLE, unix.MS_UNBINDABLE | unix.MS_REC}}},
		{[]string{"mode=755", "nosuid", "size=65536k", "x-unknown"},
			configs.Mount{Flags: unix.MS_NOSUID, Data: "mode=755,size=65536k,x-unknown"}},
		{[]string{"rro", "rnosuid", "rnodev", "rnoexec", "rnodiratime", "rnosymfollow"},
			configs.Mount{RecAttrSet: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV |
				unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW}},
		{[]string{"rrw", "rsuid", "rdev", "rexec", "rdiratime", "rsymfollow"},
			configs.Mount{RecAttrClr: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV |
				unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW}},
		{[]string{"rro", "rrw"}, configs.Mount{RecAttrClr: unix.MOUNT_ATTR_RDONLY}},
		{[]string{"rrw", "rro"}, configs.Mount{RecAttrSet: unix.MOUNT_ATTR_RDONLY}},
		// The atime options always clear the whole atime field, as
		// mount_setattr(2) demands.
		{[]string{"rnoatime"}, configs.Mount{RecAttrSet: unix.MOUNT_ATTR_NOATIME, RecAttrClr: unix.MOUNT_ATTR__ATIME}},
		{[]string{"rstrictatime"}, configs.Mount{RecAttrSet: unix.MOUNT_ATTR_STRICTATIME, RecAttrClr: unix.MOUNT_ATTR__ATIME}},
		{[]string{"rnoatime", "rrelatime"}, configs.Mount{RecAttrClr: unix.MOUNT_ATTR__ATIME}},
		{[]string{"rnoatime", "ratime"}, configs.Mount{RecAttrClr: unix.MOUNT_ATTR__ATIME}},
		{[]string{"rnorelatime"}, configs.Mount{RecAttrSet: unix.MOUNT_ATTR_STRICTATIME, RecAttrClr: unix.MOUNT_ATTR__ATIME}},
		{[]string{"rstrictatime", "rnostrictatime"}, configs.Mount{RecAttrClr: unix.MOUNT_ATTR__ATIME}},
		{[]string{"rnosuid", "rnoatime", "rro"}, configs.Mount{
			RecAttrSet: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOATIME | unix.MOUNT_ATTR_RDONLY, RecAttrClr: unix.MOUNT_ATTR__ATIME}},
		{[]string{"idmap"}, configs.Mount{IDMapped: true}},
		{[]string{"ridmap"}, configs.Mount{IDMapped: true, IDMapRecursive: true}},
		{[]string{"tmpcopyup"}, configs.Mount{Tmpcopyup: true}},
	}
	for _, tt := range tests {
		var got configs.Mount
		parseMountOptions(&got, tt.opts)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.opts, got, tt.want)
		}
	}
}

// TestTablesHaveUniqueNames stands in for the compiler's check of
// duplicate map keys, which the tables (slices, searched linearly, the
// first match winning) no longer get.
func TestTablesHaveUniqueNames(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range mountOptions {
		if seen[o.name] {
			t.Errorf("mount option %q is listed twice", o.name)
		}
		seen[o.name] = true
	}
	seen = map[string]bool{}
	for _, r := range rlimits {
		if seen[r.name] {
			t.Errorf("rlimit %q is listed twice", r.name)
		}
		seen[r.name] = true
	}
}

func TestRlimitLooksUpTheTable(t *testing.T) {
	names := RlimitNames()
	if len(names) != len(testRlimits) || !sort.StringsAreSorted(names) {
		t.Errorf("RlimitNames() = %q, want the %d names of testRlimits, sorted", names, len(testRlimits))
	}
	for name, want := range testRlimits {
		if got, ok := Rlimit(name); !ok || got != want {
			t.Errorf("Rlimit(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
	for _, name := range []string{"", "RLIMIT_FOO", "rlimit_nofile", "NOFILE"} {
		if got, ok := Rlimit(name); ok {
			t.Errorf("Rlimit(%q) = %d, want unknown", name, got)
		}
	}
	names[0] = "changed"
	if RlimitNames()[0] == "changed" {
		t.Error("RlimitNames returns the package's own slice")
	}
}

func TestMountOptionsListIsTheTable(t *testing.T) {
	names := MountOptions()
	if len(names) != len(mountOptions) {
		t.Fatalf("MountOptions has %d names, the table %d", len(names), len(mountOptions))
	}
	for _, want := range []string{"defaults", "ro", "rw", "rbind", "rslave", "rro", "rnoatime", "idmap", "ridmap", "tmpcopyup", "nostrictatime", "runbindable"} {
		if !contains(names, want) {
			t.Errorf("MountOptions lacks %q", want)
		}
	}
	for _, name := range names {
		var m configs.Mount
		parseMountOptions(&m, []string{name})
		if m.Data != "" {
			t.Errorf("listed option %q was passed as data", name)
		}
	}
	names[0] = "changed"
	if MountOptions()[0] == "changed" {
		t.Error("MountOptions returns the package's own slice")
	}
}

func TestBindMounts(t *testing.T) {
	bundle := newBundle(t)
	s := Example()
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/a", Type: "bind", Source: "/src"},
		specs.Mount{Destination: "/b", Type: "none", Source: "rel", Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/c//d/", Type: "tmpfs", Source: "tmpfs"},
	)
	c, err := Convert(s, Options{ID: "x", Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	n := len(c.Mounts)
	a, b, d := c.Mounts[n-3], c.Mounts[n-2], c.Mounts[n-1]
	if a.Device != "bind" || a.Flags != unix.MS_BIND || a.Source != "/src" {
		t.Errorf("type bind without options: %+v", a)
	}
	if b.Device != "bind" || b.Flags != unix.MS_BIND|unix.MS_REC|unix.MS_RDONLY || b.Source != filepath.Join(bundle, "rel") {
		t.Errorf("rbind with type none: %+v", b)
	}
	if d.Device != "tmpfs" || d.IsBind() || d.Destination != "/c/d" {
		t.Errorf("tmpfs: %+v", d)
	}
}

func TestRootfsResolvedAgainstBundle(t *testing.T) {
	bundle := newBundle(t)
	c, err := Convert(Example(), Options{ID: "x", Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	if c.Rootfs != filepath.Join(bundle, "rootfs") || !c.Readonly {
		t.Errorf("rootfs %q readonly %v", c.Rootfs, c.Readonly)
	}
	s := Example()
	s.Root.Path = filepath.Join(bundle, "rootfs")
	s.Root.Readonly = false
	c, err = Convert(s, Options{ID: "x", Bundle: "/elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Rootfs != filepath.Join(bundle, "rootfs") || c.Readonly {
		t.Errorf("absolute rootfs: %q readonly %v", c.Rootfs, c.Readonly)
	}
	s.Root.Path = "/does/not/exist"
	if _, err := Convert(s, Options{ID: "x", Bundle: bundle, SkipRootfsCheck: true}); err != nil {
		t.Errorf("SkipRootfsCheck: %v", err)
	}
}

func TestDefaultDevices(t *testing.T) {
	bundle := newBundle(t)
	c, err := Convert(Example(), Options{ID: "x", Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}
	if len(c.Devices) != len(want) {
		t.Fatalf("devices %+v", c.Devices)
	}
	for i, d := range c.Devices {
		if d.Path != want[i] || d.Type != 'c' || d.FileMode != 0o666 {
			t.Errorf("device %d: %+v", i, d)
		}
	}
	checkDevices(t, "example", c.Devices, nil)
}

func TestLoadSpec(t *testing.T) {
	bundle := t.TempDir()
	if _, err := LoadSpec(bundle); err == nil || err.Error() != "config.json: open "+filepath.Join(bundle, "config.json")+": no such file or directory" {
		t.Errorf("missing config: %v", err)
	}
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("{\n  \"ociVersion\": \"1.0.0\",\n  \"process\": {,}\n}")
	if _, err := LoadSpec(bundle); err == nil || !strings.HasPrefix(err.Error(), "config.json: line 3, column 15: invalid character ','") {
		t.Errorf("bad JSON: %v", err)
	}
	write("{\n\"process\": {\"user\": {\"uid\": \"root\"}}}")
	if _, err := LoadSpec(bundle); err == nil || !strings.HasPrefix(err.Error(), "config.json: process.user.uid: line 2, column") {
		t.Errorf("wrong type: %v", err)
	}
	b, err := json.Marshal(Example())
	if err != nil {
		t.Fatal(err)
	}
	write(string(b))
	s, err := LoadSpec(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, Example()) {
		t.Errorf("LoadSpec(Example) = %+v", s)
	}
}
