package main

import (
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sigHandler returns the address of the handler installed for sig.
func sigHandler(t *testing.T, sig unix.Signal) uintptr {
	t.Helper()
	// The kernel's struct sigaction on amd64 and arm64: handler, flags,
	// restorer, mask.
	var act [4]uintptr
	if _, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&act)), 8, 0, 0); errno != 0 {
		t.Fatalf("rt_sigaction(%d): %v", sig, errno)
	}
	return act[0]
}

func TestSubscribeSignals(t *testing.T) {
	kept := []unix.Signal{unix.SIGURG, unix.SIGCHLD, unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS, unix.SIGPROF}
	before := make([]uintptr, len(kept))
	for i, sig := range kept {
		before[i] = sigHandler(t, sig)
	}
	goHandler := sigHandler(t, unix.SIGUSR1)

	sub, err := subscribeSignals()
	if err != nil {
		t.Fatal(err)
	}
	for i, sig := range kept {
		if h := sigHandler(t, sig); h != before[i] {
			t.Errorf("%v: handler changed from %#x to %#x; the Go runtime's must stay", sig, before[i], h)
		}
	}
	forwarded := []unix.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGPIPE, unix.SIGTERM, unix.SIGCONT, unix.SIGWINCH, unix.Signal(40), unix.Signal(64)}
	for _, sig := range forwarded {
		if h := sigHandler(t, sig); h == goHandler {
			t.Errorf("%v: still the Go runtime's handler", sig)
		}
	}
	// One at a time: the kernel does not queue a second instance of a
	// standard signal that is still pending.
	for _, sig := range forwarded {
		if err := unix.Kill(unix.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-sub.c:
			if got != sig {
				t.Errorf("sent %v, got %v", sig, got)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v: not delivered", sig)
		}
	}
}
