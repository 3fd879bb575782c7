package libcontainer

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/husk-runtime/husk/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidateIDFollowsRuncRules(t *testing.T) {
	for _, id := range []string{"a", "abc-DEF_1.2+3", strings.Repeat("x", 1024)} {
		if err := validateID(id); err != nil {
			t.Errorf("validateID(%q): %v", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "../x", "a b", "a:b", strings.Repeat("x", 1025)} {
		if err := validateID(id); err == nil {
			t.Errorf("validateID(%q) accepted a bad id", id)
		}
	}
}

func TestStateSaveIsAtomicAndRoundTrips(t *testing.T) {
	dir := t.TempDir()
	mem := int64(1 << 20)
	cfg := &configs.Config{
		Version: "1.3.0", Rootfs: "/r",
		Process: &configs.Process{Args: []string{"sh"}},
		Mounts:  []configs.Mount{{Destination: "/proc", Device: "proc"}},
		Cgroup:  &configs.Cgroup{Path: "/husk/c1", Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem}}},
		Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow},
	}
	st := &persistedState{ID: "c1", Pid: 42, StartTime: 7, Created: time.Unix(1, 0).UTC(), Owner: "root", Config: cfg, HasSeccomp: true}
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "c1" || got.Pid != 42 || got.StartTime != 7 || !got.HasSeccomp || !got.Created.Equal(st.Created) {
		t.Errorf("round trip: %+v", got)
	}
	// The state file keeps what later commands need, and only that.
	lc := got.Config
	if lc.Rootfs != "/r" || lc.Process == nil || lc.Cgroup == nil || lc.Cgroup.Path != "/husk/c1" {
		t.Errorf("light config lost a field later commands need: %+v", lc)
	}
	if lc.Mounts != nil || lc.Seccomp != nil || lc.Cgroup.Resources != nil {
		t.Errorf("light config carries heavy parts: %+v", lc)
	}
	if cfg.Cgroup.Resources == nil || cfg.Mounts == nil {
		t.Errorf("save modified the caller's config")
	}
	full, err := loadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Mounts) != 1 || full.Seccomp == nil || full.Cgroup.Resources == nil {
		t.Errorf("config.json lost the whole config: %+v", full)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("want exactly the state file and config.json, got %v", ents)
	}
	for _, name := range []string{stateFile, configFile} {
		if fi, _ := os.Stat(filepath.Join(dir, name)); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
}

func TestProcStartTimeDetectsReuseAndZombies(t *testing.T) {
	st, zombie, err := procStartTime(os.Getpid())
	if err != nil || zombie || st == 0 {
		t.Fatalf("own start time: %d %v %v", st, zombie, err)
	}
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Skip("cannot run true:", err)
	}
	pid := cmd.Process.Pid
	// Not reaped yet: a zombie, which is not a live container process.
	for i := 0; i < 200; i++ {
		if _, z, err := procStartTime(pid); err == nil && z {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, z, err := procStartTime(pid); err != nil || !z {
		t.Errorf("exited child: zombie=%v err=%v, want a zombie", z, err)
	}
	cmd.Wait()
	if _, _, err := procStartTime(pid); err == nil {
		t.Errorf("reaped child still has a start time")
	}
}

func TestCgroupResourcesCompleteTheDeviceList(t *testing.T) {
	maj, min := int64(10), int64(200)
	cfg := &configs.Config{
		Cgroup: &configs.Cgroup{Path: "/x", Resources: &specs.LinuxResources{
			Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: &maj, Minor: &min, Access: "rw"}},
		}},
		Devices: []configs.Device{{Path: "/dev/null", Type: 'c', Major: 1, Minor: 3}, {Path: "/dev/p", Type: 'p'}},
	}
	r := cgroupResources(cfg)
	d := r.Devices
	if len(d) != 1+1+len(alwaysAllowed)+1 {
		t.Fatalf("got %d rules: %+v", len(d), d)
	}
	if d[0].Allow || d[0].Type != "a" || d[0].Access != "rwm" {
		t.Errorf("first rule %+v, want deny all", d[0])
	}
	if *d[1].Major != 10 || d[1].Access != "rw" {
		t.Errorf("config rule not kept in place: %+v", d[1])
	}
	last := d[len(d)-1]
	if !last.Allow || *last.Major != 1 || *last.Minor != 3 {
		t.Errorf("/dev/null not allowed last: %+v", last)
	}
	if len(cfg.Cgroup.Resources.Devices) != 1 {
		t.Errorf("the config's own rules were modified")
	}
}

