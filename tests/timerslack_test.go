package tests

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
	// husk now waits for the container: every thread it has is started.
	tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "task"))
	if err != nil {
		t.Fatal(err)
	}
	coarse := 0
	for _, task := range tasks {
		switch got := readSlack(t, filepath.Join("/proc", task.Name(), "timerslack_ns")); got {
		case want:
		case "1000000":
			coarse++
		default:
			t.Errorf("husk's thread %s has timer slack %s ns, want %s (or 1 ms for sysmon)", task.Name(), got, want)
		}
	}
	if coarse != 1 {
		t.Errorf("%d of husk's %d threads have the 1 ms timer slack, want one (sysmon)", coarse, len(tasks))
	}
}

func readSlack(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
