package nsenter

/*
#include <stdlib.h>
#include "spawn.h"
*/
import "C"

import (
	"errors"
	"syscall"
	"unsafe"
)

// Spawn starts path with argv and env, fds[i] as its fd i, with vfork and
// execve, and returns its PID once it has exec'd. Every signal stays
// blocked in the new process: the program must unblock them (husk-init
// does). It is cheaper than syscall.ForkExec, whose child resets each of
// the Go runtime's signal handlers first; libcontainer uses it for
// husk-init. The caller reaps the child.
func Spawn(path string, argv, env []string, fds []int) (int, error) {
	if len(fds) > C.HUSK_SPAWN_MAXFDS {
		return 0, errors.New("spawn: too many fds")
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	cargv := cStrings(argv)
	defer freeStrings(cargv)
	cenv := cStrings(env)
	defer freeStrings(cenv)
	cfds := (*C.int)(C.malloc(C.size_t(len(fds)+1) * C.size_t(unsafe.Sizeof(C.int(0)))))
	defer C.free(unsafe.Pointer(cfds))
	fdList := unsafe.Slice(cfds, len(fds)+1)
	for i, fd := range fds {
		fdList[i] = C.int(fd)
	}
	var cerr C.int
	// Like syscall.ForkExec: no fd may be created without close-on-exec
	// while the child inherits the fd table.
	syscall.ForkLock.Lock()
	pid := C.husk_spawn(cpath, (**C.char)(unsafe.Pointer(&cargv[0])), (**C.char)(unsafe.Pointer(&cenv[0])), cfds, C.int(len(fds)), &cerr)
	syscall.ForkLock.Unlock()
	if pid < 0 {
		return 0, syscall.Errno(cerr)
	}
	if cerr != 0 {
		var ws syscall.WaitStatus
		for {
			if _, err := syscall.Wait4(int(pid), &ws, 0, nil); err != syscall.EINTR {
				break
			}
		}
		return 0, syscall.Errno(cerr)
	}
	return int(pid), nil
}

// cStrings returns a NULL-terminated array of C copies of l.
func cStrings(l []string) []*C.char {
	out := make([]*C.char, len(l)+1)
	for i, s := range l {
		out[i] = C.CString(s)
	}
	return out
}

func freeStrings(l []*C.char) {
	for _, p := range l {
		if p != nil {
			C.free(unsafe.Pointer(p))
		}
	}
}
