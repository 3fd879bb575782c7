package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tracedRun runs argv to completion and returns two peak-RSS figures in KiB:
// own, the VmHWM of the process read at its PTRACE_EVENT_EXIT stop (its
// own memory, nothing else), and rusage, the ru_maxrss wait4 reports. The
// latter is not the process's own: Linux reports RUSAGE_BOTH for a reaped
// child, the maximum of the process and of every descendant it waited for
// (for `run`, the container's init, including its pre-exec phase).
//
// Only the runtime's main thread is traced (no PTRACE_O_TRACECLONE): its
// children run untraced, and the only stops are the exit event, exec
// events and signal deliveries, which are passed on unchanged.
func tracedRun(argv, env []string, files []uintptr) (own, rusage int64, err error) {
	// ptrace requests must come from the thread that is the tracer.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Env:   env,
		Files: files,
		Sys:   &syscall.SysProcAttr{Ptrace: true, Setpgid: true},
	})
	if err != nil {
		return 0, 0, fmt.Errorf("start %s: %w", argv[0], err)
	}
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	// The first stop is the SIGTRAP after execve.
	if _, err := wait4(pid, &ws, nil); err != nil {
		return 0, 0, err
	}
	if !ws.Stopped() {
		return 0, 0, fmt.Errorf("%s: not stopped after exec: %v", argv[0], ws)
	}
	opts := unix.PTRACE_O_TRACEEXIT | unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_EXITKILL
	if err := syscall.PtraceSetOptions(pid, opts); err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		wait4(pid, &ws, nil)
		return 0, 0, fmt.Errorf("ptrace setoptions %d: %w", pid, err)
	}
	sig := 0
	for {
		if err := syscall.PtraceCont(pid, sig); err != nil && err != syscall.ESRCH {
			return 0, 0, fmt.Errorf("ptrace cont %d: %w", pid, err)
		}
		if _, err := wait4(pid, &ws, &ru); err != nil {
			return 0, 0, err
		}
		if ws.Exited() || ws.Signaled() {
			break
		}
		sig = 0
		if !ws.Stopped() {
			continue
		}
		switch {
		case ws.StopSignal() == syscall.SIGTRAP && ws.TrapCause() == unix.PTRACE_EVENT_EXIT:
			if own, err = vmHWM(pid); err != nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		case ws.StopSignal() == syscall.SIGTRAP && ws.TrapCause() == unix.PTRACE_EVENT_EXEC:
		default:
			sig = int(ws.StopSignal())
		}
	}
	if err != nil {
		return 0, 0, err
	}
	if ws.Signaled() {
		return 0, 0, fmt.Errorf("%s: killed by %v", argv[0], ws.Signal())
	}
	if ws.ExitStatus() != 0 {
		return 0, 0, fmt.Errorf("%s: exit status %d", argv[0], ws.ExitStatus())
	}
	return own, ru.Maxrss, nil
}

func wait4(pid int, ws *syscall.WaitStatus, ru *syscall.Rusage) (int, error) {
	for {
		p, err := syscall.Wait4(pid, ws, 0, ru)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return p, fmt.Errorf("wait4 %d: %w", pid, err)
		}
		return p, nil
	}
}

// vmHWM reads the peak resident set size ("VmHWM", KiB) of pid.
func vmHWM(pid int) (int64, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/status"
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no VmHWM line", path)
}

// straceTotalCalls returns the "calls" column of the total line of a
// `strace -c` summary:
//
//	% time     seconds  usecs/call     calls    errors syscall
//	------ ----------- ----------- --------- --------- ----------------
//	100.00    0.001234           1       345        12 total
func straceTotalCalls(summary string) (int, error) {
	var header []string
	sc := bufio.NewScanner(strings.NewReader(summary))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && f[0] == "%" {
			header = f[1:] // "time" is one column; "%" is part of its name
			continue
		}
		if len(f) == 0 || f[len(f)-1] != "total" || header == nil {
			continue
		}
		col := -1
		for i, h := range header {
			if h == "calls" {
				col = i
			}
		}
		if col < 0 || col >= len(f) {
			return 0, errors.New("no calls column")
		}
		n, err := strconv.Atoi(f[col])
		if err != nil {
			return 0, fmt.Errorf("bad calls value %q", f[col])
		}
		return n, nil
	}
	return 0, errors.New("no total line")
}

// cgroupMounts returns the mount points of every cgroup v1 and v2
// hierarchy.
func cgroupMounts() ([]string, error) {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/mounts: %w", err)
	}
	var dirs []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && (f[2] == "cgroup" || f[2] == "cgroup2") && !seen[f[1]] {
			seen[f[1]] = true
			dirs = append(dirs, f[1])
		}
	}
	return dirs, nil
}

// mounted reports whether anything is mounted at or below dir.
func mounted(dir string) bool {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return true // unsure: the caller must not remove dir
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[1] == dir || strings.HasPrefix(f[1], dir+"/")) {
			return true
		}
	}
	return false
}

// removeCgroupTree removes parent (an absolute cgroup path like
// /husk-bench-<random>) and everything below it in every hierarchy. The
// runtimes remove their containers' cgroups on delete; what is left here
// is the shared parent, or the debris of an interrupted run, whose
// processes (only ours: the parent's name is random) are killed first.
func removeCgroupTree(parent string) error {
	if !strings.HasPrefix(parent, "/husk-bench-") || strings.Contains(parent[1:], "/") {
		return fmt.Errorf("refusing to remove cgroup %q", parent)
	}
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		if err := removeCgroup(filepath.Join(m, parent)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func removeCgroup(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read cgroup %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroup(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	// This is cleanup, not a measured path: a killed process leaves its
	// cgroup asynchronously, so retry for up to a second.
	for i := 0; ; i++ {
		err := unix.Rmdir(dir)
		if err == nil || err == unix.ENOENT {
			return nil
		}
		if err != unix.EBUSY || i == 100 {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		killCgroupProcs(dir)
		time.Sleep(10 * time.Millisecond)
	}
}

// killCgroupProcs SIGKILLs the processes of a leftover container cgroup,
// thawing it first if it is frozen (a frozen process does not die).
func killCgroupProcs(dir string) {
	state := filepath.Join(dir, "freezer.state")
	if _, err := os.Stat(state); err == nil {
		os.WriteFile(state, []byte("THAWED"), 0)
	}
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range bytes.Fields(data) {
		if pid, err := strconv.Atoi(string(f)); err == nil && pid > 1 {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}
