package specconv

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer/caps"
	"github.com/husk-runtime/husk/libcontainer/configs"
)

// fixtureDir returns the directory of the CRI config fixtures, which live
// beside the repository in shared/, or skips the test.
func fixtureDir(tb testing.TB) string {
	// The package directory is <repo>/specconv.
	dir := filepath.Join("..", "..", "shared", "fixtures", "cri-configs")
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("CRI config fixtures not found (%v): they are in shared/ next to the repository", err)
	}
	return dir
}

func fixtureFiles(tb testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(fixtureDir(tb), "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Skip("CRI config fixture directory holds no *.json")
	}
	return files
}

func TestEveryCRIFixtureConvertsWithoutLoss(t *testing.T) {
	files := fixtureFiles(t)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var spec specs.Spec
		if err := json.Unmarshal(data, &spec); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		opts := Options{ID: "fixture-id", Bundle: "/run/bundle", SkipRootfsCheck: true}
		c, err := Convert(&spec, opts)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		// Decode the spec afresh so that the comparison cannot be fooled
		// by the config sharing pointers with the spec it came from.
		var want specs.Spec
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatal(err)
		}
		checkConversion(t, filepath.Base(f), &want, roundTrip(t, c), opts)
	}
	t.Logf("checked %d fixtures", len(files))
}

