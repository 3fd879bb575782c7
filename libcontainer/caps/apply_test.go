package caps

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/husk-runtime/husk/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// childEnv carries a childPlan to a re-executed test binary, which applies
// it on a locked thread instead of running tests.
const childEnv = "HUSK_CAPS_TEST_CHILD"

// childPlan is what the child does, in the order init does it.
type childPlan struct {
	Bounding []int                 `json:"bounding"`
	UID      int                   `json:"uid"` // -1: stay root
	Caps     *configs.Capabilities `json:"caps"`
	// Exec runs busybox cat /proc/self/status after applying, so the test
	// sees what the container process would get; otherwise the child
	// prints its own thread's status.
	Exec bool `json:"exec"`
}

func TestMain(m *testing.M) {
	if plan := os.Getenv(childEnv); plan != "" {
		os.Exit(runChild(plan))
	}
	os.Exit(m.Run())
}

func runChild(planJSON string) int {
	runtime.LockOSThread()
	var p childPlan
	if err := json.Unmarshal([]byte(planJSON), &p); err != nil {
		fmt.Println("error:", err)
		return 2
	}
	fail := func(err error) int {
		fmt.Println("error:", err)
		return 3
	}
	if err := DropBoundingSet(p.Bounding); err != nil {
		return fail(err)
	}
	if p.UID >= 0 {
		if err := KeepCapsOnUIDChange(); err != nil {
			return fail(err)
		}
		if err := syscall.Setgroups(nil); err != nil {
			return fail(err)
		}
		if err := syscall.Setresgid(p.UID, p.UID, p.UID); err != nil {
			return fail(err)
		}
		if err := syscall.Setresuid(p.UID, p.UID, p.UID); err != nil {
			return fail(err)
		}
		if err := ClearKeepCaps(); err != nil {
			return fail(err)
		}
	}
	if err := Apply(p.Caps); err != nil {
		return fail(err)
	}
	if p.Exec {
		err := unix.Exec("/bin/busybox", []string{"cat", "/proc/self/status"}, nil)
		return fail(err)
	}
	// Capabilities are per thread: read this thread's, not the leader's.
	b, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		return fail(err)
	}
	os.Stdout.Write(b)
	return 0
}

// runPlan re-executes the test binary to apply p and returns the child's
// status lines as a map ("CapEff" -> mask), or the child's error output.
func runPlan(t *testing.T, p childPlan) (map[string]string, string, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("applying capabilities needs root")
	}
	if p.Exec {
		if _, err := os.Stat("/bin/busybox"); err != nil {
			t.Skipf("needs /bin/busybox: %v", err)
		}
	}
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	// The race detector otherwise sleeps a second at exit.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", childEnv+"="+string(js))
	out, err := cmd.CombinedOutput()
	status := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			status[k] = strings.TrimSpace(v)
		}
	}
	return status, string(out), err
}

func capMask(cs ...int) string {
	var m uint64
	for _, c := range cs {
		m |= 1 << uint(c)
	}
	return fmt.Sprintf("%016x", m)
}

func TestApplyAsRootSetsExactSets(t *testing.T) {
	keep := []int{unix.CAP_CHOWN, unix.CAP_KILL, unix.CAP_NET_BIND_SERVICE}
	status, out, err := runPlan(t, childPlan{
		Bounding: keep,
		UID:      -1,
		Caps: &configs.Capabilities{
			Bounding:  keep,
			Effective: []int{unix.CAP_CHOWN},
			Permitted: keep,
		},
	})
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	want := map[string]string{
		"CapBnd": capMask(keep...),
		"CapPrm": capMask(keep...),
		"CapEff": capMask(unix.CAP_CHOWN),
		"CapInh": capMask(),
		"CapAmb": capMask(),
	}
	for k, v := range want {
		if status[k] != v {
			t.Errorf("%s = %q, want %q", k, status[k], v)
		}
	}
}

func TestAmbientSurvivesUIDChangeAndExec(t *testing.T) {
	keep := []int{unix.CAP_NET_BIND_SERVICE, unix.CAP_NET_RAW}
	nbs := []int{unix.CAP_NET_BIND_SERVICE}
	status, out, err := runPlan(t, childPlan{
		Bounding: keep,
		UID:      65534,
		Caps: &configs.Capabilities{
			Bounding:    keep,
			Effective:   keep,
			Permitted:   keep,
			Inheritable: nbs,
			Ambient:     nbs,
		},
		Exec: true,
	})
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.HasPrefix(status["Uid"], "65534\t65534") {
		t.Errorf("Uid = %q, want 65534", status["Uid"])
	}
	// After execve of a file without capabilities as non-root, the new
	// permitted and effective sets are exactly the ambient set.
	want := map[string]string{
		"CapBnd": capMask(keep...),
		"CapPrm": capMask(nbs...),
		"CapEff": capMask(nbs...),
		"CapInh": capMask(nbs...),
		"CapAmb": capMask(nbs...),
	}
	for k, v := range want {
		if status[k] != v {
			t.Errorf("%s = %q, want %q", k, status[k], v)
		}
	}
}

func TestUIDChangeWithoutAmbientLosesCapsOnExec(t *testing.T) {
	keep := []int{unix.CAP_CHOWN}
	status, out, err := runPlan(t, childPlan{
		Bounding: keep,
		UID:      65534,
		Caps:     &configs.Capabilities{Effective: keep, Permitted: keep},
		Exec:     true,
	})
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, k := range []string{"CapPrm", "CapEff", "CapAmb"} {
		if status[k] != capMask() {
			t.Errorf("%s = %q, want empty", k, status[k])
		}
	}
}

func TestAmbientNotInheritableIsNamedInError(t *testing.T) {
	nbs := []int{unix.CAP_NET_BIND_SERVICE}
	_, out, err := runPlan(t, childPlan{
		UID:  -1,
		Caps: &configs.Capabilities{Permitted: nbs, Effective: nbs, Ambient: nbs},
	})
	if err == nil {
		t.Fatalf("child succeeded:\n%s", out)
	}
	if !strings.Contains(out, "raise ambient capability CAP_NET_BIND_SERVICE") {
		t.Errorf("error does not name the capability: %s", out)
	}
}

func TestApplyNilDropsEverything(t *testing.T) {
	status, out, err := runPlan(t, childPlan{UID: -1, Bounding: []int{}})
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, k := range []string{"CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"} {
		if status[k] != capMask() {
			t.Errorf("%s = %q, want empty", k, status[k])
		}
	}
}
