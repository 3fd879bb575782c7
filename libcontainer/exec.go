package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/libcontainer/configs"
	"github.com/husk-runtime/husk/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ExecOpts are the per-call settings of Container.Exec.
type ExecOpts struct {
	// Stdin, Stdout and Stderr become the process's fds 0-2 (nil:
	// /dev/null). Ignored when the process has a terminal.
	Stdin, Stdout, Stderr *os.File
	// ExtraFiles are passed as fds 3, 4, ... (--preserve-fds).
	ExtraFiles []*os.File
	// ConsoleSocket receives the pty master when the process has a
	// terminal; empty keeps it for Process.Console.
	ConsoleSocket string
	// IgnorePaused allows exec into a paused container.
	IgnorePaused bool
	// SubCgroup puts the process in this sub-cgroup of the container's
	// cgroup (created if missing) instead of the container's cgroup.
	SubCgroup string
}

// execPayload is what the parent sends an exec'd process.
type execPayload struct {
	ID      string           `json:"id"`
	Process *configs.Process `json:"process"`
	// Seccomp is the container's filter, compiled (see initPayload).
	Seccomp *seccomp.Program `json:"seccomp,omitempty"`
}

// Process is a process started in an existing container by Exec.
type Process struct {
	pid     int
	console *os.File
}

// Pid returns the host PID of the process.
func (p *Process) Pid() int { return p.pid }

// Console returns the pty master of a process with a terminal and no
// console socket; the caller owns it.
func (p *Process) Console() *os.File { return p.console }

// Signal sends sig to the process.
func (p *Process) Signal(sig unix.Signal) error {
	if err := unix.Kill(p.pid, sig); err != nil {
		return fmt.Errorf("signal %s to process %d: %w", sig, p.pid, err)
	}
	return nil
}

