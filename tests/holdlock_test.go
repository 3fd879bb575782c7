package tests

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer"
)

// TestCreateHoldLockUntilStart: a container Create returns with
// CreateOpts.HoldLock (what `husk run` asks for) keeps its state directory
// locked until Start, so no other command can act on it in between, and
// Start releases the lock. It drives libcontainer directly, in this
// process.
func TestCreateHoldLockUntilStart(t *testing.T) {
	b := newBundle(t)
	c, id := createInProcess(t, b, &libcontainer.CreateOpts{HoldLock: true}, "true")
	dir := filepath.Join(b.Root, id)
	// flock(2) locks belong to an open file: another open of the
	// directory, even in this process, conflicts with the held lock.
	locked := func() bool {
		t.Helper()
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err != nil && err != unix.EWOULDBLOCK {
			t.Fatal(err)
		}
		return err == unix.EWOULDBLOCK
	}
	if !locked() {
		t.Error("after Create with HoldLock the state directory is not locked")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if locked() {
		t.Error("after Start the state directory is still locked")
	}
	if code, err := c.Wait(); err != nil || code != 0 {
		t.Errorf("wait: exit %d, %v", code, err)
	}
	if err := c.Delete(false); err != nil {
		t.Error(err)
	}
}
