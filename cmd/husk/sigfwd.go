package main

// #include "sigfwd.h"
import "C"

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Why husk catches signals in C.
//
// In the foreground, `run` and `exec` forward the signals husk receives to
// the container's process, as runc does. Go's os/signal would catch them
// with signal.Notify, but the runtime enables each signal by a round trip
// to a thread of its own, locked to its goroutine (it keeps the signal
// unblocked there): with one P that is two thread switches per signal,
// ~1.3 ms of a ~10 ms `husk run` for the ~60 signals. sigfwd.c installs a
// plain handler instead, with one sigaction(2) per signal (~20 µs in all),
// before husk creates anything: no window in which a signal meant for the
// container kills husk. The handler writes the signal's number to a pipe,
// which forwardSignals polls together with a pidfd of the process.
//
// Not forwarded, as with os/signal: SIGCHLD (husk's own children) and
// SIGURG (the runtime's preemption). Also not forwarded, unlike runc:
// SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV, SIGSYS and SIGPROF, which keep
// the runtime's handler (a fault must still crash husk with a report),
// and, when husk is linked with musl, real-time signal 34, which musl
// keeps for itself.

// signalSub holds the signals husk caught, in the order they came, until
// forwardSignals reads them.
type signalSub struct {
	fd int // the pipe's read end, non-blocking
}

// subscribeSignals starts catching every signal husk forwards. The
// handlers stay until husk exits: signals caught after the forwarding
// loop ends are dropped.
func subscribeSignals() (*signalSub, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, fmt.Errorf("create the signal pipe: %w", os.NewSyscallError("pipe2", err))
	}
	// On failure the pipe stays open: the handlers already installed
	// write to it.
	if errno := C.husk_catch_signals(C.int(p[1])); errno != 0 {
		return nil, fmt.Errorf("catch signals to forward: %w", os.NewSyscallError("sigaction", syscall.Errno(errno)))
	}
	return &signalSub{fd: p[0]}, nil
}

// read appends the signals caught so far to sigs.
func (s *signalSub) read(sigs []unix.Signal) []unix.Signal {
	var buf [64]byte
	for {
		n, err := unix.Read(s.fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if n <= 0 {
			return sigs
		}
		for _, b := range buf[:n] {
			sigs = append(sigs, unix.Signal(b))
		}
	}
}

// forwardSignals forwards the signals husk receives (sub) through send
// until the process pid exits, then returns wait's exit code for it. It is
// the foreground loop of `run` (for the container's init) and `exec` (for
// the exec'd process). SIGWINCH resizes the process's terminal instead.
// target names the process in debug logs.
//
// It is one poll(2) on the signal pipe and a pidfd of the process, in the
// calling goroutine: no goroutine parked in the runtime's poller, which
// would make the scheduler start a thread to watch it at every blocking
// system call of the others.
func forwardSignals(sub *signalSub, tty *ttyRelay, target string, pid int, send func(unix.Signal) error, wait func() (int, error)) (int, error) {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("watch %s (pid %d): %w", target, pid, os.NewSyscallError("pidfd_open", err))
	}
	defer unix.Close(pfd)
	endRunning := tracer.Begin("running")
	fds := []unix.PollFd{{Fd: int32(sub.fd), Events: unix.POLLIN}, {Fd: int32(pfd), Events: unix.POLLIN}}
	var sigs []unix.Signal
	for {
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("wait for %s: %w", target, os.NewSyscallError("poll", err))
		}
		if fds[0].Revents != 0 {
			sigs = sub.read(sigs[:0])
			for _, sig := range sigs {
				if sig == unix.SIGWINCH {
					tty.resize()
					continue
				}
				if err := send(sig); err != nil {
					logDebugf("forward signal %v to %s: %v", sig, target, err)
				}
			}
		}
		if fds[1].Revents != 0 {
			// Signals that arrive from now on are caught and dropped:
			// husk is about to exit.
			endRunning()
			return wait()
		}
	}
}
