package nsenter

/*
#include <stdlib.h>
#include "spawn.h"
*/
import "C"

import (
	"errors"
	"fmt"
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

// CanSpawnInto says whether SpawnInto is implemented on this architecture:
// the child of its clone3 call starts on a new stack, which takes a few
// lines of assembly, written for x86-64 only.
const CanSpawnInto = runtime.GOARCH == "amd64"

func spawn(path string, argv, env []string, fds []int, flags uintptr, cgroupFD int) (int, error) {
	if len(fds) > C.HUSK_SPAWN_MAXFDS {
		return 0, errors.New("spawn: too many fds")
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	a := newCArgs(argv, env, fds)
	defer a.free()
	cfds := a.fds
	var cerr C.int
	// Like syscall.ForkExec: no fd may be created without close-on-exec
	// while the child inherits the fd table.
	syscall.ForkLock.Lock()
	var pid C.pid_t
	cargs, cenvs := a.argvPtr(), a.envPtr()
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

// cArgs are the C copies of a spawn's argv, environment and fds.
type cArgs struct {
	argv, env []*C.char
	fds       *C.int
}

func newCArgs(argv, env []string, fds []int) *cArgs {
	a := &cArgs{argv: cStrings(argv), env: cStrings(env)}
	a.fds = (*C.int)(C.malloc(C.size_t(len(fds)+1) * C.size_t(unsafe.Sizeof(C.int(0)))))
	list := unsafe.Slice(a.fds, len(fds)+1)
	for i, fd := range fds {
		list[i] = C.int(fd)
	}
	return a
}

func (a *cArgs) argvPtr() **C.char { return (**C.char)(unsafe.Pointer(&a.argv[0])) }
func (a *cArgs) envPtr() **C.char  { return (**C.char)(unsafe.Pointer(&a.env[0])) }

func (a *cArgs) free() {
	freeStrings(a.argv)
	freeStrings(a.env)
	C.free(unsafe.Pointer(a.fds))
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

// Join says what SpawnJoin's child joins: a running container's
// namespaces and cgroup.
type Join struct {
	// Pidfd refers to a process of the container (its init), whose
	// namespaces NSFlags (CLONE_NEW*, neither user nor time: those refuse
	// a process that shares its memory with another, as this child does
	// until it execs) the child joins.
	Pidfd   int
	NSFlags uintptr
	// TasksFiles are the container's cgroup v1 "tasks" files the child
	// writes "0" to, before it joins the mount namespace.
	TasksFiles []string
	// Cgroup2FD is the container's cgroup v2 directory (CLONE_INTO_CGROUP),
	// or -1.
	Cgroup2FD int
	// OOMScoreAdj, unless empty, is written to the child's
	// /proc/self/oom_score_adj first, on the host's /proc.
	OOMScoreAdj string
}

// JoinError is a SpawnJoin failure: the step that failed and the errno.
type JoinError struct {
	Op   string
	Path string
	Hint string // said after Path, before the errno
	Err  syscall.Errno
}

func (e *JoinError) Error() string {
	s := e.Op
	if e.Path != "" {
		s += " " + e.Path
	}
	return s + e.Hint + ": " + e.Err.Error()
}

func (e *JoinError) Unwrap() error { return e.Err }

// SpawnJoin starts the program fds[exeIndex] (exec'd by fd) in a running
// container, as Spawn starts a program, but with clone3(2) (x86-64 only,
// CanSpawnInto): the child is born in the container's PID namespace (the
// calling thread's namespace for children is set to it for the clone, then
// put back), writes the OOM score, joins the v1 cgroups (the v2 one by
// CLONE_INTO_CGROUP) and the other namespaces (setns(2) on the pidfd), and
// execs. husk exec uses it, so that no intermediate process has to join
// and fork. The caller reaps the child.
func SpawnJoin(exeIndex int, argv, env []string, fds []int, j *Join) (int, error) {
	if !CanSpawnInto {
		return 0, syscall.ENOSYS
	}
	if len(fds) > C.HUSK_SPAWN_MAXFDS || exeIndex < 0 || exeIndex >= len(fds) {
		return 0, errors.New("spawn: bad fd list")
	}
	self, err := syscall.Open("/proc/self/ns/pid", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open /proc/self/ns/pid: %w", err)
	}
	defer syscall.Close(self)
	a := newCArgs(argv, env, fds)
	defer a.free()
	cj := (*C.struct_husk_join)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_husk_join{}))))
	defer C.free(unsafe.Pointer(cj))
	cj.pidfd = C.int(j.Pidfd)
	cj.nsflags = C.int(j.NSFlags)
	cj.self_pidns = C.int(self)
	cj.cgroupfd = C.int(j.Cgroup2FD)
	if j.OOMScoreAdj != "" {
		cj.oom_score_adj = C.CString(j.OOMScoreAdj)
		defer C.free(unsafe.Pointer(cj.oom_score_adj))
	}
	if len(j.TasksFiles) > 0 {
		var b []byte
		for _, t := range j.TasksFiles {
			b = append(append(b, t...), 0)
		}
		cj.tasks = (*C.char)(C.CBytes(append(b, 0)))
		defer C.free(unsafe.Pointer(cj.tasks))
	}

	type result struct {
		pid, step, index int
		errno            syscall.Errno
	}
	done := make(chan result, 1)
	// The clone sets this thread's PID namespace for children: if putting
	// it back failed, the thread must never fork again, so the spawn runs
	// on a goroutine locked to its thread, which exits with it then.
	go func() {
		runtime.LockOSThread()
		var cerr, step, index C.int
		syscall.ForkLock.Lock()
		pid := C.husk_spawn_join(C.int(exeIndex), a.argvPtr(), a.envPtr(), a.fds, C.int(len(fds)), cj, &cerr, &step, &index)
		syscall.ForkLock.Unlock()
		if step != C.HUSK_JOIN_RESTORE {
			runtime.UnlockOSThread()
		}
		done <- result{int(pid), int(step), int(index), syscall.Errno(cerr)}
	}()
	r := <-done
	if r.pid > 0 && r.errno == 0 {
		return r.pid, nil
	}
	if r.pid > 0 {
		// The child failed and exited: reap it.
		var ws syscall.WaitStatus
		for {
			if _, err := syscall.Wait4(r.pid, &ws, 0, nil); err != syscall.EINTR {
				break
			}
		}
	}
	e := &JoinError{Err: r.errno}
	switch r.step {
	case C.HUSK_JOIN_PIDNS:
		e.Op = "join the PID namespace of the container's process"
	case C.HUSK_JOIN_RESTORE:
		e.Op = "restore the spawning thread's PID namespace"
	case C.HUSK_JOIN_OOM:
		// As nsexec.c says it.
		e.Op, e.Path = "process.oomScoreAdj: write "+j.OOMScoreAdj+" to", "/proc/self/oom_score_adj"
		if r.errno == syscall.EACCES {
			e.Hint = " (lowering it needs CAP_SYS_RESOURCE)"
		}
	case C.HUSK_JOIN_CGROUP:
		e.Op = "join cgroup: write"
		if r.index < len(j.TasksFiles) {
			e.Path = j.TasksFiles[r.index]
		}
	case C.HUSK_JOIN_SETNS:
		e.Op = fmt.Sprintf("join the namespaces of the container's process (flags %#x)", j.NSFlags&^syscall.CLONE_NEWPID)
	case C.HUSK_JOIN_FDS:
		e.Op = "spawn: map the child's fds"
	case C.HUSK_JOIN_EXEC:
		e.Op = "spawn: exec"
	default:
		e.Op = "spawn: clone3"
	}
	return 0, e
}