// Wait waits for the process to exit and returns its exit code, 128+N
// when signal N killed it. Only the process that called Exec can wait.
func (p *Process) Wait() (int, error) {
	ws, err := reap(p.pid)
	if err != nil {
		return -1, fmt.Errorf("wait for process %d: %w", p.pid, err)
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// nsFiles names each namespace's file under /proc/<pid>/ns. A table, not
// a map: a map literal is built by code at every process start, this one
// is laid out by the compiler.
var nsFiles = []struct {
	ns   configs.NamespaceType
	file string
}{
	{configs.NEWPID, "pid"},
	{configs.NEWNET, "net"},
	{configs.NEWNS, "mnt"},
	{configs.NEWIPC, "ipc"},
	{configs.NEWUTS, "uts"},
	{configs.NEWUSER, "user"},
	{configs.NEWCGROUP, "cgroup"},
	{configs.NEWTIME, "time"},
}

// nsFile returns the name of namespace t's file under /proc/<pid>/ns, ""
// for a type nsFiles does not list.
func nsFile(t configs.NamespaceType) string {
	for _, e := range nsFiles {
		if e.ns == t {
			return e.file
		}
	}
	return ""
}

// Exec starts p inside the running container: it joins every namespace of
// the container's init process and its cgroup, gets p's credentials,
// capabilities, rlimits and the container's seccomp filter, and returns
// once p runs (execve succeeded). A failure leaves nothing running.
func (c *Container) Exec(p *configs.Process, opts *ExecOpts) (*Process, error) {
	if p == nil || len(p.Args) == 0 {
		return nil, errors.New("exec: no command given")
	}
	if opts == nil {
		opts = &ExecOpts{}
	}
	switch st := c.status(); st {
	case Stopped:
		return nil, errors.New("cannot exec in a stopped container")
	case Paused:
		if !opts.IgnorePaused {
			return nil, errors.New("cannot exec in a paused container (use --ignore-paused to override)")
		}
	}
	cfg := c.state.Config
	var profile *specs.LinuxSeccomp
	if c.state.HasSeccomp {
		full, err := c.Config()
		if err != nil {
			return nil, err
		}
		profile = full.Seccomp
	}
	filter, err := compileSeccomp(profile, c.root)
	if err != nil {
		return nil, err
	}
	s := &spawnSpec{
		initType: initExec,
		payload:  &execPayload{ID: c.state.ID, Process: p, Seccomp: filter},
		// Most processes are set up in C without starting Go in the
		// container (nsenter/execplan.c); the rest by execInit.
		execPlan:    encodeExecPlan(p, filter, len(opts.ExtraFiles)),
		stdio:       [3]*os.File{opts.Stdin, opts.Stdout, opts.Stderr},
		extraFiles:  opts.ExtraFiles,
		fifo:        -1,
		nsPidfd:     -1,
		cgroup:      c.mgr,
		trace:       c.trace,
		oomScoreAdj: p.OOMScoreAdj,
		// The container's cgroup exists (it runs); a sub-cgroup may not.
		cgroupExists: opts.SubCgroup == "",
	}
	if opts.SubCgroup != "" {
		if c.mgr == nil || cfg.Cgroup == nil {
			return nil, errors.New("exec --cgroup: the container has no cgroup")
		}
		sub := *cfg.Cgroup
		sub.Resources = nil
		sub.Path = path.Join(cfg.Cgroup.Path, path.Clean("/"+opts.SubCgroup))
		m, err := newManager(&sub)
		if err != nil {
			return nil, err
		}
		s.cgroup = m
	}
	// The child joins the init's namespaces through a pidfd: one setns(2)
	// for all of them (Linux 5.8), and a PID reused since cannot be joined
	// by mistake. The paths are the fallback for older kernels.
	pfd, err := c.pidfd()
	if err != nil {
		return nil, errors.New("cannot exec in a stopped container")
	}
	s.nsPidfd = pfd
	defer unix.Close(pfd)
	pidStr := strconv.Itoa(c.state.Pid)
	for _, ns := range cfg.Namespaces {
		s.nsPaths = append(s.nsPaths, string(ns.Type)+":/proc/"+pidStr+"/ns/"+nsFile(ns.Type))
		s.nsFlags |= cloneFlag(ns.Type)
	}
	ch, err := spawn(s)
	if err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", c.state.ID, err)
	}
	defer ch.close()
	// The namespaces were opened by PID: make sure it was still the
	// container's init, not a process that reused its PID.
	if !c.alive() {
		ch.kill()
		return nil, errors.New("cannot exec in a stopped container")
	}
	proc := &Process{pid: ch.pid}
	fail := func(err error) (*Process, error) {
		ch.kill()
		if proc.console != nil {
			proc.console.Close()
		}
		return nil, fmt.Errorf("exec in container %s: %w", c.state.ID, err)
	}
	ready := false
	defer c.trace.Begin("exec-init")()
	for {
		m, files, err := recvSync(ch.sock)
		if err != nil || (m == nil && !ready) {
			// The socket closed (or broke) before "ready": the process
			// died during set-up, e.g. killed by a signal.
			return fail(setupDied(ch, err))
		}
		if m == nil {
			// execve closed the socket: the program runs.
			return proc, nil
		}
		switch m.Type {
		case msgConsole:
			if len(files) != 1 {
				return fail(errors.New("console message without a pty"))
			}
			tmp := &Container{}
			if err := tmp.handleConsole(files[0], opts.ConsoleSocket); err != nil {
				return fail(err)
			}
			proc.console = tmp.console
		case msgSeccomp:
			if len(files) != 1 {
				return fail(errors.New("seccomp message without a listener fd"))
			}
			err := c.sendSeccompFd(files[0], proc.pid, profile, Running)
			files[0].Close()
			if err != nil {
				return fail(err)
			}
		case msgReady:
			ready = true
			c.trace.merge(m.Msg)
		case msgError:
			return fail(errors.New(m.Msg))
		default:
			return fail(fmt.Errorf("unexpected message %q", m.Type))
		}
	}
}

// setupDied explains an exec'd process whose sync socket closed before it
// was ready, by its wait status rather than by the socket error (a bare
// "connection reset by peer" or EOF). It reaps the process.
func setupDied(ch *child, sockErr error) error {
	unix.Kill(ch.pid, unix.SIGKILL)
	ws, err := reap(ch.pid)
	ch.pid = 0
	if err != nil {
		if sockErr != nil {
			return sockErr
		}
		return errors.New("the process exited during set-up")
	}
	if sockErr != nil {
		return fmt.Errorf("the process exited during set-up (%v): %s", sockErr, describeWait(ws))
	}
	return fmt.Errorf("the process exited during set-up: %s", describeWait(ws))
}

// newManager is a seam for sub-cgroups.
var newManager = func(c *configs.Cgroup) (cgroups.Manager, error) { return managerNew(c) }

// execInit is the init side of Exec: the process already is in every
// namespace of the container and in its cgroup.
func execInit(sock int, pl *execPayload, extra int, tr *initTracer) error {
	p := pl.Process
	if p.Terminal {
		if err := setupConsole(sock, p, false); err != nil {
			return err
		}
	}
	path, lateSeccomp, err := prepareExec(sock, p, pl.Seccomp, extra, tr)
	if err != nil {
		return err
	}
	if lateSeccomp {
		if _, err := installSeccomp(pl.Seccomp); err != nil {
			return err
		}
	}
	// On success the sync socket closes (close-on-exec): that is the
	// parent's signal. On failure Init reports the error on it.
	if err := unix.Exec(path, p.Args, p.Env); err != nil {
		return fmt.Errorf("exec %s: %w", p.Args[0], err)
	}
	return nil
}
