package nsenter

import "testing"

// threadGone says at once that an ended thread (or none) is gone.
func TestThreadGoneForAnEndedThread(t *testing.T) {
	// A thread ID no thread of this process has: its own PID is the
	// main thread's, so one past the largest possible is free.
	if !threadGone(1 << 22) {
		t.Fatal("threadGone returned false for a thread that does not exist")
	}
}
