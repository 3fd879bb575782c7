package libcontainer

// This file runs inside the container: in the process nsexec.c forked, now
// in the container's namespaces and cgroup, before it execs the user's
// program. Nothing here runs in the parent.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/husk-runtime/husk/libcontainer/caps"
	"github.com/husk-runtime/husk/libcontainer/configs"
	"github.com/husk-runtime/husk/libcontainer/rootfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/selinux/go-selinux"
	"golang.org/x/sys/unix"
)

// init keeps the main goroutine of `husk init` on the main thread, the
// thread-group leader that nsexec.c armed with PR_SET_PDEATHSIG(SIGKILL).
// The parent-death signal belongs to that one thread, and prepareExec
// clears it on the thread Init runs on. The runtime unlocks the main
// goroutine from the main thread once the package init functions are done,
// so before main.main reaches Init the scheduler may move it to another
// thread (rare: it takes a preemption in that short window, which a loaded
// or emulated machine makes likelier). The clear then misses the leader,
// and when `husk create` exits after "ready" (the init still waits for
// `start`), the leader's SIGKILL takes the whole process down: `start`
// finds the container stopped. A LockOSThread in an init function makes
// main.main run on the main thread (a guarantee of package runtime).
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.LockOSThread()
	}
}

// Init is the body of `husk init`, the process husk re-executes to become a
// container's process. Programs that use libcontainer without the husk
// binary call it first thing in main when os.Args[1] == "init" (and import
// package nsenter). It never returns: it execs the container's program or
// reports the error to the parent and exits.
func Init() {
	// Namespaces, credentials and the no_new_privs bit set below belong to
	// this thread: keep the goroutine on it until execve.
	runtime.LockOSThread()
	sock, err := strconv.Atoi(os.Getenv(envSyncFD))
	if err != nil {
		fmt.Fprintln(os.Stderr, "husk init: run by husk only (no sync socket)")
		os.Exit(1)
	}
	if unix.Gettid() != unix.Getpid() {
		// See init above: off the main thread, clearing the parent-death
		// signal would not stick and the container would die with its
		// parent. Fail the create loudly instead.
		err = errors.New("init runs off the main thread: call libcontainer.Init first thing in main")
	} else {
		err = initMain(sock)
	}
	// initMain only returns on failure.
	sendSync(sock, msgError, err.Error(), nil)
	os.Exit(1)
}

func initMain(sock int) error {
	payloadFd, err := strconv.Atoi(os.Getenv(envPayloadFD))
	if err != nil {
		return errors.New("missing config fd")
	}
	payload := os.NewFile(uintptr(payloadFd), "config")
	typ := os.Getenv(envInitType)
	extra, _ := strconv.Atoi(os.Getenv(envExtraFiles))
	fifoFd := -1
	if s := os.Getenv(envFifoFD); s != "" {
		fifoFd, _ = strconv.Atoi(s)
	}
	if s := os.Getenv(envMemcgFD); s != "" {
		lateMemcgFd, _ = strconv.Atoi(s)
	}
	lateCgroupNS = os.Getenv(envLateCgNS) != ""
	tr := &initTracer{on: os.Getenv(envTrace) != ""}
	tr.begin("go-init-start")()
	os.Clearenv()
	dec := json.NewDecoder(payload)
	switch typ {
	case initStandard:
		var ip initPayload
		if err := dec.Decode(&ip); err != nil || ip.Config == nil || ip.Config.Process == nil {
			return fmt.Errorf("decode config: %v", err)
		}
		payload.Close()
		return standardInit(sock, &ip, fifoFd, extra, tr)
	case initExec:
		var p execPayload
		if err := dec.Decode(&p); err != nil {
			return fmt.Errorf("decode process: %w", err)
		}
		payload.Close()
		return execInit(sock, &p, extra, tr)
	}
	return fmt.Errorf("unknown init type %q", typ)
}

