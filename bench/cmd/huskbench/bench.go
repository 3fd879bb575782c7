package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/specconv"
)

var errInterrupted = errors.New("interrupted")

// rt is one runtime under test, with its own state root.
type rt struct {
	name string
	path string
	root string
	// errf receives the runtime's stderr: a regular file, never a pipe, so
	// that a detached container holding it never makes us wait, and a
	// failure can still be explained.
	errf *os.File
	// live are the containers created and not yet deleted, removed with
	// `delete --force` at the end.
	live map[string]bool
}

// bench holds the state of one benchmark run.
type bench struct {
	o        *options
	work     string
	rootfs   string
	cgParent string
	spec     *specs.Spec
	rts      []*rt
	devnull  *os.File
	seq      int
	samples  map[string][]float64 // key: op + "\x00" + runtime
	ops      []opInfo
	stop     atomic.Bool
}

// opInfo describes a measured quantity, in the order it is reported.
type opInfo struct {
	name string
	unit string
	desc string
}

func newBench(o *options, work, cgParent string) (*bench, error) {
	b := &bench{o: o, work: work, cgParent: cgParent, samples: map[string][]float64{}}
	for _, r := range []struct{ name, path string }{{"husk", o.husk}, {"runc", o.runc}, {"crun", o.crun}} {
		b.rts = append(b.rts, &rt{name: r.name, path: r.path, root: filepath.Join(work, "root-"+r.name), live: map[string]bool{}})
	}
	return b, nil
}

// setup hides cgroup.controllers of the unified hierarchy from crun, builds
// the rootfs and the base spec, and opens the runtimes' state roots.
func (b *bench) setup() error {
	var err error
	if b.devnull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
		return fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	if err := hideUnifiedControllers(b.work); err != nil {
		return err
	}
	b.rootfs = filepath.Join(b.work, "rootfs")
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(b.rootfs, d), 0o755); err != nil {
			return fmt.Errorf("create rootfs: %w", err)
		}
	}
	if err := copyFile(b.o.busybox, filepath.Join(b.rootfs, "bin", "busybox")); err != nil {
		return err
	}
	for _, applet := range []string{"true", "sleep", "sh"} {
		if err := os.Symlink("busybox", filepath.Join(b.rootfs, "bin", applet)); err != nil {
			return fmt.Errorf("create rootfs: %w", err)
		}
	}
	for _, d := range []string{"bundles", "pids", "strace"} {
		if err := os.Mkdir(filepath.Join(b.work, d), 0o755); err != nil {
			return fmt.Errorf("create work directory: %w", err)
		}
	}

	// One config for all three runtimes: runc's default spec (namespaces,
	// mounts, masked and read-only paths; no seccomp), no terminal, and
	// ociVersion 1.0.2, the newest crun 1.8 accepts.
	b.spec = specconv.Example()
	b.spec.Version = "1.0.2"
	b.spec.Hostname = "bench"
	b.spec.Process.Terminal = false
	b.spec.Root.Path = b.rootfs

	for _, r := range b.rts {
		if err := os.Mkdir(r.root, 0o700); err != nil {
			return fmt.Errorf("create state root: %w", err)
		}
		if r.errf, err = os.OpenFile(filepath.Join(b.work, "stderr-"+r.name), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
			return fmt.Errorf("create stderr file: %w", err)
		}
	}
	return nil
}

// hideUnifiedControllers bind-mounts an empty file over
// /sys/fs/cgroup/unified/cgroup.controllers in this (private) mount
// namespace. On a hybrid host crun 1.8 reads that file and fails when it
// lists a controller that is also mounted as v1; empty, crun treats the
// unified hierarchy as controller-less. runc and husk do not care.
func hideUnifiedControllers(work string) error {
	const target = "/sys/fs/cgroup/unified/cgroup.controllers"
	if _, err := os.Stat(target); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // not a hybrid host
		}
		return fmt.Errorf("stat %s: %w", target, err)
	}
	empty := filepath.Join(work, "empty-cgroup.controllers")
	if err := os.WriteFile(empty, nil, 0o444); err != nil {
		return fmt.Errorf("create %s: %w", empty, err)
	}
	// The namespace was made private by unshare; make sure, so that the
	// bind mount can never propagate to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if err := unix.Mount(empty, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", empty, target, err)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// newContainer picks an unused container ID and writes its bundle: the base
