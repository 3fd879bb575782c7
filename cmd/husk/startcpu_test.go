package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cpusAllowed returns the Cpus_allowed_list line of a /proc status file.
func cpusAllowed(t *testing.T, status string) string {
	t.Helper()
	b, err := os.ReadFile(status)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("%s: no Cpus_allowed_list", status)
	return ""
}

// The test binary has startcpu.c's constructor too: it starts pinned, and
// restoreStartCPUs gives every thread the parent's CPU set back.
func TestStartCPUsPinnedThenRestored(t *testing.T) {
	parent := cpusAllowed(t, filepath.Join("/proc", strconv.Itoa(os.Getppid()), "status"))
	if !strings.ContainsAny(parent, ",-") {
		t.Skipf("the test runs on one CPU (%s): husk does not pin itself then", parent)
	}
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set: husk does not pin itself then")
	}
	if got := cpusAllowed(t, "/proc/thread-self/status"); strings.ContainsAny(got, ",-") {
		t.Fatalf("before restoreStartCPUs this thread may run on CPUs %s, want one", got)
	}
	n, err := restoreStartCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Errorf("restoreStartCPUs reported %d CPUs, want those of %s", n, parent)
	}
	tids, err := threadIDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range tids {
		if got := cpusAllowed(t, filepath.Join("/proc/self/task", strconv.Itoa(tid), "status")); got != parent {
			t.Errorf("thread %d may run on CPUs %s, want %s as its parent", tid, got, parent)
		}
	}
	// Restoring again changes nothing.
	if n, err := restoreStartCPUs(); err != nil || n == 0 {
		t.Errorf("second restoreStartCPUs: %d, %v", n, err)
	}
}
