package nsenter

// #include "stage.h"
import "C"

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

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
//
// Given the command line too (spec), the stage usually goes on to set the
// process up itself, before create has even read config.json: it clones
// the process with the container part of the init plan that husk's
// constructor computed in C meanwhile, into the cgroup it made
// (husk_stage_plan_ahead), and the process sets up its root filesystem
// while the Go runtime starts
// (SetUpAhead, AheadSetUp); create takes it when its own plan and cgroup
// are the same (libcontainer's takeSetUpAhead).
type AheadStage struct {
	sock, pid, flags int
	start            time.Time
	began            time.Time // when it read the mountinfo (Mountinfo)

	// made and madeErr: the stage's "made" message, once read.
	made     [2]time.Time
	madeErr  error
	madeRead bool

	// spec: the stage was asked to set the container's process up
	// ahead; specRead: its answer was read, into ahead (nil when it did
	// not) and whyNot; claimed: libcontainer took the process over.
	spec, specRead, claimed bool
	ahead                   *AheadSetUp
	whyNot                  string
}

// AheadSetUp is a container's process the stage set up ahead, before the
// husk binary's Go runtime started: cloned into the namespaces the stage
// made and into the cgroup husk's constructor made, setting up its root
// filesystem with the plan husk's constructor computed in C from
// config.json (nsenter/aheadplan.c). It waits for create's own plan before it creates
// anything on the host's file systems, and before its process part
// (credentials, seccomp...).
type AheadSetUp struct {
	// Plan and Dirs are what was computed ahead (see AheadPlan): create
	// takes the process only when its own are the same.
	Plan []byte
	Dirs []string
	// Sock is husk's end of the process's sync socket. The process first
	// says its PID on it ({"type":"pid"}), as one the stage clones on
	// "go" does.
	Sock int
	// Start and Planned are when husk's constructor began and had
	// computed the plan, Cgroup when it made the cgroup (for --trace).
	Start, Planned time.Time
	Cgroup         [2]time.Time
}

// AheadStageMaxFds is the most fds Fork passes, the cgroup's included.
const AheadStageMaxFds = C.HUSK_STAGE_MAXFDS

// TakeAheadStage returns the stage made ahead, once; nil when there is
// none (always, outside the husk binary's `run` and `create`).
func TakeAheadStage() *AheadStage {
	var sock, pid, flags, tid, spec C.int
	var start C.longlong
	if C.husk_stage_take(&sock, &pid, &flags, &tid, &spec, &start) != 0 {
		return nil
	}
	s := &AheadStage{sock: int(sock), pid: int(pid), flags: int(flags), spec: spec != 0, start: time.Unix(0, int64(start))}
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
	if !s.madeRead {
		s.made, s.madeErr = s.readMade()
		s.madeRead = true
	}
	return s.made, s.madeErr
}

func (s *AheadStage) readMade() (made [2]time.Time, err error) {
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
	t, ok := parseTimes(msg, "made")
	if !ok {
		return made, fmt.Errorf("ahead stage: unexpected message %q", msg)
	}
	return t, nil
}

// parseTimes reads the message "NAME START END" (nanoseconds).
func parseTimes(msg, name string) (t [2]time.Time, ok bool) {
	f := strings.Fields(msg)
	if len(f) < 3 || f[0] != name {
		return t, false
	}
	t0, err0 := strconv.ParseInt(f[1], 10, 64)
	t1, err1 := strconv.ParseInt(f[2], 10, 64)
	if err0 != nil || err1 != nil {
		return t, false
	}
	return [2]time.Time{time.Unix(0, t0), time.Unix(0, t1)}, true
}

