// Package configs holds the resolved, validated description of a container
// that libcontainer acts on. specconv builds it from an OCI runtime-spec; the
// parent sends it to the container's init process as JSON, so every field
// here must survive a JSON round trip.
//
// Values are already parsed: mount options are flags, capabilities and
// rlimits are numbers, paths are absolute. Init-side code therefore never
// parses user input and cannot fail on it halfway through setting up a
// container.
package configs

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// NamespaceType is the runtime-spec name of a Linux namespace ("pid",
// "network", "mount", "ipc", "uts", "user", "cgroup", "time").
type NamespaceType string

// The namespace types husk knows, named as in the runtime-spec.
const (
	NEWPID    NamespaceType = "pid"
	NEWNET    NamespaceType = "network"
	NEWNS     NamespaceType = "mount"
	NEWIPC    NamespaceType = "ipc"
	NEWUTS    NamespaceType = "uts"
	NEWUSER   NamespaceType = "user"
	NEWCGROUP NamespaceType = "cgroup"
	NEWTIME   NamespaceType = "time"
)

// Namespace is one namespace of the container: a new one when Path is
// empty, otherwise the existing namespace at Path that the container joins.
type Namespace struct {
	Type NamespaceType `json:"type"`
	Path string        `json:"path,omitempty"`
}

// IDMap maps a range of IDs in a user namespace to IDs on the host.
type IDMap struct {
	ContainerID uint32 `json:"container_id"`
	HostID      uint32 `json:"host_id"`
	Size        uint32 `json:"size"`
}

// Mount is one entry of the spec's mounts, with its options parsed.
type Mount struct {
	// Source is the host path for bind mounts, otherwise the fs source.
	Source string `json:"source"`
	// Destination is absolute inside the container's root.
	Destination string `json:"destination"`
	// Device is the filesystem type ("bind" for bind mounts).
	Device string `json:"device"`
	// Flags are the MS_* flags for mount(2), including MS_BIND/MS_REC.
	Flags int `json:"flags"`
	// ClearedFlags are flags an option explicitly cleared ("rw", "suid"...);
	// a bind mount needs them to decide what to keep on remount.
	ClearedFlags int `json:"cleared_flags,omitempty"`
	// PropagationFlags are MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE,
	// each optionally with MS_REC, applied after the mount in order.
	PropagationFlags []int `json:"propagation_flags,omitempty"`
	// Data is the fs-specific option string (e.g. "mode=755,size=65536k").
	Data string `json:"data,omitempty"`
	// RecAttrSet and RecAttrClr are MOUNT_ATTR_* bits applied recursively
	// with mount_setattr(2) ("rro", "rnosuid", ...).
	RecAttrSet uint64 `json:"rec_attr_set,omitempty"`
	RecAttrClr uint64 `json:"rec_attr_clr,omitempty"`
	// UIDMappings/GIDMappings request an ID-mapped mount.
	UIDMappings []IDMap `json:"uid_mappings,omitempty"`
	GIDMappings []IDMap `json:"gid_mappings,omitempty"`

	// Added by specconv for mount options that are not flags.

	// IDMapped requests an ID-mapped bind mount ("idmap", "ridmap", or
	// mappings given on the mount). With UIDMappings/GIDMappings empty the
	// container's own user namespace mappings apply (runtime-spec 1.2).
	IDMapped bool `json:"idmapped,omitempty"`
	// IDMapRecursive applies the ID mapping to every mount below the
	// destination too ("ridmap", mount_setattr with AT_RECURSIVE).
	IDMapRecursive bool `json:"idmap_recursive,omitempty"`
	// Tmpcopyup copies what the rootfs has at Destination into the new
	// tmpfs after mounting it ("tmpcopyup", a crun extension runc has too).
	Tmpcopyup bool `json:"tmpcopyup,omitempty"`
}

// IsBind reports whether the mount is a bind mount.
func (m *Mount) IsBind() bool { return m.Flags&msBind != 0 }

// msBind mirrors unix.MS_BIND without importing x/sys into a data package.
const msBind = 0x1000

// Device is a device node created in the container's /dev.
type Device struct {
	// Path is absolute inside the container, e.g. "/dev/null".
	Path string `json:"path"`
	// Type is 'c' (char), 'b' (block), 'u' (unbuffered char) or 'p' (fifo).
	Type     rune   `json:"type"`
	Major    int64  `json:"major"`
	Minor    int64  `json:"minor"`
	FileMode uint32 `json:"file_mode"`
	UID      uint32 `json:"uid"`
	GID      uint32 `json:"gid"`
}

// Capabilities are the five capability sets, as capability numbers
// (unix.CAP_*). A nil set means empty.
type Capabilities struct {
	Bounding    []int `json:"bounding,omitempty"`
	Effective   []int `json:"effective,omitempty"`
	Inheritable []int `json:"inheritable,omitempty"`
	Permitted   []int `json:"permitted,omitempty"`
	Ambient     []int `json:"ambient,omitempty"`
}

