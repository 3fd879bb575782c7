// Command huskbench times husk against runc and crun on the same busybox
// bundle, in one run and interleaved (one of each per round, in an order
// that changes every round), so that a slow moment of the machine, or the
// kernel still tearing down the previous container, hits every runtime
// alike.
//
// It measures: `run /bin/true` in the foreground; the create → start →
// wait → delete cycle; `exec /bin/true` into a running container; `state`;
// a batch of containers started with `run -d` then killed and deleted; the
// peak RSS of the runtime process during `run`; and the syscalls of `run`
// counted by `strace -f -c`. It prints a table of medians, minimums and
// maximums with the husk/runc and husk/crun ratios of the medians, and
// writes every sample to a JSON file.
//
// crun 1.8 refuses this host's hybrid cgroup layout (cgroup2 mounted on
// /sys/fs/cgroup/unified with only hugetlb), so the program re-executes
// itself in a private mount namespace (`unshare --mount --propagation
// private`) and there bind-mounts an empty file over
// /sys/fs/cgroup/unified/cgroup.controllers; the three runtimes all run in
// that namespace, and the host's mounts are never changed.
//
// Every container gets the absolute cgroup path /husk-bench-<random>/<id>:
// a relative or empty path would put runc's container inside the caller's
// own cgroup. Containers, cgroups and temporary directories are removed at
// the end, also after a failure or an interrupt.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
)

// Environment variables the outer process hands to itself re-executed in
// the private mount namespace.
const (
	envInner    = "HUSKBENCH_INNER"
	envWork     = "HUSKBENCH_WORK"
	envCgParent = "HUSKBENCH_CGROUP_PARENT"
)

// options are the command-line settings.
type options struct {
	n          int
	warmup     int
	block      int
	batchN     int
	batchSize  int
	out        string
	husk       string
	runc       string
	crun       string
	busybox    string
	strace     string
	unshare    string
	skipStrace bool
}

func parseFlags() *options {
	o := &options{}
	flag.IntVar(&o.n, "n", 30, "timed repetitions of each operation per runtime")
	flag.IntVar(&o.warmup, "warmup", 2, "untimed repetitions of each operation per runtime before the timed ones")
	flag.IntVar(&o.block, "block", 1, "runs of an operation per runtime in a row; with more than 1, the first of each block (the one that follows another runtime's containers) is not timed")
	flag.IntVar(&o.batchN, "batch-n", 3, "timed repetitions of the batch operation per runtime")
	flag.IntVar(&o.batchSize, "batch-size", 50, "containers per batch")
	flag.StringVar(&o.out, "o", "bench-results.json", "JSON file receiving every sample")
	flag.StringVar(&o.husk, "husk", "./husk", "husk binary")
	flag.StringVar(&o.runc, "runc", "/usr/sbin/runc", "runc binary")
	flag.StringVar(&o.crun, "crun", "/usr/bin/crun", "crun binary")
	flag.StringVar(&o.busybox, "busybox", "/bin/busybox", "static busybox copied into the bundle's rootfs")
	flag.StringVar(&o.strace, "strace", "strace", "strace binary, for the syscall count")
	flag.StringVar(&o.unshare, "unshare", "unshare", "unshare binary (util-linux), for the private mount namespace")
	flag.BoolVar(&o.skipStrace, "no-strace", false, "skip the syscall count")
	flag.Parse()
	return o
}

func main() {
	o := parseFlags()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "huskbench: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if o.n < 1 || o.warmup < 0 || o.block < 1 || o.batchN < 1 || o.batchSize < 1 {
		fmt.Fprintln(os.Stderr, "huskbench: -n, -block, -batch-n and -batch-size must be at least 1, -warmup at least 0")
		os.Exit(2)
	}
	var err error
	if os.Getenv(envInner) == "1" {
		err = inner(o)
	} else {
		err = outer(o)
	}
	if errors.Is(err, errInterrupted) {
		if os.Getenv(envInner) == "1" {
			fmt.Fprintln(os.Stderr, "huskbench:", err)
		}
		os.Exit(130)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "huskbench:", err)
		os.Exit(1)
	}
}

