package libcontainer

import (
	"github.com/husk-runtime/husk/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func devRule(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	r := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major >= 0 {
		r.Major = &major
	}
	if minor >= 0 {
		r.Minor = &minor
	}
	return r
}

// alwaysAllowed are the device rules every container gets on top of its
// config, as runc gives them: mknod of any node (opening it still needs a
// rule), the container's own ptys and /dev/ptmx. Written out rather than
// made by devRule, and pointing to variables rather than to copies, so
// that the compiler lays the rules out instead of code building them at
// every process start; nothing writes through the pointers.
var alwaysAllowed = []specs.LinuxDeviceCgroup{
	{Allow: true, Type: "c", Access: "m"},
	{Allow: true, Type: "b", Access: "m"},
	{Allow: true, Type: "c", Major: &ptsMajor, Access: "rwm"},                     // /dev/pts/*
	{Allow: true, Type: "c", Major: &ptmxMajor, Minor: &ptmxMinor, Access: "rwm"}, // /dev/ptmx
}

// The device numbers alwaysAllowed points to.
var (
	ptsMajor  int64 = 136
	ptmxMajor int64 = 5
	ptmxMinor int64 = 2
)

// cgroupResources returns the resources to apply to the container's cgroup:
// the config's, with the device list made complete. Devices start denied,
// then the config's rules apply in order, then every device node the
// container gets in /dev (the runtime-spec defaults and linux.devices) is
// allowed, so that a config denying everything still has a working
// /dev/null.
func cgroupResources(cfg *configs.Config) *specs.LinuxResources {
	var r specs.LinuxResources
	if cfg.Cgroup.Resources != nil {
		r = *cfg.Cgroup.Resources
	}
	rules := make([]specs.LinuxDeviceCgroup, 0, 1+len(r.Devices)+len(alwaysAllowed)+len(cfg.Devices))
	rules = append(rules, devRule(false, "a", -1, -1, "rwm"))
	rules = append(rules, r.Devices...)
	rules = append(rules, alwaysAllowed...)
	for _, d := range cfg.Devices {
		if d.Type == 'p' {
			continue // fifos are not devices to the cgroup
		}
		t := "c"
		if d.Type == 'b' {
			t = "b"
		}
		rules = append(rules, devRule(true, t, d.Major, d.Minor, "rwm"))
	}
	r.Devices = rules
	return &r
}
