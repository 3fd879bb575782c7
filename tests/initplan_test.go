package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// initPaths are the two ways husk sets up a container's first process: in
// C from an init plan (what a plain config gets), and in Go (Init), which a
// config needing more takes. A personality of LINUX changes nothing for
// the container but is one of the things only the Go path does, so it
// selects the Go path for the same config.
var initPaths = []struct {
	name  string
	setup func(*specs.Spec)
	phase string // an init phase only this path has
}{
	// With the husk binary on a cgroup v1 or hybrid host with two CPUs,
	// the C path's process is set up ahead (nsenter.AheadSetUp); a
	// scheduler (the default one), which the stage does not plan for,
	// has it set up once create has spawned it.
	{"C", func(*specs.Spec) {}, "init-plan"},
	{"C, not set up ahead", func(s *specs.Spec) {
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther}
	}, "init-plan"},
	{"Go", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux} }, "go-init-start"},
}

// eachInitPath runs test as a parallel subtest for each init path, with a
// new bundle set up for that path.
func eachInitPath(t *testing.T, test func(t *testing.T, b *bundle, path string)) {
	for _, p := range initPaths {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t)
			p.setup(b.Spec)
			test(t, b, p.name)
		})
	}
}

// The C path is taken for the default config, the Go path when asked for,
// and both build the same container: the same mounts with the same
// options, the same /dev, hostname, credentials, cwd, umask and limits.
func TestInitPathsBuildTheSameContainer(t *testing.T) {
	if !isHusk() {
		t.Skip("--trace is husk's own flag")
	}
	t.Parallel()
	script := `cut -d' ' -f4- /proc/self/mountinfo | sed 's/ [0-9]*:[0-9]* / /'; ` +
		`ls -ln /dev /dev/pts | cut -c1-10,16-; hostname; id; pwd; umask; ulimit -n; ` +
		`grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; ls /sys/fs/cgroup; readlink /dev/ptmx; readlink /dev/fd`
	for _, variant := range []struct {
		name   string
		change func(*specs.Spec)
	}{
		{"default", func(*specs.Spec) {}},
		// A read-write cgroup mount takes the C path's other way of
		// setting its flags; a read-write root and a bind mount too.
		{"rw cgroups", func(s *specs.Spec) {
			s.Root.Readonly = false
			for i := range s.Mounts {
				if s.Mounts[i].Type == "cgroup" {
					s.Mounts[i].Options = []string{"nosuid", "noexec", "nodev"}
				}
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/etc", Type: "bind", Source: "/etc", Options: []string{"rbind", "ro", "nosuid"}})
		}},
	} {
		t.Run(variant.name, func(t *testing.T) {
			compareInitPaths(t, script, variant.change)
		})
	}
}

func compareInitPaths(t *testing.T, script string, change func(*specs.Spec)) {
	outs := map[string]string{}
	for _, p := range initPaths {
		b := newBundle(t)
		b.Spec.Process.Cwd = "/new/cwd"
		b.Spec.Process.Args = sh(script)
		change(b.Spec)
		p.setup(b.Spec)
		id := b.newID()
		b.writeSpec(id)
		out, phases := b.initPhases("run", "--bundle", b.Dir, id)
		if !contains(phases, p.phase) {
			t.Errorf("%s path: init phases %q, want %q", p.name, phases, p.phase)
		}
		if p.name != "Go" && contains(phases, "go-init-start") {
			t.Errorf("C path started Go in the container: %q", phases)
		}
		if ahead := contains(phases, "ahead-taken"); ahead != (p.name == "C" && setsUpAhead(t)) {
			t.Errorf("%s path: init phases %q: set up ahead %v", p.name, phases, ahead)
		}
		// Bundles differ in their temporary directory and cgroup parent.
		out = strings.ReplaceAll(out, b.Rootfs, "ROOTFS")
		out = strings.ReplaceAll(out, b.CgroupParent, "/CGROUP")
		out = regexp.MustCompile(`/CGROUP/[0-9a-z-]+`).ReplaceAllString(out, "/CGROUP/ID")
		out = regexp.MustCompile(`[A-Z][a-z][a-z] +[0-9]+ [0-9:]+`).ReplaceAllString(out, "DATE")
		// On a cgroup v2 host, without a cgroup namespace, the cgroup2
		// mount shows the host's root, where the cgroup parents of the
		// tests running alongside come and go.
		out = regexp.MustCompile(`(?m)^husk-test-[0-9a-f]+\n`).ReplaceAllString(out, "")
		outs[p.name] = out
	}
	if outs["C"] != outs["Go"] {
		t.Errorf("the C and Go paths differ\nC:\n%s\nGo:\n%s", outs["C"], outs["Go"])
	}
	if late := outs["C, not set up ahead"]; outs["C"] != late {
		t.Errorf("the C path differs when set up ahead\nahead:\n%s\nnot:\n%s", outs["C"], late)
	}
	for _, want := range []string{" /proc ", " /dev/pts ", " /sys/fs/cgroup ", "/new/cwd\n", "crw-rw-rw-"} {
		if !strings.Contains(outs["C"], want) {
			t.Errorf("C path output lacks %q:\n%s", want, outs["C"])
		}
	}
}

// Symlinks planted in the image cannot redirect the container's set-up, on
// either path: /proc must be a real directory (CVE-2019-16884,
// CVE-2023-27561), and masking uses /dev/null only if it is the null
// device (CVE-2025-31133: a symlink there once got a procfs file bound
// writable over the path it was meant to hide).
func TestInitPathsRefusePlantedSymlinks(t *testing.T) {
	t.Parallel()
	for _, p := range initPaths {
		t.Run(p.name+"/proc", func(t *testing.T) {
			t.Parallel()
			b := newBundle(t)
			p.setup(b.Spec)
			if err := os.Remove(filepath.Join(b.Rootfs, "proc")); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(b.Rootfs, "fakeproc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/fakeproc", filepath.Join(b.Rootfs, "proc")); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := b.run("true")
			if code == 0 || !strings.Contains(stderr, "destination is a symlink") {
				t.Errorf("exit %d, stderr %q: want a refusal of the /proc symlink", code, stderr)
			}
		})
		t.Run(p.name+"/devnull", func(t *testing.T) {
			t.Parallel()
			b := newBundle(t)
			p.setup(b.Spec)
			// A /dev bound from a directory whose "null" is a symlink to
			// a file that masking must not cover the masked paths with.
			dev := filepath.Join(t.TempDir(), "dev")
			if err := os.Mkdir(dev, 0o755); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(b.Rootfs, "tmp", "writable")
			if err := os.WriteFile(target, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/tmp/writable", filepath.Join(dev, "null")); err != nil {
				t.Fatal(err)
			}
			for i, m := range b.Spec.Mounts {
				if m.Destination == "/dev" {
					b.Spec.Mounts[i] = specs.Mount{Destination: "/dev", Type: "bind", Source: dev, Options: []string{"rbind"}}
				}
			}
			_, stderr, code := b.run("true")
			if code == 0 || !strings.Contains(stderr, "is not the null device") {
				t.Errorf("exit %d, stderr %q: want a refusal of the /dev/null symlink", code, stderr)
			}
		})
	}
}

// createPlanned creates (without starting) a container whose set-up is a
// plan (the default spec's is), and returns its ID, what
// its process runs (/proc/<pid>/exe), and whether that is husk-init.
func (b *bundle) createPlanned() (id, exe string, helper bool) {
	b.t.Helper()
	id, pid := b.create("true")
	exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
	if err != nil {
		b.t.Fatal(err)
	}
	return id, exe, strings.HasPrefix(exe, "/memfd:husk-init")
}

// A process set up from a plan runs husk-init, the small C helper husk
// embeds, from a sealed memfd, rather than husk's own binary: both a
// container's first process (here blocked before `start`) and an exec'd
// one.
func TestPlanProcessesRunTheInitHelper(t *testing.T) {
	if !isHusk() {
		t.Skip("husk-init is husk's own")
	}
	t.Parallel()
	b := newBundle(t)
	_, target, helper := b.createPlanned()
	if helper {
		return
	}
	// `make husk` builds the helper when musl-gcc is there; then the
	// binary under test must use it.
	if _, err := os.Stat("../nsenter/inithelper/bin/husk-init"); err == nil {
		t.Errorf("the container's process runs %s, not the init helper that was built", target)
	} else {
		t.Skipf("the container's process runs %s: husk was built without its init helper (no musl-gcc)", target)
	}
}

// The husk command has the sealed copy of its init helper made by a C
// thread started from its constructor, before the Go runtime, for the
// commands that start a container process (run, create, exec): the trace
// shows it as seal-ahead, asked for before Go's main (the total phase).
func TestInitHelperSealedAhead(t *testing.T) {
	if !isHusk() {
		t.Skip("husk-init is husk's own")
	}
	t.Parallel()
	b := newBundle(t)
	created, target, helper := b.createPlanned()
	b.mustHusk("delete", "--force", created)
	if !helper {
		t.Skipf("the container's process runs %s: husk was built without its init helper (no musl-gcc)", target)
	}
	id, _ := b.startDetached("sleep", "100")
	_, events := b.traced("exec", id, "true")
	check := func(what string, events []traceEvent) {
		t.Helper()
		var seal, total *traceEvent
		for i, e := range events {
			if e.Process == "husk" && e.Name == "seal-ahead" {
				seal = &events[i]
			}
			if e.Process == "husk" && e.Name == "total" {
				total = &events[i]
			}
		}
		if seal == nil || total == nil {
			t.Fatalf("%s: no seal-ahead or total phase in the trace: %v", what, events)
		}
		if seal.StartUs >= total.StartUs {
			t.Errorf("%s: seal-ahead asked for at %.0f µs, after Go's main (%.0f µs)", what, seal.StartUs, total.StartUs)
		}
	}
	check("exec", events)
	// --debug and --log before the command are skipped over.
	id2 := b.newID()
	b.Spec.Process.Args = []string{"true"}
	b.writeSpec(id2)
	_, events = b.traced("--debug", "--log", filepath.Join(b.Dir, "log"), "run", "--bundle", b.Dir, id2)
	check("run", events)
}

// husk starts its init helper with every signal blocked (it unblocks them
// itself): the container's program, first process or exec'd, starts with
// none blocked, as with runc. (Ignored signals are inherited from whoever
// runs husk, as with runc too.)
func TestProcessesStartWithNoSignalBlocked(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	want := "SigBlk:\t0000000000000000\n"
	status := []string{"grep", "-E", "^SigBlk", "/proc/self/status"}
	if out := b.mustRun(status...); out != want {
		t.Errorf("first process: %q, want %q", out, want)
	}
	id, _ := b.startDetached("sleep", "100")
	if out := b.mustHusk(append([]string{"exec", id}, status...)...); out != want {
		t.Errorf("exec'd process: %q, want %q", out, want)
	}
}
