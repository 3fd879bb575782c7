package libcontainer

// The parent <-> child protocol of create and exec.
//
// One SOCK_SEQPACKET socketpair connects the husk command (the parent) with
// the process it starts; every write is one message. The first messages come
// from nsexec.c (plain text); after that both sides are Go and speak JSON
// (syncMsg), with file descriptors attached through SCM_RIGHTS.
//
//	parent (husk create)                  child (husk-init or "husk init": nsexec.c,
//	                                      then initplan.c/execplan.c or Go's Init)
//	--------------------                  ----------------------------------------
//	cgroup Apply(-1) (create: started on
//	another goroutine while the rest is
//	prepared; waited for here)
//	spawn (sealed exe) ---------------->  stage0: join the cgroup (v1 tasks), setns()
//	                                      paths, maybe stage1 for a new user ns
//	                                      (maps written by stage0)
//	                      <------------  "pid1 <pid>"   (only with a new user ns)
//	                                      stage1: unshare(), clone3(CLONE_PARENT|
//	                                      CLONE_INTO_CGROUP)
//	                      <------------  "pid2 <pid>"   the container process
//
//	A new container set up by husk-init (an init plan) that creates no user
//	or time namespace and joins none by path has no stage0 (_HUSK_DIRECT,
//	x86-64): the parent clone3()s the container process itself
//	(nsenter.SpawnInto: CLONE_NEW*, CLONE_INTO_CGROUP), which joins the v1
//	cgroups and goes on as stage2 below; its early errors are JSON "error"
//	messages. (Not exec: see spawn in spawn.go.) On a v1 host only its
//	cgroup2 and memory directories exist when it is cloned, and its
//	network namespace may still be in the making: the parent finishes
//	both meanwhile and then sends {"type":"join"} (with the namespace's
//	fd), which the process waits for, before its first sysfs or cgroup
//	mount or its /dev nodes, to enter them (cgroups.EarlyApplier,
//	_HUSK_CGROUP_LATE, _HUSK_NETNS_LATE).
//
//	With the husk binary, such a process is usually set up ahead, while
//	husk's Go runtime starts (nsenter.AheadSetUp): the stage that made
//	its namespaces clones it with the container part of the init plan
//	husk's constructor computed in C, into the cgroup it made (it joins
//	its v1 cgroups itself); it
//	sends {"type":"pid"}, sets up the root filesystem up to pivot_root
//	(taken first, below, for anything it would create on the host's file
//	systems, or for the hooks below), says so:
//	                      <------------  {"type":"prepared"}
//	(its /dev made: the devices cgroup's rules can be rewritten), makes
//	its masked and read-only paths when its cwd exists (which the plan
//	made ahead has too; else they come once taken, after the cwd is
//	made), and waits for create, which compares that part with its own
//	plan:
//	{"type":"plan","msg":"fifo"?}+memfd (and {"type":"fifo"}+fd) ---->
//	then on as below. When the parts differ, create kills it and the
//	stage removes the cgroup. Having taken it, create reads "prepared"
//	first (serving the hooks before it, below): cgroup Set(resources),
//	and with CreateOpts.StartEarly (`husk run`)
//	{"type":"start"} ----------------->  (read once it is ready, below)
//	then stages the state file while it goes on with its credentials...
//
//	reap stage0/stage1                    stage2: waits for "pid2" to be sent;
//	                                      non-dumpable; unshare(CLONE_NEWCGROUP)
//	                                      unless it waits for the memory cgroup (v1);
//	                                      an init plan runs in C (initplan.c,
//	                                      same messages), or Go's Init starts:
//	                                      read config (memfd), mounts...
//	                      <------------  {"type":"hooks"}        (only if there are
//	cgroup Set(resources); run prestart                           runtime hooks)
//	+ createRuntime hooks
//	{"type":"hooks-done"} ------------->  createContainer hooks, pivot_root
//	                      <------------  {"type":"console"}+fd   (terminal only)
//	send fd to --console-socket           sysctl, masked paths, rlimits; joins the v1
//	                                      memory cgroup (and then unshares the cgroup
//	                                      ns); seccomp, caps, user, cwd
//	                      <------------  {"type":"seccomp"}+fd   (notify filters only)
//	send fd to the seccomp listener
//	                      <------------  {"type":"ready"}
//	cgroup Set(resources) unless done,    open exec.fifo for writing: blocks
//	write the state file, return          (CreateOpts.StartHere: no fifo; waits
//	                                      for "start" on this socket instead)
//
//	husk start: open exec.fifo for reading; the child's open returns, it writes
//	one byte, runs startContainer hooks and execve()s the user's program, which
//	closes its end of the fifo: start then runs the poststart hooks (without
//	any, start returns once it has read the byte, as runc's does).
//	With StartHere, Start (in the process that created the container) sends
//	{"type":"start"} ----------------->  startContainer hooks, execve(), which
//	                                      closes the socket: the same hang-up
//
// Any failure on the child side is sent as {"type":"error","msg":...} (or
// "err <msg>" from C) before it exits, so the user sees the real cause.
// exec follows the same path with initType "exec": stage0 joins the
// container's cgroup and all of its namespaces, and after {"type":"ready"}
// the child execs at once; the parent then waits for the socket to close
// (execve closes it) or an error message. Unless the process needs Go
// (execplan.go: goOnlyReason), the payload is an exec plan and stage2 stays
// in C (nsenter/execplan.c): it sends the same JSON messages ("console",
// "seccomp", "ready", "error") in the same order, and Go never starts in
// the container. stage2 speaks only after stage1 has sent "pid2".

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Message types of the Go part of the protocol.
const (
	msgHooks     = "hooks"
	msgHooksDone = "hooks-done"
	msgConsole   = "console"
	msgReady     = "ready"
	msgError     = "error"
	msgSeccomp   = "seccomp"
	msgAck       = "ack"
	msgStart     = "start"
	msgJoin      = "join"
	// msgPid is the first message of a process an ahead stage cloned
	// (nsenter.AheadStage): its PID, which husk did not see it get.
	msgPid = "pid"
	// msgPrepared says a process set up ahead has its root filesystem
	// up to pivot_root (its /dev made, its createRuntime hooks run):
	// once create has taken it, the cgroup's limits can go in while it
	// finishes its set-up.
	msgPrepared = "prepared"
	// msgPlan hands a process set up ahead (nsenter.AheadSetUp) create's
	// whole plan, in a memfd; its msg "fifo" says msgFifo follows, with
	// the exec fifo (create without StartHere).
	msgPlan = "plan"
	msgFifo = "fifo"
)

