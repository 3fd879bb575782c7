package libcontainer

import (
	"errors"
	"os"
	"time"
)

// ErrNotExist is returned (wrapped) when no container has the given ID.
var ErrNotExist = errors.New("container does not exist")

// ErrExist is returned (wrapped) when a container with the ID already exists.
var ErrExist = errors.New("container already exists")

// Status is a container's lifecycle status as the runtime-spec names it.
type Status string

// The statuses, as runc reports them.
const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

// State is what `husk state` prints: the runtime-spec state plus runc's
// extra fields (rootfs, created, owner), in runc's field order. Owner is
// empty, as in runc's `state` (a container made by an older husk may have
// its creator's name there); `list` fills it from Container.Owner.
type State struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// CreateOpts are the per-invocation settings of Create that are not part of
// the container's config: its stdio and terminal plumbing.
type CreateOpts struct {
	// Stdin, Stdout and Stderr become the init process's fds 0-2 (nil:
	// /dev/null). Ignored when the process has a terminal.
	Stdin, Stdout, Stderr *os.File
	// ExtraFiles are passed to the container process as fds 3, 4, ...
	// (runc's --preserve-fds).
	ExtraFiles []*os.File
	// ConsoleSocket is the path of a unix socket that receives the pty
	// master (SCM_RIGHTS) when the process has a terminal. Empty with a
	// terminal: the master is kept and returned by Container.Console.
	ConsoleSocket string
	// Trace, when set, records the phases of create (and of the later
	// operations on the returned Container).
	Trace *Trace
	// HoldLock makes Create return with the container's state directory
	// still locked, for a caller that starts the container right away,
	// as `husk run` does: no other command can act on the container in
	// between, and the next method that locks (Start, or Delete, Pause,
	// Resume) takes this lock over instead of locking and re-reading the
	// state (~0.03 ms and six system calls less), then releases it. Until
	// then other commands on the container wait, in this process too: a
	// Container that Load returns for it blocks in those methods.
	HoldLock bool
	// StartHere says that this process calls Start on the returned
	// Container, as `husk run` does. The container's process then waits
	// for Start on the socket Create talked to it over, instead of on an
	// exec.fifo in the state directory, which is neither made nor opened
	// (0.2–0.4 ms less on the test machine). Other processes see such a
	// container as running rather than created until Start; and should
	// this process exit (or Delete it) without Start, the container's
	// process exits instead of waiting.
	StartHere bool
	// StartEarly, with StartHere and HoldLock, lets the container's
	// process run its program as soon as it is ready, rather than wait
	// for Start, when Create learns before that the process has its root
	// filesystem (a process set up ahead, see nsenter.AheadSetUp): Create
	// sends it "start" right after the cgroup's limits, while it finishes
	// its set-up, and Start then only runs the poststart hooks. Two
	// wake-ups and the work between "ready" and Start leave the start of
	// every `husk run` (~0.2 ms on the test machine). It is for a caller
	// that does nothing between Create and Start, as `husk run` without
	// --pid-file: the program may begin before Create returns, while the
	// lock (HoldLock) keeps other commands from seeing the container
	// until Start; should Create then fail, the process is killed as on
	// any failed create.
	StartEarly bool
}
