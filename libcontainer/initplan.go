package libcontainer

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/husk-runtime/husk/internal/selfmounts"
	"github.com/husk-runtime/husk/libcontainer/configs"
	"github.com/husk-runtime/husk/libcontainer/rootfs"
	"github.com/husk-runtime/husk/seccomp"
	"golang.org/x/sys/unix"
)

// An init plan is an exec plan (execplan.go) with the container's set-up
// added: keyring, hostname, the root filesystem's mounts, /dev, pivot_root,
// readonly and masked paths. With it a container's first process is set up
// by nsexec's C code (nsenter/initplan.c) and never starts the Go runtime,
// which would cost more than the rest of its set-up together (~2 ms to
// start, plus decoding the JSON config). The parent compiles the config
// into simple records here; the few decisions that need the host (the
// cgroup v1 layout, /proc/kcore) are taken here too. Configs that need
// more than the C code does go through Go (Init): see initGoOnlyReason.

// Init plan record tags; keep in sync with enum xp_tag in
// nsenter/execplan.h.
const (
	xpInit     = 32
	xpKeyring  = 33
	xpHostname = 34
	xpDomain   = 35
	xpRootfs   = 36
	xpRootProp = 37
	xpMount    = 38
	xpDevice   = 39
	xpDevFlags = 40
	xpROPath   = 41
	xpMaskPath = 42
	xpDevRO    = 43
	xpRootRO   = 44
	xpNoPivot  = 45
	xpHooks    = 46

	// Mount kinds of an xpMount record (XM_* in plan_internal.h).
	xmFS      = 1
	xmBind    = 2
	xmCgroup1 = 3

	// Bits of xpDevFlags (XD_*).
	xdBindDev = 1
	xdHasPts  = 2
	xdKcore   = 4
)

// openat2Supported says whether the kernel has openat2(2) (5.6), which the
// C code resolves every path in the rootfs with; the Go path emulates it
// on older kernels. The kernel is asked once, with an empty path: openat2
// refuses it (ENOENT) after checking the flags and before opening
// anything, so there is no fd to close; a kernel without it, or a seccomp
// filter that denies it, answers ENOSYS or EPERM. A sync.Once rather than
// sync.OnceValue, which allocates its state at every process start.
func openat2Supported() bool {
	openat2Once.Do(func() {
		_, err := unix.Openat2(unix.AT_FDCWD, "", &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT,
		})
		openat2OK = err == unix.ENOENT
	})
	return openat2OK
}

var (
	openat2Once sync.Once
	openat2OK   bool
)

// initGoOnlyReason says why cfg's first process must be set up by Go, or
// "" when an init plan can express it. The C code covers what containerd,
// Docker and `husk spec` send for a root container on a v1/hybrid host;
// the rest keeps the Go path, where each of these is implemented once:
//   - what goOnlyReason lists for any process (LSM labels, odd values);
//   - a user namespace (locked mount flags, bind-mounted devices, id maps),
//     no new mount namespace, a terminal (/dev/console), sysctls, a
//     personality, an SELinux mount label;
//   - createContainer and startContainer hooks (run inside the container);
//   - a root propagation that is not recursive slave/private/unbindable
//     (the parent mount of the rootfs might then need to be made private);
//   - mounts the Go code rejects or treats specially (id-mapped, tmpcopyup,
//     on "/"), and a cgroup mount whose layout is not known in advance.
func initGoOnlyReason(cfg *configs.Config) string {
	p := cfg.Process
	if r := goOnlyReason(p); r != "" {
		return r
	}
	h := cfg.Hooks
	prop := cfg.RootPropagation
	switch {
	case !cfg.NewNamespace(configs.NEWNS):
		return "no new mount namespace"
	case hasNamespace(cfg, configs.NEWUSER):
		return "user namespace"
	case p.Terminal:
		return "terminal"
	case len(cfg.Sysctl) > 0:
		return "sysctls"
	case cfg.Personality != nil:
		return "personality"
	case cfg.MountLabel != "":
		return "mount label"
	case h != nil && (len(h.CreateContainer) > 0 || len(h.StartContainer) > 0):
		return "hooks in the container"
	case prop != 0 && (prop&unix.MS_REC == 0 || prop&(unix.MS_SLAVE|unix.MS_PRIVATE|unix.MS_UNBINDABLE) == 0):
		return "root propagation"
	case !filepath.IsAbs(cfg.Rootfs):
		return "relative rootfs"
	case !openat2Supported():
		return "no openat2"
	}
	strs := []string{cfg.Rootfs, cfg.Hostname, cfg.Domainname}
	strs = append(strs, cfg.MaskedPaths...)
	strs = append(strs, cfg.ReadonlyPaths...)
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 || m.IDMapped || m.Tmpcopyup {
			return "mount option"
		}
		if cleanPath(m.Destination) == "/" {
			return "mount on /"
		}
		strs = append(strs, m.Source, m.Destination, m.Device, m.Data)
	}
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		if _, ok := deviceMode(d); !ok {
			return "device type"
		}
		if rel, ok := strings.CutPrefix(cleanPath(d.Path), "/dev/"); !ok || rel == "" {
			return "device path"
		}
		strs = append(strs, d.Path)
	}
	for _, s := range strs {
		if strings.IndexByte(s, 0) >= 0 {
			return "NUL byte"
		}
	}
	return ""
}

