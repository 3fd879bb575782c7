package pidfd

import (
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A pidfd becomes readable once its task has exited, and not before.
func TestWaitReturnsOnceTheTaskExited(t *testing.T) {
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
	if exited, err := Wait(fd, 20*time.Millisecond); exited || err != nil {
		t.Fatalf("Wait while the process runs: %v, %v; want false, nil", exited, err)
	}
	if exited, err := Wait(fd, 5*time.Second); !exited || err != nil {
		t.Fatalf("Wait once the process exited: %v, %v; want true, nil", exited, err)
	}
}
