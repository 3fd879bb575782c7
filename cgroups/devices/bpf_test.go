package devices

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func dev(typ string, major, minor int64) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: ptr(major), Minor: ptr(minor), Access: "rwm"}
}

// defaultRules is a container's usual device list, as runc's default
// spec has it: deny everything, then allow null, zero, full, random,
// urandom, tty, console, ptmx and the pts devices.
var defaultRules = []specs.LinuxDeviceCgroup{
	{Allow: false, Access: "rwm"},
	dev("c", 1, 3), dev("c", 1, 5), dev("c", 1, 7), dev("c", 1, 8), dev("c", 1, 9),
	dev("c", 5, 0), dev("c", 5, 1), dev("c", 5, 2), dev("c", 136, -1),
}

// childEnv makes the test binary a helper process (see TestMain).
const childEnv = "HUSK_DEVICES_TEST_CHILD"

// TestMain runs the helper when the test binary is re-executed as one: it
// waits for a line on stdin (sent once the parent has moved it into the
// cgroup), opens each path of the environment variable, and prints one
// line per path: the path and "ok" or the errno name.
func TestMain(m *testing.M) {
	if paths := os.Getenv(childEnv); paths != "" {
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			fmt.Println("stdin:", err)
			os.Exit(2)
		}
		for _, p := range strings.Split(paths, ",") {
			res := "ok"
			fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
			if err != nil {
				res = unix.ErrnoName(err.(unix.Errno))
			} else {
				unix.Close(fd)
			}
			fmt.Println(p, res)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// cgroup2Root returns the mountpoint of the cgroup2 hierarchy: /sys/fs/cgroup
// on a v2 host, /sys/fs/cgroup/unified on a hybrid one. Device programs
// attach to any cgroup2 directory and apply to its processes on both.
func cgroup2Root(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups and load BPF programs")
	}
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p
		}
	}
	t.Skip("no cgroup2 hierarchy mounted")
	return ""
}

// testCgroup creates <root>/husk-test-<random>/dev and removes both when
// the test ends (after the processes the test started, whose cleanups
// are registered later and so run first).
func testCgroup(t *testing.T) string {
	t.Helper()
	root := cgroup2Root(t)
	parent := fmt.Sprintf("%s/husk-test-%016x", root, rand.Uint64())
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Rmdir(parent); err != nil {
			t.Errorf("cleanup: rmdir %s: %v", parent, err)
		}
	})
	dir := parent + "/dev"
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Rmdir(dir); err != nil {
			t.Errorf("cleanup: rmdir %s: %v", dir, err)
		}
	})
	return dir
}

// openIn starts a helper, moves it into the cgroup dir, and returns what
// its opens of paths gave: "ok" or an errno name per path.
func openIn(t *testing.T, dir string, paths ...string) map[string]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// A race-enabled binary sleeps a second at exit unless told not to.
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(paths, ","), "GORACE=atexit_sleep_ms=0")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	defer func() {
		if !done {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	if err := os.WriteFile(dir+"/cgroup.procs", []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	done = true
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out.String())
	}
	res := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		p, r, _ := strings.Cut(line, " ")
		res[p] = r
	}
	return res
}

func checkOpens(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for p, w := range want {
		if got[p] != w {
			t.Errorf("open %s in the cgroup: %s, want %s", p, got[p], w)
		}
	}
}

// huskProgramCount returns how many husk device programs dir has.
func huskProgramCount(t *testing.T, dir string) int {
	t.Helper()
	cg, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cg)
	fds, err := huskPrograms(cg)
	if err != nil {
		t.Fatal(err)
	}
	closeAll(fds)
	return len(fds)
}

func TestFilterDeniesZeroAllowsNull(t *testing.T) {
	dir := testCgroup(t)
	rules := []specs.LinuxDeviceCgroup{
		{Allow: true, Access: "rwm"},
		{Allow: false, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(5)), Access: "rwm"},
	}
	if err := SetFilter(dir, rules); err != nil {
		t.Fatal(err)
	}
	checkOpens(t, openIn(t, dir, "/dev/zero", "/dev/null", "/dev/full"), map[string]string{
		"/dev/zero": "EPERM", "/dev/null": "ok", "/dev/full": "ok",
	})
	// The filter is the cgroup's, not the test process's.
	if fd, err := unix.Open("/dev/zero", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		t.Errorf("open /dev/zero outside the cgroup: %v", err)
	} else {
		unix.Close(fd)
	}
}

func TestDefaultDeviceList(t *testing.T) {
	dir := testCgroup(t)
	if err := SetFilter(dir, defaultRules); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/dev/null": "ok", "/dev/zero": "ok", "/dev/full": "ok", "/dev/random": "ok", "/dev/urandom": "ok",
		"/dev/mem": "EPERM", "/dev/kmsg": "EPERM",
	}
	var paths []string
	for p := range want {
		if _, err := os.Stat(p); err == nil {
			paths = append(paths, p)
		} else {
			delete(want, p)
		}
	}
	checkOpens(t, openIn(t, dir, paths...), want)
}

