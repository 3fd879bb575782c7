package nsenter

// #include "stage.h"
import "C"

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/husk-runtime/husk/internal/pidfd"
	"golang.org/x/sys/unix"
)

// AheadStage is a husk-init process that has made a new container's
// namespaces ahead, before the husk binary's Go runtime started, and clones
// the container's process into them when libcontainer says go.
//
// Creating a container's namespaces takes ~0.55 ms on the test machine
// (~0.45 of it the network namespace's loopback device and per-protocol
// state), and the clone3 that makes them and the exec of husk-init that
// follows are ~0.3 ms of every create's critical path. In the husk binary,
// `run` and `create` start a stage instead, from the constructor, on the
// CPU the Go runtime's start leaves idle: the thread that copies husk-init
// reads config.json and, when it can tell which namespaces the container
// will want (cmd/husk/ahead.c), runs `husk-init ahead` from that copy to
// unshare them (nsenter/stage.c, nsexec.c). By the time create has its
// plan the namespaces exist, and the container's process is a clone of a
// small, already running process: one message, one clone.
//
// The stage is a process of its own rather than a thread: a thread of
// husk's working in the kernel on another CPU makes every copy-on-write
// fault of the runtime's start a TLB-shootdown IPI. It is husk's child, so
// the process it clones with CLONE_PARENT is husk's child too, as a process
// husk clones itself is. Libcontainer takes it only for a process it would
// clone itself (nsenter.SpawnInto) into exactly these namespaces; it
// discards it otherwise (Close), and the stage then exits.
type AheadStage struct {
	sock, pid, flags int
	start            time.Time
	began            time.Time // when it read the mountinfo (Mountinfo)
}

// AheadStageMaxFds is the most fds Fork passes, the cgroup's included.
const AheadStageMaxFds = C.HUSK_STAGE_MAXFDS

// TakeAheadStage returns the stage made ahead, once; nil when there is
// none (always, outside the husk binary's `run` and `create`).
func TakeAheadStage() *AheadStage {
	var sock, pid, flags, tid C.int
	var start C.longlong
	if C.husk_stage_take(&sock, &pid, &flags, &tid, &start) != 0 {
		return nil
	}
	s := &AheadStage{sock: int(sock), pid: int(pid), flags: int(flags), start: time.Unix(0, int64(start))}
	// The stage's parent is the thread that started it until that thread
	// has ended; the stage's child gets the same parent (CLONE_PARENT)
	// and dies with it (PR_SET_PDEATHSIG, which the kernel sends when the
	// parent thread ends, even when another thread of the process takes
	// over the child). Once the thread is gone, the parent is the
	// process's main thread, which ends with the process.
	if !threadGone(int(tid)) {
		s.Close()
		return nil
	}
	return s
}

// pidfdThread is pidfd_open(2)'s PIDFD_THREAD (Linux 6.9), which
// x/sys/unix does not name: a pidfd of one thread, readable once that
// thread has exited.
const pidfdThread = unix.O_EXCL

// threadGone says whether the thread tid of this process has ended, and
// waits for it to end when it has not: the thread that started the stage
// ends right after, but on a busy machine it may still be waiting for a
// CPU when create begins. The kernel has handed the thread's children to
// another thread by the time its pidfd is readable (exit_notify).
func threadGone(tid int) bool {
	if err := unix.Tgkill(unix.Getpid(), tid, 0); err == unix.ESRCH {
		return true
	}
	fd, err := unix.PidfdOpen(tid, pidfdThread)
	if err == unix.ESRCH {
		return true
	}
	if err != nil {
		// A kernel without PIDFD_THREAD: do without the stage.
		return false
	}
	defer unix.Close(fd)
	gone, err := pidfd.Wait(fd, time.Second)
	return gone && err == nil
}

// Flags returns the CLONE_NEW* flags of the namespaces the stage made.
func (s *AheadStage) Flags() int { return s.flags }

// Fork has the stage clone the container's process into its namespaces
// and, when cgroupFD >= 0, into that cgroup v2 directory
// (CLONE_INTO_CGROUP), with fds[i] as its fd i and env as its environment,
// as nsenter.SpawnInto would start husk-init. The process then sends its
// PID on its sync socket ({"type":"pid"}), before anything else.
func (s *AheadStage) Fork(env []string, fds []int, cgroupFD int) error {
	var b strings.Builder
	cg := -1
	if cgroupFD >= 0 {
		cg = len(fds)
		fds = append(fds[:len(fds):len(fds)], cgroupFD)
	}
	if len(fds) > AheadStageMaxFds {
		return errors.New("ahead stage: too many fds")
	}
	b.WriteString("go ")
	b.WriteString(strconv.Itoa(cg))
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(env)))
	b.WriteByte('\n')
	for _, e := range env {
		b.WriteString(e)
		b.WriteByte(0)
	}
	// What husk-init's buffer takes, with room to spare.
	if b.Len() > C.HUSK_STAGE_MAXMSG-64 {
		return errors.New("ahead stage: environment too large")
	}
	// MSG_NOSIGNAL: a stage that failed before it read this has closed
	// its end; Made reports why.
	if err := unix.Sendmsg(s.sock, []byte(b.String()), unix.UnixRights(fds...), nil, unix.MSG_NOSIGNAL); err != nil && err != unix.EPIPE {
		return fmt.Errorf("ahead stage: send: %w", err)
	}
	return nil
}

