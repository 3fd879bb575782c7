package seccomp

// Init-side code: installs a compiled program. It runs in the container's
// init, possibly under a tight memory limit, so it allocates nothing on
// success.

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The errors are laid out by the compiler (errors.New of a constant is),
// not made at every process start: errTooLong spells out
// unix.BPF_MAXINSNS, 4096, which a test checks, rather than calling
// fmt.Errorf at start-up.
var (
	errEmptyProgram   = errors.New("install seccomp filter: empty program")
	errTooLong        = errors.New("install seccomp filter: program longer than 4096 instructions")
	errNotifyMismatch = errors.New("install seccomp filter: notify and the NEW_LISTENER flag disagree")
)

// Install loads p into the kernel with seccomp(SECCOMP_SET_MODE_FILTER), on
// the calling OS thread only. It returns the listener fd (close-on-exec)
// for the seccomp agent when p notifies, otherwise -1. Install makes no
// other syscall: everything after the seccomp(2) call already runs under
// the new filter.
//
// Per thread, not TSYNC: husk's init calls Install on its locked OS thread,
// the one that then execve()s, and execve leaves only that thread, so the
// container gets the filter either way. TSYNC would also make the kernel
// refuse NEW_LISTENER (unless with TSYNC_ESRCH, Linux >= 5.7). The caller
// therefore keeps its goroutine locked to its thread (runtime.LockOSThread)
// from before Install until execve, and sets no_new_privs on that same
// thread first (the attribute is per thread too) unless it holds
// CAP_SYS_ADMIN.
func Install(p *Program) (notifyFd int, err error) {
	if p == nil || len(p.Filter) == 0 {
		return -1, errEmptyProgram
	}
	// sock_fprog.len is 16 bits: never let a long program be truncated
	// into a shorter one that loads.
	if len(p.Filter) > unix.BPF_MAXINSNS {
		return -1, errTooLong
	}
	listener := p.Flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
	if listener != p.Notify {
		// Notify rules without a listener would fail with ENOSYS.
		return -1, errNotifyMismatch
	}
	prog := unix.SockFprog{Len: uint16(len(p.Filter)), Filter: &p.Filter[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(p.Flags), uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		if errno == unix.EACCES {
			return -1, fmt.Errorf("install seccomp filter: %w (set no_new_privs first or hold CAP_SYS_ADMIN)", errno)
		}
		return -1, fmt.Errorf("install seccomp filter: %w", errno)
	}
	if !listener {
		return -1, nil
	}
	// The kernel creates the listener close-on-exec (it has since
	// NEW_LISTENER exists, Linux 5.0), so it cannot leak into the
	// container's process. Setting FD_CLOEXEC again would be a syscall
	// under the new filter: a profile that denies fcntl would fail the
	// start, one that notifies on it would hang init, as no agent has the
	// listener yet.
	return int(r), nil
}
