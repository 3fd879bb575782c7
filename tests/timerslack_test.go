package tests

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// husk gives the Go runtime's sysmon thread a coarse timer slack
// (cmd/husk/sysmon.c) and nothing else: its other threads, and the
// container's process, which inherits the slack of the thread that
// creates it, keep the slack husk was started with.
func TestTimerSlackOnlySysmon(t *testing.T) {
	if !isHusk() {
		t.Skip("husk's own sysmon timer slack")
	}
	t.Parallel()
	want := readSlack(t, "/proc/self/timerslack_ns")
	b := newBundle(t)
	id := b.newID()
	b.Spec.Process.Args = sh("cat /proc/self/timerslack_ns; read x")
	b.writeSpec(id)
	cmd := b.command("run", "--bundle", b.Dir, id)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Write([]byte("\n"))
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("husk run: %v", err)
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read the container's timer slack: %v", err)
	}
	if got := strings.TrimSpace(line); got != want {
		t.Errorf("the container's process has timer slack %s ns, want %s as the caller", got, want)
	}
	// husk now waits for the container. Its threads are all created, but
	// sysmon, made on the CPU husk's start pinned it to while the main
	// thread kept it, may not have run yet (and set its slack): a busy
	// machine gives it that CPU only once husk's main thread waits.
	pid := strconv.Itoa(cmd.Process.Pid)
	var coarse, threads int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var bad []string
		coarse, threads, bad = threadSlacks(t, pid, want)
		for _, b := range bad {
			t.Error(b)
		}
		if len(bad) > 0 || coarse == 1 || time.Now().After(deadline) {
			break
		}
	}
	if coarse != 1 {
		t.Errorf("%d of husk's %d threads have the 1 ms timer slack, want one (sysmon)", coarse, threads)
	}
}

// threadSlacks counts the threads of process pid whose timer slack is
// sysmon's 1 ms, and describes those with neither that nor want.
func threadSlacks(t *testing.T, pid, want string) (coarse, threads int, bad []string) {
	t.Helper()
	tasks, err := os.ReadDir(filepath.Join("/proc", pid, "task"))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		switch got := readSlack(t, filepath.Join("/proc", task.Name(), "timerslack_ns")); got {
		case want:
		case "1000000":
			coarse++
		default:
			bad = append(bad, fmt.Sprintf("husk's thread %s has timer slack %s ns, want %s (or 1 ms for sysmon)", task.Name(), got, want))
		}
	}
	return coarse, len(tasks), bad
}

func readSlack(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