func standardInit(sock int, ip *initPayload, fifoFd, extra int, tr *initTracer) error {
	id, cfg := ip.ID, ip.Config
	p := cfg.Process
	if cfg.NewNamespace(configs.NEWUSER) {
		// nsexec made us non-dumpable, which makes our /proc/self files
		// belong to the host's root, out of reach in a user namespace.
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", err)
		}
	}
	if !cfg.NoNewKeyring {
		// A private session keyring, so the container cannot read the
		// host's keys. Kernels without keyrings (ENOSYS) or with them
		// forbidden by a seccomp policy (EPERM/EACCES) are fine.
		if _, err := unix.KeyctlJoinSessionKeyring("_ses." + id); err != nil &&
			!errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EACCES) {
			return fmt.Errorf("join session keyring: %w", err)
		}
	}
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("sethostname %q: %w", cfg.Hostname, err)
		}
	}
	if cfg.Domainname != "" {
		if err := unix.Setdomainname([]byte(cfg.Domainname)); err != nil {
			return fmt.Errorf("setdomainname %q: %w", cfg.Domainname, err)
		}
	}

	beforePivot := func() error {
		h := cfg.Hooks
		if h != nil && (len(h.Prestart) > 0 || len(h.CreateRuntime) > 0) { //nolint:staticcheck
			if err := sendSync(sock, msgHooks, "", nil); err != nil {
				return err
			}
			m, _, err := recvSync(sock)
			if err != nil {
				return err
			}
			if m == nil || m.Type != msgHooksDone {
				return errors.New("the runtime did not finish the createRuntime hooks")
			}
		}
		if h != nil && len(h.CreateContainer) > 0 {
			st := createState(id, cfg)
			if err := runHooks("createContainer", h, st); err != nil {
				return err
			}
		}
		return nil
	}
	if cfg.NewNamespace(configs.NEWNS) {
		end := tr.begin("rootfs-prepare")
		err := rootfs.Prepare(cfg, beforePivot)
		end()
		if err != nil {
			return err
		}
	} else {
		if err := beforePivot(); err != nil {
			return err
		}
		if err := unix.Chroot(cfg.Rootfs); err != nil {
			return fmt.Errorf("chroot %s: %w", cfg.Rootfs, err)
		}
	}
	// Like runc, create a missing working directory (inside the root now,
	// so the path cannot lead out of it).
	if err := os.MkdirAll(p.Cwd, 0o755); err != nil {
		return fmt.Errorf("process.cwd: create %s: %w", p.Cwd, err)
	}
	if p.Terminal {
		if err := setupConsole(sock, p, cfg.NewNamespace(configs.NEWNS)); err != nil {
			return err
		}
	}
	if len(cfg.Sysctl) > 0 {
		if err := rootfs.WriteSysctls(cfg.Sysctl); err != nil {
			return err
		}
	}
	if cfg.NewNamespace(configs.NEWNS) {
		end := tr.begin("rootfs-finalize")
		err := rootfs.Finalize(cfg)
		end()
		if err != nil {
			return err
		}
	}
	if cfg.Personality != nil {
		if err := setPersonality(cfg.Personality); err != nil {
			return err
		}
	}
	path, lateSeccomp, err := prepareExec(sock, p, ip.Seccomp, extra, tr)
	if err != nil {
		return err
	}
	if err := waitForStart(sock, fifoFd); err != nil {
		return reportLate(err)
	}

	if cfg.Hooks != nil && len(cfg.Hooks.StartContainer) > 0 {
		st := createState(id, cfg)
		st.Status = "created"
		if err := runHooks("startContainer", cfg.Hooks, st); err != nil {
			return reportLate(err)
		}
	}
	if lateSeccomp {
		if _, err := installSeccomp(ip.Seccomp); err != nil {
			return reportLate(err)
		}
	}
	if err := unix.Exec(path, p.Args, p.Env); err != nil {
		return reportLate(fmt.Errorf("exec %s: %w", p.Args[0], err))
	}
	return nil
}

