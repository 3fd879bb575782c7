package libcontainer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/internal/rawfile"
	"github.com/husk-runtime/husk/internal/selfmounts"
	"github.com/husk-runtime/husk/libcontainer/configs"
	"github.com/husk-runtime/husk/nsenter"
	"github.com/husk-runtime/husk/nsenter/inithelper"
	"golang.org/x/sys/unix"
)

// Environment variables of the child; nsexec.c reads the _HUSK_* bootstrap
// ones, Init the rest. None of them reaches the container's program: it gets
// exactly the environment of its config.
const (
	envSyncFD     = "_HUSK_SYNCFD"
	envPayloadFD  = "_HUSK_PAYLOADFD"
	envFifoFD     = "_HUSK_FIFOFD"
	envCgroupLate = "_HUSK_CGROUP_LATE"
	envNetNSLate  = "_HUSK_NETNS_LATE"
	envInitType   = "_HUSK_INITTYPE"
	envExtraFiles = "_HUSK_EXTRAFILES"
	envTrace      = "_HUSK_TRACE"
	envMemcgFD    = "_HUSK_MEMCGFD"
	envLateCgNS   = "_HUSK_LATE_CGROUPNS"
	envDirect     = "_HUSK_DIRECT"
)

// directCloneFlags are the namespaces nsenter.SpawnInto can create with
// the process (a user or time namespace needs work in between).
const directCloneFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

const (
	initStandard = "standard"
	initExec     = "exec"
)

// cloneFlags are the CLONE_NEW* flags of the runtime-spec namespace types.
var cloneFlags = []kernelNum[configs.NamespaceType, int]{
	{configs.NEWPID, unix.CLONE_NEWPID},
	{configs.NEWNET, unix.CLONE_NEWNET},
	{configs.NEWNS, unix.CLONE_NEWNS},
	{configs.NEWIPC, unix.CLONE_NEWIPC},
	{configs.NEWUTS, unix.CLONE_NEWUTS},
	{configs.NEWUSER, unix.CLONE_NEWUSER},
	{configs.NEWCGROUP, unix.CLONE_NEWCGROUP},
	{configs.NEWTIME, unix.CLONE_NEWTIME},
}

// cloneFlag returns the CLONE_NEW* flag of namespace type t (0 for a type
// cloneFlags does not list).
func cloneFlag(t configs.NamespaceType) int {
	f, _ := lookupKernelNum(cloneFlags, t)
	return f
}

// spawnSpec is what the parent needs to start a child through nsexec.
type spawnSpec struct {
	initType string
	payload  any // JSON-encoded into a memfd: *configs.Config or *execPayload
	// execPlan, when set, is written into the memfd instead of payload:
	// an exec plan for nsexec's C code (see execplan.go).
	execPlan   []byte
	cloneFlags int
	nsPaths    []string // "type:path"
	// nsPidfd, when not -1, is a pidfd of a process whose namespaces
	// nsFlags (CLONE_NEW*) the child joins with one setns(2); nsPaths stay
	// the fallback for kernels without setns on a pidfd.
	nsPidfd int
	nsFlags int
	// cgroupExists skips creating the cgroup: exec into a running
	// container.
	cgroupExists bool
	uidMap       string
	gidMap       string
	timeNS       string
	stdio        [3]*os.File
	extraFiles   []*os.File
	// fifo is the O_PATH fd of exec.fifo (standard init only), -1 when
	// there is none.
	fifo   int
	cgroup cgroups.Manager
	trace  *Trace
	// oomScoreAdj is written by stage0, on the host's /proc before it
	// joins any namespace, and inherited from there (nil: leave it).
	oomScoreAdj *int
	// netns, when set, is the container's network namespace being made
	// ahead (see directFlags): a process spawned directly joins it instead
	// of creating its own.
	netns *nsenter.NetNS
	// stage, when set, has made the container's namespaces before husk's
	// Go runtime started (see aheadStage): a process spawned directly is
	// cloned by it rather than by husk.
	stage *nsenter.AheadStage
}

