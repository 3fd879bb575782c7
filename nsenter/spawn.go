package nsenter

/*
#include <stdlib.h>
#include "spawn.h"
*/
import "C"

import (
	"errors"
	"runtime"
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
	return spawn(path, argv, env, fds, 0, -1)
}

// SpawnInto is Spawn with clone3(2): the new process is created in new
// namespaces (flags, CLONE_NEW* but CLONE_NEWUSER and CLONE_NEWTIME, which
// need work between creating the namespace and the process) and, when
// cgroupFD >= 0, in that cgroup v2 directory (CLONE_INTO_CGROUP, which
// takes no global lock, unlike a write to cgroup.procs). libcontainer
// starts a new container's process with it. It fails with ENOSYS where it
// is not implemented (CanSpawnInto).
func SpawnInto(path string, argv, env []string, fds []int, flags uintptr, cgroupFD int) (int, error) {
	if !CanSpawnInto {
		return 0, syscall.ENOSYS
	}
	return spawn(path, argv, env, fds, flags, cgroupFD)
}

// SpawnMaxFds is the most fds Spawn and SpawnInto pass.
const SpawnMaxFds = C.HUSK_SPAWN_MAXFDS

// CanSpawnInto says whether SpawnInto is implemented on this architecture:
// the child of its clone3 call starts on a new stack, which takes a few
// lines of assembly, written for x86-64 only.
const CanSpawnInto = runtime.GOARCH == "amd64"

func spawn(path string, argv, env []string, fds []int, flags uintptr, cgroupFD int) (int, error) {
	if len(fds) > SpawnMaxFds {
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
	var pid C.pid_t
	cargs, cenvs := (**C.char)(unsafe.Pointer(&cargv[0])), (**C.char)(unsafe.Pointer(&cenv[0]))
	if flags == 0 && cgroupFD < 0 {
		pid = C.husk_spawn(cpath, cargs, cenvs, cfds, C.int(len(fds)), &cerr)
	} else {
		pid = C.husk_spawn_into(cpath, cargs, cenvs, cfds, C.int(len(fds)), C.ulonglong(flags), C.int(cgroupFD), &cerr)
	}
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
