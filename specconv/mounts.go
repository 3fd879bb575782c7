package specconv

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer/configs"
)

// optKind says which part of a configs.Mount a mount option sets.
type optKind uint8

const (
	// optFlag is an MS_* flag for mount(2), set or cleared.
	optFlag optKind = iota
	// optPropagation is a propagation change applied after the mount.
	optPropagation
	// optRecAttr is a MOUNT_ATTR_* change applied recursively with
	// mount_setattr(2).
	optRecAttr
	// optIDMap requests an ID-mapped mount ("idmap", "ridmap").
	optIDMap
	// optTmpcopyup requests copying the destination's old content into a
	// new tmpfs (a crun extension that runc also implements).
	optTmpcopyup
)

// mountOption is what one option name means to husk.
type mountOption struct {
	kind optKind
	// clear: the option removes flag instead of setting it ("rw", "suid").
	clear bool
	// flag is the MS_* bit for optFlag and optPropagation.
	flag int
	// attrSet and attrClr are the MOUNT_ATTR_* bits for optRecAttr.
	attrSet, attrClr uint64
	// recursive is set for "ridmap".
	recursive bool
}

// atime is a recursive atime option. MOUNT_ATTR_{RELATIME,NOATIME,
// STRICTATIME} are values of a 2-bit field, not flags: mount_setattr(2)
// rejects an atime change unless attr_clr holds the whole
// MOUNT_ATTR__ATIME mask, so every atime option clears the mask and sets
// the value it selects (MOUNT_ATTR_RELATIME is 0).
func atime(value uint64) mountOption {
	return mountOption{kind: optRecAttr, attrSet: value, attrClr: unix.MOUNT_ATTR__ATIME}
}

func recSet(attr uint64) mountOption { return mountOption{kind: optRecAttr, attrSet: attr} }
func recClr(attr uint64) mountOption { return mountOption{kind: optRecAttr, attrClr: attr} }
func msSet(flag int) mountOption     { return mountOption{kind: optFlag, flag: flag} }
func msClr(flag int) mountOption     { return mountOption{kind: optFlag, flag: flag, clear: true} }
func prop(flag int) mountOption      { return mountOption{kind: optPropagation, flag: flag} }