// TestAlwaysAllowedIsRuncsList checks the written-out rules against
// devRule's form of runc's list.
func TestAlwaysAllowedIsRuncsList(t *testing.T) {
	want := []specs.LinuxDeviceCgroup{
		devRule(true, "c", -1, -1, "m"),
		devRule(true, "b", -1, -1, "m"),
		devRule(true, "c", 136, -1, "rwm"), // /dev/pts/*
		devRule(true, "c", 5, 2, "rwm"),    // /dev/ptmx
	}
	if !reflect.DeepEqual(alwaysAllowed, want) {
		t.Errorf("alwaysAllowed = %+v, want %+v", alwaysAllowed, want)
	}
}

func TestLookPathUsesContainerPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "prog")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "data"), nil, 0o644)
	if p, err := lookPath("prog", []string{"HOME=/", "PATH=/nonexistent:" + dir}); err != nil || p != exe {
		t.Errorf("lookPath: %q %v", p, err)
	}
	if _, err := lookPath("data", []string{"PATH=" + dir}); err == nil {
		t.Errorf("a non-executable file was found")
	}
	if _, err := lookPath("prog", []string{"PATH=/nonexistent"}); err == nil || !strings.Contains(err.Error(), "not found in $PATH") {
		t.Errorf("missing program: %v", err)
	}
	if _, err := lookPath(exe, nil); err != nil {
		t.Errorf("absolute path: %v", err)
	}
}

func TestRaisableAmbientDropsWhatTheKernelRefuses(t *testing.T) {
	c := &configs.Capabilities{Permitted: []int{1, 2}, Inheritable: []int{2}, Ambient: []int{1, 2}}
	got := raisableAmbient(c)
	if len(got.Ambient) != 1 || got.Ambient[0] != 2 {
		t.Errorf("ambient %v, want [2]", got.Ambient)
	}
	if len(c.Ambient) != 2 {
		t.Errorf("input modified")
	}
	if raisableAmbient(nil) == nil {
		t.Errorf("nil caps must become empty sets")
	}
}

func TestTraceMergesInitPhases(t *testing.T) {
	tr := NewTrace()
	tr.Begin("parse")()
	it := &initTracer{on: true}
	it.begin("rootfs-prepare")()
	tr.merge(it.encode())
	if len(tr.Events) != 2 || tr.Events[1].Process != "init" || tr.Events[1].Name != "rootfs-prepare" {
		t.Fatalf("events: %+v", tr.Events)
	}
	var nilTrace *Trace
	nilTrace.Begin("x")() // must not panic
	path := filepath.Join(t.TempDir(), "t.json")
	if err := tr.WriteFile(path); err != nil {
		t.Fatal(err)
	}
}

func TestIDMapString(t *testing.T) {
	got := idMapString([]configs.IDMap{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}})
	if got != "0 1000 1\n1 100000 65536\n" {
		t.Errorf("got %q", got)
	}
}

func TestUserNameMatchesOsUser(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Skipf("os/user cannot name the current user here: %v", err)
	}
	if got := userName(uint32(os.Getuid())); got != u.Username {
		t.Errorf("userName(%d) = %q, os/user says %q", os.Getuid(), got, u.Username)
	}
	// runc's list shows a uid /etc/passwd does not know as "#<uid>".
	if got := userName(4123456789); got != "#4123456789" {
		t.Errorf("userName of an unknown uid = %q, want #4123456789", got)
	}
}