// directFlags returns the CLONE_NEW* flags, CLONE_NEWCGROUP left out (the
// process unshares it itself), of a container whose process will be
// spawned directly (see spawn), which takes husk-init, an init plan
// (initPlanCovers) and namespaces that directNamespaces accepts; direct is
// false otherwise. Create decides with it what it takes made ahead: the
// stage (aheadStage) or a network namespace (nsenter.NetNS).
func directFlags(cfg *configs.Config) (flags int, direct bool) {
	var ns spawnSpec
	nsBootstrap(&ns, cfg)
	if !ns.directNamespaces() || !inithelper.Present() || !initPlanCovers(cfg) {
		return 0, false
	}
	return ns.cloneFlags &^ unix.CLONE_NEWCGROUP, true
}

// takeAheadStage returns the stage that made the container's namespaces
// before the husk binary's Go runtime started (nsenter.AheadStage), if
// there is one, and has the mountinfo it read be this process's (the
// cgroup hierarchies, which directFlags already needs).
func takeAheadStage(tr *Trace) *nsenter.AheadStage {
	st := nsenter.TakeAheadStage()
	if st != nil {
		if mi, read := st.Mountinfo(); mi != nil {
			selfmounts.Provide(mi)
			tr.span("mountinfo-ahead", read[0], read[1])
		}
	}
	return st
}

// keepAheadStage returns st when the process will be spawned directly
// into exactly the namespaces it made (flags, direct: see directFlags);
// otherwise it discards st and returns nil.
func keepAheadStage(st *nsenter.AheadStage, flags int, direct bool) *nsenter.AheadStage {
	if st != nil && (!direct || st.Flags() != flags) {
		st.Close()
		return nil
	}
	return st
}

// takeSetUpAhead takes the container's process the stage set up ahead
// (nsenter.AheadSetUp) when it is the one spawn would start: set up with
// create's own plan, as far as the stage's goes (its container part), in
// create's cgroup, with husk's stdio and no other fd (the stage is taken
// only for exactly the namespaces it made, see keepAheadStage). It sends
// the process create's whole plan (and the exec fifo), tells the stage,
// and returns the process, in whose PID namespace its set-up already ran
// while this process started. It returns nil when the stage did not set
// one up, or one create does not take: that one is killed and its cgroup
// removed (Close), the namespaces made ahead going with it, and spawn
// starts the process itself. On an error the process, if any, is
// returned too, for the caller to kill.
func takeSetUpAhead(s *spawnSpec, fifo int) (*child, error) {
	st := s.stage
	if st == nil {
		return nil, nil
	}
	a, _ := st.SetUpAhead()
	if a == nil {
		return nil, nil
	}
	if !s.setUpAheadMatches(a) {
		st.Close()
		s.stage = nil
		return nil, nil
	}
	st.Claim()
	s.stage = nil
	end := s.trace.Begin("take-ahead")
	defer end()
	ch := &child{sock: a.Sock}
	m, _, err := recvSync(ch.sock)
	if err == nil && m != nil && m.Type == msgPid {
		ch.pid, err = strconv.Atoi(m.Msg)
	}
	if err != nil || ch.pid <= 0 {
		// No process: the stage could not clone it, or it died before
		// its first message. The stage removes the cgroup; spawn starts
		// the process itself.
		ch.pid = 0
		ch.close()
		st.Close()
		return nil, nil
	}
	if made, err := st.Made(); err == nil {
		s.trace.span("stage-start", st.Started(), st.Began(made[0]))
		s.trace.span("ns-ahead", made[0], made[1])
	}
	if sealedHelper() >= 0 && !sealedHelperAhead.Start.IsZero() {
		// The stage and the process run husk-init's sealed copy.
		s.trace.span("seal-ahead", sealedHelperAhead.Start, sealedHelperAhead.End)
	}
	s.trace.span("plan-ahead", a.Start, a.Planned)
	s.trace.span("cgroup-ahead", a.Cgroup[0], a.Cgroup[1])
	if s.oomScoreAdj != nil {
		// As husk-init would, before its set-up: on the host's /proc.
		if err := writeOOMScoreAdj(ch.pid, *s.oomScoreAdj); err != nil {
			st.Close()
			return ch, err
		}
	}
	plan, err := payloadFile(s.execPlan)
	if err == nil {
		defer unix.Close(plan)
		more := ""
		if fifo >= 0 {
			more = msgFifo
		}
		err = sendSyncFd(ch.sock, msgPlan, more, plan)
		if err == nil && fifo >= 0 {
			err = sendSyncFd(ch.sock, msgFifo, "", fifo)
		}
		if errors.Is(err, unix.EPIPE) {
			// The process failed in its set-up (a planted symlink...):
			// its error message waits on the socket, which the
			// handshake reports; its cgroup is create's now.
			err = nil
		}
	}
	if err == nil {
		err = st.Take()
	}
	if err != nil {
		st.Close()
		return ch, err
	}
	return ch, nil
}

