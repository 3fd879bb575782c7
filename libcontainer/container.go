package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/cgroups/manager"
	"github.com/husk-runtime/husk/internal/pidfd"
	"github.com/husk-runtime/husk/libcontainer/configs"
	"github.com/husk-runtime/husk/libcontainer/hooks"
	"github.com/husk-runtime/husk/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// managerNew builds the cgroup manager of a container; managerRestore
// rebuilds it from the layout saved in the state.
var (
	managerNew     = manager.New
	managerRestore = manager.Restore
)

// Warn receives the warnings of the lifecycle that do not fail it (a failed
// poststart or poststop hook, as the runtime-spec asks). The husk CLI points
// it at its log; the default writes to stderr.
var Warn = func(msg string) { fmt.Fprintln(os.Stderr, "husk: warning:", msg) }

// Container is a container in a state directory. Values come from Create or
// Load; methods that change the container lock its state directory, so
// commands on one container from several processes are serialised.
type Container struct {
	root  string
	dir   string
	state *persistedState
	mgr   cgroups.Manager

	// Only in the process that created the container:
	parentOf bool     // the init process is our child (CLONE_PARENT)
	console  *os.File // pty master kept for the caller

	trace *Trace
	// full is the whole config, read from the config file on first use: the
	// state holds only its light part (see lightConfig).
	full *configs.Config
	// held is the lock Create kept for CreateOpts.HoldLock (holding), for
	// the next method that locks.
	held    dirLock
	holding bool
	// startSock is the sync socket of a container created with
	// CreateOpts.StartHere, whose process waits on it for Start; nil when
	// none.
	startSock *os.File
	// startedEarly says Create sent "start" already (CreateOpts.StartEarly).
	startedEarly bool
}

// SetTrace makes the following operations on c record their phases in t.
func (c *Container) SetTrace(t *Trace) { c.trace = t }

