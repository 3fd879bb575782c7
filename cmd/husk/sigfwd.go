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
// container kills husk. The handler writes the signal's number to a pipe;
// a goroutine reads it through the runtime's poller.
//
// Not forwarded, as with os/signal: SIGCHLD (husk's own children) and
// SIGURG (the runtime's preemption). Also not forwarded, unlike runc:
// SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV, SIGSYS and SIGPROF, which keep
// the runtime's handler (a fault must still crash husk with a report),
// and, when husk is linked with musl, real-time signal 34, which musl
// keeps for itself.

// signalSub delivers the signals husk caught, in the order they came.
type signalSub struct {
	c chan unix.Signal
}

// subscribeSignals starts catching every signal husk forwards. The
// handlers stay until husk exits: signals caught after the forwarding
// loop ends are dropped.
func subscribeSignals() (*signalSub, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, fmt.Errorf("create the signal pipe: %w", os.NewSyscallError("pipe2", err))
	}
	if errno := C.husk_catch_signals(C.int(p[1])); errno != 0 {
		return nil, fmt.Errorf("catch signals to forward: %w", os.NewSyscallError("sigaction", syscall.Errno(errno)))
	}
	s := &signalSub{c: make(chan unix.Signal, 128)}
	go s.relay(os.NewFile(uintptr(p[0]), "signal pipe"))
	return s, nil
}

// relay turns the bytes the handler writes into signals on s.c.
func (s *signalSub) relay(r *os.File) {
	var buf [64]byte
	for {
		n, err := r.Read(buf[:])
		for _, b := range buf[:n] {
			s.c <- unix.Signal(b)
		}
		if err != nil {
			logDebugf("read the signal pipe: %v", err)
			return
		}
	}
}