// writeOOMScoreAdj sets the oom_score_adj of the process pid, through the
// host's /proc, as husk-init sets its own before its set-up.
func writeOOMScoreAdj(pid, v int) error {
	path := "/proc/" + strconv.Itoa(pid) + "/oom_score_adj"
	fd, err := rawfile.Open(path, unix.O_WRONLY)
	if err == nil {
		err = rawfile.WriteAll(fd, []byte(strconv.Itoa(v)))
		unix.Close(fd)
	}
	if err != nil {
		if errors.Is(err, unix.EACCES) {
			return fmt.Errorf("process.oomScoreAdj: write %d to %s (lowering it needs CAP_SYS_RESOURCE): %w", v, path, err)
		}
		return fmt.Errorf("process.oomScoreAdj: write %d to %s: %w", v, path, err)
	}
	return nil
}

// setUpAheadMatches says whether a is the process spawn would start.
func (s *spawnSpec) setUpAheadMatches(a *nsenter.AheadSetUp) bool {
	if s.execPlan == nil || s.initType != initStandard || len(s.extraFiles) > 0 ||
		!bytes.Equal(initPlanContainerPart(s.execPlan), a.Plan) {
		return false
	}
	for i, f := range s.stdio {
		if f == nil || f.Fd() != uintptr(i) {
			return false
		}
	}
	d, ok := s.cgroup.(interface{ Dirs() []string })
	return ok && slices.Equal(d.Dirs(), a.Dirs)
}

// finishLate makes what the process ch, cloned already, joins late (see
// spawn): the rest of its cgroup (early) and its network namespace
// (lateNetNS, which may not be made yet), and sends
// the "join" message that lets the process enter them, with the
// namespace's fd (none when it could not be made: the process then makes
// one itself).
func (s *spawnSpec) finishLate(ch *child, early cgroups.EarlyApplier, lateNetNS bool) error {
	if early != nil {
		end := s.trace.Begin("cgroup-create-rest")
		err := s.cgroup.Apply(-1)
		end()
		if err != nil {
			return err
		}
	}
	var f *os.File
	if lateNetNS {
		end := s.trace.Begin("netns-wait")
		fd, err := s.netns.Take()
		end()
		if !s.netns.Start.IsZero() {
			// When the thread made the namespace.
			s.trace.span("netns-make", s.netns.Start, s.netns.End)
		}
		if err == nil {
			f = os.NewFile(uintptr(fd), "network namespace")
			defer f.Close()
		}
	}
	// Should the child have died, the handshake reports why.
	_ = sendSync(ch.sock, msgJoin, "", f)
	return nil
}

