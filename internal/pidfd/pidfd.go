// Package pidfd waits, without sleeping, for the exit of a task through a
// pidfd (pidfd_open(2)), which poll(2) reports readable once the task has
// exited.
package pidfd

import (
	"time"

	"golang.org/x/sys/unix"
)

// Wait waits until the pidfd fd is readable, that is until its task has
// exited, for at most timeout, and reports whether it did. EINTR is
// retried.
func Wait(fd int, timeout time.Duration) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(timeout)
	for {
		ms := int(time.Until(deadline) / time.Millisecond)
		if ms <= 0 {
			return false, nil
		}
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, err
		}
		if n > 0 {
			return true, nil
		}
	}
}
