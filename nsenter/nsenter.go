// Package nsenter sets up the namespaces of a container process before the
// Go runtime starts.
//
// Go cannot setns(2) into a mount or user namespace once it runs more than
// one thread, and a new PID namespace only applies to children. So when the
// husk binary is re-executed as a container's init (or an exec'd process),
// a C constructor in this package runs first, while the process is still
// single-threaded: it joins the namespaces named by path, unshares the new
// ones, writes uid/gid maps and time offsets, and forks the process that
// becomes the container's process. Only that last process returns into Go.
//
// Import the package for its side effect in every binary that calls
// libcontainer.Init:
//
//	import _ "github.com/husk-runtime/husk/nsenter"
//
// The constructor does nothing unless the environment variable
// _HUSK_SYNCFD is set, so the import costs ordinary commands nothing.
// The protocol it speaks with the parent is described in nsexec.c and in
// libcontainer/sync.go.
package nsenter

/*
#cgo CFLAGS: -Wall -O2
extern void husk_nsexec(void);
void __attribute__((constructor)) husk_nsenter_init(void) { husk_nsexec(); }
*/
import "C"