// spawnAhead is spawn's end for a process the stage made ahead clones
// (aheadStage), in the namespaces it made and into the cgroup v2
// directory cgroupFD: it asks for the process, finishes the cgroup while
// the process starts, and returns once the process has said its PID. The
// stage is reaped later (Create closes it).
func (s *spawnSpec) spawnAhead(ch *child, st *nsenter.AheadStage, env []string, fds []int, cgroupFD int,
	early cgroups.EarlyApplier, closeChildSock func()) (*child, error) {
	end := s.trace.Begin("fork-ahead")
	err := st.Fork(env, fds, cgroupFD)
	closeChildSock()
	end()
	if err != nil {
		ch.close()
		return nil, fmt.Errorf("start husk init: %w", err)
	}
	var lateErr error
	if early != nil {
		lateErr = s.finishLate(ch, early, false)
	}
	end = s.trace.Begin("pid-wait")
	m, _, err := recvSync(ch.sock)
	end()
	made, stageErr := st.Made()
	if err == nil && m != nil && m.Type == msgPid {
		ch.pid, err = strconv.Atoi(m.Msg)
	} else if err == nil {
		// EOF: the stage did not clone the process, or the process
		// died at once; the stage says why when it knows.
		err = stageErr
		if err == nil {
			err = fmt.Errorf("the container process exited before it started (%v)", m)
		}
	}
	if err != nil || ch.pid <= 0 {
		ch.pid = 0
		ch.close()
		return nil, fmt.Errorf("start husk init: %w", err)
	}
	if stageErr == nil {
		s.trace.span("stage-start", st.Started(), st.Began(made[0]))
		s.trace.span("ns-ahead", made[0], made[1])
	}
	if lateErr != nil {
		ch.kill()
		ch.close()
		return nil, lateErr
	}
	return ch, nil
}

// directNamespaces says whether s's namespaces let husk clone the process
// itself (nsenter.SpawnInto, see spawn): all of them new, and none that
// needs work between its creation and the process's (user, time).
func (s *spawnSpec) directNamespaces() bool {
	return nsenter.CanSpawnInto && len(s.nsPaths) == 0 && s.cloneFlags&^directCloneFlags == 0
}

// child is a started container process: in its namespaces and cgroup,
// running Init.
type child struct {
	pid  int
	sock int // the parent's end of the sync socket
}

// kill ends a child that failed during set-up and reaps it (it is our child
// thanks to CLONE_PARENT).
func (ch *child) kill() {
	if ch == nil || ch.pid <= 0 {
		return
	}
	unix.Kill(ch.pid, unix.SIGKILL)
	reap(ch.pid)
	ch.pid = 0
}

func (ch *child) close() {
	if ch != nil && ch.sock >= 0 {
		unix.Close(ch.sock)
		ch.sock = -1
	}
}

func reap(pid int) (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			return ws, err
		}
	}
}

func idMapString(m []configs.IDMap) string {
	var b strings.Builder
	for _, e := range m {
		fmt.Fprintf(&b, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
	}
	return b.String()
}

// payloadFile writes v as JSON, or raw when it is a []byte, into a memfd
// and returns its fd: the config can be far larger than a socket message
// or a pipe buffer (seccomp profiles). The fd is a plain one: os.NewFile
// would ask fcntl(2) for its flags, a system call for nothing.
func payloadFile(v any) (int, error) {
	b, ok := v.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return -1, fmt.Errorf("encode config for init: %w", err)
		}
	}
	fd, err := unix.MemfdCreate("husk-config", unix.MFD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("memfd_create: %w", err)
	}
	if err := rawfile.WriteAll(fd, b); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("write config memfd: %w", err)
	}
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("seek config memfd: %w", err)
	}
	return fd, nil
}

// devNull returns /dev/null, opened once per process and shared by every
// child that gets no stdio; under a sync.Once, since library users may
// create containers from several goroutines (and not sync.OnceValues,
// which allocates its state at every process start).
func devNull() (*os.File, error) {
	devNullOnce.Do(func() {
		devNullFile, devNullErr = os.OpenFile(os.DevNull, os.O_RDWR, 0)
	})
	return devNullFile, devNullErr
}

var (
	devNullOnce sync.Once
	devNullFile *os.File
	devNullErr  error
)

func stdioFile(f *os.File) (*os.File, error) {
	if f != nil {
		return f, nil
	}
	return devNull()
}

