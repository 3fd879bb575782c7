package libcontainer

// Init-side helpers shared by a container's first process and exec'd ones.

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/husk-runtime/husk/libcontainer/configs"
	"github.com/husk-runtime/husk/libcontainer/rootfs"
	"github.com/husk-runtime/husk/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// initPayload is what the parent sends a container's first process.
type initPayload struct {
	ID     string          `json:"id"`
	Config *configs.Config `json:"config"`
	// Seccomp is linux.seccomp compiled by the parent (and cached), so
	// that init only installs it: one syscall, no allocation.
	Seccomp *seccomp.Program `json:"seccomp_program,omitempty"`
}

// lateMemcgFd is the v1 memory cgroup's tasks file, opened by the parent,
// or -1; lateCgroupNS says the cgroup namespace is to be created after it
// is joined (see cgroups.JoinSpec.LateTasksFile).
var (
	lateMemcgFd  = -1
	lateCgroupNS bool
)

// joinLateCgroup moves this thread, the one that will execve, into the
// container's v1 memory cgroup, as late as possible: the pages allocated so
// far (husk's init, the Go runtime) stay charged where they were and are
// freed by execve, which also leaves this thread as the whole process.
// Writing "0" moves only the caller, which the kernel does without its
// global threadgroup lock. Then, if the container has its own cgroup
// namespace, it is created now, rooted at the container's cgroup in every
// hierarchy; it too belongs to this thread and survives execve.
func joinLateCgroup() error {
	if lateMemcgFd >= 0 {
		_, err := unix.Write(lateMemcgFd, []byte("0"))
		unix.Close(lateMemcgFd)
		lateMemcgFd = -1
		if err != nil {
			return fmt.Errorf("join the memory cgroup: %w", err)
		}
	}
	if lateCgroupNS {
		lateCgroupNS = false
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare cgroup namespace: %w", err)
		}
	}
	return nil
}

// prepareExec does what a container's first process and an exec'd one
// share once their namespaces (and rootfs) are in place: the process's
// attributes, its program's path, the late cgroup join, the seccomp filter
// unless it can wait, the user and capabilities, the cwd and the fds; then
// it reports ready to the parent. It returns the program's path and whether
// the filter is still to be installed, right before execve.
func prepareExec(sock int, p *configs.Process, filter *seccomp.Program, extra int, tr *initTracer) (path string, lateSeccomp bool, err error) {
	end := tr.begin("process-setup")
	err = setupProcess(p)
	end()
	if err != nil {
		return "", false, err
	}
	if path, err = lookPath(p.Args[0], p.Env); err != nil {
		return "", false, err
	}
	// From here on husk allocates little: the process enters the
	// container's memory cgroup (and cgroup namespace) while it still has
	// the privilege to, before seccomp could forbid it.
	if err := joinLateCgroup(); err != nil {
		return "", false, err
	}
	// With no_new_privs the filter is installed as late as possible, so
	// that it filters none of husk's own set-up. Without, installing it
	// needs CAP_SYS_ADMIN, which the user may be about to lose; and a
	// notify listener fd must reach the parent before it leaves: now.
	notify := -1
	lateSeccomp = filter != nil && p.NoNewPrivileges && !filter.Notify
	if filter != nil && !lateSeccomp {
		end := tr.begin("seccomp")
		notify, err = installSeccomp(filter)
		end()
		if err != nil {
			return "", false, err
		}
	}
	end = tr.begin("credentials")
	err = finalizeCredentials(p)
	end()
	if err != nil {
		return "", false, err
	}
	if err := enterCwd(p.Cwd); err != nil {
		return "", false, err
	}
	if err := closeExtraFds(3 + extra); err != nil {
		return "", false, err
	}
	if notify >= 0 {
		if err := sendNotifyFd(sock, notify); err != nil {
			return "", false, err
		}
	}
	// The parent may exit once it has the ready message (create returns,
	// exec --detach returns): stop dying with it.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0); err != nil {
		return "", false, fmt.Errorf("prctl(PR_SET_PDEATHSIG): %w", err)
	}
	if err := sendSync(sock, msgReady, tr.encode(), nil); err != nil {
		return "", false, err
	}
	return path, lateSeccomp, nil
}

// setupConsole gives the process a new pty as its controlling terminal and
// stdio, and sends the master to the parent. The pty comes from the
// container's own devpts (/dev/ptmx after pivot_root); the peer is opened
// with TIOCGPTPEER, never by a path the container could have replaced
// (CVE-2025-52565), and bind-mounted over /dev/console by fd.
func setupConsole(sock int, p *configs.Process, mountConsole bool) error {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx: %w", err)
	}
	master := os.NewFile(uintptr(mfd), "/dev/ptmx")
	defer master.Close()
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	sfd, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY)
	if e != 0 {
		return fmt.Errorf("open pty peer: %w", e)
	}
	slave := os.NewFile(sfd, "pty-slave")
	defer slave.Close()
	if p.ConsoleSize != nil {
		ws := &unix.Winsize{Row: uint16(p.ConsoleSize.Height), Col: uint16(p.ConsoleSize.Width)}
		if err := unix.IoctlSetWinsize(int(sfd), unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("set console size: %w", err)
		}
	}
	if mountConsole {
		if err := rootfs.MountConsole(slave); err != nil {
			return err
		}
	}
	if err := sendSync(sock, msgConsole, "", master); err != nil {
		return err
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(int(sfd), unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(int(sfd), i, 0); err != nil {
			return fmt.Errorf("dup pty to fd %d: %w", i, err)
		}
	}
	return nil
}

