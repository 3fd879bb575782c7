package specconv

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/libcontainer/caps"
	"github.com/husk-runtime/husk/libcontainer/configs"
	"github.com/husk-runtime/husk/seccomp"
)

// DefaultCgroupParent is the cgroup under which containers without an
// absolute linux.cgroupsPath are placed.
const DefaultCgroupParent = "/husk"

// Options are the settings of a conversion that come from the command line
// rather than from config.json.
type Options struct {
	// ID is the container ID; it names the default cgroup.
	ID string
	// Bundle is the absolute bundle directory; root.path and relative
	// bind-mount sources are resolved against it.
	Bundle string
	// NoPivotRoot, NoNewKeyring and SystemdCgroup are the global flags of
	// the same names, copied into the config.
	NoPivotRoot, NoNewKeyring, SystemdCgroup bool
	// CgroupParent is the parent of relative cgroup paths (default
	// DefaultCgroupParent).
	CgroupParent string
	// SkipRootfsCheck skips checking that root.path exists and is a
	// directory. It is for validating a config on its own (tests, tools
	// that check a config away from its bundle), never for creating a
	// container.
	SkipRootfsCheck bool
}

// Convert validates spec and resolves it into the config libcontainer uses
// to create a container. Every error starts with "config.json: " and names
// the field at fault. To stay cheap the config shares slices, maps and
// pointers (args, env, hooks, resources, seccomp...) with spec instead of
// copying them, so spec must not be changed afterwards.
func Convert(spec *specs.Spec, opts Options) (*configs.Config, error) {
	if spec == nil {
		return nil, fmt.Errorf("%s: no spec", configFile)
	}
	c, err := convert(spec, &opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", configFile, err)
	}
	return c, nil
}

func convert(spec *specs.Spec, opts *Options) (*configs.Config, error) {
	if err := checkVersion(spec.Version); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(opts.Bundle) {
		return nil, fmt.Errorf("bundle %q is not absolute", opts.Bundle)
	}
	c := &configs.Config{
		Version:      spec.Version,
		Bundle:       opts.Bundle,
		NoPivotRoot:  opts.NoPivotRoot,
		NoNewKeyring: opts.NoNewKeyring,
		Hostname:     spec.Hostname,
		Domainname:   spec.Domainname,
		Hooks:        spec.Hooks,
		Annotations:  spec.Annotations,
	}
	if err := convertRoot(c, spec.Root, opts); err != nil {
		return nil, err
	}
	if spec.Process == nil {
		return nil, errors.New("process: missing (required to create a container)")
	}
	p, err := convertProcess(spec.Process)
	if err != nil {
		return nil, err
	}
	c.Process = p
	if err := checkHooks(spec.Hooks); err != nil {
		return nil, err
	}

	c.Mounts = make([]configs.Mount, 0, len(spec.Mounts))
	for i := range spec.Mounts {
		m, err := convertMount(i, &spec.Mounts[i], opts.Bundle)
		if err != nil {
			return nil, err
		}
		c.Mounts = append(c.Mounts, m)
	}

	linux := spec.Linux
	if linux == nil {
		// A mount namespace is required, so an empty linux section
		// cannot describe a container husk can create.
		return nil, errors.New("linux: missing (a mount namespace is required)")
	}
	if err := convertLinux(c, linux, opts); err != nil {
		return nil, err
	}
	for i := range c.Mounts {
		if c.Mounts[i].IDMapped && len(c.Mounts[i].UIDMappings) == 0 && !c.NewNamespace(configs.NEWUSER) {
			return nil, fmt.Errorf("mounts[%d].options: idmap without uidMappings/gidMappings needs a new user namespace to take the mappings from", i)
		}
	}
	if c.Hostname != "" && !c.NewNamespace(configs.NEWUTS) {
		return nil, errors.New("hostname: cannot be set without a new uts namespace")
	}
	if c.Domainname != "" && !c.NewNamespace(configs.NEWUTS) {
		return nil, errors.New("domainname: cannot be set without a new uts namespace")
	}
	return c, nil
}