// TestSetFilterReplacesItsProgram updates the rules twice and checks that
// the cgroup keeps one husk program with the newest rules, and that rules
// allowing everything remove it, leaving other programs alone.
func TestSetFilterReplacesItsProgram(t *testing.T) {
	dir := testCgroup(t)
	denyZero := []specs.LinuxDeviceCgroup{{Allow: false, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(5))}}
	denyNull := []specs.LinuxDeviceCgroup{{Allow: false, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(3))}}
	if err := SetFilter(dir, denyZero); err != nil {
		t.Fatal(err)
	}
	if err := SetFilter(dir, denyNull); err != nil {
		t.Fatal(err)
	}
	if n := huskProgramCount(t, dir); n != 1 {
		t.Errorf("%d husk programs after an update, want 1", n)
	}
	checkOpens(t, openIn(t, dir, "/dev/zero", "/dev/null"), map[string]string{"/dev/zero": "ok", "/dev/null": "EPERM"})

	// A second husk program (left by an interrupted update, say) is
	// removed too, by the attach-then-detach path.
	fd := loadForTest(t, denyZero)
	cg, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cg)
	if err := attach(unix.BPF_PROG_ATTACH, cg, fd, unix.BPF_F_ALLOW_MULTI, -1); err != nil {
		t.Fatal(err)
	}
	if n := huskProgramCount(t, dir); n != 2 {
		t.Fatalf("%d husk programs, want 2", n)
	}
	if err := SetFilter(dir, denyZero); err != nil {
		t.Fatal(err)
	}
	if n := huskProgramCount(t, dir); n != 1 {
		t.Errorf("%d husk programs after replacing two, want 1", n)
	}
	checkOpens(t, openIn(t, dir, "/dev/zero", "/dev/null"), map[string]string{"/dev/zero": "EPERM", "/dev/null": "ok"})

	if err := SetFilter(dir, []specs.LinuxDeviceCgroup{{Allow: true}}); err != nil {
		t.Fatal(err)
	}
	if n := huskProgramCount(t, dir); n != 0 {
		t.Errorf("%d husk programs after allowing everything, want 0", n)
	}
	checkOpens(t, openIn(t, dir, "/dev/zero"), map[string]string{"/dev/zero": "ok"})
}

func loadForTest(t *testing.T, spec []specs.LinuxDeviceCgroup) int {
	t.Helper()
	rules, err := parseRules(spec)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := loadProgram(prog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// TestVerifierAcceptsRandomRules loads programs for random rule lists:
// the kernel's verifier must accept whatever compile emits.
func TestVerifierAcceptsRandomRules(t *testing.T) {
	cgroup2Root(t)
	rng := rand.New(rand.NewPCG(3, 4))
	types := []string{"a", "b", "c"}
	nums := []*int64{nil, ptr(int64(0)), ptr(int64(4095)), ptr(int64(1<<20 - 1))}
	accesses := []string{"r", "w", "m", "rw", "rwm"}
	for _, spec := range [][]specs.LinuxDeviceCgroup{
		{{Allow: false}},
		{{Allow: false, Access: "m"}},
		{{Allow: true}, {Allow: false}},
		{{Allow: false}, {Allow: true, Access: "r"}},
		{{Allow: false, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(3))}},
		defaultRules,
	} {
		loadForTest(t, spec)
	}
	for n := 0; n < 50; n++ {
		spec := make([]specs.LinuxDeviceCgroup, 1+rng.IntN(40))
		for i := range spec {
			spec[i] = specs.LinuxDeviceCgroup{
				Allow: rng.IntN(2) == 0, Type: types[rng.IntN(3)],
				Major: nums[rng.IntN(4)], Minor: nums[rng.IntN(4)], Access: accesses[rng.IntN(5)],
			}
		}
		loadForTest(t, spec)
	}
}

func TestSetFilterErrors(t *testing.T) {
	if err := SetFilter("/nonexistent-husk-cgroup", []specs.LinuxDeviceCgroup{{Allow: false}}); !errors.Is(err, unix.ENOENT) {
		t.Errorf("missing cgroup: err = %v, want ENOENT", err)
	}
	err := SetFilter("/nonexistent-husk-cgroup", []specs.LinuxDeviceCgroup{{Type: "x"}})
	if err == nil || err.Error() != `invalid device cgroup type "x"` {
		t.Errorf("bad rule: err = %v", err)
	}
}

// BenchmarkSetFilter measures what a container start pays for its device
// filter: compile, load, query and attach (replacing the previous one).
func BenchmarkSetFilter(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	root := ""
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			root = p
		}
	}
	if root == "" {
		b.Skip("no cgroup2 hierarchy mounted")
	}
	dir := fmt.Sprintf("%s/husk-test-%016x", root, rand.Uint64())
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := unix.Rmdir(dir); err != nil {
			b.Errorf("cleanup: rmdir %s: %v", dir, err)
		}
	})
	for b.Loop() {
		if err := SetFilter(dir, defaultRules); err != nil {
			b.Fatal(err)
		}
	}
}