// kernelNum is one row of a table from the spec's names to the kernel's
// numbers. Tables, not maps: a map literal is built by code at every
// process start, a table of constants is laid out by the compiler, and a
// linear search over a few entries costs less.
type kernelNum[K comparable, V any] struct {
	name K
	num  V
}

// lookupKernelNum returns the number of name in table, reporting whether
// the table has it.
func lookupKernelNum[K comparable, V any](table []kernelNum[K, V], name K) (V, bool) {
	for _, e := range table {
		if e.name == name {
			return e.num, true
		}
	}
	var zero V
	return zero, false
}

// schedPolicies are the kernel's numbers of the spec's scheduling
// policies (SCHED_*).
var schedPolicies = []kernelNum[specs.LinuxSchedulerPolicy, uint32]{
	{specs.SchedOther, 0},
	{specs.SchedFIFO, 1},
	{specs.SchedRR, 2},
	{specs.SchedBatch, 3},
	{specs.SchedISO, 4},
	{specs.SchedIdle, 5},
	{specs.SchedDeadline, 6},
}

// schedFlags are the kernel's bits of the spec's SCHED_FLAG_* names.
var schedFlags = []kernelNum[specs.LinuxSchedulerFlag, uint64]{
	{specs.SchedFlagResetOnFork, 0x01},
	{specs.SchedFlagReclaim, 0x02},
	{specs.SchedFlagDLOverrun, 0x04},
	{specs.SchedFlagKeepPolicy, 0x08},
	{specs.SchedFlagKeepParams, 0x10},
	{specs.SchedFlagUtilClampMin, 0x20},
	{specs.SchedFlagUtilClampMax, 0x40},
}

// schedAttr returns p's scheduler as the kernel's struct sched_attr (nil
// when p has none). The Go init applies it; the exec plan carries it.
func schedAttr(p *configs.Process) (*unix.SchedAttr, error) {
	s := p.Scheduler
	if s == nil {
		return nil, nil
	}
	pol, ok := lookupKernelNum(schedPolicies, s.Policy)
	if !ok {
		return nil, fmt.Errorf("process.scheduler.policy: unknown policy %q", s.Policy)
	}
	attr := &unix.SchedAttr{
		Size:     unix.SizeofSchedAttr,
		Policy:   pol,
		Nice:     s.Nice,
		Priority: uint32(s.Priority),
		Runtime:  s.Runtime,
		Deadline: s.Deadline,
		Period:   s.Period,
	}
	for _, f := range s.Flags {
		v, ok := lookupKernelNum(schedFlags, f)
		if !ok {
			return nil, fmt.Errorf("process.scheduler.flags: unknown flag %q", f)
		}
		attr.Flags |= v
	}
	return attr, nil
}

func setScheduler(p *configs.Process) error {
	attr, err := schedAttr(p)
	if err != nil || attr == nil {
		return err
	}
	if err := unix.SchedSetAttr(0, attr, 0); err != nil {
		return fmt.Errorf("process.scheduler: sched_setattr: %w", err)
	}
	return nil
}

// ioprioClasses are the kernel's numbers of the spec's I/O priority
// classes (IOPRIO_CLASS_*); a table, as schedPolicies.
var ioprioClasses = []kernelNum[specs.IOPriorityClass, int]{
	{specs.IOPRIO_CLASS_RT, 1},
	{specs.IOPRIO_CLASS_BE, 2},
	{specs.IOPRIO_CLASS_IDLE, 3},
}

// ioprioValue returns the ioprio_set(2) value of p's I/O priority, -1 for
// none. The Go init applies it; the exec plan carries it.
func ioprioValue(p *configs.Process) (int, error) {
	io := p.IOPriority
	if io == nil {
		return -1, nil
	}
	class, ok := lookupKernelNum(ioprioClasses, io.Class)
	if !ok {
		return -1, fmt.Errorf("process.ioPriority.class: unknown class %q", io.Class)
	}
	return class<<13 | io.Priority, nil
}

func setIOPriority(p *configs.Process) error {
	prio, err := ioprioValue(p)
	if err != nil || prio < 0 {
		return err
	}
	const whoProcess = 1
	if _, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, whoProcess, 0, uintptr(prio)); e != 0 {
		return fmt.Errorf("process.ioPriority: ioprio_set: %w", e)
	}
	return nil
}

func setPersonality(p *specs.LinuxPersonality) error {
	var domain uintptr
	switch p.Domain {
	case specs.PerLinux:
		domain = 0x0000
	case specs.PerLinux32:
		domain = 0x0008
	default:
		return fmt.Errorf("linux.personality.domain: unknown domain %q", p.Domain)
	}
	if _, _, e := unix.Syscall(unix.SYS_PERSONALITY, domain, 0, 0); e != 0 {
		return fmt.Errorf("linux.personality: %w", e)
	}
	return nil
}

// installSeccomp installs the compiled filter on this thread, the one that
// execs (see seccomp.Install).
func installSeccomp(p *seccomp.Program) (int, error) {
	fd, err := seccomp.Install(p)
	if err != nil {
		return -1, fmt.Errorf("linux.seccomp: %w", err)
	}
	return fd, nil
}

// seccompCacheDir is where compiled filters are kept, under the state
// root; the ':' keeps it from ever being a container ID.
func seccompCacheDir(root string) string {
	return filepath.Join(root, ":seccomp-cache")
}

// compileSeccomp compiles s, or takes it from the cache.
func compileSeccomp(s *specs.LinuxSeccomp, root string) (*seccomp.Program, error) {
	if s == nil {
		return nil, nil
	}
	p, err := seccomp.CompileCached(s, seccompCacheDir(root))
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	return p, nil
}