// outer prepares the work directory and the cgroup parent name, runs the
// benchmark in a private mount namespace and, whatever happened there,
// removes what is left: cgroups under the parent in every hierarchy and the
// work directory.
func outer(o *options) error {
	if os.Geteuid() != 0 {
		return errors.New("run as root: the runtimes create namespaces and cgroups")
	}
	for _, p := range []*string{&o.husk, &o.runc, &o.crun, &o.busybox} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", *p, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("find %w", err)
		}
		*p = abs
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("random cgroup name: %w", err)
	}
	cgParent := "/husk-bench-" + hex.EncodeToString(rnd[:])
	work, err := os.MkdirTemp("", "huskbench-")
	if err != nil {
		return fmt.Errorf("create work directory: %w", err)
	}
	defer func() {
		if err := removeCgroupTree(cgParent); err != nil {
			fmt.Fprintln(os.Stderr, "huskbench: cleanup:", err)
		}
		// The bind mount lives only in the inner namespace, which is gone;
		// never recurse into a directory that still has a mount under it.
		if mounted(work) {
			fmt.Fprintf(os.Stderr, "huskbench: cleanup: %s still has mounts, left in place\n", work)
			return
		}
		if err := os.RemoveAll(work); err != nil {
			fmt.Fprintln(os.Stderr, "huskbench: cleanup:", err)
		}
	}()

	out, err := filepath.Abs(o.out)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", o.out, err)
	}
	args := []string{"--mount", "--propagation", "private", "--", self,
		"-n", fmt.Sprint(o.n), "-warmup", fmt.Sprint(o.warmup), "-block", fmt.Sprint(o.block),
		"-batch-n", fmt.Sprint(o.batchN), "-batch-size", fmt.Sprint(o.batchSize),
		"-o", out, "-husk", o.husk, "-runc", o.runc, "-crun", o.crun,
		"-busybox", o.busybox, "-strace", o.strace, fmt.Sprintf("-no-strace=%t", o.skipStrace)}
	cmd := exec.Command(o.unshare, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envInner+"=1", envWork+"="+work, envCgParent+"="+cgParent)

	// The inner process stops after the current operation and cleans up
	// when it gets one of these signals (a Ctrl-C reaches it directly too,
	// which is harmless); here they must not kill us before our own
	// cleanup.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", o.unshare, err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ee.ExitCode() == 130 {
				return errInterrupted
			}
			// The inner process already printed its error.
			return errors.New("benchmark failed")
		}
		return fmt.Errorf("run %s: %w", o.unshare, err)
	}
	return nil
}

// inner runs in the private mount namespace.
func inner(o *options) error {
	work, cgParent := os.Getenv(envWork), os.Getenv(envCgParent)
	if work == "" || !strings.HasPrefix(cgParent, "/husk-bench-") {
		return errors.New("inner run without its work directory or cgroup parent")
	}
	// The benchmark keeps out of the way of what it times: its work is a
	// sequence (one P), and its garbage collector, whose workers would
	// take a CPU from the runtime being timed, stays off (the samples are
	// a few KB). husk sets up a container on both CPUs of the 2-CPU test
	// machine: with two Ps and the collector on, its run measured
	// 0.25-1.1 ms slower in three of four pairs of benchmark runs (and
	// faster in one, at a noisy moment); crun's moved either way.
	debug.SetGCPercent(-1)
	runtime.GOMAXPROCS(1)
	b, err := newBench(o, work, cgParent)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "huskbench: %v: stopping after the current operation\n", s)
		b.stop.Store(true)
	}()

	err = b.setup()
	if err == nil {
		err = b.runAll()
	}
	if cerr := b.cleanup(); cerr != nil {
		fmt.Fprintln(os.Stderr, "huskbench: cleanup:", cerr)
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	rep := b.report()
	printTable(os.Stdout, rep)
	if err := writeJSON(o.out, rep); err != nil {
		return err
	}
	fmt.Printf("\nresults written to %s\n", o.out)
	return nil
}