// Create creates the container id under the state root from cfg, and
// leaves its process blocked right before execve until Start. It returns
// after the prestart/createRuntime/createContainer hooks. On any failure
// nothing is left behind: no process, cgroup, mount or state directory.
func Create(root, id string, cfg *configs.Config, opts *CreateOpts) (_ *Container, retErr error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	if cfg == nil || cfg.Process == nil {
		return nil, errors.New("create: the config has no process")
	}
	if opts == nil {
		opts = &CreateOpts{}
	}
	// The sealed copy of the init helper is made while the state directory
	// and the cgroup manager are set up (spawn waits for it); so is the
	// network namespace, on another CPU, unless the husk binary had the
	// namespaces made before its Go runtime started.
	PrepareSpawn()
	stage := takeAheadStage(opts.Trace)
	flags, direct := directFlags(cfg)
	stage = keepAheadStage(stage, flags, direct)
	defer stage.Close()
	var netns *nsenter.NetNS
	if stage == nil && direct && flags&unix.CLONE_NEWNET != 0 {
		netns = nsenter.PrepareNetNS()
		defer netns.Close()
	}
	endDir := opts.Trace.Begin("state-dir")
	// The state root (mode 0700: the state directories hold the pid,
	// cgroup and exec fifo, only root may look into them) is made on
	// first use; it usually exists, which the container directory's
	// mkdir finds out without a stat of its own.
	dir := filepath.Join(root, id)
	lock, err := claimedStateDir(dir)
	if err != nil {
		err = makeStateDir(root, dir)
		if err == unix.ENOENT {
			if err = os.MkdirAll(root, 0o700); err != nil {
				return nil, fmt.Errorf("create state root %s: %w", root, err)
			}
			err = unix.Mkdir(dir, 0o700)
		}
		if err != nil {
			if err == unix.EEXIST {
				return nil, fmt.Errorf("container %q: %w", id, ErrExist)
			}
			return nil, fmt.Errorf("create state directory: %w", &os.PathError{Op: "mkdir", Path: dir, Err: err})
		}
		lock, err = lockDir(dir)
	}
	endDir()
	if err != nil {
		os.Remove(dir)
		return nil, err
	}
	defer func() {
		if retErr != nil || !opts.HoldLock {
			lock.Close()
		}
	}()

	c := &Container{root: root, dir: dir, parentOf: true, trace: opts.Trace, full: cfg}
	var ch *child
	defer func() {
		if retErr != nil {
			ch.kill()
			if c.console != nil {
				c.console.Close()
				c.console = nil
			}
			if c.mgr != nil {
				c.mgr.Destroy()
			}
			removeStateDir(dir, false)
		}
		ch.close()
	}()

	if cfg.Cgroup != nil {
		endMgr := c.trace.Begin("cgroup-manager")
		c.mgr, err = managerNew(cfg.Cgroup)
		endMgr()
		if err != nil {
			return nil, err
		}
		// spawn creates the cgroup (~0.3 ms in the ten v1 hierarchies of
		// the test machine), most of it while the process starts when it
		// can (cgroups.EarlyApplier).
	}
	fifo := -1
	if !opts.StartHere {
		if fifo, err = makeExecFifo(dir, c.trace); err != nil {
			return nil, err
		}
		defer unix.Close(fifo)
	}

	endSeccomp := c.trace.Begin("seccomp-compile")
	filter, err := compileSeccomp(cfg.Seccomp, root)
	endSeccomp()
	if err != nil {
		return nil, err
	}
	s := &spawnSpec{
		initType:   initStandard,
		payload:    &initPayload{ID: id, Config: cfg, Seccomp: filter},
		stdio:      [3]*os.File{opts.Stdin, opts.Stdout, opts.Stderr},
		extraFiles: opts.ExtraFiles,
		fifo:       fifo,
		nsPidfd:    -1,
		cgroup:     c.mgr,
		trace:      c.trace,
		netns:      netns,
		stage:      stage,
	}
	endPlan := c.trace.Begin("plan-encode")
	s.execPlan, err = encodeInitPlan(id, cfg, filter, len(opts.ExtraFiles))
	endPlan()
	if err != nil {
		return nil, err
	}
	nsBootstrap(s, cfg)
	s.oomScoreAdj = cfg.Process.OOMScoreAdj
	if ch, err = takeSetUpAhead(s, fifo); err != nil {
		return nil, err
	}
	ahead := ch != nil
	if !ahead {
		if ch, err = spawn(s); err != nil {
			return nil, err
		}
	}
	st := &persistedState{ID: id, Pid: ch.pid, Created: time.Now().UTC(), Config: cfg, HasSeccomp: cfg.Seccomp != nil}
	if c.mgr != nil {
		st.CgroupLayout = manager.Layout(c.mgr)
	}
	st.fast = newFastRecord(cfg, c.mgr)
	c.state = st
	hs := &handshake{resourcesSet: c.mgr == nil}
	// A process set up ahead said it was prepared before it was taken,
	// usually: the limits and, for run, "start" go first, for it to find
	// once ready, and the state is staged after.
	if ahead {
		if err := c.initHandshake(ch, opts, hs, true); err != nil {
			return nil, err
		}
	}
	// The config file is written and the state file staged while the
	// child sets itself up on another CPU (the parent would only wait);
	// only the state file's rename, the commit point, waits for "ready".
	// This runs here rather than on a goroutine: husk has one P (see
	// cmd/husk/startcpu.go), so a goroutine would run only once the
	// runtime's sysmon took the P from the handshake's blocking read, which
	// it does late on purpose (cmd/husk/sysmon.go).
	tmp, err := c.stageState(ch.pid)
	if err != nil {
		return nil, err
	}
	endInit := c.trace.Begin("init")
	err = c.initHandshake(ch, opts, hs, false)
	endInit()
	if err != nil {
		unix.Unlink(tmp)
		return nil, err
	}
	defer c.trace.Begin("state-write")()
	if err := commitState(dir, tmp); err != nil {
		return nil, err
	}
	if opts.HoldLock {
		c.held, c.holding = lock, true
	}
	if opts.StartHere {
		c.startSock = os.NewFile(uintptr(ch.sock), "sync socket")
		ch.sock = -1
	}
	return c, nil
}