// spec with args and the absolute cgroup path /husk-bench-<random>/<id>.
// It is never timed.
func (b *bench) newContainer(r *rt, op string, args ...string) (id, bundle string, err error) {
	b.seq++
	id = fmt.Sprintf("%s-%s-%d", r.name, op, b.seq)
	bundle = filepath.Join(b.work, "bundles", id)
	if err := os.Mkdir(bundle, 0o755); err != nil {
		return "", "", fmt.Errorf("create bundle: %w", err)
	}
	b.spec.Process.Args = args
	b.spec.Linux.CgroupsPath = b.cgParent + "/" + id
	data, err := json.Marshal(b.spec)
	if err != nil {
		return "", "", fmt.Errorf("encode config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
		return "", "", fmt.Errorf("write config: %w", err)
	}
	return id, bundle, nil
}

// command returns the runtime invoked with its state root and args, stdin
// and stdout on /dev/null, stderr on its file, in its own process group so
// that a Ctrl-C meant for the benchmark does not hit an operation halfway.
func (b *bench) command(r *rt, args ...string) *exec.Cmd {
	cmd := exec.Command(r.path, append([]string{"--root", r.root}, args...)...)
	b.stdio(cmd, r)
	return cmd
}

func (b *bench) stdio(cmd *exec.Cmd, r *rt) {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = b.devnull, b.devnull, r.errf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// do runs the runtime and returns how long it took, from fork to reaping.
func (b *bench) do(r *rt, args ...string) (time.Duration, error) {
	if err := r.errf.Truncate(0); err != nil {
		return 0, fmt.Errorf("truncate stderr file: %w", err)
	}
	cmd := b.command(r, args...)
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, r.failure(args, err)
	}
	return d, nil
}

// failure is the error of a failed runtime command, with what it wrote on
// stderr.
func (r *rt) failure(args []string, err error) error {
	msg, _ := os.ReadFile(r.errf.Name())
	return fmt.Errorf("%s %s: %w: %s", r.name, strings.Join(args, " "), err, strings.TrimSpace(string(msg)))
}

// readPid reads a --pid-file.
func readPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: bad pid %q", path, data)
	}
	return pid, nil
}

// startDetached runs `run -d` for a container running args and returns its
// ID and a pidfd of its init, opened while the runtime's state still names
// the process (a pidfd cannot be fooled by pid reuse).
func (b *bench) startDetached(r *rt, op string, args ...string) (string, int, error) {
	id, bundle, err := b.newContainer(r, op, args...)
	if err != nil {
		return "", -1, err
	}
	pidFile := filepath.Join(b.work, "pids", id)
	r.live[id] = true
	if _, err := b.do(r, "run", "-d", "--bundle", bundle, "--pid-file", pidFile, id); err != nil {
		return "", -1, err
	}
	pidfd, err := openPidfd(pidFile)
	if err != nil {
		return "", -1, err
	}
	return id, pidfd, nil
}

func openPidfd(pidFile string) (int, error) {
	pid, err := readPid(pidFile)
	if err != nil {
		return -1, err
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	return fd, nil
}

// checkCgroup makes sure the runtime put the container where its config
// says, /husk-bench-<random>/<id> in every v1 hierarchy, and not, say,
// inside the benchmark's own cgroup.
func (b *bench) checkCgroup(r *rt, id string) error {
	pid, err := readPid(filepath.Join(b.work, "pids", id))
	if err != nil {
		return err
	}
	path := "/proc/" + strconv.Itoa(pid) + "/cgroup"
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	want := b.cgParent + "/" + id
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		// hierarchy-ID:controllers:path; the unified line has no
		// controllers and on a hybrid host runtimes differ about it.
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && f[1] != "" && f[2] != want {
			return fmt.Errorf("%s put container %s in cgroup %s:%s, want %s", r.name, id, f[1], f[2], want)
		}
	}
	return nil
}

// stopContainer kills a container's init, waits for it through its pidfd,
// and deletes the container.
func (b *bench) stopContainer(r *rt, id string, pidfd int) error {
	defer unix.Close(pidfd)
	if _, err := b.do(r, "kill", id, "KILL"); err != nil {
		return err
	}
	if err := waitPidfd(pidfd); err != nil {
		return err
	}
	if _, err := b.do(r, "delete", id); err != nil {
		return err
	}
	delete(r.live, id)
	return nil
}

// waitPidfd blocks until the process of pidfd has exited: a pidfd becomes
// readable when its process terminates. The process is reaped if it is our
// child (it is not when the runtime that started it has exited: it was
// reparented to init).
func waitPidfd(pidfd int) error {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return fmt.Errorf("poll pidfd: %w", err)
		}
	}
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PIDFD, pidfd, &info, unix.WEXITED|unix.WNOHANG, nil)
	if err != nil && err != unix.ECHILD {
		return fmt.Errorf("waitid pidfd: %w", err)
	}
	return nil
}

// cleanup deletes every container still known, then the cgroups under the
// parent in every hierarchy.
func (b *bench) cleanup() error {
	var errs []error
	for _, r := range b.rts {
		for id := range r.live {
			if r.errf == nil {
				break
			}
			if _, err := b.do(r, "delete", "--force", id); err != nil {
				errs = append(errs, err)
				continue
			}
			delete(r.live, id)
		}
		if r.errf != nil {
			r.errf.Close()
		}
	}
	if err := removeCgroupTree(b.cgParent); err != nil {
		errs = append(errs, err)
	}
	if b.devnull != nil {
		b.devnull.Close()
	}
	return errors.Join(errs...)
}