// checkVersion accepts the spec versions husk implements: 1.0.0 through
// 1.3.x, with or without a pre-release ("-rc5", "-dev") or build suffix.
func checkVersion(v string) error {
	if v == "" {
		return errors.New("ociVersion: missing")
	}
	core := v
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	parts := strings.Split(core, ".")
	var nums [3]uint64
	if len(parts) != 3 {
		return fmt.Errorf("ociVersion: %q is not a MAJOR.MINOR.PATCH version", v)
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return fmt.Errorf("ociVersion: %q is not a MAJOR.MINOR.PATCH version", v)
		}
		nums[i] = n
	}
	if nums[0] != specs.VersionMajor || nums[1] > specs.VersionMinor {
		return fmt.Errorf("ociVersion: %q is not supported (husk implements 1.0.0 through %d.%d.x)", v, specs.VersionMajor, specs.VersionMinor)
	}
	return nil
}

func convertRoot(c *configs.Config, root *specs.Root, opts *Options) error {
	if root == nil || root.Path == "" {
		return errors.New("root.path: missing")
	}
	rootfs := root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(opts.Bundle, rootfs)
	}
	rootfs = filepath.Clean(rootfs)
	if !opts.SkipRootfsCheck {
		fi, err := os.Stat(rootfs)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return fmt.Errorf("root.path: %s: %w", rootfs, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("root.path: %s: not a directory", rootfs)
		}
	}
	c.Rootfs = rootfs
	c.Readonly = root.Readonly
	return nil
}

func convertProcess(sp *specs.Process) (*configs.Process, error) {
	if len(sp.Args) == 0 {
		return nil, errors.New("process.args: empty (the container needs a command)")
	}
	if sp.Cwd == "" {
		return nil, errors.New("process.cwd: missing")
	}
	if !filepath.IsAbs(sp.Cwd) {
		return nil, fmt.Errorf("process.cwd: %q is not absolute", sp.Cwd)
	}
	for i, kv := range sp.Env {
		name, _, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("process.env[%d]: %q has no '='", i, kv)
		case name == "":
			return nil, fmt.Errorf("process.env[%d]: %q has an empty name", i, kv)
		case strings.IndexByte(kv, 0) >= 0:
			return nil, fmt.Errorf("process.env[%d]: %q contains a NUL byte", i, name)
		}
	}
	p := &configs.Process{
		Args:            sp.Args,
		Env:             sp.Env,
		Cwd:             sp.Cwd,
		UID:             sp.User.UID,
		GID:             sp.User.GID,
		AdditionalGids:  sp.User.AdditionalGids,
		Umask:           sp.User.Umask,
		Terminal:        sp.Terminal,
		ConsoleSize:     sp.ConsoleSize,
		NoNewPrivileges: sp.NoNewPrivileges,
		OOMScoreAdj:     sp.OOMScoreAdj,
		ApparmorProfile: sp.ApparmorProfile,
		SelinuxLabel:    sp.SelinuxLabel,
		Scheduler:       sp.Scheduler,
		IOPriority:      sp.IOPriority,
		ExecCPUAffinity: sp.ExecCPUAffinity,
	}
	if p.Umask != nil && *p.Umask > 0o777 {
		return nil, fmt.Errorf("process.user.umask: %#o is not a permission mask", *p.Umask)
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		return nil, fmt.Errorf("process.oomScoreAdj: %d is outside [-1000, 1000]", *p.OOMScoreAdj)
	}
	if sp.Capabilities != nil {
		c, err := convertCapabilities(sp.Capabilities)
		if err != nil {
			return nil, err
		}
		p.Capabilities = c
	}
	if len(sp.Rlimits) > 0 {
		p.Rlimits = make([]configs.Rlimit, 0, len(sp.Rlimits))
		seen := make(map[string]bool, len(sp.Rlimits))
		for i, rl := range sp.Rlimits {
			n, ok := Rlimit(rl.Type)
			if !ok {
				return nil, fmt.Errorf("process.rlimits[%d].type: unknown rlimit %q", i, rl.Type)
			}
			if seen[rl.Type] {
				return nil, fmt.Errorf("process.rlimits[%d].type: duplicate rlimit %q", i, rl.Type)
			}
			seen[rl.Type] = true
			if rl.Soft > rl.Hard {
				return nil, fmt.Errorf("process.rlimits[%d]: soft limit %d of %s exceeds hard limit %d", i, rl.Soft, rl.Type, rl.Hard)
			}
			p.Rlimits = append(p.Rlimits, configs.Rlimit{Type: n, Name: rl.Type, Hard: rl.Hard, Soft: rl.Soft})
		}
	}
	if err := checkScheduler(sp.Scheduler); err != nil {
		return nil, err
	}
	if err := checkIOPriority(sp.IOPriority); err != nil {
		return nil, err
	}
	if a := sp.ExecCPUAffinity; a != nil {
		if err := checkCPUList(a.Initial); err != nil {
			return nil, fmt.Errorf("process.execCPUAffinity.initial: %w", err)
		}
		if err := checkCPUList(a.Final); err != nil {
			return nil, fmt.Errorf("process.execCPUAffinity.final: %w", err)
		}
	}
	return p, nil
}