// initPlanCovers says whether encodeInitPlan will make a plan for cfg: no
// initGoOnlyReason, and a known layout for every cgroup mount.
func initPlanCovers(cfg *configs.Config) bool {
	if initGoOnlyReason(cfg) != "" {
		return false
	}
	for i := range cfg.Mounts {
		if cfg.Mounts[i].Device == "cgroup" {
			_, _, _, ok, err := planCgroupMount(cfg)
			return ok && err == nil
		}
	}
	return true
}

// planCgroupMount says how an init plan mounts a "cgroup" mount: on a
// cgroup v2 host, cgroup2 itself (v2), which the process's own cgroup
// namespace, when it has one, roots at its cgroup, as the Go path mounts
// it; elsewhere the v1 layout, the hierarchies' names and the host
// directories bound there (not ok when it is not known before the process
// runs: see rootfs.CgroupV1Layout). The Go path's fallback for a cgroup2
// mount the kernel refuses (a user namespace without a cgroup namespace
// of its own) is not needed: a plan has no user namespace.
func planCgroupMount(cfg *configs.Config) (v2 bool, names, dirs []string, ok bool, err error) {
	if v2, err = selfmounts.CgroupV2Only(); err != nil || v2 {
		return v2, nil, nil, err == nil, err
	}
	names, dirs, ok, err = rootfs.CgroupV1Layout(cfg.Cgroup)
	return false, names, dirs, ok, err
}

// hasNamespace reports whether the container has a namespace of type t,
// new or joined.
func hasNamespace(cfg *configs.Config, t configs.NamespaceType) bool {
	_, ok := cfg.Namespace(t)
	return ok
}

func cleanPath(p string) string { return filepath.Clean("/" + p) }

// deviceMode returns the mknod(2) mode of d: its type and permissions.
func deviceMode(d *configs.Device) (uint32, bool) {
	t, err := rootfs.DeviceType(d)
	if err != nil {
		return 0, false
	}
	return t | d.FileMode&0o7777, true
}

