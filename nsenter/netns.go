package nsenter

// #include "netns.h"
import "C"

import (
	"syscall"
	"time"
)

// NetNS is a network namespace being made ahead of the container process
// that will join it, on a thread of its own.
//
// Creating a network namespace is the slowest part of creating a
// container's namespaces (~0.45 ms on the test machine, against ~0.1 ms for
// the mount, PID, IPC and UTS ones together): the kernel sets up the
// loopback device and every protocol's per-namespace state. Made by the
// clone3 that creates the container process, it lies on the critical path
// of create; made by another thread as soon as create knows it needs one,
// it runs on another CPU while husk prepares the rest (the state
// directory, the cgroup, the plan), and the process joins it with one
// setns(2). The namespace is the same either way: owned by the host's user
// namespace, so only a container without a user namespace gets one this
// way (libcontainer decides).
//
// The thread is a plain C thread, not one of the Go runtime's: unshare(2)
// changes the namespace of the calling thread only, and it ends once the
// namespace is made, with nothing of Go left on it.
//
// In the husk binary, `run` and `create` usually have all the container's
// namespaces made before the Go runtime starts instead (AheadStage); a
// NetNS is what is left when they do not.
type NetNS struct {
	n *C.struct_husk_netns
	// Set by Take: when the namespace's thread started and finished
	// making it.
	Start, End time.Time
}

// PrepareNetNS starts making a network namespace; nil when no thread can
// be started (the container process then creates its own).
func PrepareNetNS() *NetNS {
	var cerr C.int
	n := C.husk_netns_start(&cerr)
	if n == nil {
		return nil
	}
	return &NetNS{n: n}
}

// Take waits until the namespace is made and returns an fd of it
// (close-on-exec), which the caller then owns. It may be called once.
func (ns *NetNS) Take() (int, error) {
	if ns == nil || ns.n == nil {
		return -1, syscall.EINVAL
	}
	var cerr C.int
	var times [2]C.longlong
	fd := C.husk_netns_finish(ns.n, &cerr, &times[0])
	ns.n = nil
	ns.Start, ns.End = time.Unix(0, int64(times[0])), time.Unix(0, int64(times[1]))
	if fd < 0 {
		return -1, syscall.Errno(cerr)
	}
	return int(fd), nil
}

// Close discards the namespace unless Take took it. A nil NetNS is fine.
func (ns *NetNS) Close() {
	if ns == nil || ns.n == nil {
		return
	}
	if fd, err := ns.Take(); err == nil {
		syscall.Close(fd)
	}
}
