package libcontainer

import (
	"encoding/binary"
	"testing"

	"github.com/husk-runtime/husk/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func planConfig() *configs.Config {
	return &configs.Config{
		Rootfs:     "/bundle/rootfs",
		Hostname:   "h",
		Namespaces: []configs.Namespace{{Type: configs.NEWNS}, {Type: configs.NEWPID}},
		Mounts: []configs.Mount{
			{Source: "proc", Destination: "/proc", Device: "proc"},
			{Source: "tmpfs", Destination: "/dev", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_RDONLY, Data: "mode=755"},
			{Source: "devpts", Destination: "/dev/pts", Device: "devpts"},
			{Source: "/etc/hosts", Destination: "/etc/hosts", Device: "bind", Flags: unix.MS_BIND | unix.MS_RDONLY,
				PropagationFlags: []int{unix.MS_PRIVATE}, RecAttrSet: unix.MOUNT_ATTR_NOSUID},
		},
		Devices:       []configs.Device{{Path: "/dev/null", Type: 'c', Major: 1, Minor: 3, FileMode: 0o666}},
		MaskedPaths:   []string{"/proc/kcore"},
		ReadonlyPaths: []string{"/proc/sys"},
		Readonly:      true,
		Hooks:         &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true"}}},
		Process:       &configs.Process{Args: []string{"true"}, Cwd: "/"},
	}
}

func TestInitPlanEncodesTheContainer(t *testing.T) {
	if !openat2Supported() {
		t.Skip("the kernel has no openat2: the Go path is used")
	}
	plan, err := encodeInitPlan("c1", planConfig(), nil, 0)
	if err != nil || plan == nil {
		t.Fatalf("encodeInitPlan: %v, plan %v", err, plan != nil)
	}
	r := planRecords(t, plan)
	ne := binary.NativeEndian
	for tag, want := range map[uint32]int{
		xpInit: 1, xpKeyring: 1, xpHostname: 1, xpRootfs: 1, xpMount: 4, xpDevice: 1, xpDevFlags: 1,
		xpROPath: 1, xpMaskPath: 1, xpDevRO: 1, xpRootRO: 1, xpHooks: 1, xpArg: 1, xpCwd: 1,
		xpDomain: 0, xpNoPivot: 0,
	} {
		if len(r[tag]) != want {
			t.Errorf("record %d: %d times, want %d", tag, len(r[tag]), want)
		}
	}
	if got := string(r[xpKeyring][0]); got != "_ses.c1" {
		t.Errorf("keyring %q", got)
	}
	if f := ne.Uint32(r[xpDevFlags][0]); f&xdHasPts == 0 || f&xdBindDev != 0 {
		t.Errorf("dev flags %#x: want /dev/pts and no bound /dev", f)
	}
	// The bind mount: kind, flags, one propagation change, the attribute,
	// then the four strings.
	m := r[xpMount][3]
	if ne.Uint32(m) != xmBind || ne.Uint32(m[4:]) != unix.MS_BIND|unix.MS_RDONLY || ne.Uint32(m[12:]) != 1 ||
		ne.Uint64(m[16:]) != unix.MOUNT_ATTR_NOSUID || ne.Uint32(m[32:]) != unix.MS_PRIVATE {
		t.Errorf("bind mount record %x", m)
	}
	var strs []string
	for b := m[36:]; len(b) >= 4; {
		n := ne.Uint32(b)
		strs = append(strs, string(b[4:4+n]))
		b = b[4+n:]
	}
	if want := []string{"/etc/hosts", "/etc/hosts", "bind", ""}; len(strs) != 4 || strs[0] != want[0] || strs[2] != want[2] {
		t.Errorf("bind mount strings %q, want %q", strs, want)
	}
	if d := r[xpDevice][0]; ne.Uint32(d) != unix.S_IFCHR|0o666 || string(d[20:]) != "/dev/null" {
		t.Errorf("device record %x", d)
	}
}