// lstr appends s with its u32 length.
func lstr(b []byte, s string) []byte {
	b = binary.NativeEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// encodeInitPlan encodes the first process of container id as an init
// plan, or returns nil when it needs the Go path (initGoOnlyReason, or a
// cgroup mount whose layout is unknown here).
func encodeInitPlan(id string, cfg *configs.Config, filter *seccomp.Program, extra int) ([]byte, error) {
	if initGoOnlyReason(cfg) != "" {
		return nil, nil
	}
	ne := binary.NativeEndian
	w := &planWriter{b: make([]byte, 0, 2048+8*len(filterOrNil(filter)))}
	w.b = append(w.b, xpMagic...)
	w.rec(xpInit, nil)
	if !cfg.NoNewKeyring {
		w.str(xpKeyring, "_ses."+id)
	}
	if cfg.Hostname != "" {
		w.str(xpHostname, cfg.Hostname)
	}
	if cfg.Domainname != "" {
		w.str(xpDomain, cfg.Domainname)
	}
	w.str(xpRootfs, cfg.Rootfs)
	if cfg.RootPropagation != 0 {
		w.u32(xpRootProp, uint32(cfg.RootPropagation))
	}
	var devFlags uint32
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		dest := cleanPath(m.Destination)
		switch dest {
		case "/dev":
			devFlags &^= xdBindDev
			if m.IsBind() {
				devFlags |= xdBindDev
			}
		case "/dev/pts":
			devFlags |= xdHasPts
		}
		kind := uint32(xmFS)
		fstype := m.Device
		var names, dirs []string
		switch m.Device {
		case "bind":
			kind = xmBind
		case "cgroup":
			v2, n, d, ok, err := planCgroupMount(cfg)
			if err != nil {
				return nil, err
			} else if !ok {
				return nil, nil
			}
			if v2 {
				fstype = "cgroup2"
			} else {
				kind, names, dirs = xmCgroup1, n, d
			}
		}
		v := ne.AppendUint32(nil, kind)
		v = ne.AppendUint32(v, uint32(m.Flags))
		v = ne.AppendUint32(v, uint32(m.ClearedFlags))
		v = ne.AppendUint32(v, uint32(len(m.PropagationFlags)))
		v = ne.AppendUint64(v, m.RecAttrSet)
		v = ne.AppendUint64(v, m.RecAttrClr)
		for _, p := range m.PropagationFlags {
			v = ne.AppendUint32(v, uint32(p))
		}
		v = lstr(v, dest)
		v = lstr(v, m.Source)
		v = lstr(v, fstype)
		v = lstr(v, m.Data)
		if kind == xmCgroup1 {
			v = ne.AppendUint32(v, uint32(len(names)))
			for i := range names {
				v = lstr(v, names[i])
				v = lstr(v, dirs[i])
			}
		}
		w.rec(xpMount, v)
		if dest == "/dev" && m.Flags&unix.MS_RDONLY != 0 {
			v := ne.AppendUint32(nil, uint32(m.Flags))
			w.rec(xpDevRO, ne.AppendUint32(v, uint32(m.ClearedFlags)))
		}
	}
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		mode, _ := deviceMode(d)
		v := ne.AppendUint32(nil, mode)
		v = ne.AppendUint32(v, uint32(d.Major))
		v = ne.AppendUint32(v, uint32(d.Minor))
		v = ne.AppendUint32(v, d.UID)
		v = ne.AppendUint32(v, d.GID)
		w.rec(xpDevice, append(v, cleanPath(d.Path)...))
	}
	// Checked here rather than in the container: before pivot_root the
	// container sees the host's /proc, as this process does.
	if _, err := os.Stat("/proc/kcore"); err == nil {
		devFlags |= xdKcore
	}
	w.u32(xpDevFlags, devFlags)
	for _, p := range cfg.ReadonlyPaths {
		w.str(xpROPath, p)
	}
	for _, p := range cfg.MaskedPaths {
		w.str(xpMaskPath, p)
	}
	if cfg.Readonly {
		w.rec(xpRootRO, nil)
	}
	if cfg.NoPivotRoot {
		w.rec(xpNoPivot, nil)
	}
	if h := cfg.Hooks; h != nil && (len(h.Prestart) > 0 || len(h.CreateRuntime) > 0) { //nolint:staticcheck // prestart is deprecated, still run
		w.rec(xpHooks, nil)
	}
	appendProcessPlan(w, cfg.Process, filter, extra)
	return w.b, nil
}

// initPlanContainerPart returns the magic and the container records of an
// init plan (INIT through HOOKS, see nsenter/execplan.h), without its
// process records: the part computed ahead (nsenter.AheadPlan).
func initPlanContainerPart(plan []byte) []byte {
	off := len(xpMagic)
	for off+8 <= len(plan) {
		tag := binary.NativeEndian.Uint32(plan[off:])
		n := int(binary.NativeEndian.Uint32(plan[off+4:]))
		if tag < xpInit || off+8+n > len(plan) {
			break
		}
		off += 8 + n
	}
	return plan[:off]
}