// syncMsg is one JSON message of the protocol.
type syncMsg struct {
	Type string `json:"type"`
	Msg  string `json:"msg,omitempty"`
}

// encodeSyncMsg writes m as encoding/json would, by hand: these messages
// are on every container's start, and a process that needs encoding/json
// for nothing else should not pay its first use (~0.3 ms).
func encodeSyncMsg(m syncMsg) []byte {
	b := make([]byte, 0, 32+len(m.Msg))
	b = append(b, `{"type":`...)
	b = appendJSONString(b, m.Type)
	if m.Msg != "" {
		b = append(b, `,"msg":`...)
		b = appendJSONString(b, m.Msg)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string exactly as encoding/json
// writes it by default: '<', '>' and '&' escaped too, invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped. The sync messages and `husk state`
// (State.IndentedJSON, which must match json.MarshalIndent byte for
// byte) both use it.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// decodeSyncMsg reads the messages both sides write; those with escapes
// in their strings (error messages quoting something, a trace) go through
// encoding/json.
func decodeSyncMsg(b []byte) (syncMsg, error) {
	var m syncMsg
	rest, ok := bytes.CutPrefix(b, []byte(`{"type":"`))
	if ok {
		var typ, msg []byte
		typ, rest, ok = cutPlain(rest)
		if ok && len(rest) > 0 && rest[0] == ',' {
			rest, ok = bytes.CutPrefix(rest, []byte(`,"msg":"`))
			if ok {
				msg, rest, ok = cutPlain(rest)
			}
		}
		if ok && string(rest) == "}" {
			return syncMsg{Type: string(typ), Msg: string(msg)}, nil
		}
	}
	err := json.Unmarshal(b, &m)
	return m, err
}

// cutPlain returns the string up to the closing quote, and what follows
// it, if it has no escape or control character and is valid UTF-8.
func cutPlain(b []byte) (s, rest []byte, ok bool) {
	for i, c := range b {
		switch {
		case c == '"':
			return b[:i], b[i+1:], utf8.Valid(b[:i])
		case c == '\\' || c < 0x20:
			return nil, nil, false
		}
	}
	return nil, nil, false
}

// sendSync writes one message, with an optional fd attached.
func sendSync(fd int, typ, msg string, file *os.File) error {
	attached := -1
	if file != nil {
		attached = int(file.Fd())
	}
	return sendSyncFd(fd, typ, msg, attached)
}

// sendSyncFd is sendSync with a plain fd (none when < 0).
func sendSyncFd(fd int, typ, msg string, attached int) error {
	b := encodeSyncMsg(syncMsg{Type: typ, Msg: msg})
	var err error
	var oob []byte
	if attached >= 0 {
		oob = unix.UnixRights(attached)
	}
	for {
		err = unix.Sendmsg(fd, b, oob, nil, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("send %q to the sync socket: %w", typ, err)
	}
	return nil
}

// sendFdTo connects to the unix socket at path and sends msg with f
// attached (SCM_RIGHTS): how the pty master reaches --console-socket and a
// seccomp listener fd its agent. Raw syscalls rather than package net, which
// every husk process would otherwise load and initialise.
func sendFdTo(path string, msg []byte, f *os.File) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", path, err)
	}
	for {
		err = unix.Sendmsg(fd, msg, unix.UnixRights(int(f.Fd())), nil, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("send to %s: %w", path, err)
	}
	return nil
}

// maxSyncMsg bounds one message: the longest are error messages (the C
// side builds them in 4 KiB) and "ready" with a trace's phases.
const maxSyncMsg = 16 << 10

// recvBufs holds receive buffers: a message is copied out of one, so that
// a process (a library user may create containers concurrently) allocates
// its few buffers once rather than one per message.
var recvBufs = sync.Pool{New: func() any { return new([maxSyncMsg]byte) }}

// recvRaw reads one message and the fds attached to it. A nil message with
// no error means the other side closed the socket.
func recvRaw(fd int) ([]byte, []*os.File, error) {
	bp := recvBufs.Get().(*[maxSyncMsg]byte)
	defer recvBufs.Put(bp)
	buf := bp[:]
	oob := make([]byte, unix.CmsgSpace(4*4))
	reset := false
	for {
		n, oobn, flags, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		// A child that exits with a message of ours unread resets the
		// socket: the next read reports ECONNRESET once, and then what
		// the child sent before it went, its error message most often.
		if err == unix.ECONNRESET && !reset {
			reset = true
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read the sync socket: %w", err)
		}
		var files []*os.File
		if oobn > 0 {
			cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil {
				return nil, nil, fmt.Errorf("parse control message: %w", err)
			}
			for _, c := range cmsgs {
				fds, err := unix.ParseUnixRights(&c)
				if err != nil {
					continue
				}
				for _, f := range fds {
					files = append(files, os.NewFile(uintptr(f), "sync-fd"))
				}
			}
		}
		if n == 0 && len(files) == 0 {
			return nil, nil, nil
		}
		if flags&unix.MSG_TRUNC != 0 {
			return nil, files, fmt.Errorf("read the sync socket: message longer than %d bytes", maxSyncMsg)
		}
		return append([]byte(nil), buf[:n]...), files, nil
	}
}

// recvSync reads one JSON message. io.EOF-like closure returns a nil msg.
func recvSync(fd int) (*syncMsg, []*os.File, error) {
	b, files, err := recvRaw(fd)
	if err != nil || b == nil {
		return nil, files, err
	}
	m, err := decodeSyncMsg(b)
	if err != nil {
		return nil, files, fmt.Errorf("bad sync message %q: %w", b, err)
	}
	return &m, files, nil
}
