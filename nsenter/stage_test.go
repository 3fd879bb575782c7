package nsenter

import (
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadGone says at once that an ended thread (or none) is gone.
func TestThreadGoneForAnEndedThread(t *testing.T) {
	// A thread ID no thread of this process has: its own PID is the
	// main thread's, so one past the largest possible is free.
	if !threadGone(1 << 22) {
		t.Fatal("threadGone returned false for a thread that does not exist")
	}
}

// The wait threadGone does for a thread that has not ended yet: a pidfd
// becomes readable once its task has exited (a thread's, with
// PIDFD_THREAD, in exit_notify, after its children have been handed to
// another thread of the process; a process's, as here, when it exits).
func TestReadableWithinWaitsForTheExit(t *testing.T) {
	cmd := exec.Command("sleep", "0.2")
	if err := cmd.Start(); err != nil {
		t.Skipf("start sleep: %v", err)
	}
	defer cmd.Wait()
	fd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		cmd.Process.Kill()
		t.Skipf("pidfd_open: %v", err)
	}
	defer unix.Close(fd)
	if readableWithin(fd, 20*time.Millisecond) {
		t.Fatal("readable while the process runs")
	}
	if !readableWithin(fd, 5*time.Second) {
		t.Fatal("not readable once the process exited")
	}
}