func convertCapabilities(sc *specs.LinuxCapabilities) (*configs.Capabilities, error) {
	var c configs.Capabilities
	sets := []struct {
		name string
		in   []string
		out  *[]int
	}{
		{"bounding", sc.Bounding, &c.Bounding},
		{"effective", sc.Effective, &c.Effective},
		{"inheritable", sc.Inheritable, &c.Inheritable},
		{"permitted", sc.Permitted, &c.Permitted},
		{"ambient", sc.Ambient, &c.Ambient},
	}
	for _, set := range sets {
		if len(set.in) == 0 {
			continue
		}
		nums := make([]int, len(set.in))
		for i, name := range set.in {
			n, err := caps.Parse(name)
			if err != nil {
				return nil, fmt.Errorf("process.capabilities.%s[%d]: unknown capability %q", set.name, i, name)
			}
			nums[i] = n
		}
		*set.out = nums
	}
	return &c, nil
}

// schedPolicies are the policies sched_setattr(2) takes. Lists, not
// sets: a map literal is built by code at every process start, a list of
// constants is laid out by the compiler.
var schedPolicies = []specs.LinuxSchedulerPolicy{
	specs.SchedOther, specs.SchedFIFO, specs.SchedRR,
	specs.SchedBatch, specs.SchedISO, specs.SchedIdle,
	specs.SchedDeadline,
}

// schedFlags are the SCHED_FLAG_* names the spec defines.
var schedFlags = []specs.LinuxSchedulerFlag{
	specs.SchedFlagResetOnFork, specs.SchedFlagReclaim,
	specs.SchedFlagDLOverrun, specs.SchedFlagKeepPolicy,
	specs.SchedFlagKeepParams, specs.SchedFlagUtilClampMin,
	specs.SchedFlagUtilClampMax,
}

func checkScheduler(s *specs.Scheduler) error {
	if s == nil {
		return nil
	}
	if !slices.Contains(schedPolicies, s.Policy) {
		return fmt.Errorf("process.scheduler.policy: unknown policy %q", s.Policy)
	}
	for i, f := range s.Flags {
		if !slices.Contains(schedFlags, f) {
			return fmt.Errorf("process.scheduler.flags[%d]: unknown flag %q", i, f)
		}
	}
	if s.Nice < -20 || s.Nice > 19 {
		return fmt.Errorf("process.scheduler.nice: %d is outside [-20, 19]", s.Nice)
	}
	realtime := s.Policy == specs.SchedFIFO || s.Policy == specs.SchedRR
	if realtime && (s.Priority < 1 || s.Priority > 99) {
		return fmt.Errorf("process.scheduler.priority: %d is outside [1, 99] for %s", s.Priority, s.Policy)
	}
	if !realtime && s.Priority != 0 {
		return fmt.Errorf("process.scheduler.priority: must be 0 for %s", s.Policy)
	}
	if s.Policy == specs.SchedDeadline {
		if s.Runtime == 0 || s.Runtime > s.Deadline || (s.Period != 0 && s.Deadline > s.Period) {
			return errors.New("process.scheduler: SCHED_DEADLINE needs 0 < runtime <= deadline <= period")
		}
	}
	return nil
}

func checkIOPriority(p *specs.LinuxIOPriority) error {
	if p == nil {
		return nil
	}
	switch p.Class {
	case specs.IOPRIO_CLASS_RT, specs.IOPRIO_CLASS_BE, specs.IOPRIO_CLASS_IDLE:
	default:
		return fmt.Errorf("process.ioPriority.class: unknown class %q", p.Class)
	}
	if p.Priority < 0 || p.Priority > 7 {
		return fmt.Errorf("process.ioPriority.priority: %d is outside [0, 7]", p.Priority)
	}
	return nil
}

// checkCPUList checks a cpuset list such as "0-3,7" (empty is allowed).
func checkCPUList(list string) error {
	if list == "" {
		return nil
	}
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || a > b {
			return fmt.Errorf("%q is not a CPU list like \"0-3,7\"", list)
		}
	}
	return nil
}

func checkHooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	kinds := []struct {
		name  string
		hooks []specs.Hook
	}{
		{"prestart", h.Prestart},
		{"createRuntime", h.CreateRuntime},
		{"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer},
		{"poststart", h.Poststart},
		{"poststop", h.Poststop},
	}
	for _, k := range kinds {
		for i, hook := range k.hooks {
			if !filepath.IsAbs(hook.Path) {
				return fmt.Errorf("hooks.%s[%d].path: %q is not absolute", k.name, i, hook.Path)
			}
			if hook.Timeout != nil && *hook.Timeout <= 0 {
				return fmt.Errorf("hooks.%s[%d].timeout: %d is not positive", k.name, i, *hook.Timeout)
			}
		}
	}
	return nil
}

func convertLinux(c *configs.Config, l *specs.Linux, opts *Options) error {
	switch {
	case l.IntelRdt != nil:
		return errors.New("linux.intelRdt: not supported by husk")
	case len(l.NetDevices) > 0:
		return errors.New("linux.netDevices: not supported by husk")
	case l.MemoryPolicy != nil:
		return errors.New("linux.memoryPolicy: not supported by husk")
	}
	if err := convertNamespaces(c, l); err != nil {
		return err
	}
	var err error
	if c.UIDMappings, err = convertIDMaps("linux.uidMappings", l.UIDMappings); err != nil {
		return err
	}
	if c.GIDMappings, err = convertIDMaps("linux.gidMappings", l.GIDMappings); err != nil {
		return err
	}
	userNS, hasUserNS := c.Namespace(configs.NEWUSER)
	switch {
	case hasUserNS && userNS.Path == "" && (len(c.UIDMappings) == 0 || len(c.GIDMappings) == 0):
		return errors.New("linux.uidMappings: a new user namespace needs both uidMappings and gidMappings")
	case !hasUserNS && (len(c.UIDMappings) > 0 || len(c.GIDMappings) > 0):
		return errors.New("linux.uidMappings: mappings given without a user namespace")
	}

	if len(l.TimeOffsets) > 0 {
		if !c.NewNamespace(configs.NEWTIME) {
			return errors.New("linux.timeOffsets: offsets need a new time namespace")
		}
		for clock := range l.TimeOffsets {
			if clock != "monotonic" && clock != "boottime" {
				return fmt.Errorf("linux.timeOffsets: unknown clock %q (want monotonic or boottime)", clock)
			}
		}
		c.TimeOffsets = l.TimeOffsets
	}

	if l.RootfsPropagation != "" {
		flag, ok := propagationFlag(l.RootfsPropagation)
		if !ok {
			return fmt.Errorf("linux.rootfsPropagation: unknown propagation %q", l.RootfsPropagation)
		}
		c.RootPropagation = flag
	}

	if c.Devices, err = convertDevices(l.Devices); err != nil {
		return err
	}
	for i, p := range l.MaskedPaths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("linux.maskedPaths[%d]: %q is not absolute", i, p)
		}
	}
	for i, p := range l.ReadonlyPaths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("linux.readonlyPaths[%d]: %q is not absolute", i, p)
		}
	}
	c.MaskedPaths = l.MaskedPaths
	c.ReadonlyPaths = l.ReadonlyPaths
	if err := checkSysctl(c, l.Sysctl); err != nil {
		return err
	}
	c.Sysctl = l.Sysctl
	c.MountLabel = l.MountLabel
	if pers := l.Personality; pers != nil {
		if pers.Domain != specs.PerLinux && pers.Domain != specs.PerLinux32 {
			return fmt.Errorf("linux.personality.domain: unknown domain %q", pers.Domain)
		}
		if len(pers.Flags) > 0 {
			return errors.New("linux.personality.flags: not supported by husk")
		}
		c.Personality = pers
	}
	if sc := l.Seccomp; sc != nil {
		if err := checkSeccomp(sc); err != nil {
			return err
		}
		c.Seccomp = sc
	}
	cg, err := convertCgroup(l, opts)
	if err != nil {
		return err
	}
	c.Cgroup = cg
	return nil
}