// makeExecFifo makes exec.fifo in the state directory dir, which the
// container's process opens to wait for Start, and returns an O_PATH fd of
// it for the process.
func makeExecFifo(dir string, tr *Trace) (int, error) {
	defer tr.Begin("exec-fifo")()
	fifoPath := filepath.Join(dir, fifoName)
	if err := unix.Mkfifo(fifoPath, 0o622); err != nil {
		return -1, fmt.Errorf("mkfifo %s: %w", fifoPath, err)
	}
	// The process may run as any user when it opens the fifo: make it
	// writable whatever the umask.
	if err := os.Chmod(fifoPath, 0o622); err != nil {
		return -1, err
	}
	fifo, err := unix.Open(fifoPath, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", fifoPath, err)
	}
	return fifo, nil
}

// stageState reads the start time of the container's process pid and
// writes the config file and a staged state file for commitState, and
// returns the staged file's path.
func (c *Container) stageState(pid int) (string, error) {
	defer c.trace.Begin("state-encode")()
	start, _, err := procStartTime(pid)
	if err != nil {
		return "", fmt.Errorf("container process %d: %w", pid, err)
	}
	c.state.StartTime = start
	return c.state.prepare(c.dir)
}

// handshake is the state of create's talk with its child, which
// initHandshake serves, for a process set up ahead in two parts.
type handshake struct {
	resourcesSet, prepared, ready bool
}

// initHandshake serves the child's requests until it reports ready or,
// with untilPrepared, prepared (a process set up ahead, see msgPrepared).
func (c *Container) initHandshake(ch *child, opts *CreateOpts, hs *handshake, untilPrepared bool) error {
	// The cgroup's limits go in once the process has set itself up, or
	// before the first hook runs (which may look at them), as runc does:
	// the child is already in the cgroup, and rewriting its device rules
	// (deny all, then each allow) while it creates its /dev nodes would
	// make a mknod fail in between. A new cgroup lets it create them. A
	// process set up ahead says when it is past them ("prepared", read
	// once create has taken it): the limits then go in while it finishes
	// its set-up, which opens no device, rather than after "ready", when
	// it could already be starting. It joins the memory cgroup only
	// after that (see nsenter/execplan.c), so a small memory limit does
	// not count its set-up either way.
	setResources := func() error {
		if hs.resourcesSet {
			return nil
		}
		hs.resourcesSet = true
		defer c.trace.Begin("cgroup-set")()
		return c.mgr.Set(cgroupResources(c.state.Config))
	}
	for !hs.ready && !(untilPrepared && hs.prepared) {
		m, files, err := recvSync(ch.sock)
		if err != nil {
			return err
		}
		if m == nil {
			return c.initDied(ch)
		}
		switch m.Type {
		case msgHooks:
			if err := setResources(); err != nil {
				return err
			}
			defer c.trace.Begin("hooks-createRuntime")()
			st := c.ociState(Creating)
			if err := runHooks("prestart", c.state.Config.Hooks, st); err != nil {
				return err
			}
			if err := runHooks("createRuntime", c.state.Config.Hooks, st); err != nil {
				return err
			}
			if err := sendSync(ch.sock, msgHooksDone, "", nil); err != nil {
				return err
			}
		case msgConsole:
			if len(files) != 1 {
				return errors.New("init sent a console message without a pty")
			}
			if err := c.handleConsole(files[0], opts.ConsoleSocket); err != nil {
				return err
			}
		case msgSeccomp:
			if len(files) != 1 {
				return errors.New("init sent a seccomp message without a listener fd")
			}
			err := c.sendSeccompFd(files[0], c.state.Pid, c.state.Config.Seccomp, Creating)
			files[0].Close()
			if err != nil {
				return err
			}
		case msgPrepared:
			hs.prepared = true
			if err := setResources(); err != nil {
				return err
			}
			if opts.StartEarly && opts.StartHere && opts.HoldLock {
				// Read once the process is ready, usually without a
				// wait. Should the process have died, the next
				// receive says why.
				endStart := c.trace.Begin("start-early")
				err := sendSync(ch.sock, msgStart, "", nil)
				endStart()
				if err == nil {
					c.startedEarly = true
				} else if !errors.Is(err, unix.EPIPE) {
					return err
				}
			}
		case msgReady:
			hs.ready = true
			c.trace.merge(m.Msg)
			if err := setResources(); err != nil {
				return err
			}
		case msgError:
			return errors.New(m.Msg)
		default:
			return fmt.Errorf("unexpected message %q from container init", m.Type)
		}
	}
	return nil
}