// Rlimit is one resource limit, with Type a unix.RLIMIT_* number.
type Rlimit struct {
	Type int    `json:"type"`
	Name string `json:"name"`
	Hard uint64 `json:"hard"`
	Soft uint64 `json:"soft"`
}

// Process is what runs in the container: the init process, or one started
// by exec.
type Process struct {
	Args            []string      `json:"args"`
	Env             []string      `json:"env,omitempty"`
	Cwd             string        `json:"cwd"`
	UID             uint32        `json:"uid"`
	GID             uint32        `json:"gid"`
	AdditionalGids  []uint32      `json:"additional_gids,omitempty"`
	Umask           *uint32       `json:"umask,omitempty"`
	Terminal        bool          `json:"terminal,omitempty"`
	ConsoleSize     *specs.Box    `json:"console_size,omitempty"`
	Capabilities    *Capabilities `json:"capabilities,omitempty"`
	Rlimits         []Rlimit      `json:"rlimits,omitempty"`
	NoNewPrivileges bool          `json:"no_new_privileges,omitempty"`
	OOMScoreAdj     *int          `json:"oom_score_adj,omitempty"`
	ApparmorProfile string        `json:"apparmor_profile,omitempty"`
	SelinuxLabel    string        `json:"selinux_label,omitempty"`
	// Scheduler, IOPriority and ExecCPUAffinity are carried from the spec.
	Scheduler       *specs.Scheduler       `json:"scheduler,omitempty"`
	IOPriority      *specs.LinuxIOPriority `json:"io_priority,omitempty"`
	ExecCPUAffinity *specs.CPUAffinity     `json:"exec_cpu_affinity,omitempty"`
}

// Cgroup says where the container's cgroup is and what limits it gets.
type Cgroup struct {
	// Path is the resolved absolute cgroup path (e.g. "/husk/<id>"), or for
	// the systemd driver the "slice:prefix:name" triple.
	Path string `json:"path"`
	// Systemd selects the systemd driver.
	Systemd bool `json:"systemd,omitempty"`
	// Resources are the limits from linux.resources (nil: none).
	Resources *specs.LinuxResources `json:"resources,omitempty"`
}

// Config is everything libcontainer needs to create a container.
type Config struct {
	// Version is the spec's ociVersion, reported back in the state.
	Version string `json:"oci_version"`
	// Bundle is the absolute bundle directory.
	Bundle string `json:"bundle"`
	// Rootfs is the absolute path of the root filesystem.
	Rootfs   string `json:"rootfs"`
	Readonly bool   `json:"readonly,omitempty"`
	// RootPropagation is the mount propagation of "/" (MS_PRIVATE,
	// MS_SLAVE, MS_SHARED or MS_UNBINDABLE, with MS_REC). 0 means the
	// default, MS_SLAVE|MS_REC, as runc.
	RootPropagation int `json:"root_propagation,omitempty"`
	// NoPivotRoot uses MS_MOVE+chroot instead of pivot_root (--no-pivot).
	NoPivotRoot bool `json:"no_pivot_root,omitempty"`
	// NoNewKeyring keeps the caller's session keyring (--no-new-keyring).
	NoNewKeyring bool `json:"no_new_keyring,omitempty"`

	Hostname   string `json:"hostname,omitempty"`
	Domainname string `json:"domainname,omitempty"`

	Namespaces  []Namespace                      `json:"namespaces,omitempty"`
	UIDMappings []IDMap                          `json:"uid_mappings,omitempty"`
	GIDMappings []IDMap                          `json:"gid_mappings,omitempty"`
	TimeOffsets map[string]specs.LinuxTimeOffset `json:"time_offsets,omitempty"`

	Mounts        []Mount                 `json:"mounts,omitempty"`
	Devices       []Device                `json:"devices,omitempty"`
	MaskedPaths   []string                `json:"masked_paths,omitempty"`
	ReadonlyPaths []string                `json:"readonly_paths,omitempty"`
	Sysctl        map[string]string       `json:"sysctl,omitempty"`
	MountLabel    string                  `json:"mount_label,omitempty"`
	Personality   *specs.LinuxPersonality `json:"personality,omitempty"`

	Process *Process `json:"process,omitempty"`
	Cgroup  *Cgroup  `json:"cgroup,omitempty"`
	// Seccomp is the spec's filter, compiled in init by package seccomp.
	Seccomp *specs.LinuxSeccomp `json:"seccomp,omitempty"`
	Hooks   *specs.Hooks        `json:"hooks,omitempty"`

	Annotations map[string]string `json:"annotations,omitempty"`
}

// Namespace returns the namespace of type t and whether the config has it.
func (c *Config) Namespace(t NamespaceType) (Namespace, bool) {
	for _, ns := range c.Namespaces {
		if ns.Type == t {
			return ns, true
		}
	}
	return Namespace{}, false
}

// NewNamespace reports whether the container gets a new namespace of type t
// (listed without a path).
func (c *Config) NewNamespace(t NamespaceType) bool {
	ns, ok := c.Namespace(t)
	return ok && ns.Path == ""
}