// spawn starts the child and walks it through nsexec: it returns once the
// container process exists in its namespaces and cgroup.
func spawn(s *spawnSpec) (*child, error) {
	endSeal := s.trace.Begin("seal-exe")
	// A process set up by a plan needs only nsenter's C code: the small
	// helper program, when this build has one, instead of husk itself.
	var exe uintptr
	helper := false
	if s.execPlan != nil {
		if fd := sealedHelper(); fd >= 0 {
			if a := sealedHelperAhead; !a.Start.IsZero() {
				s.trace.span("seal-ahead", a.Start, a.End)
			}
			exe, helper = uintptr(fd), true
		}
	}
	if !helper {
		f, err := sealedExe()
		if err != nil {
			endSeal()
			return nil, err
		}
		exe = f.Fd()
	}
	endSeal()
	pl := s.payload
	if s.execPlan != nil {
		pl = s.execPlan
	}
	payload, err := payloadFile(pl)
	if err != nil {
		return nil, err
	}
	defer unix.Close(payload)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	ch := &child{sock: pair[0]}
	// The child's end, closed as soon as the child has it (and on every
	// return: once only, a plain fd number may be reused after a close).
	childSock := pair[1]
	closeChildSock := func() {
		if childSock >= 0 {
			unix.Close(childSock)
			childSock = -1
		}
	}
	defer closeChildSock()

	files := make([]uintptr, 0, 8+len(s.extraFiles))
	for _, f := range s.stdio {
		f, err := stdioFile(f)
		if err != nil {
			ch.close()
			return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
		}
		files = append(files, f.Fd())
	}
	for _, f := range s.extraFiles {
		files = append(files, f.Fd())
	}
	env := make([]string, 0, 12)
	addFile := func(name string, fd uintptr) int {
		files = append(files, fd)
		n := len(files) - 1
		if name != "" {
			env = append(env, name+"="+strconv.Itoa(n))
		}
		return n
	}
	addFile(envSyncFD, uintptr(childSock))
	addFile(envPayloadFD, uintptr(payload))
	if s.fifo >= 0 {
		addFile(envFifoFD, uintptr(s.fifo))
	}
	exeFd := addFile("", exe)
	env = append(env,
		envInitType+"="+s.initType,
		envExtraFiles+"="+strconv.Itoa(len(s.extraFiles)),
	)
	if s.execPlan != nil {
		env = append(env, envExecPlan+"=1")
	}
	if len(s.nsPaths) > 0 {
		env = append(env, "_HUSK_NSPATHS="+strings.Join(s.nsPaths, "\n"))
	}
	if s.nsPidfd >= 0 {
		addFile("_HUSK_NSPIDFD", uintptr(s.nsPidfd))
		env = append(env, "_HUSK_NSFLAGS="+strconv.Itoa(s.nsFlags))
	}
	if s.uidMap != "" {
		env = append(env, "_HUSK_UIDMAP="+s.uidMap)
	}
	if s.gidMap != "" {
		env = append(env, "_HUSK_GIDMAP="+s.gidMap)
	}
	if s.timeNS != "" {
		env = append(env, "_HUSK_TIMENS="+s.timeNS)
	}
	// A new container without a user or time namespace, joining none by
	// path and set up by husk-init, is cloned by husk itself into its new
	// namespaces and cgroup v2 directory (direct, nsenter.SpawnInto): no
	// stage0 to start, fork the container's process from and reap, and no
	// "pid2" message to wait for. Its PID namespace is new: until it
	// execs husk-init, the child (which shares husk's memory and still
	// sees the host's files) is visible to no process but the host's.
	//
	// exec cannot take that way. Its process must be born into the
	// running container's PID namespace, where, between clone and exec,
	// a container process allowed to ptrace it (CAP_SYS_PTRACE, which
	// `--cap-add SYS_PTRACE` gives) could write husk's memory or act in
	// the host's mount namespace. stage0 joins the namespaces from
	// outside that PID namespace, in husk-init's own memory, and the
	// process it forks is inside all of them from its first instruction.
	direct := helper && s.initType == initStandard && s.directNamespaces()
	var join cgroups.JoinSpec
	cgroupFD := -1
	// early: the cgroup is created in two steps around the clone of a
	// process husk clones itself, which enters the v1 hierarchies by
	// itself once it needs them (husk_join_late in nsexec.c), so
	// that most of the mkdirs (~0.25 ms of ~0.3 on the test machine) are
	// done while it starts rather than before.
	var early cgroups.EarlyApplier
	if s.cgroup != nil {
		join = s.cgroup.JoinSpec()
		// The child joins the cgroup itself (see cgroups.JoinSpec): it
		// must exist first, or at least the part the clone needs.
		if !s.cgroupExists {
			if e, ok := s.cgroup.(cgroups.EarlyApplier); ok && direct && len(join.TasksFiles) > 0 {
				early = e
				env = append(env, envCgroupLate+"=1")
			}
			end := s.trace.Begin("cgroup-create")
			if early != nil {
				err = early.ApplyEarly()
			} else {
				err = s.cgroup.Apply(-1)
			}
			end()
			if err != nil {
				ch.close()
				return nil, err
			}
		}
		if direct && join.Cgroup2Dir != "" {
			// For clone3's CLONE_INTO_CGROUP.
			cgroupFD, err = unix.Open(join.Cgroup2Dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				ch.close()
				return nil, &os.PathError{Op: "open", Path: join.Cgroup2Dir, Err: err}
			}
			defer unix.Close(cgroupFD)
		}
		if len(join.TasksFiles) > 0 {
			env = append(env, "_HUSK_CGROUP_TASKS="+strings.Join(join.TasksFiles, "\n"))
		}
		if join.Cgroup2Dir != "" && !direct {
			env = append(env, "_HUSK_CGROUP2="+join.Cgroup2Dir)
		}
		if join.LateTasksFile != "" {
			// Opened by the parent: the path is out of the child's reach
			// after pivot_root, and cgroup v1 checks the opener's
			// credentials.
			fd, err := rawfile.Open(join.LateTasksFile, unix.O_WRONLY)
			if err != nil {
				ch.close()
				return nil, err
			}
			defer unix.Close(fd)
			addFile(envMemcgFD, uintptr(fd))
		}
		if s.cloneFlags&unix.CLONE_NEWCGROUP != 0 && (join.LateTasksFile != "" || early != nil) {
			// The cgroup namespace must be rooted at the container's
			// cgroup in every hierarchy, those joined late included:
			// Init unshares it after the late joins.
			s.cloneFlags &^= unix.CLONE_NEWCGROUP
			env = append(env, envLateCgNS+"=1")
		}
	}

	env = append(env, "_HUSK_CLONEFLAGS="+strconv.Itoa(s.cloneFlags))
	if s.oomScoreAdj != nil {
		env = append(env, "_HUSK_OOMSCOREADJ="+strconv.Itoa(*s.oomScoreAdj))
	}
	if s.trace != nil {
		env = append(env, envTrace+"=1")
	}
	endNs := s.trace.Begin("fork-exec+nsenter")
	// The path is resolved in the child after the fds are in place.
	path := "/proc/self/fd/" + strconv.Itoa(exeFd)
	var fds []int
	if helper {
		fds = make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f)
		}
	}
	if direct {
		env = append(env, envDirect+"=1")
		flags := s.cloneFlags &^ unix.CLONE_NEWCGROUP
		if st := s.stage; st != nil {
			s.stage = nil
			if st.Flags() == flags && len(fds) < nsenter.AheadStageMaxFds {
				return s.spawnAhead(ch, st, env, fds, cgroupFD, early, closeChildSock)
			}
			st.Close()
		}
		// The network namespace being made ahead is usually not ready
		// yet: the process is cloned without one, in husk's, and joins it
		// when the "join" message brings it, before it first needs it (a
		// sysfs mount, /dev, the hooks); until then it runs only
		// husk-init's own set-up. Waiting for it before the clone took
		// 0.2-0.4 ms of every create on the test machine. Should it not
		// have been made, the process makes one itself then.
		lateNetNS := s.netns != nil && flags&unix.CLONE_NEWNET != 0
		if lateNetNS {
			flags &^= unix.CLONE_NEWNET
			env = append(env, envNetNSLate+"=1")
		}
		// husk-init unblocks the signals nsenter.SpawnInto leaves blocked.
		// The cgroup namespace waits until the process is in its cgroups:
		// it unshares it itself.
		pid, err := nsenter.SpawnInto(path, []string{"husk-init"}, env, fds, uintptr(flags), cgroupFD)
		closeChildSock()
		endNs()
		if err != nil {
			ch.close()
			return nil, fmt.Errorf("start husk init: %w", err)
		}
		ch.pid = pid
		if early != nil || lateNetNS {
			if err := s.finishLate(ch, early, lateNetNS); err != nil {
				ch.kill()
				ch.close()
				return nil, err
			}
		}
		return ch, nil
	}
	var pid0 int
	if helper {
		// husk-init unblocks the signals nsenter.Spawn leaves blocked.
		pid0, err = nsenter.Spawn(path, []string{"husk-init"}, env, fds)
	} else {
		pid0, err = syscall.ForkExec(path, []string{"husk", "init"}, &syscall.ProcAttr{Env: env, Files: files})
	}
	if err != nil {
		ch.close()
		return nil, fmt.Errorf("start husk init: %w", err)
	}
	closeChildSock()

	stage1 := 0
	for ch.pid == 0 {
		b, _, err := recvRaw(ch.sock)
		if err == nil && b == nil {
			err = fmt.Errorf("husk init exited during namespace set-up")
		}
		if err == nil {
			msg := string(b)
			switch {
			case strings.HasPrefix(msg, "pid1 "):
				stage1, err = strconv.Atoi(msg[5:])
			case strings.HasPrefix(msg, "pid2 "):
				ch.pid, err = strconv.Atoi(msg[5:])
			case strings.HasPrefix(msg, "err "):
				err = fmt.Errorf("%s", msg[4:])
			default:
				err = fmt.Errorf("unexpected message %q from husk init", msg)
			}
		}
		if err != nil {
			reap(pid0)
			if stage1 > 0 {
				reap(stage1)
			}
			ch.close()
			return nil, fmt.Errorf("namespace set-up: %w", err)
		}
	}
	endNs()
	defer s.trace.Begin("stage0-exit")()
	reap(pid0)
	if stage1 > 0 {
		reap(stage1)
	}
	return ch, nil
}