// reportLate reports an error after the parent has gone: on the
// container's stderr, the only channel left, then exits.
func reportLate(err error) error {
	fmt.Fprintln(os.Stderr, "husk init:", err)
	os.Exit(1)
	return err
}

func createState(id string, cfg *configs.Config) *specs.State {
	return &specs.State{
		Version:     cfg.Version,
		ID:          id,
		Status:      "creating",
		Pid:         os.Getpid(),
		Bundle:      cfg.Bundle,
		Annotations: cfg.Annotations,
	}
}

// setupProcess applies the process attributes that need privilege:
// rlimits, scheduler, I/O priority, LSM labels. (oom_score_adj is set by
// nsexec.c, before the namespaces, and inherited.)
func setupProcess(p *configs.Process) error {
	for _, rl := range p.Rlimits {
		lim := unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}
		if err := unix.Prlimit(0, rl.Type, &lim, nil); err != nil {
			var cur unix.Rlimit
			unix.Prlimit(0, rl.Type, nil, &cur)
			if errors.Is(err, unix.EPERM) && rl.Hard > cur.Max {
				return fmt.Errorf("process.rlimits: set %s to soft %d, hard %d: %w: the hard limit cannot be raised above the runtime's own (%d) without CAP_SYS_RESOURCE",
					rl.Name, rl.Soft, rl.Hard, err, cur.Max)
			}
			return fmt.Errorf("process.rlimits: set %s to soft %d, hard %d: %w", rl.Name, rl.Soft, rl.Hard, err)
		}
	}
	if err := setScheduler(p); err != nil {
		return err
	}
	if err := setIOPriority(p); err != nil {
		return err
	}
	if p.ApparmorProfile != "" && apparmorEnabled() {
		if err := rootfs.WriteProcSelf("attr/apparmor/exec", []byte("exec "+p.ApparmorProfile)); err != nil {
			return fmt.Errorf("process.apparmorProfile %q: %w", p.ApparmorProfile, err)
		}
	}
	if p.SelinuxLabel != "" && selinux.GetEnabled() {
		if err := selinux.SetExecLabel(p.SelinuxLabel); err != nil {
			return fmt.Errorf("process.selinuxLabel %q: %w", p.SelinuxLabel, err)
		}
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
		}
	}
	return nil
}

func apparmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && len(b) > 0 && b[0] == 'Y'
}

// finalizeCredentials switches to the process's user and groups and sets
// its capabilities, in the order package caps documents: the bounding set
// shrinks first, then the IDs change with the capabilities kept, then the
// five sets are set exactly.
func finalizeCredentials(p *configs.Process) error {
	c := raisableAmbient(p.Capabilities)
	if err := caps.DropBoundingSet(c.Bounding); err != nil {
		return fmt.Errorf("process.capabilities.bounding: %w", err)
	}
	if err := caps.KeepCapsOnUIDChange(); err != nil {
		return err
	}
	gids := make([]int, len(p.AdditionalGids))
	for i, g := range p.AdditionalGids {
		gids[i] = int(g)
	}
	if err := unix.Setgroups(gids); err != nil {
		// In a user namespace with setgroups denied, only an empty list
		// is possible; that is what an empty config asks for anyway.
		if !(errors.Is(err, unix.EPERM) && len(gids) == 0) {
			return fmt.Errorf("process.user.additionalGids: setgroups %v: %w", p.AdditionalGids, err)
		}
	}
	// Raw syscalls: they act on this thread only, which is the one that
	// execs; Go's unix.Setresuid would broadcast to every thread.
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(p.GID), uintptr(p.GID), uintptr(p.GID)); e != 0 {
		return fmt.Errorf("process.user.gid: setresgid %d: %w", p.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(p.UID), uintptr(p.UID), uintptr(p.UID)); e != 0 {
		return fmt.Errorf("process.user.uid: setresuid %d: %w", p.UID, e)
	}
	if err := caps.ClearKeepCaps(); err != nil {
		return err
	}
	if err := caps.Apply(c); err != nil {
		return fmt.Errorf("process.capabilities: %w", err)
	}
	if p.Umask != nil {
		unix.Umask(int(*p.Umask))
	} else {
		unix.Umask(0o022)
	}
	return nil
}

