package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A process set up ahead (nsenter.AheadSetUp) creates nothing on the
// host's file systems until create has taken it, config checked: a mount
// target the image lacks is made only then (the process waits for create
// in the middle of its root filesystem, ahead-taken before the end of
// rootfs-prepare), and not at all when create refuses the config.
func TestSetUpAheadCreatesOnlyOnceTaken(t *testing.T) {
	if !setsUpAhead(t) {
		t.Skip("the husk binary sets processes up ahead with two CPUs or more, on a cgroup v1 or hybrid host")
	}
	t.Parallel()
	missing := specs.Mount{Destination: "/made/here", Type: "tmpfs", Source: "tmpfs"}
	t.Run("taken", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t)
		b.Spec.Mounts = append(b.Spec.Mounts, missing)
		b.Spec.Process.Args = sh("grep -c ' /made/here ' /proc/self/mountinfo")
		id := b.newID()
		b.writeSpec(id)
		out, events := b.traced("run", "--bundle", b.Dir, id)
		if strings.TrimSpace(out) != "1" {
			t.Errorf("mounts on /made/here: %q, want 1", out)
		}
		at := phasesOf(events, "init")
		taken, okTaken := at["ahead-taken"]
		prepared, okPrepared := at["rootfs-prepare"]
		if !okTaken || !okPrepared {
			t.Fatalf("init phases %v: want ahead-taken and rootfs-prepare", events)
		}
		if taken.StartUs >= prepared.StartUs+prepared.DurUs {
			t.Errorf("taken at %.0f us, after rootfs-prepare (%.0f..%.0f): it made /made/here before", taken.StartUs,
				prepared.StartUs, prepared.StartUs+prepared.DurUs)
		}
		if fi, err := os.Stat(filepath.Join(b.Rootfs, "made", "here")); err != nil || !fi.IsDir() {
			t.Errorf("the mount target in the image: %v", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t)
		b.Spec.Mounts = append(b.Spec.Mounts, missing)
		b.Spec.Process.Rlimits = append(b.Spec.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_BOGUS", Hard: 1, Soft: 1})
		id := b.newID()
		b.writeSpec(id)
		if out, errOut, code := b.husk("run", "--bundle", b.Dir, id); code == 0 {
			t.Fatalf("run of a config with an unknown rlimit succeeded: %s%s", out, errOut)
		}
		if _, err := os.Stat(filepath.Join(b.Rootfs, "made")); err == nil {
			t.Error("a refused config's mount target was made in the image")
		}
		b.assertNothingLeft()
	})
}

// A createRuntime hook (Docker's kind) does not keep the process from
// being set up ahead: the process waits to be taken before it asks husk
// to run the hooks, which then see it (its PID, its network namespace).
func TestSetUpAheadRunsCreateRuntimeHooks(t *testing.T) {
	if !setsUpAhead(t) {
		t.Skip("the husk binary sets processes up ahead with two CPUs or more, on a cgroup v1 or hybrid host")
	}
	t.Parallel()
	b := newBundle(t)
	hook, out := pidHook(t, b, "netns", "readlink /proc/$pid/ns/net")
	b.Spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{hook}}
	b.Spec.Process.Args = sh("readlink /proc/self/ns/net")
	id := b.newID()
	b.writeSpec(id)
	got, events := b.traced("run", "--bundle", b.Dir, id)
	taken := false
	for _, e := range events {
		taken = taken || (e.Process == "init" && e.Name == "ahead-taken")
	}
	if !taken {
		t.Errorf("phases %v: the process was not set up ahead", events)
	}
	seen, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the createRuntime hook did not run: %v", err)
	}
	if strings.TrimSpace(string(seen)) != strings.TrimSpace(got) || !strings.HasPrefix(got, "net:[") {
		t.Errorf("the hook saw network namespace %q, the container %q", seen, got)
	}
}

