// Package hooks runs OCI lifecycle hooks (prestart, createRuntime,
// createContainer, startContainer, poststart, poststop).
//
// Hooks are rare, so they run through os/exec. Their stdin and their
// combined stdout/stderr are memfds rather than pipes: nothing copies
// between goroutines, so Run returns as soon as the hook exits even if it
// left a daemon holding its stdout, and a hook that never reads its stdin
// cannot block the runtime however large the state is.
package hooks

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// maxOutput bounds how much of a failed hook's output goes into the error;
// the tail is kept, since that is where a failure is usually explained.
const maxOutput = 4096

// Run runs hooks of the given kind (e.g. "createRuntime") in order, each
// with the container's state JSON on stdin, and stops at the first failure.
//
// Each hook gets exactly hook.Env as its environment, hook.Args as its argv
// (args[0] is argv[0], as the runtime-spec says; with no Args, argv[0] is
// the path), and at most hook.Timeout seconds: on timeout the hook and
// every process in its process group are killed. The error names the kind,
// the hook's index and path, why it failed, and the end of its output.
func Run(kind string, hooks []specs.Hook, state []byte) error {
	for i := range hooks {
		if err := runOne(&hooks[i], state); err != nil {
			return fmt.Errorf("%s hook #%d (%s): %w", kind, i, hooks[i].Path, err)
		}
	}
	return nil
}

func runOne(h *specs.Hook, state []byte) error {
	var timeout time.Duration
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("invalid timeout %d: must be greater than zero", *h.Timeout)
		}
		timeout = time.Duration(*h.Timeout) * time.Second
	}

	stdin, err := memfd("hook-state")
	if err != nil {
		return err
	}
	defer stdin.Close()
	if _, err := stdin.Write(state); err != nil {
		return fmt.Errorf("write state to memfd: %w", err)
	}
	if _, err := stdin.Seek(0, 0); err != nil {
		return fmt.Errorf("seek state memfd: %w", err)
	}
	output, err := memfd("hook-output")
	if err != nil {
		return err
	}
	defer output.Close()

	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	env := h.Env
	if env == nil {
		// A nil Env would make os/exec pass husk's own environment.
		env = []string{}
	}
	cmd := &exec.Cmd{
		Path:   h.Path,
		Args:   args,
		Env:    env,
		Stdin:  stdin,
		Stdout: output,
		Stderr: output,
		// Its own process group, so a timeout kills what it started too.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid

	var (
		mu       sync.Mutex
		exited   bool
		timedOut bool
	)
	if timeout > 0 {
		timer := time.AfterFunc(timeout, func() {
			mu.Lock()
			defer mu.Unlock()
			if !exited {
				timedOut = true
				// Safe from PID reuse: the hook is not reaped before
				// exited is set (see waitExited below).
				_ = unix.Kill(-pid, unix.SIGKILL)
			}
		})
		defer timer.Stop()
	}
	// Wait for the exit without reaping, then mark it, then reap: the
	// timer can only signal the group while its leader's PID still
	// belongs to it.
	werr := waitExited(pid)
	mu.Lock()
	exited = true
	mu.Unlock()
	err = cmd.Wait()
	if werr != nil && err == nil {
		err = werr
	}

	if timedOut {
		err = fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		if out := tail(output); out != "" {
			return fmt.Errorf("%w: %s", err, out)
		}
		return err
	}
	return nil
}

// waitExited blocks until process pid has exited, leaving it a zombie.
func waitExited(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			if err != nil {
				return fmt.Errorf("waitid %d: %w", pid, err)
			}
			return nil
		}
	}
}

// memfd returns an anonymous, close-on-exec, in-memory file.
func memfd(name string) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// tail returns the last maxOutput bytes written to f, trimmed, with "..."
// in front when the output was cut.
func tail(f *os.File) string {
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	size := st.Size()
	off := int64(0)
	if size > maxOutput {
		off = size - maxOutput
	}
	buf := make([]byte, size-off)
	n, _ := f.ReadAt(buf, off)
	out := strings.TrimSpace(string(buf[:n]))
	if off > 0 && out != "" {
		out = "..." + out
	}
	return out
}