// nsBootstrap fills the namespace part of a spawnSpec from a config.
func nsBootstrap(s *spawnSpec, cfg *configs.Config) {
	for _, ns := range cfg.Namespaces {
		if ns.Path != "" {
			s.nsPaths = append(s.nsPaths, string(ns.Type)+":"+ns.Path)
			continue
		}
		s.cloneFlags |= cloneFlag(ns.Type)
	}
	if s.cloneFlags&unix.CLONE_NEWUSER != 0 {
		s.uidMap = idMapString(cfg.UIDMappings)
		s.gidMap = idMapString(cfg.GIDMappings)
	}
	if s.cloneFlags&unix.CLONE_NEWTIME != 0 {
		var b strings.Builder
		for clock, off := range cfg.TimeOffsets {
			fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
		}
		s.timeNS = b.String()
	}
}

// DiscardAhead ends what the husk binary started ahead for a new container
// when no create took it (an error before create, a command that never got
// there): a process the stage set up ahead is killed and reaped, the stage
// removes the cgroup made for it, and the state directory claimed for it is
// released, before this returns. It costs nothing when there is none; the
// husk command calls it on its way out.
func DiscardAhead() {
	nsenter.DiscardAheadStage()
	if dir, fd := nsenter.TakeClaimedStateDir(); fd >= 0 {
		removeStateDir(dir, true)
		unix.Close(fd)
	}
}

// claimedStateDir returns the lock of dir when the husk binary claimed it
// ahead for the container the stage sets up (nsenter.TakeClaimedStateDir):
// create's own first step, made and locked already. A claim of another
// directory (a command line husk's constructor read otherwise) is
// released, and create claims dir itself.
func claimedStateDir(dir string) (dirLock, error) {
	claimed, fd := nsenter.TakeClaimedStateDir()
	if fd < 0 {
		return -1, unix.ENOENT
	}
	if claimed != dir {
		removeStateDir(claimed, true)
		unix.Close(fd)
		return -1, unix.ENOENT
	}
	return dirLock(fd), nil
}