// sendSeccompFd hands the seccomp notify fd of process pid (the init, or
// an exec'd process) to the agent listening at linux.seccomp.listenerPath,
// with the container process state as the message body, as the
// runtime-spec describes.
func (c *Container) sendSeccompFd(f *os.File, pid int, sc *specs.LinuxSeccomp, status Status) error {
	if sc == nil || sc.ListenerPath == "" {
		return errors.New("linux.seccomp: SCMP_ACT_NOTIFY needs a listenerPath")
	}
	st := specs.ContainerProcessState{
		Version:  c.state.Config.Version,
		Fds:      []string{specs.SeccompFdName},
		Pid:      pid,
		Metadata: sc.ListenerMetadata,
		State:    *c.ociState(status),
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := sendFdTo(sc.ListenerPath, b, f); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: %w", err)
	}
	return nil
}

// initDied explains a child that closed the socket without a word.
func (c *Container) initDied(ch *child) error {
	ws, err := reap(ch.pid)
	ch.pid = 0
	if err != nil {
		return errors.New("container init exited during set-up")
	}
	return fmt.Errorf("container init exited during set-up: %s", describeWait(ws))
}

func describeWait(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by signal " + ws.Signal().String()
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}

// handleConsole passes the pty master to the console socket, or keeps it
// for Console when there is none.
func (c *Container) handleConsole(master *os.File, socket string) error {
	if socket == "" {
		c.console = master
		return nil
	}
	defer master.Close()
	// runc sends the pty's name as the message body; clients read it.
	if err := sendFdTo(socket, []byte("/dev/ptmx"), master); err != nil {
		return fmt.Errorf("console socket: %w", err)
	}
	return nil
}