// mountOptions is the one table of mount options husk interprets itself.
// The parser, the validator and Features all read it; any option not in it
// is filesystem data ("mode=755", "size=65536k"), passed to mount(2) as is.
// A table, not a map: a map literal is built by code at every process
// start, while the compiler lays this one out (the helpers above are
// inlined into constants); the few options of a mount are looked up by a
// linear search, which costs less than that start-up work.
var mountOptions = []struct {
	name string
	opt  mountOption
}{
	{"defaults", msSet(0)},

	{"ro", msSet(unix.MS_RDONLY)},
	{"rw", msClr(unix.MS_RDONLY)},
	{"nosuid", msSet(unix.MS_NOSUID)},
	{"suid", msClr(unix.MS_NOSUID)},
	{"nodev", msSet(unix.MS_NODEV)},
	{"dev", msClr(unix.MS_NODEV)},
	{"noexec", msSet(unix.MS_NOEXEC)},
	{"exec", msClr(unix.MS_NOEXEC)},
	{"sync", msSet(unix.MS_SYNCHRONOUS)},
	{"async", msClr(unix.MS_SYNCHRONOUS)},
	{"dirsync", msSet(unix.MS_DIRSYNC)},
	{"remount", msSet(unix.MS_REMOUNT)},
	{"mand", msSet(unix.MS_MANDLOCK)},
	{"nomand", msClr(unix.MS_MANDLOCK)},
	{"noatime", msSet(unix.MS_NOATIME)},
	{"atime", msClr(unix.MS_NOATIME)},
	{"nodiratime", msSet(unix.MS_NODIRATIME)},
	{"diratime", msClr(unix.MS_NODIRATIME)},
	{"relatime", msSet(unix.MS_RELATIME)},
	{"norelatime", msClr(unix.MS_RELATIME)},
	{"strictatime", msSet(unix.MS_STRICTATIME)},
	{"nostrictatime", msClr(unix.MS_STRICTATIME)},
	{"lazytime", msSet(unix.MS_LAZYTIME)},
	{"nolazytime", msClr(unix.MS_LAZYTIME)},
	{"iversion", msSet(unix.MS_I_VERSION)},
	{"noiversion", msClr(unix.MS_I_VERSION)},
	{"acl", msSet(unix.MS_POSIXACL)},
	{"noacl", msClr(unix.MS_POSIXACL)},
	{"silent", msSet(unix.MS_SILENT)},
	{"loud", msClr(unix.MS_SILENT)},
	{"nosymfollow", msSet(unix.MS_NOSYMFOLLOW)},
	{"symfollow", msClr(unix.MS_NOSYMFOLLOW)},
	{"bind", msSet(unix.MS_BIND)},
	{"rbind", msSet(unix.MS_BIND | unix.MS_REC)},

	{"private", prop(unix.MS_PRIVATE)},
	{"rprivate", prop(unix.MS_PRIVATE | unix.MS_REC)},
	{"shared", prop(unix.MS_SHARED)},
	{"rshared", prop(unix.MS_SHARED | unix.MS_REC)},
	{"slave", prop(unix.MS_SLAVE)},
	{"rslave", prop(unix.MS_SLAVE | unix.MS_REC)},
	{"unbindable", prop(unix.MS_UNBINDABLE)},
	{"runbindable", prop(unix.MS_UNBINDABLE | unix.MS_REC)},

	{"rro", recSet(unix.MOUNT_ATTR_RDONLY)},
	{"rrw", recClr(unix.MOUNT_ATTR_RDONLY)},
	{"rnosuid", recSet(unix.MOUNT_ATTR_NOSUID)},
	{"rsuid", recClr(unix.MOUNT_ATTR_NOSUID)},
	{"rnodev", recSet(unix.MOUNT_ATTR_NODEV)},
	{"rdev", recClr(unix.MOUNT_ATTR_NODEV)},
	{"rnoexec", recSet(unix.MOUNT_ATTR_NOEXEC)},
	{"rexec", recClr(unix.MOUNT_ATTR_NOEXEC)},
	{"rnodiratime", recSet(unix.MOUNT_ATTR_NODIRATIME)},
	{"rdiratime", recClr(unix.MOUNT_ATTR_NODIRATIME)},
	{"rnosymfollow", recSet(unix.MOUNT_ATTR_NOSYMFOLLOW)},
	{"rsymfollow", recClr(unix.MOUNT_ATTR_NOSYMFOLLOW)},
	{"rnoatime", atime(unix.MOUNT_ATTR_NOATIME)},
	{"rstrictatime", atime(unix.MOUNT_ATTR_STRICTATIME)},
	{"rrelatime", atime(unix.MOUNT_ATTR_RELATIME)},
	// Leaving noatime, relatime or strictatime selects another mode: the
	// kernel's default (relatime) after "ratime" and "rnostrictatime",
	// and access-time updates on every access after "rnorelatime", as
	// mount(8) describes norelatime.
	{"ratime", atime(unix.MOUNT_ATTR_RELATIME)},
	{"rnostrictatime", atime(unix.MOUNT_ATTR_RELATIME)},
	{"rnorelatime", atime(unix.MOUNT_ATTR_STRICTATIME)},

	{"idmap", mountOption{kind: optIDMap}},
	{"ridmap", mountOption{kind: optIDMap, recursive: true}},

	{"tmpcopyup", mountOption{kind: optTmpcopyup}},
}

// lookupMountOption returns what the option called name means to husk,
// reporting whether it is in mountOptions.
func lookupMountOption(name string) (mountOption, bool) {
	for _, o := range mountOptions {
		if o.name == name {
			return o.opt, true
		}
	}
	return mountOption{}, false
}

// MountOptions returns, sorted, the mount options husk interprets itself
// (flags, propagation, recursive attributes, idmap and tmpcopyup). Any
// other option in a config is passed to the filesystem as data. The list
// is what `husk features` reports; callers get their own copy. It is
// sorted here, when asked for, rather than kept sorted at start-up.
func MountOptions() []string {
	names := make([]string, len(mountOptions))
	for i, o := range mountOptions {
		names[i] = o.name
	}
	sort.Strings(names)
	return names
}

// propagationFlags maps linux.rootfsPropagation values to MS_* flags; it is
// the propagation part of mountOptions.
func propagationFlag(name string) (int, bool) {
	o, ok := lookupMountOption(name)
	if !ok || o.kind != optPropagation {
		return 0, false
	}
	return o.flag, true
}