func TestInitGoOnlyReason(t *testing.T) {
	if !openat2Supported() {
		t.Skip("the kernel has no openat2: the Go path is always used")
	}
	if r := initGoOnlyReason(planConfig()); r != "" {
		t.Fatalf("a plain config takes the Go path: %s", r)
	}
	for name, change := range map[string]func(c *configs.Config){
		"user namespace": func(c *configs.Config) { c.Namespaces = append(c.Namespaces, configs.Namespace{Type: configs.NEWUSER}) },
		"joined user ns": func(c *configs.Config) {
			c.Namespaces = append(c.Namespaces, configs.Namespace{Type: configs.NEWUSER, Path: "/x"})
		},
		"no mount ns":      func(c *configs.Config) { c.Namespaces = c.Namespaces[1:] },
		"joined mount ns":  func(c *configs.Config) { c.Namespaces[0].Path = "/proc/1/ns/mnt" },
		"terminal":         func(c *configs.Config) { c.Process.Terminal = true },
		"sysctl":           func(c *configs.Config) { c.Sysctl = map[string]string{"kernel.shmmax": "1"} },
		"personality":      func(c *configs.Config) { c.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux} },
		"mount label":      func(c *configs.Config) { c.MountLabel = "l" },
		"selinux label":    func(c *configs.Config) { c.Process.SelinuxLabel = "l" },
		"createContainer":  func(c *configs.Config) { c.Hooks.CreateContainer = []specs.Hook{{Path: "/x"}} },
		"startContainer":   func(c *configs.Config) { c.Hooks.StartContainer = []specs.Hook{{Path: "/x"}} },
		"shared root":      func(c *configs.Config) { c.RootPropagation = unix.MS_SHARED | unix.MS_REC },
		"private, not rec": func(c *configs.Config) { c.RootPropagation = unix.MS_PRIVATE },
		"idmapped mount":   func(c *configs.Config) { c.Mounts[3].IDMapped = true },
		"mount on /":       func(c *configs.Config) { c.Mounts[3].Destination = "/.." },
		"device type":      func(c *configs.Config) { c.Devices[0].Type = 'x' },
		"device path":      func(c *configs.Config) { c.Devices[0].Path = "/etc/null" },
		"NUL":              func(c *configs.Config) { c.Mounts[0].Data = "a\x00b" },
	} {
		c := planConfig()
		change(c)
		if initGoOnlyReason(c) == "" {
			t.Errorf("%s: the C path would be used", name)
		}
		if plan, err := encodeInitPlan("c1", c, nil, 0); err != nil || plan != nil {
			t.Errorf("%s: encodeInitPlan gave a plan (%v)", name, err)
		}
	}
}

// initPlanCovers, which Create asks before it has the network namespace
// made ahead, agrees with encodeInitPlan.
func TestInitPlanCoversAgreesWithEncode(t *testing.T) {
	terminal := planConfig()
	terminal.Process.Terminal = true
	userns := planConfig()
	userns.Namespaces = append(userns.Namespaces, configs.Namespace{Type: configs.NEWUSER})
	cgroupMount := planConfig()
	cgroupMount.Mounts = append(cgroupMount.Mounts, configs.Mount{Source: "cgroup", Destination: "/sys/fs/cgroup", Device: "cgroup"})
	cgroupMount.Cgroup = &configs.Cgroup{Path: "/husk-plan-test/c1"}
	relative := planConfig()
	relative.Cgroup = &configs.Cgroup{Path: "c1"}
	relative.Mounts = cgroupMount.Mounts
	for name, cfg := range map[string]*configs.Config{
		"plain": planConfig(), "terminal": terminal, "user namespace": userns,
		"cgroup mount": cgroupMount, "cgroup mount, relative path": relative,
	} {
		plan, err := encodeInitPlan("c1", cfg, nil, 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, want := initPlanCovers(cfg), plan != nil; got != want {
			t.Errorf("%s: initPlanCovers %v, encodeInitPlan made a plan: %v", name, got, want)
		}
	}
}