// roundTrip sends c through JSON as the parent does on its way to init, so
// a field with a bad tag counts as lost.
func roundTrip(t *testing.T, c *configs.Config) *configs.Config {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out configs.Config
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// testMountFlags is the test's own account of flag options, kept apart from
// the package's table so that a wrong entry there shows up here.
var testMountFlags = []struct {
	bit      int
	set, clr string
}{
	{unix.MS_RDONLY, "ro", "rw"},
	{unix.MS_NOSUID, "nosuid", "suid"},
	{unix.MS_NODEV, "nodev", "dev"},
	{unix.MS_NOEXEC, "noexec", "exec"},
	{unix.MS_SYNCHRONOUS, "sync", "async"},
	{unix.MS_DIRSYNC, "dirsync", ""},
	{unix.MS_REMOUNT, "remount", ""},
	{unix.MS_MANDLOCK, "mand", "nomand"},
	{unix.MS_NOATIME, "noatime", "atime"},
	{unix.MS_NODIRATIME, "nodiratime", "diratime"},
	{unix.MS_RELATIME, "relatime", "norelatime"},
	{unix.MS_STRICTATIME, "strictatime", "nostrictatime"},
	{unix.MS_LAZYTIME, "lazytime", "nolazytime"},
	{unix.MS_I_VERSION, "iversion", "noiversion"},
	{unix.MS_POSIXACL, "acl", "noacl"},
	{unix.MS_SILENT, "silent", "loud"},
	{unix.MS_NOSYMFOLLOW, "nosymfollow", "symfollow"},
}

var testPropagation = map[string]int{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// renderMountOptions turns a converted mount back into the option names
// that produce it: flags, then propagation in order, then data.
func renderMountOptions(m *configs.Mount) (flags, propagation, data []string) {
	for _, f := range testMountFlags {
		if m.Flags&f.bit != 0 {
			flags = append(flags, f.set)
		}
		if m.ClearedFlags&f.bit != 0 {
			flags = append(flags, f.clr)
		}
	}
	switch {
	case m.Flags&(unix.MS_BIND|unix.MS_REC) == unix.MS_BIND|unix.MS_REC:
		flags = append(flags, "rbind")
	case m.Flags&unix.MS_BIND != 0:
		flags = append(flags, "bind")
	}
	sort.Strings(flags)
	for _, p := range m.PropagationFlags {
		for name, v := range testPropagation {
			if v == p {
				propagation = append(propagation, name)
			}
		}
	}
	if m.Data != "" {
		data = strings.Split(m.Data, ",")
	}
	return flags, propagation, data
}

// testRecAttrs are the non-atime recursive options: set bit, name that
// sets it, name that clears it.
var testRecAttrs = []struct {
	bit      uint64
	set, clr string
}{
	{unix.MOUNT_ATTR_RDONLY, "rro", "rrw"},
	{unix.MOUNT_ATTR_NOSUID, "rnosuid", "rsuid"},
	{unix.MOUNT_ATTR_NODEV, "rnodev", "rdev"},
	{unix.MOUNT_ATTR_NOEXEC, "rnoexec", "rexec"},
	{unix.MOUNT_ATTR_NODIRATIME, "rnodiratime", "rdiratime"},
	{unix.MOUNT_ATTR_NOSYMFOLLOW, "rnosymfollow", "rsymfollow"},
}

// testAtime names the atime mode each recursive atime option selects.
var testAtime = map[string]string{
	"rnoatime": "rnoatime", "rstrictatime": "rstrictatime", "rrelatime": "rrelatime",
	"ratime": "rrelatime", "rnostrictatime": "rrelatime", "rnorelatime": "rstrictatime",
}

func renderRecAttrs(m *configs.Mount) []string {
	var out []string
	for _, a := range testRecAttrs {
		if m.RecAttrSet&a.bit != 0 {
			out = append(out, a.set)
		}
		if m.RecAttrClr&a.bit != 0 {
			out = append(out, a.clr)
		}
	}
	if m.RecAttrClr&unix.MOUNT_ATTR__ATIME == unix.MOUNT_ATTR__ATIME {
		switch m.RecAttrSet & unix.MOUNT_ATTR__ATIME {
		case unix.MOUNT_ATTR_NOATIME:
			out = append(out, "rnoatime")
		case unix.MOUNT_ATTR_STRICTATIME:
			out = append(out, "rstrictatime")
		case unix.MOUNT_ATTR_RELATIME:
			out = append(out, "rrelatime")
		}
	}
	sort.Strings(out)
	return out
}

func expectRecAttrs(sm *specs.Mount) []string {
	last := map[uint64]string{}
	atimeMode := ""
	for _, o := range sm.Options {
		if mode, ok := testAtime[o]; ok {
			atimeMode = mode
		}
		for _, a := range testRecAttrs {
			if o == a.set || o == a.clr {
				last[a.bit] = o
			}
		}
	}
	var out []string
	for _, o := range last {
		out = append(out, o)
	}
	if atimeMode != "" {
		out = append(out, atimeMode)
	}
	sort.Strings(out)
	return out
}

// expectMountOptions is what renderMountOptions should give for a spec
// mount: flag options with the last of a contradicting pair winning,
// propagation options in order, anything else as data in order.
func expectMountOptions(sm *specs.Mount) (flags, propagation, data []string) {
	last := map[int]string{}
	bind := ""
	if sm.Type == "bind" {
		bind = "bind"
	}
	for _, o := range sm.Options {
		if o == "defaults" {
			continue
		}
		if o == "bind" || o == "rbind" {
			if bind != "rbind" {
				bind = o
			}
			continue
		}
		if _, ok := testPropagation[o]; ok {
			propagation = append(propagation, o)
			continue
		}
		known := o == "idmap" || o == "ridmap" || o == "tmpcopyup" || testAtime[o] != ""
		for _, a := range testRecAttrs {
			if o == a.set || o == a.clr {
				known = true
			}
		}
		for _, f := range testMountFlags {
			if o == f.set || (o == f.clr && f.clr != "") {
				last[f.bit] = o
				known = true
			}
		}
		if !known {
			data = append(data, o)
		}
	}
	for _, name := range last {
		flags = append(flags, name)
	}
	if bind != "" {
		flags = append(flags, bind)
	}
	sort.Strings(flags)
	return flags, propagation, data
}

// reporter is the part of testing.T that checkConversion uses, so that a
// test can prove it fails on a lossy conversion.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// checkConversion compares every field of spec with what Convert made of it.
func checkConversion(t reporter, name string, spec *specs.Spec, c *configs.Config, opts Options) {
	t.Helper()
	fail := func(field string, got, want any) {
		t.Helper()
		t.Errorf("%s: %s: got %#v, want %#v", name, field, got, want)
	}
	eq := func(field string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			fail(field, got, want)
		}
	}

	eq("version", c.Version, spec.Version)
	eq("bundle", c.Bundle, opts.Bundle)
	wantRootfs := spec.Root.Path
	if !filepath.IsAbs(wantRootfs) {
		wantRootfs = filepath.Join(opts.Bundle, wantRootfs)
	}
	eq("rootfs", c.Rootfs, wantRootfs)
	eq("readonly", c.Readonly, spec.Root.Readonly)
	eq("noPivotRoot", c.NoPivotRoot, opts.NoPivotRoot)
	eq("noNewKeyring", c.NoNewKeyring, opts.NoNewKeyring)
	eq("hostname", c.Hostname, spec.Hostname)
	eq("domainname", c.Domainname, spec.Domainname)
	eq("hooks", c.Hooks, spec.Hooks)
	eq("annotations", c.Annotations, spec.Annotations)

	// Process.
	sp, p := spec.Process, c.Process
	if p == nil {
		t.Fatalf("%s: process dropped", name)
	}
	eq("process.args", p.Args, sp.Args)
	eq("process.env", p.Env, sp.Env)
	eq("process.cwd", p.Cwd, sp.Cwd)
	eq("process.user.uid", p.UID, sp.User.UID)
	eq("process.user.gid", p.GID, sp.User.GID)
	eq("process.user.additionalGids", p.AdditionalGids, sp.User.AdditionalGids)
	eq("process.user.umask", p.Umask, sp.User.Umask)
	eq("process.terminal", p.Terminal, sp.Terminal)
	eq("process.consoleSize", p.ConsoleSize, sp.ConsoleSize)
	eq("process.noNewPrivileges", p.NoNewPrivileges, sp.NoNewPrivileges)
	eq("process.oomScoreAdj", p.OOMScoreAdj, sp.OOMScoreAdj)
	eq("process.apparmorProfile", p.ApparmorProfile, sp.ApparmorProfile)
	eq("process.selinuxLabel", p.SelinuxLabel, sp.SelinuxLabel)
	eq("process.scheduler", p.Scheduler, sp.Scheduler)
	eq("process.ioPriority", p.IOPriority, sp.IOPriority)
	eq("process.execCPUAffinity", p.ExecCPUAffinity, sp.ExecCPUAffinity)
	if sp.Capabilities == nil {
		eq("process.capabilities", p.Capabilities, (*configs.Capabilities)(nil))
	} else if p.Capabilities == nil {
		fail("process.capabilities", nil, sp.Capabilities)
	} else {
		names := func(nums []int) []string {
			var out []string
			for _, n := range nums {
				out = append(out, caps.Name(n))
			}
			return out
		}
		eq("process.capabilities.bounding", names(p.Capabilities.Bounding), nilIfEmpty(sp.Capabilities.Bounding))
		eq("process.capabilities.effective", names(p.Capabilities.Effective), nilIfEmpty(sp.Capabilities.Effective))
		eq("process.capabilities.inheritable", names(p.Capabilities.Inheritable), nilIfEmpty(sp.Capabilities.Inheritable))
		eq("process.capabilities.permitted", names(p.Capabilities.Permitted), nilIfEmpty(sp.Capabilities.Permitted))
		eq("process.capabilities.ambient", names(p.Capabilities.Ambient), nilIfEmpty(sp.Capabilities.Ambient))
	}
	if len(p.Rlimits) != len(sp.Rlimits) {
		fail("process.rlimits", p.Rlimits, sp.Rlimits)
	} else {
		for i, rl := range sp.Rlimits {
			res, ok := testRlimits[rl.Type]
			if !ok {
				t.Fatalf("%s: fixture has rlimit %q the test does not know", name, rl.Type)
			}
			eq("process.rlimits", p.Rlimits[i], configs.Rlimit{Type: res, Name: rl.Type, Hard: rl.Hard, Soft: rl.Soft})
		}
	}

	// Mounts.
	if len(c.Mounts) != len(spec.Mounts) {
		t.Fatalf("%s: %d mounts, want %d", name, len(c.Mounts), len(spec.Mounts))
	}
	for i := range spec.Mounts {
		sm, m := &spec.Mounts[i], &c.Mounts[i]
		field := "mounts[" + sm.Destination + "]"
		eq(field+".destination", m.Destination, path.Clean(sm.Destination))
		wantSource := sm.Source
		gotF, gotP, gotD := renderMountOptions(m)
		wantF, wantP, wantD := expectMountOptions(sm)
		isBind := sm.Type == "bind" || contains(sm.Options, "bind") || contains(sm.Options, "rbind")
		if isBind {
			eq(field+".type", m.Device, "bind")
			if !filepath.IsAbs(wantSource) {
				wantSource = filepath.Join(opts.Bundle, wantSource)
			}
		} else {
			eq(field+".type", m.Device, sm.Type)
		}
		eq(field+".source", m.Source, wantSource)
		eq(field+".options (flags)", gotF, wantF)
		eq(field+".options (propagation)", gotP, wantP)
		eq(field+".options (data)", gotD, wantD)
		gotR, wantR := renderRecAttrs(m), expectRecAttrs(sm)
		eq(field+".options (recursive attributes)", gotR, wantR)
		ridmap := false
		for _, o := range sm.Options {
			if o == "idmap" || o == "ridmap" {
				ridmap = o == "ridmap"
			}
		}
		eq(field+".options (idmap)", m.IDMapped, contains(sm.Options, "idmap") || ridmap || len(sm.UIDMappings) > 0)
		eq(field+".options (ridmap)", m.IDMapRecursive, ridmap)
		eq(field+".options (tmpcopyup)", m.Tmpcopyup, contains(sm.Options, "tmpcopyup"))
		eq(field+".uidMappings", m.UIDMappings, idMaps(sm.UIDMappings))
		eq(field+".gidMappings", m.GIDMappings, idMaps(sm.GIDMappings))
	}

	// Linux.
	l := spec.Linux
	var wantNS []configs.Namespace
	for _, ns := range l.Namespaces {
		wantNS = append(wantNS, configs.Namespace{Type: configs.NamespaceType(ns.Type), Path: ns.Path})
	}
	eq("linux.namespaces", c.Namespaces, wantNS)
	eq("linux.uidMappings", c.UIDMappings, idMaps(l.UIDMappings))
	eq("linux.gidMappings", c.GIDMappings, idMaps(l.GIDMappings))
	eq("linux.timeOffsets", c.TimeOffsets, l.TimeOffsets)
	if l.RootfsPropagation == "" {
		eq("linux.rootfsPropagation", c.RootPropagation, 0)
	} else {
		eq("linux.rootfsPropagation", c.RootPropagation, testPropagation[l.RootfsPropagation])
	}
	eq("linux.maskedPaths", c.MaskedPaths, l.MaskedPaths)
	eq("linux.readonlyPaths", c.ReadonlyPaths, l.ReadonlyPaths)
	eq("linux.sysctl", c.Sysctl, l.Sysctl)
	eq("linux.mountLabel", c.MountLabel, l.MountLabel)
	eq("linux.personality", c.Personality, l.Personality)
	eq("linux.seccomp", c.Seccomp, l.Seccomp)
	checkDevices(t, name, c.Devices, l.Devices)

	if c.Cgroup == nil {
		t.Fatalf("%s: cgroup dropped", name)
	}
	eq("linux.resources", c.Cgroup.Resources, l.Resources)
	eq("cgroup.systemd", c.Cgroup.Systemd, opts.SystemdCgroup)
	if !opts.SystemdCgroup {
		want := path.Join(DefaultCgroupParent, opts.ID)
		if cp := l.CgroupsPath; strings.HasPrefix(cp, "/") {
			want = path.Clean(cp)
		} else if cp != "" {
			want = path.Join(DefaultCgroupParent, cp)
		}
		eq("linux.cgroupsPath", c.Cgroup.Path, want)
	}
}

// checkDevices wants every linux.devices entry, and every default device
// not replaced by one, each exactly once.
func checkDevices(t reporter, name string, got []configs.Device, spec []specs.LinuxDevice) {
	t.Helper()
	want := map[string]configs.Device{}
	for _, d := range []configs.Device{
		{Path: "/dev/null", Type: 'c', Major: 1, Minor: 3, FileMode: 0o666},
		{Path: "/dev/zero", Type: 'c', Major: 1, Minor: 5, FileMode: 0o666},
		{Path: "/dev/full", Type: 'c', Major: 1, Minor: 7, FileMode: 0o666},
		{Path: "/dev/random", Type: 'c', Major: 1, Minor: 8, FileMode: 0o666},
		{Path: "/dev/urandom", Type: 'c', Major: 1, Minor: 9, FileMode: 0o666},
		{Path: "/dev/tty", Type: 'c', Major: 5, Minor: 0, FileMode: 0o666},
	} {
		want[d.Path] = d
	}
	for _, d := range spec {
		dev := configs.Device{Path: d.Path, Type: rune(d.Type[0]), Major: d.Major, Minor: d.Minor, FileMode: 0o666}
		if d.FileMode != nil {
			dev.FileMode = uint32(*d.FileMode)
		}
		if d.UID != nil {
			dev.UID = *d.UID
		}
		if d.GID != nil {
			dev.GID = *d.GID
		}
		want[d.Path] = dev
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d devices, want %d", name, len(got), len(want))
	}
	for _, d := range got {
		w, ok := want[d.Path]
		if !ok {
			t.Errorf("%s: unexpected or repeated device %+v", name, d)
			continue
		}
		if d != w {
			t.Errorf("%s: device %s: got %+v, want %+v", name, d.Path, d, w)
		}
		delete(want, d.Path)
	}
}

// testRlimits is the test's own copy of the rlimit numbers.
var testRlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

func idMaps(in []specs.LinuxIDMapping) []configs.IDMap {
	var out []configs.IDMap
	for _, m := range in {
		out = append(out, configs.IDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	return out
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func BenchmarkLoadAndConvert(b *testing.B) {
	files := fixtureFiles(b)
	// A typical CRI container: the default mounts, masked paths, caps,
	// resources and a "slice:prefix:name" cgroup path.
	var typical string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if strings.Contains(string(data), `"maskedPaths"`) && strings.Contains(string(data), `"memory"`) {
			typical = f
			break
		}
	}
	if typical == "" {
		typical = files[0]
	}
	data, err := os.ReadFile(typical)
	if err != nil {
		b.Fatal(err)
	}
	bundle := b.TempDir()
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		b.Fatal(err)
	}
	opts := Options{ID: "bench", Bundle: bundle, SkipRootfsCheck: true}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		spec, err := LoadSpec(bundle)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Convert(spec, opts); err != nil {
			b.Fatal(err)
		}
	}
}