// Mountinfo returns husk's /proc/self/mountinfo as the stage read it
// before it made the namespaces, and when it read it (for --trace); nil
// when the stage could not read or send it, or is gone. The stage is in
// husk's mount namespace, with husk's root, until then: the text is what
// husk would read, ~50 us sooner on create's critical path (the cgroup
// hierarchies; see internal/selfmounts). Call it before Made, at most once.
func (s *AheadStage) Mountinfo() (data []byte, read [2]time.Time) {
	if s.sock < 0 {
		return nil, read
	}
	// The first message, peeked at for its type and length.
	head := make([]byte, 64)
	n, err := recvRetry(s.sock, head, unix.MSG_PEEK|unix.MSG_TRUNC)
	if err != nil || n < 3 || string(head[:3]) != "mi " {
		return nil, read
	}
	buf := make([]byte, n)
	if n, err = recvRetry(s.sock, buf, 0); err != nil || n != len(buf) {
		return nil, read
	}
	line, text, ok := strings.Cut(string(buf), "\n")
	f := strings.Fields(line)
	if !ok || len(f) != 3 || len(text) == 0 {
		return nil, read
	}
	t0, err0 := strconv.ParseInt(f[1], 10, 64)
	t1, err1 := strconv.ParseInt(f[2], 10, 64)
	if err0 != nil || err1 != nil {
		return nil, read
	}
	s.began = time.Unix(0, t0)
	return buf[len(line)+1:], [2]time.Time{s.began, time.Unix(0, t1)}
}

// recvRetry receives one message from the stage's socket into buf.
func recvRetry(sock int, buf []byte, flags int) (int, error) {
	for {
		n, _, _, _, err := unix.Recvmsg(sock, buf, nil, flags)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// Made returns when the stage made the namespaces (for --trace), or the
// error that kept it from making them or from cloning the process. The
// process tells its PID itself, on its sync socket: the stage may not run
// again before the process is far into its set-up.
func (s *AheadStage) Made() (made [2]time.Time, err error) {
	if s.sock < 0 {
		return made, errors.New("ahead stage: closed")
	}
	buf := make([]byte, 4096)
	n, err := recvRetry(s.sock, buf, 0)
	if err == nil && n >= 3 && string(buf[:3]) == "mi " {
		// Mountinfo was not asked for (the rest of a large one is dropped).
		n, err = recvRetry(s.sock, buf, 0)
	}
	msg := string(buf[:max(n, 0)])
	switch {
	case err != nil:
		return made, fmt.Errorf("ahead stage: receive: %w", err)
	case n == 0:
		return made, errors.New("ahead stage exited")
	case strings.HasPrefix(msg, "err "):
		return made, errors.New(msg[4:])
	}
	f := strings.Fields(msg)
	if len(f) != 3 || f[0] != "made" {
		return made, fmt.Errorf("ahead stage: unexpected message %q", msg)
	}
	t0, err0 := strconv.ParseInt(f[1], 10, 64)
	t1, err1 := strconv.ParseInt(f[2], 10, 64)
	if err0 != nil || err1 != nil {
		return made, fmt.Errorf("ahead stage: bad message %q", msg)
	}
	return [2]time.Time{time.Unix(0, t0), time.Unix(0, t1)}, nil
}

// Started returns when the stage was asked for, before the Go runtime
// started: until the stage begins its work (Began), it is started and
// execs husk-init.
func (s *AheadStage) Started() time.Time { return s.start }

// Began returns when the stage began its work, given when it began making
// the namespaces (Made): the mountinfo comes first, when Mountinfo had it.
func (s *AheadStage) Began(made time.Time) time.Time {
	if s.began.IsZero() {
		return made
	}
	return s.began
}

// Close ends the stage and reaps it: one that was not told to go sees its
// socket close and exits; one that was exits once it has cloned the
// process (call Close late, when it has had a CPU since). It may be
// called more than once; a nil AheadStage is fine.
func (s *AheadStage) Close() {
	if s == nil {
		return
	}
	if s.sock >= 0 {
		unix.Close(s.sock)
		s.sock = -1
	}
	if s.pid > 0 {
		var ws unix.WaitStatus
		for {
			if _, err := unix.Wait4(s.pid, &ws, 0, nil); err != unix.EINTR {
				break
			}
		}
		s.pid = 0
	}
}