func runHooks(kind string, h *specs.Hooks, st *specs.State) error {
	if h == nil {
		return nil
	}
	var list []specs.Hook
	switch kind {
	case "prestart":
		list = h.Prestart //nolint:staticcheck // deprecated in the spec, still honoured
	case "createRuntime":
		list = h.CreateRuntime
	case "createContainer":
		list = h.CreateContainer
	case "startContainer":
		list = h.StartContainer
	case "poststart":
		list = h.Poststart
	case "poststop":
		list = h.Poststop
	}
	if len(list) == 0 {
		return nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return hooks.Run(kind, list, b)
}

// Load opens the container id under the state root.
func Load(root, id string) (*Container, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, id)
	st, err := loadState(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(dir); serr == nil {
				return nil, fmt.Errorf("container %q is still being created (or its creation was interrupted)", id)
			}
			return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
		}
		return nil, err
	}
	c := &Container{root: root, dir: dir, state: st}
	if st.Config != nil && st.Config.Cgroup != nil {
		if c.mgr, err = managerRestore(st.Config.Cgroup, st.CgroupLayout); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// List returns the IDs of the containers under the state root, sorted.
func List(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && validateID(e.Name()) == nil {
			if hasState(filepath.Join(root, e.Name())) {
				ids = append(ids, e.Name())
			}
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// ID returns the container's ID.
func (c *Container) ID() string { return c.state.ID }

// Config returns the container's whole config, read from the state
// directory the first time it is asked for.
func (c *Container) Config() (*configs.Config, error) {
	if c.full == nil {
		cfg, err := loadConfig(c.dir)
		if err != nil {
			return nil, fmt.Errorf("container %q: %w", c.state.ID, err)
		}
		c.full = cfg
	}
	return c.full, nil
}

// Process returns the config of the container's own process, the one exec
// starts from by default.
func (c *Container) Process() *configs.Process { return c.state.Config.Process }

// Console returns the pty master of a container created with a terminal
// and no console socket; nil otherwise. The caller owns it.
func (c *Container) Console() *os.File { return c.console }

// Owner returns the name of the user who owns the container's state
// directory (its creator), as runc's `list` shows it: from /etc/passwd, or
// "#<uid>" when the uid has no entry there. It is looked up when asked for,
// not at create, which `husk list` alone needs.
func (c *Container) Owner() string {
	if c.state.Owner != "" {
		return c.state.Owner // saved by an older husk
	}
	var st unix.Stat_t
	if err := unix.Stat(c.dir, &st); err != nil {
		return ""
	}
	return userName(st.Uid)
}

// Pid returns the host PID of the container's init process, as recorded
// when the container was created (whether it still runs or not: see
// State).
func (c *Container) Pid() int { return c.state.Pid }

// alive reports whether the container's init process still exists and is
// the same process (not a reused PID).
func (c *Container) alive() bool {
	if c.state.Pid <= 0 {
		return false
	}
	start, zombie, err := procStartTime(c.state.Pid)
	return err == nil && !zombie && start == c.state.StartTime
}

// status derives the live status.
func (c *Container) status() Status {
	if !c.alive() {
		return Stopped
	}
	if c.startSock != nil {
		return Created // waiting for Start on the socket (StartHere)
	}
	if _, err := os.Lstat(filepath.Join(c.dir, fifoName)); err == nil {
		return Created
	}
	if c.mgr != nil {
		if fs, err := c.mgr.FreezerState(); err == nil && fs == cgroups.Frozen {
			return Paused
		}
	}
	return Running
}

// State returns the container's state with its live status.
func (c *Container) State() (*State, error) {
	st := c.status()
	pid := c.state.Pid
	if st == Stopped {
		pid = 0
	}
	return c.state.public(st, pid), nil
}

func (c *Container) ociState(st Status) *specs.State {
	cfg := c.state.Config
	s := &specs.State{
		Version:     cfg.Version,
		ID:          c.state.ID,
		Status:      specs.ContainerState(st),
		Bundle:      cfg.Bundle,
		Annotations: cfg.Annotations,
	}
	if st != Stopped {
		s.Pid = c.state.Pid
	}
	return s
}

// OCIState returns the runtime-spec state of the container.
func (c *Container) OCIState() (*specs.State, error) {
	return c.ociState(c.status()), nil
}

// lock serialises a state change with other husk commands and reloads the
// state, which another command may have changed.
func (c *Container) lock() (dirLock, error) {
	if c.holding {
		// Held since Create committed the state, which is c.state.
		c.holding = false
		return c.held, nil
	}
	l, err := lockDir(c.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return -1, fmt.Errorf("container %q: %w", c.state.ID, ErrNotExist)
		}
		return -1, err
	}
	st, err := loadState(c.dir)
	if err != nil {
		l.Close()
		if errors.Is(err, fs.ErrNotExist) {
			return -1, fmt.Errorf("container %q: %w", c.state.ID, ErrNotExist)
		}
		return -1, err
	}
	c.state = st
	return l, nil
}

// pidfd opens a pidfd for the init process and checks, after opening it,
// that the PID still belongs to the container, so signals and waits can
// never reach a process that reused the PID.
func (c *Container) pidfd() (int, error) {
	fd, err := unix.PidfdOpen(c.state.Pid, 0)
	if err != nil {
		return -1, fmt.Errorf("container %q is not running", c.state.ID)
	}
	if !c.alive() {
		unix.Close(fd)
		return -1, fmt.Errorf("container %q is not running", c.state.ID)
	}
	return fd, nil
}

// Start runs the program of a created container: it unblocks the process
// waiting on exec.fifo. With poststart hooks it waits until the program
// runs and then runs them (their failures are only warnings, as the
// runtime-spec says); without, it returns at once, as runc does, and the
// program starts a moment later.
func (c *Container) Start() error {
	defer c.trace.Begin("start")()
	fresh := c.holding
	l, err := c.lock()
	if err != nil {
		return err
	}
	defer l.Close()
	// watch is an fd the container's process holds open, close-on-exec,
	// through the startContainer hooks: its hang-up says the program now
	// runs (or that the process died).
	var watch int
	here := c.startSock != nil
	if here {
		sock := c.startSock
		c.startSock = nil
		defer sock.Close()
		watch = int(sock.Fd())
		// The process is this process's child: it cannot have been
		// started by another. Dead, its end of the socket is closed.
		// Started early (CreateOpts.StartEarly), it may have run and
		// exited by now, as a started container may.
		if !c.startedEarly {
			if err := sendSync(watch, msgStart, "", nil); err != nil {
				return errors.New("container process exited before start")
			}
		}
	} else {
		if watch, err = c.releaseFifo(fresh); err != nil {
			return err
		}
		defer unix.Close(watch)
	}
	// Poststart hooks are due once the program runs. Without any nothing
	// is due then: start returns now, as runc's does, rather than wait for
	// the exec (~0.3 ms here).
	h := c.state.Config.Hooks
	poststart := h != nil && len(h.Poststart) > 0
	if poststart {
		fds := []unix.PollFd{{Fd: int32(watch)}}
		for fds[0].Revents&(unix.POLLHUP|unix.POLLERR) == 0 {
			if err := pollWait(fds); err != nil {
				return fmt.Errorf("wait for the container process to exec: %w", err)
			}
		}
	}
	if !here {
		fifoPath := filepath.Join(c.dir, fifoName)
		if err := os.Remove(fifoPath); err != nil {
			return fmt.Errorf("remove %s: %w", fifoPath, err)
		}
	}
	if !poststart {
		return nil
	}
	endHooks := c.trace.Begin("hooks-poststart")
	defer endHooks()
	if err := runHooks("poststart", c.state.Config.Hooks, c.ociState(Running)); err != nil {
		Warn(err.Error())
	}
	return nil
}

// releaseFifo lets the process of a created container go on: it opens
// exec.fifo for reading, which the process waits for, and reads the byte
// the process then writes. It returns the fifo's fd. fresh says the state
// directory is locked since Create.
func (c *Container) releaseFifo(fresh bool) (int, error) {
	var pfd int
	var err error
	if fresh {
		// Locked since Create made it: nobody can have started it, and
		// its process is this process's child, not yet reaped, so the
		// PID is still its own. Should it have died, the wait below
		// says so.
		if pfd, err = unix.PidfdOpen(c.state.Pid, 0); err != nil {
			return -1, fmt.Errorf("container %q: pidfd_open %d: %w", c.state.ID, c.state.Pid, err)
		}
	} else {
		switch st := c.status(); st {
		case Created:
		case Stopped:
			return -1, errors.New("cannot start a container that has stopped")
		default:
			return -1, fmt.Errorf("cannot start an already %s container", st)
		}
		if pfd, err = c.pidfd(); err != nil {
			return -1, err
		}
	}
	defer unix.Close(pfd)
	fifoPath := filepath.Join(c.dir, fifoName)
	// Non-blocking open: a blocking one would hang forever if the process
	// died. Then wait for either its byte or its death, without polling.
	ffd, err := unix.Open(fifoPath, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", fifoPath, err)
	}
	fds := []unix.PollFd{{Fd: int32(ffd), Events: unix.POLLIN}, {Fd: int32(pfd), Events: unix.POLLIN}}
	if err := pollWait(fds); err != nil {
		unix.Close(ffd)
		return -1, fmt.Errorf("wait for the container process: %w", err)
	}
	if fds[0].Revents&unix.POLLIN == 0 {
		unix.Close(ffd)
		return -1, errors.New("container process exited before start")
	}
	var b [1]byte
	if n, _ := unix.Read(ffd, b[:]); n != 1 {
		unix.Close(ffd)
		return -1, errors.New("container process closed exec.fifo without starting")
	}
	return ffd, nil
}

// Signal sends sig to the container's init process, or with all to every
// process in its cgroup.
func (c *Container) Signal(sig unix.Signal, all bool) error {
	if all {
		if c.mgr == nil {
			return errors.New("kill --all: the container has no cgroup")
		}
		if c.status() == Stopped {
			return errors.New("container not running")
		}
		return signalAll(c.mgr, sig)
	}
	pfd, err := c.pidfd()
	if err != nil {
		return errors.New("container not running")
	}
	defer unix.Close(pfd)
	if err := unix.PidfdSendSignal(pfd, sig, nil, 0); err != nil {
		return fmt.Errorf("signal %s to container process %d: %w", sig, c.state.Pid, err)
	}
	return nil
}

// signalAll signals every process in the cgroup; for SIGKILL the cgroup is
// frozen first so nothing can fork away from the kill.
func signalAll(mgr cgroups.Manager, sig unix.Signal) error {
	frozen := false
	if sig == unix.SIGKILL {
		frozen = mgr.Freeze(cgroups.Frozen) == nil
	}
	pids, err := mgr.GetAllPids()
	if err == nil {
		for _, p := range pids {
			if kerr := unix.Kill(p, sig); kerr != nil && kerr != unix.ESRCH && err == nil {
				err = fmt.Errorf("signal %s to process %d: %w", sig, p, kerr)
			}
		}
	}
	if frozen {
		mgr.Freeze(cgroups.Thawed)
	}
	return err
}

// Pause freezes every process of the container.
func (c *Container) Pause() error {
	l, err := c.lock()
	if err != nil {
		return err
	}
	defer l.Close()
	if st := c.status(); st != Running && st != Created {
		return fmt.Errorf("container %q is %s, not running", c.state.ID, st)
	}
	if c.mgr == nil {
		return errors.New("pause: the container has no cgroup")
	}
	return c.mgr.Freeze(cgroups.Frozen)
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	l, err := c.lock()
	if err != nil {
		return err
	}
	defer l.Close()
	if st := c.status(); st != Paused {
		return fmt.Errorf("container %q is %s, not paused", c.state.ID, st)
	}
	return c.mgr.Freeze(cgroups.Thawed)
}

// Processes returns the host PIDs of every process in the container's
// cgroup.
func (c *Container) Processes() ([]int, error) {
	if c.mgr == nil {
		if c.alive() {
			return []int{c.state.Pid}, nil
		}
		return nil, nil
	}
	return c.mgr.GetAllPids()
}

// Delete removes a stopped or created container: its processes, cgroup and
// state; then it runs the poststop hooks (failures are warnings). A running
// or paused container is refused unless force is set, in which case it is
// killed first.
func (c *Container) Delete(force bool) error {
	defer c.trace.Begin("delete")()
	l, err := c.lock()
	if err != nil {
		return err
	}
	defer l.Close()
	st := c.status()
	if (st == Running || st == Paused) && !force {
		return fmt.Errorf("cannot delete container %q that is not stopped: %s", c.state.ID, st)
	}
	if st != Stopped {
		if err := c.killAndWait(); err != nil {
			return err
		}
	} else if c.parentOf {
		// A process of this one's that ended by itself, a zombie
		// until reaped: collect it (its start time tells it from
		// another process that got its PID since).
		if start, zombie, err := procStartTime(c.state.Pid); err == nil && zombie && start == c.state.StartTime {
			var ws unix.WaitStatus
			unix.Wait4(c.state.Pid, &ws, unix.WNOHANG, nil)
		}
	}
	if c.startSock != nil {
		// Never started. Closed only now that the process is gone:
		// it exits by itself when it sees the socket close, and
		// could then be a zombie that killAndWait takes for gone and
		// leaves behind.
		c.startSock.Close()
		c.startSock = nil
	}
	if c.mgr != nil {
		// Processes of a container without its own PID namespace may
		// outlive init: they go too. (With its own, the kernel killed
		// them all with init, as runc assumes too.)
		if !c.state.Config.NewNamespace(configs.NEWPID) {
			if pids, _ := c.mgr.GetAllPids(); len(pids) > 0 {
				signalAll(c.mgr, unix.SIGKILL)
				waitPids(pids)
			}
		}
		if err := c.mgr.Destroy(); err != nil {
			return err
		}
	}
	if err := removeStateDir(c.dir, true); err != nil {
		return fmt.Errorf("remove state directory: %w", err)
	}
	if err := runHooks("poststop", c.state.Config.Hooks, c.ociState(Stopped)); err != nil {
		Warn(err.Error())
	}
	return nil
}

// killAndWait SIGKILLs the container's processes and waits, through a
// pidfd (no sleeping), until init is gone.
func (c *Container) killAndWait() error {
	pfd, err := c.pidfd()
	if err != nil {
		return nil // already gone
	}
	defer unix.Close(pfd)
	// In its own PID namespace, killing init kills every process of the
	// container (the kernel does it); otherwise they are killed one by
	// one, with the cgroup frozen so that none can fork away.
	if c.mgr != nil && !c.state.Config.NewNamespace(configs.NEWPID) {
		signalAll(c.mgr, unix.SIGKILL)
	}
	unix.PidfdSendSignal(pfd, unix.SIGKILL, nil, 0)
	if c.status() == Paused && c.mgr != nil {
		c.mgr.Freeze(cgroups.Thawed)
	}
	if c.parentOf {
		reap(c.state.Pid)
		return nil
	}
	return waitPidfd(pfd, 10*time.Second)
}

// pollWait waits, with no timeout, until poll(2) reports an event on fds
// (in their Revents), retrying EINTR.
func pollWait(fds []unix.PollFd) error {
	for {
		_, err := unix.Poll(fds, -1)
		if err != unix.EINTR {
			return err
		}
	}
}

func waitPidfd(pfd int, timeout time.Duration) error {
	exited, err := pidfd.Wait(pfd, timeout)
	if err != nil {
		return fmt.Errorf("wait for the container process: %w", err)
	}
	if !exited {
		return errors.New("timed out waiting for the container process to exit")
	}
	return nil
}

// waitPids waits for each of pids to exit (those already gone are skipped).
func waitPids(pids []int) {
	for _, p := range pids {
		fd, err := unix.PidfdOpen(p, 0)
		if err != nil {
			continue
		}
		waitPidfd(fd, 5*time.Second)
		unix.Close(fd)
	}
}

// Wait waits for the container's init process to exit and returns its exit
// code, 128+N when signal N killed it. Only the process that called Create
// can wait (the init process is its child).
func (c *Container) Wait() (int, error) {
	if !c.parentOf {
		return -1, errors.New("wait: only the process that created the container can wait for it")
	}
	defer c.trace.Begin("wait")()
	ws, err := reap(c.state.Pid)
	if err != nil {
		return -1, fmt.Errorf("wait for container process %d: %w", c.state.Pid, err)
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}
