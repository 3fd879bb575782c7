package main

import (
	"os/exec"
	"syscall"
	"testing"
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
		if got := waitSignals(t, sub); len(got) != 1 || got[0] != sig {
			t.Errorf("sent %v, got %v", sig, got)
		}
	}
}

// waitSignals waits up to 5 s for sub's pipe to be readable and returns
// what it holds.
func waitSignals(t *testing.T, sub *signalSub) []unix.Signal {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(sub.fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 5000)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			t.Fatalf("no signal in the pipe after 5 s (%v)", err)
		}
		return sub.read(nil)
	}
}

func TestForwardSignalsUntilExit(t *testing.T) {
	sub, err := subscribeSignals()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var sent []unix.Signal
	send := func(sig unix.Signal) error {
		sent = append(sent, sig)
		return cmd.Process.Signal(sig)
	}
	wait := func() (int, error) {
		err := cmd.Wait()
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ws.ExitStatus(), err
	}
	// Caught before the loop starts: kept in the pipe, forwarded once it
	// runs (runc queues them the same way).
	if err := unix.Kill(unix.Getpid(), unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := forwardSignals(sub, nil, "sleep", cmd.Process.Pid, send, wait)
	if err != nil {
		t.Fatal(err)
	}
	if code != 128+int(unix.SIGTERM) || len(sent) != 1 || sent[0] != unix.SIGTERM {
		t.Errorf("exit code %d after forwarding %v; want %d after SIGTERM", code, sent, 128+int(unix.SIGTERM))
	}
}