func convertNamespaces(c *configs.Config, l *specs.Linux) error {
	c.Namespaces = make([]configs.Namespace, 0, len(l.Namespaces))
	for i, ns := range l.Namespaces {
		t, ok := namespaceType(ns.Type)
		if !ok {
			return fmt.Errorf("linux.namespaces[%d].type: unknown namespace %q", i, ns.Type)
		}
		if _, dup := c.Namespace(t); dup {
			return fmt.Errorf("linux.namespaces[%d].type: duplicate namespace %q", i, ns.Type)
		}
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return fmt.Errorf("linux.namespaces[%d].path: %q is not absolute", i, ns.Path)
		}
		c.Namespaces = append(c.Namespaces, configs.Namespace{Type: t, Path: ns.Path})
	}
	if _, ok := c.Namespace(configs.NEWNS); !ok {
		// Mounting the rootfs and pivoting into it in the host's mount
		// namespace would change the host; runc refuses it too.
		return errors.New("linux.namespaces: a mount namespace is required")
	}
	return nil
}

func convertIDMaps(field string, maps []specs.LinuxIDMapping) ([]configs.IDMap, error) {
	if len(maps) == 0 {
		return nil, nil
	}
	out := make([]configs.IDMap, len(maps))
	for i, m := range maps {
		if m.Size == 0 {
			return nil, indexErr(field, i, ".size: must not be 0")
		}
		out[i] = configs.IDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size}
	}
	return out, nil
}

// convertDevices returns the default devices, less those linux.devices
// replaces, followed by linux.devices in order.
func convertDevices(devs []specs.LinuxDevice) ([]configs.Device, error) {
	out := make([]configs.Device, 0, len(defaultDevices)+len(devs))
	seen := make(map[string]bool, len(devs))
	for i, d := range devs {
		if !filepath.IsAbs(d.Path) {
			return nil, indexErr("linux.devices", i, ".path: %q is not absolute", d.Path)
		}
		p := filepath.Clean(d.Path)
		if seen[p] {
			return nil, indexErr("linux.devices", i, ".path: duplicate device %q", d.Path)
		}
		seen[p] = true
		if len(d.Type) != 1 || !strings.Contains("cbup", d.Type) {
			return nil, indexErr("linux.devices", i, ".type: unknown device type %q (want c, b, u or p)", d.Type)
		}
		if d.Major < 0 || d.Minor < 0 {
			return nil, indexErr("linux.devices", i, ": negative device number %d:%d", d.Major, d.Minor)
		}
		dev := configs.Device{Path: p, Type: rune(d.Type[0]), Major: d.Major, Minor: d.Minor, FileMode: 0o666}
		if d.FileMode != nil {
			// Only the permission bits: the type comes from Type.
			dev.FileMode = uint32(d.FileMode.Perm())
		}
		if d.UID != nil {
			dev.UID = *d.UID
		}
		if d.GID != nil {
			dev.GID = *d.GID
		}
		out = append(out, dev)
	}
	defaults := make([]configs.Device, 0, len(defaultDevices))
	for _, d := range defaultDevices {
		if !seen[d.Path] {
			defaults = append(defaults, d)
		}
	}
	return append(defaults, out...), nil
}

// ipcSysctls are the kernel.* sysctls that belong to the ipc namespace
// (fs.mqueue.* does too). A list, not a set: see schedPolicies.
var ipcSysctls = []string{
	"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
	"kernel.sem", "kernel.shmall", "kernel.shmmax",
	"kernel.shmmni", "kernel.shm_rmid_forced",
}

// checkSysctl accepts only sysctls that live in a namespace the container
// does not share with the host, so writing them cannot change the host;
// the rules are runc's.
func checkSysctl(c *configs.Config, sysctl map[string]string) error {
	for key := range sysctl {
		// "net/ipv4/ip_forward" and "net.ipv4.ip_forward" name the same
		// file; the kernel's sysctl(8) accepts both.
		name := strings.ReplaceAll(key, "/", ".")
		switch {
		case slices.Contains(ipcSysctls, name) || strings.HasPrefix(name, "fs.mqueue."):
			if _, ok := c.Namespace(configs.NEWIPC); !ok {
				return fmt.Errorf("linux.sysctl: %q needs an ipc namespace", key)
			}
		case strings.HasPrefix(name, "net."):
			ns, ok := c.Namespace(configs.NEWNET)
			if !ok {
				return fmt.Errorf("linux.sysctl: %q needs a network namespace", key)
			}
			if ns.Path != "" && isHostNetNS(ns.Path) {
				return fmt.Errorf("linux.sysctl: %q: the network namespace %s is the host's", key, ns.Path)
			}
		case name == "kernel.domainname":
			if _, ok := c.Namespace(configs.NEWUTS); !ok {
				return fmt.Errorf("linux.sysctl: %q needs a uts namespace", key)
			}
		case name == "kernel.hostname":
			return fmt.Errorf("linux.sysctl: %q conflicts with the hostname field; set that instead", key)
		default:
			return fmt.Errorf("linux.sysctl: %q is not in a namespace the container can own", key)
		}
	}
	return nil
}

