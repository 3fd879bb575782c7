package specconv

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/husk-runtime/husk/libcontainer/caps"
	"github.com/husk-runtime/husk/seccomp"
)

// Features returns what `husk features` prints: the spec versions, hooks,
// mount options, namespaces, capabilities and seccomp names that Convert
// accepts, read from the same tables it uses. Fields for things husk does
// not do (systemd cgroups, Intel RDT, ID-mapped mounts, AppArmor, network
// devices) say false rather than being left out.
func Features() *features.Features {
	yes, no := true, false
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         append([]string(nil), hookNames...),
		MountOptions:  MountOptions(),
		Linux: &features.Linux{
			Namespaces:   Namespaces(),
			Capabilities: caps.Names(),
			Cgroup: &features.Cgroup{
				V1:          &yes,
				V2:          &yes,
				Systemd:     &no,
				SystemdUser: &no,
				Rdma:        &no,
			},
			Seccomp: &features.Seccomp{
				Enabled:        &yes,
				Actions:        seccomp.KnownActions(),
				Operators:      seccomp.KnownOperators(),
				Archs:          seccomp.KnownArchs(),
				KnownFlags:     seccomp.KnownFlags(),
				SupportedFlags: seccomp.SupportedFlags(),
			},
			Apparmor: &features.Apparmor{Enabled: &no},
			Selinux:  &features.Selinux{Enabled: &yes},
			IntelRdt: &features.IntelRdt{Enabled: &no},
			MountExtensions: &features.MountExtensions{
				IDMap: &features.IDMap{Enabled: &no},
			},
			NetDevices: &features.NetDevices{Enabled: &no},
		},
	}
}