// raisableAmbient returns caps without the ambient capabilities that are
// not both permitted and inheritable: the kernel refuses to raise those, and
// configs written by `runc spec` before 1.2 list ambient capabilities with an
// empty inheritable set. runc skips them too.
func raisableAmbient(c *configs.Capabilities) *configs.Capabilities {
	if c == nil {
		return &configs.Capabilities{}
	}
	in := func(set []int, v int) bool {
		for _, x := range set {
			if x == v {
				return true
			}
		}
		return false
	}
	var amb []int
	for _, a := range c.Ambient {
		if in(c.Permitted, a) && in(c.Inheritable, a) {
			amb = append(amb, a)
		}
	}
	if len(amb) == len(c.Ambient) {
		return c
	}
	cc := *c
	cc.Ambient = amb
	return &cc
}

// enterCwd changes to the process's working directory and checks that it
// really is inside the container: a cwd reached through a leaked host fd
// (/proc/self/fd/N) would sit outside the root (CVE-2024-21626).
func enterCwd(cwd string) error {
	if err := unix.Chdir(cwd); err != nil {
		return fmt.Errorf("process.cwd: chdir %s: %w", cwd, err)
	}
	wd, err := unix.Getwd()
	if err != nil || !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("process.cwd: %s is outside the container", cwd)
	}
	return nil
}

// closeExtraFds marks every fd from first on close-on-exec, so nothing of
// husk's (sockets, the fifo, host directories) reaches the container's
// program (CVE-2024-21626). One close_range call, no /proc walk.
func closeExtraFds(first int) error {
	if err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	return nil
}

// lookPath finds the program as execve would through the container's PATH.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := checkExecutable(file); err != nil {
			return "", fmt.Errorf("exec: %q: %w", file, err)
		}
		return file, nil
	}
	path := ""
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			path = e[5:]
		}
	}
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", file)
}

func checkExecutable(p string) error {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.EISDIR
	}
	if st.Mode&0o111 == 0 {
		return unix.EACCES
	}
	return nil
}

func sendNotifyFd(sock, fd int) error {
	f := os.NewFile(uintptr(fd), "seccomp-notify")
	defer f.Close()
	if err := sendSync(sock, msgSeccomp, "", f); err != nil {
		return err
	}
	return nil
}

// waitForStart blocks the container's first process until Start: as
// nsenter/execplan.c's wait_for_start, on exec.fifo (fifoFd, an O_PATH
// handle the parent opened) or, without one (CreateOpts.StartHere), on the
// sync socket. What stays open (the fifo, or the socket) is close-on-exec:
// execve closes it, which tells Start that the program runs.
func waitForStart(sock, fifoFd int) error {
	if fifoFd < 0 {
		m, _, err := recvSync(sock)
		if err != nil {
			return fmt.Errorf("wait for start on the sync socket: %w", err)
		}
		if m == nil {
			// The parent exited or deleted the container first.
			os.Exit(1)
		}
		if m.Type != msgStart {
			return fmt.Errorf("wait for start: unexpected message %q", m.Type)
		}
		unix.CloseOnExec(sock)
		return nil
	}
	unix.Close(sock)
	// Reopening the O_PATH fd through /proc/self/fd works whatever this
	// process can see of the state directory.
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fifoFd), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	if _, err := unix.Write(fd, []byte{'0'}); err != nil {
		return fmt.Errorf("write exec fifo: %w", err)
	}
	unix.Close(fifoFd)
	return nil
}