// parseMountOptions applies the options in order to m, the last one
// winning where two contradict ("ro" then "rw"). Options not in
// mountOptions are joined, in order, into m.Data.
func parseMountOptions(m *configs.Mount, options []string) {
	var data []string
	for _, name := range options {
		o, ok := lookupMountOption(name)
		if !ok {
			data = append(data, name)
			continue
		}
		switch o.kind {
		case optFlag:
			if o.clear {
				m.Flags &^= o.flag
				m.ClearedFlags |= o.flag
			} else {
				m.Flags |= o.flag
				m.ClearedFlags &^= o.flag
			}
		case optPropagation:
			m.PropagationFlags = append(m.PropagationFlags, o.flag)
		case optRecAttr:
			if o.attrClr == unix.MOUNT_ATTR__ATIME {
				// An atime mode: the mask stays in the clear set, see atime.
				m.RecAttrClr |= o.attrClr
				m.RecAttrSet = m.RecAttrSet&^o.attrClr | o.attrSet
				continue
			}
			m.RecAttrSet = m.RecAttrSet&^o.attrClr | o.attrSet
			m.RecAttrClr = m.RecAttrClr&^o.attrSet | o.attrClr
		case optIDMap:
			m.IDMapped = true
			m.IDMapRecursive = o.recursive
		case optTmpcopyup:
			m.Tmpcopyup = true
		}
	}
	if len(data) > 0 {
		m.Data = strings.Join(data, ",")
	}
}

// convertMount validates spec mount i and returns it parsed. bundle makes
// a relative bind-mount source absolute, as runc does.
func convertMount(i int, sm *specs.Mount, bundle string) (configs.Mount, error) {
	if sm.Destination == "" {
		return configs.Mount{}, indexErr("mounts", i, ".destination: empty")
	}
	if !filepath.IsAbs(sm.Destination) {
		return configs.Mount{}, indexErr("mounts", i, ".destination: %q is not absolute", sm.Destination)
	}
	m := configs.Mount{
		Source:      sm.Source,
		Destination: filepath.Clean(sm.Destination),
		Device:      sm.Type,
	}
	parseMountOptions(&m, sm.Options)
	if sm.Type == "bind" {
		m.Flags |= unix.MS_BIND
	}
	if m.IsBind() {
		// The type of a bind mount means nothing to mount(2); naming it
		// "bind" lets the rootfs code test one field.
		m.Device = "bind"
		if m.Source == "" {
			return configs.Mount{}, indexErr("mounts", i, ".source: a bind mount needs a source")
		}
		if !filepath.IsAbs(m.Source) {
			m.Source = filepath.Join(bundle, m.Source)
		}
	} else if m.Device == "" {
		return configs.Mount{}, indexErr("mounts", i, ".type: required for a mount that is not a bind mount")
	}
	if m.Flags&unix.MS_REMOUNT != 0 && m.IsBind() {
		return configs.Mount{}, indexErr("mounts", i, ".options: remount cannot be combined with bind")
	}

	if len(sm.UIDMappings) > 0 || len(sm.GIDMappings) > 0 {
		field := fmt.Sprintf("mounts[%d]", i)
		// Mappings without "idmap" still ask for an ID-mapped mount.
		m.IDMapped = true
		var err error
		if m.UIDMappings, err = convertIDMaps(field+".uidMappings", sm.UIDMappings); err != nil {
			return configs.Mount{}, err
		}
		if m.GIDMappings, err = convertIDMaps(field+".gidMappings", sm.GIDMappings); err != nil {
			return configs.Mount{}, err
		}
		if len(m.UIDMappings) == 0 || len(m.GIDMappings) == 0 {
			return configs.Mount{}, indexErr("mounts", i, ": an ID-mapped mount needs both uidMappings and gidMappings")
		}
	}
	if m.IDMapped && !m.IsBind() {
		return configs.Mount{}, indexErr("mounts", i, ".options: ID-mapped mounts are only supported for bind mounts")
	}
	if m.Tmpcopyup && m.Device != "tmpfs" {
		return configs.Mount{}, indexErr("mounts", i, ".options: tmpcopyup is only valid for tmpfs mounts, not %q", m.Device)
	}
	return m, nil
}

// indexErr makes the error for element i of the list field, e.g.
// `mounts[3].destination: "tmp" is not absolute`. The field name is only
// formatted when there is an error, keeping conversion of valid configs
// free of per-element formatting.
func indexErr(list string, i int, format string, args ...any) error {
	return fmt.Errorf("%s[%d]%s", list, i, fmt.Sprintf(format, args...))
}