// The cgroup of a process set up ahead is made by husk's constructor,
// before the Go runtime starts (which can wait), while the stage makes the
// namespaces on the other CPU (on whose work the process's start waits):
// cgroup-ahead ends before husk's Go code begins (total).
func TestSetUpAheadCgroupBeforeRuntime(t *testing.T) {
	if !setsUpAhead(t) {
		t.Skip("the husk binary sets processes up ahead with two CPUs or more, on a cgroup v1 or hybrid host")
	}
	t.Parallel()
	b := newBundle(t)
	b.Spec.Process.Args = []string{"true"}
	id := b.newID()
	b.writeSpec(id)
	_, events := b.traced("run", "--bundle", b.Dir, id)
	at := phasesOf(events, "husk")
	cg, made := at["cgroup-ahead"]
	total, ok := at["total"]
	if _, taken := at["take-ahead"]; !made || !ok || !taken {
		t.Fatalf("phases %v: want cgroup-ahead, take-ahead and total", events)
	}
	if end := cg.StartUs + cg.DurUs; end > total.StartUs {
		t.Errorf("cgroup-ahead ends at %.0f us, after the Go runtime started (%.0f us)", end, total.StartUs)
	}
}

// A cgroup that exists already may be another container's: husk's
// constructor does not set the process up ahead in it, and leaves it as it
// was (create then joins it, as runc does).
func TestSetUpAheadLeavesAnExistingCgroup(t *testing.T) {
	if !setsUpAhead(t) {
		t.Skip("the husk binary sets processes up ahead with two CPUs or more, on a cgroup v1 or hybrid host")
	}
	t.Parallel()
	b := newBundle(t)
	id := b.newID()
	var pids string
	for _, m := range cgroupMounts(t) {
		if filepath.Base(m) == "pids" {
			pids = filepath.Join(m, b.cgroupPath(id))
		}
	}
	if pids == "" {
		t.Skip("no cgroup v1 pids hierarchy")
	}
	if err := os.MkdirAll(pids, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pids, "pids.max"), []byte("1000"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Spec.Process.Args = sh("cat /sys/fs/cgroup/pids/pids.max")
	b.writeSpec(id)
	out, events := b.traced("run", "--bundle", b.Dir, id)
	for _, e := range events {
		if e.Name == "take-ahead" {
			t.Errorf("phases %v: set up ahead in a cgroup that existed", events)
		}
	}
	if strings.TrimSpace(out) != "1000" {
		t.Errorf("pids.max in the container: %q, want the existing cgroup's 1000", out)
	}
}

// `husk run` starts a process set up ahead without the round trip of
// Start (libcontainer.CreateOpts.StartEarly): once the process says it has
// its root filesystem ("prepared"), create sets the cgroup's limits and
// sends "start" (start-early) before the process is ready, which then
// runs its program at once, limits and device rules in place. With
// --pid-file the program waits for Start, as with runc, since run writes
// the file in between.
func TestSetUpAheadStartsEarly(t *testing.T) {
	if !setsUpAhead(t) {
		t.Skip("the husk binary sets processes up ahead with two CPUs or more, on a cgroup v1 or hybrid host")
	}
	t.Parallel()
	pids := int64(42)
	t.Run("run", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t)
		b.Spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
		// The device rules allow mknod of any device, and opening only
		// the default ones (/dev/null...): not /dev/net/tun's 10:200,
		// whose open needs no capability.
		caps := b.Spec.Process.Capabilities
		caps.Bounding = append(caps.Bounding, "CAP_MKNOD")
		caps.Effective = append(caps.Effective, "CAP_MKNOD")
		caps.Permitted = append(caps.Permitted, "CAP_MKNOD")
		b.Spec.Process.Args = sh("cat /sys/fs/cgroup/pids/pids.max; echo x >/dev/null && echo null-ok; " +
			"mknod /dev/tun1 c 10 200 && { : </dev/tun1; } 2>&1 | grep -q 'not permitted' && echo tun-denied")
		id := b.newID()
		b.writeSpec(id)
		out, events := b.traced("run", "--bundle", b.Dir, id)
		if got := strings.Join(lines(out), " "); got != "42 null-ok tun-denied" {
			t.Errorf("the program saw %q, want the pids limit and device rules in place (42 null-ok tun-denied)", got)
		}
		at := phasesOf(events, "husk")
		early, ok := at["start-early"]
		set, setOK := at["cgroup-set"]
		initSpan, initOK := at["init"]
		if _, taken := at["take-ahead"]; !taken || !ok || !setOK || !initOK {
			t.Fatalf("phases %v: want take-ahead, cgroup-set, start-early and init", events)
		}
		if set.StartUs+set.DurUs > early.StartUs {
			t.Errorf("start sent at %.0f us, before the limits were set (cgroup-set ends at %.0f us)", early.StartUs, set.StartUs+set.DurUs)
		}
		if early.StartUs+early.DurUs > initSpan.StartUs+initSpan.DurUs {
			t.Errorf("start sent at %.0f us, after the process was ready (%.0f us)", early.StartUs, initSpan.StartUs+initSpan.DurUs)
		}
		b.assertNothingLeft()
	})
	t.Run("pid-file", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t)
		b.Spec.Process.Args = []string{"true"}
		id := b.newID()
		b.writeSpec(id)
		pidFile := filepath.Join(t.TempDir(), "pid")
		_, events := b.traced("run", "--pid-file", pidFile, "--bundle", b.Dir, id)
		if _, early := phasesOf(events, "husk")["start-early"]; early {
			t.Errorf("phases %v: started early, before run wrote %s", events, pidFile)
		}
		if data, err := os.ReadFile(pidFile); err != nil || strings.TrimSpace(string(data)) == "" {
			t.Errorf("pid file: %q, %v", data, err)
		}
		b.assertNothingLeft()
	})
}