// SetUpAhead returns the container's process the stage set up ahead, or
// nil and why it did not (it then waits for "go" as a stage does); ""
// when it was not asked to. It waits for the stage's answer, which comes
// ~0.5 ms after the namespaces. libcontainer then takes the process
// (Claim) or leaves it to Close, which kills it and has the stage remove
// its cgroup.
func (s *AheadStage) SetUpAhead() (*AheadSetUp, string) {
	if !s.spec || s.specRead {
		return s.ahead, s.whyNot
	}
	s.specRead = true
	if _, err := s.Made(); err != nil {
		s.whyNot = err.Error()
		return nil, s.whyNot
	}
	head := make([]byte, 64)
	n, err := recvRetry(s.sock, head, unix.MSG_PEEK|unix.MSG_TRUNC)
	if err != nil || n <= 0 {
		s.whyNot = "ahead stage exited"
		return nil, s.whyNot
	}
	buf := make([]byte, n)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(s.sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	for err == unix.EINTR {
		n, oobn, _, _, err = unix.Recvmsg(s.sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	}
	fd := -1
	if err == nil && oobn > 0 {
		if msgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil && len(msgs) == 1 {
			if fds, rerr := unix.ParseUnixRights(&msgs[0]); rerr == nil && len(fds) == 1 {
				fd = fds[0]
			}
		}
	}
	msg := buf[:max(n, 0)]
	a, why := parseSetUp(msg, fd)
	if a == nil && fd >= 0 {
		unix.Close(fd)
	}
	s.ahead, s.whyNot = a, why
	return a, why
}

// parseSetUp reads "spec START PLANNED CGSTART CGEND N\n", N NUL-ended
// directories and the plan; or "nospec WHY", "err WHY".
func parseSetUp(msg []byte, fd int) (*AheadSetUp, string) {
	line, rest, _ := strings.Cut(string(msg), "\n")
	switch {
	case strings.HasPrefix(line, "nospec "):
		return nil, line[len("nospec "):]
	case strings.HasPrefix(line, "err "):
		return nil, line[len("err "):]
	}
	t, ok := parseTimes(line, "spec")
	f := strings.Fields(line)
	if !ok || len(f) != 6 || fd < 0 {
		return nil, fmt.Sprintf("unexpected message %q", line)
	}
	cg0, err0 := strconv.ParseInt(f[3], 10, 64)
	cg1, err1 := strconv.ParseInt(f[4], 10, 64)
	ndirs, err := strconv.Atoi(f[5])
	if err0 != nil || err1 != nil || err != nil || ndirs < 0 {
		return nil, fmt.Sprintf("unexpected message %q", line)
	}
	a := &AheadSetUp{Sock: fd, Start: t[0], Planned: t[1], Cgroup: [2]time.Time{time.Unix(0, cg0), time.Unix(0, cg1)}}
	for range ndirs {
		d, r, ok := strings.Cut(rest, "\x00")
		if !ok {
			return nil, "truncated message"
		}
		a.Dirs = append(a.Dirs, d)
		rest = r
	}
	a.Plan = []byte(rest)
	return a, ""
}

// Claim says libcontainer has taken the process set up ahead: it kills
// the process itself if create then fails, and Close no longer does.
func (s *AheadStage) Claim() { s.claimed = true }

// Take tells the stage its process is create's now: the stage exits
// without removing the cgroup.
func (s *AheadStage) Take() error {
	if s.sock < 0 {
		return errors.New("ahead stage: closed")
	}
	if _, err := unix.Write(s.sock, []byte("take")); err != nil {
		return fmt.Errorf("ahead stage: take the process: %w", err)
	}
	return nil
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
	// A process set up ahead that create did not take is killed and
	// reaped here (it is husk's child), before the stage removes its
	// cgroup, which it can only once the process has left it.
	if s.spec && s.sock >= 0 {
		if a, _ := s.SetUpAhead(); a != nil && !s.claimed {
			dropSetUp(a)
		}
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

// dropSetUp kills and reaps the process set up ahead: its PID comes first
// on its sync socket ({"type":"pid","msg":"PID"}, libcontainer/sync.go).
func dropSetUp(a *AheadSetUp) {
	defer unix.Close(a.Sock)
	buf := make([]byte, 256)
	n, err := recvRetry(a.Sock, buf, 0)
	if err != nil || n <= 0 {
		return
	}
	_, num, ok := strings.Cut(string(buf[:n]), `"msg":"`)
	num, _, _ = strings.Cut(num, `"`)
	pid, err := strconv.Atoi(num)
	if !ok || err != nil || pid <= 0 {
		return
	}
	unix.Kill(pid, unix.SIGKILL)
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
			return
		}
	}
}

// DiscardAheadStage ends the stage made ahead when nothing took it (an
// error before create): a process it set up ahead is killed and reaped,
// and the stage removes its cgroup and exits before this returns.
func DiscardAheadStage() {
	if s := TakeAheadStage(); s != nil {
		s.Close()
	}
}

// TakeClaimedStateDir returns the state directory the husk binary's
// constructor claimed for the container it sets up ahead (locked, as
// libcontainer's lockDir leaves it: the fd holding the lock), once; "" and
// -1 when there is none. See husk_stage_claim_dir in stage.c.
func TakeClaimedStateDir() (string, int) {
	if C.husk_stage_claimed() == 0 {
		return "", -1
	}
	buf := make([]byte, 4096)
	fd := C.husk_stage_take_dir((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	if fd < 0 {
		return "", -1
	}
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), int(fd)
}