// isHostNetNS reports whether path is the network namespace husk runs in.
// A path that cannot be read is left for joining to report.
func isHostNetNS(path string) bool {
	a, err := os.Stat(path)
	if err != nil {
		return false
	}
	b, err := os.Stat("/proc/self/ns/net")
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}

func checkSeccomp(sc *specs.LinuxSeccomp) error {
	if sc.DefaultAction == "" {
		return errors.New("linux.seccomp.defaultAction: missing")
	}
	if sc.ListenerPath != "" && !filepath.IsAbs(sc.ListenerPath) {
		return fmt.Errorf("linux.seccomp.listenerPath: %q is not absolute", sc.ListenerPath)
	}
	// Actions, operators, architectures and flags are checked against
	// the seccomp package's tables, the same ones the filter is built from.
	return seccomp.Validate(sc)
}

func convertCgroup(l *specs.Linux, opts *Options) (*configs.Cgroup, error) {
	cg := &configs.Cgroup{Systemd: opts.SystemdCgroup, Resources: l.Resources}
	p, err := cgroupPath(l.CgroupsPath, opts)
	if err != nil {
		return nil, err
	}
	cg.Path = p
	if err := checkResources(l.Resources); err != nil {
		return nil, err
	}
	return cg, nil
}

// cgroupPath resolves linux.cgroupsPath. For the cgroupfs driver an
// absolute path is used as is, anything else (CRI's "slice:prefix:name"
// included, colons kept) is relative to the cgroup parent, and an empty one
// becomes <parent>/<id>. For systemd it is the raw "slice:prefix:name".
func cgroupPath(p string, opts *Options) (string, error) {
	if opts.SystemdCgroup {
		if p == "" {
			return "system.slice:husk:" + opts.ID, nil
		}
		parts := strings.Split(p, ":")
		if len(parts) != 3 {
			return "", fmt.Errorf("linux.cgroupsPath: %q is not \"slice:prefix:name\" as the systemd driver needs", p)
		}
		slice, name := parts[0], parts[2]
		if slice != "" && (!strings.HasSuffix(slice, ".slice") || strings.Contains(slice, "/")) {
			return "", fmt.Errorf("linux.cgroupsPath: slice %q of %q is not a systemd slice name", slice, p)
		}
		if name == "" || strings.Contains(name, "/") {
			return "", fmt.Errorf("linux.cgroupsPath: name %q of %q is not a valid unit name part", name, p)
		}
		return p, nil
	}
	if path.IsAbs(p) {
		return path.Clean(p), nil
	}
	parent := opts.CgroupParent
	if parent == "" {
		parent = DefaultCgroupParent
	}
	if p == "" {
		if opts.ID == "" {
			return "", errors.New("linux.cgroupsPath: empty and no container ID to name the cgroup")
		}
		p = opts.ID
	}
	return path.Join(parent, p), nil
}

func checkResources(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if m := r.Memory; m != nil && m.Limit != nil && m.Swap != nil {
		// swap is memory+swap; -1 means unlimited.
		if *m.Limit > 0 && *m.Swap > 0 && *m.Swap < *m.Limit {
			return fmt.Errorf("linux.resources.memory.swap: %d is below the memory limit %d (swap is memory+swap)", *m.Swap, *m.Limit)
		}
	}
	if c := r.CPU; c != nil {
		if err := checkCPUList(c.Cpus); err != nil {
			return fmt.Errorf("linux.resources.cpu.cpus: %w", err)
		}
		if err := checkCPUList(c.Mems); err != nil {
			return fmt.Errorf("linux.resources.cpu.mems: %w", err)
		}
	}
	for i, d := range r.Devices {
		switch d.Type {
		case "", "a", "b", "c":
		default:
			return fmt.Errorf("linux.resources.devices[%d].type: unknown type %q (want a, b or c)", i, d.Type)
		}
		if strings.Trim(d.Access, "rwm") != "" {
			return fmt.Errorf("linux.resources.devices[%d].access: %q may only hold r, w and m", i, d.Access)
		}
	}
	return nil
}