// A process set up ahead makes its masked and read-only paths while it
// waits for create to take it, when its cwd exists (rootfs-finalize before
// ahead-taken); when the cwd must be made, which a read-only root would
// forbid, it waits, makes the cwd once taken (it is created on the host's
// file systems) and only then the read-only root.
func TestSetUpAheadFinalizesBeforeTaken(t *testing.T) {
	if !setsUpAhead(t) {
		t.Skip("the husk binary sets processes up ahead with two CPUs or more, on a cgroup v1 or hybrid host")
	}
	t.Parallel()
	phases := func(events []traceEvent) (finalize, taken traceEvent) {
		at := phasesOf(events, "init")
		finalize, okFinalize := at["rootfs-finalize"]
		taken, okTaken := at["ahead-taken"]
		if !okFinalize || !okTaken {
			t.Fatalf("init phases %v: want rootfs-finalize and ahead-taken", events)
		}
		return finalize, taken
	}
	t.Run("cwd exists", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t)
		b.Spec.Root.Readonly = true
		b.Spec.Process.Args = sh("touch /probe 2>/dev/null && echo writable || echo read-only; cat /proc/kcore | wc -c")
		id := b.newID()
		b.writeSpec(id)
		out, events := b.traced("run", "--bundle", b.Dir, id)
		if got := strings.Join(lines(out), " "); got != "read-only 0" {
			t.Errorf("the root and the bytes of the masked /proc/kcore: %q, want \"read-only 0\"", got)
		}
		finalize, taken := phases(events)
		if finalize.StartUs >= taken.StartUs {
			t.Errorf("rootfs-finalize at %.0f us, once taken (%.0f us): want it while the process waits", finalize.StartUs, taken.StartUs)
		}
	})
	t.Run("cwd made", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t)
		b.Spec.Root.Readonly = true
		b.Spec.Process.Cwd = "/made/cwd"
		b.Spec.Process.Args = []string{"pwd"}
		id := b.newID()
		b.writeSpec(id)
		out, events := b.traced("run", "--bundle", b.Dir, id)
		if strings.TrimSpace(out) != "/made/cwd" {
			t.Errorf("pwd: %q, want /made/cwd", out)
		}
		if fi, err := os.Stat(filepath.Join(b.Rootfs, "made", "cwd")); err != nil || !fi.IsDir() {
			t.Errorf("the cwd in the image: %v", err)
		}
		finalize, taken := phases(events)
		if finalize.StartUs < taken.StartUs+taken.DurUs {
			t.Errorf("rootfs-finalize at %.0f us, before the process was taken (%.0f us) and its cwd made", finalize.StartUs, taken.StartUs+taken.DurUs)
		}
	})
}

// phasesOf returns the phases of process ("husk" or "init") in a trace,
// by name.
func phasesOf(events []traceEvent, process string) map[string]traceEvent {
	at := map[string]traceEvent{}
	for _, e := range events {
		if e.Process == process {
			at[e.Name] = e
		}
	}
	return at
}
