package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// measure runs f warmup+n times for each runtime, interleaved, and records
// the values f returns (one per name in ops) of the last n rounds.
//
// Each round runs the runtimes in an order of its own (roundOrder): a
// container's end leaves the kernel work to do for a while after its
// runtime has returned (its network namespace is torn down by a kworker),
// which slows whatever starts next on a 2-CPU machine. In a fixed order
// one runtime would always pay for the same other one's containers.
//
// With -block N (N > 1; for the timed operations, not the batch, RSS and
// syscall counts) a runtime runs N times in a row in a round, and the
// first of those, which pays for another runtime's leftovers, is not timed:
// each timed run follows one of its own runtime. That is the fair way to
// compare two builds of husk (one in runc's place) when one leaves the
// kernel more or less work after it exits than the other: one run each in
// turn charges that work to the other build.
func (b *bench) measure(ops []opInfo, n, warmup, block int, f func(r *rt) ([]float64, error)) error {
	for _, op := range ops {
		b.ops = append(b.ops, op)
	}
	fmt.Fprintf(os.Stderr, "huskbench: %s (%d warm-up + %d rounds)\n", ops[0].name, warmup, n)
	timed := max(block-1, 1)
	rounds := warmup + (n+timed-1)/timed
	kept := map[string]int{}
	for i := 0; i < rounds; i++ {
		for _, r := range roundOrder(b.rts, i) {
			for k := 0; k < block; k++ {
				if b.stop.Load() {
					return errInterrupted
				}
				vals, err := f(r)
				if err != nil {
					return fmt.Errorf("%s: %w", ops[0].name, err)
				}
				if i < warmup || (block > 1 && k == 0) || kept[r.name] == n {
					continue
				}
				kept[r.name]++
				for j, op := range ops {
					key := op.name + "\x00" + r.name
					b.samples[key] = append(b.samples[key], vals[j])
				}
			}
		}
	}
	return nil
}

func (b *bench) runAll() error {
	n, w := b.o.n, b.o.warmup
	steps := []func() error{
		func() error {
			return b.measure([]opInfo{{"run", "ms", "run /bin/true in the foreground"}}, n, w, b.o.block, b.opRun)
		},
		func() error {
			return b.measure([]opInfo{
				{"cycle", "ms", "create, start, wait (pidfd), delete of /bin/true"},
				{"create", "ms", "create (part of cycle)"},
				{"start", "ms", "start (part of cycle)"},
				{"delete", "ms", "delete of the stopped container (part of cycle)"},
			}, n, w, b.o.block, b.opCycle)
		},
		b.execAndState,
		func() error {
			name := fmt.Sprintf("batch%d", b.o.batchSize)
			return b.measure([]opInfo{{name, "ms", fmt.Sprintf("%d × run -d sleep, then kill + delete each (wall time)", b.o.batchSize)}},
				b.o.batchN, min(w, 1), 1, b.opBatch)
		},
		func() error {
			return b.measure([]opInfo{
				{"rss", "MiB", "peak RSS of the runtime process during run (VmHWM at exit)"},
				{"rss-wait4", "MiB", "wait4 ru_maxrss of run: includes the pre-exec image of the forking process and the reaped children"},
			}, n, w, 1, b.opRSS)
		},
	}
	if !b.o.skipStrace {
		steps = append(steps, func() error {
			return b.measure([]opInfo{{"syscalls", "calls", "syscalls of run /bin/true, strace -f -c"}}, n, min(w, 1), 1, b.opStrace)
		})
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) opRun(r *rt) ([]float64, error) {
	id, bundle, err := b.newContainer(r, "run", "/bin/true")
	if err != nil {
		return nil, err
	}
	r.live[id] = true
	d, err := b.do(r, "run", "--bundle", bundle, id)
	if err != nil {
		return nil, err
	}
	delete(r.live, id) // run deletes the container when it exits
	return []float64{ms(d)}, nil
}

func (b *bench) opCycle(r *rt) ([]float64, error) {
	id, bundle, err := b.newContainer(r, "cycle", "/bin/true")
	if err != nil {
		return nil, err
	}
	pidFile := filepath.Join(b.work, "pids", id)
	r.live[id] = true
	t0 := time.Now()
	if _, err := b.do(r, "create", "--bundle", bundle, "--pid-file", pidFile, id); err != nil {
		return nil, err
	}
	t1 := time.Now()
	pidfd, err := openPidfd(pidFile)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pidfd)
	t2 := time.Now()
	if _, err := b.do(r, "start", id); err != nil {
		return nil, err
	}
	t3 := time.Now()
	if err := waitPidfd(pidfd); err != nil {
		return nil, err
	}
	t4 := time.Now()
	if _, err := b.do(r, "delete", id); err != nil {
		return nil, err
	}
	t5 := time.Now()
	delete(r.live, id)
	return []float64{ms(t5.Sub(t0)), ms(t1.Sub(t0)), ms(t3.Sub(t2)), ms(t5.Sub(t4))}, nil
}

// execAndState measures exec and state against one running container per
// runtime, started before and removed after (untimed).
func (b *bench) execAndState() error {
	ids := map[*rt]string{}
	pidfds := map[*rt]int{}
	defer func() {
		for r, id := range ids {
			if err := b.stopContainer(r, id, pidfds[r]); err != nil {
				fmt.Fprintln(os.Stderr, "huskbench:", err)
			}
		}
	}()
	for _, r := range b.rts {
		id, pidfd, err := b.startDetached(r, "exec", "sleep", "1000")
		if err != nil {
			return fmt.Errorf("exec: %w", err)
		}
		ids[r], pidfds[r] = id, pidfd
		if err := b.checkCgroup(r, id); err != nil {
			return err
		}
	}
	n, w := b.o.n, b.o.warmup
	err := b.measure([]opInfo{{"exec", "ms", "exec /bin/true into a running container"}}, n, w, b.o.block, func(r *rt) ([]float64, error) {
		d, err := b.do(r, "exec", ids[r], "/bin/true")
		return []float64{ms(d)}, err
	})
	if err != nil {
		return err
	}
	return b.measure([]opInfo{{"state", "ms", "state of a running container"}}, n, w, b.o.block, func(r *rt) ([]float64, error) {
		d, err := b.do(r, "state", ids[r])
		return []float64{ms(d)}, err
	})
}

// opBatch starts batchSize detached containers one after the other, then
// kills and deletes each; the whole batch is timed. Bundles are written
// before the clock starts.
func (b *bench) opBatch(r *rt) ([]float64, error) {
	type ctr struct {
		id, bundle, pidFile string
		pidfd               int
	}
	ctrs := make([]ctr, b.o.batchSize)
	for i := range ctrs {
		id, bundle, err := b.newContainer(r, "batch", "sleep", "1000")
		if err != nil {
			return nil, err
		}
		ctrs[i] = ctr{id: id, bundle: bundle, pidFile: filepath.Join(b.work, "pids", id), pidfd: -1}
	}
	defer func() {
		for _, c := range ctrs {
			if c.pidfd >= 0 {
				unix.Close(c.pidfd)
			}
		}
	}()
	start := time.Now()
	for i := range ctrs {
		c := &ctrs[i]
		if b.stop.Load() {
			return nil, errInterrupted
		}
		r.live[c.id] = true
		if _, err := b.do(r, "run", "-d", "--bundle", c.bundle, "--pid-file", c.pidFile, c.id); err != nil {
			return nil, err
		}
		fd, err := openPidfd(c.pidFile)
		if err != nil {
			return nil, err
		}
		c.pidfd = fd
	}
	for _, c := range ctrs {
		if _, err := b.do(r, "kill", c.id, "KILL"); err != nil {
			return nil, err
		}
	}
	for _, c := range ctrs {
		if err := waitPidfd(c.pidfd); err != nil {
			return nil, err
		}
		if _, err := b.do(r, "delete", c.id); err != nil {
			return nil, err
		}
		delete(r.live, c.id)
	}
	return []float64{ms(time.Since(start))}, nil
}

func (b *bench) opRSS(r *rt) ([]float64, error) {
	id, bundle, err := b.newContainer(r, "rss", "/bin/true")
	if err != nil {
		return nil, err
	}
	if err := r.errf.Truncate(0); err != nil {
		return nil, fmt.Errorf("truncate stderr file: %w", err)
	}
	r.live[id] = true
	args := []string{"run", "--bundle", bundle, id}
	argv := append([]string{r.path, "--root", r.root}, args...)
	files := []uintptr{b.devnull.Fd(), b.devnull.Fd(), r.errf.Fd()}
	ownKB, rusageKB, err := tracedRun(argv, os.Environ(), files)
	if err != nil {
		return nil, r.failure(args, err)
	}
	delete(r.live, id)
	return []float64{float64(ownKB) / 1024, float64(rusageKB) / 1024}, nil
}

func (b *bench) opStrace(r *rt) ([]float64, error) {
	id, bundle, err := b.newContainer(r, "strace", "/bin/true")
	if err != nil {
		return nil, err
	}
	if err := r.errf.Truncate(0); err != nil {
		return nil, fmt.Errorf("truncate stderr file: %w", err)
	}
	out := filepath.Join(b.work, "strace", id)
	r.live[id] = true
	args := []string{"-f", "-c", "-o", out, "--", r.path, "--root", r.root, "run", "--bundle", bundle, id}
	cmd := exec.Command(b.o.strace, args...)
	b.stdio(cmd, r)
	if err := cmd.Run(); err != nil {
		return nil, r.failure(cmd.Args, err)
	}
	delete(r.live, id)
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("read strace summary: %w", err)
	}
	calls, err := straceTotalCalls(string(data))
	if err != nil {
		return nil, fmt.Errorf("strace summary %s: %w", out, err)
	}
	return []float64{float64(calls)}, nil
}

// roundOrder returns the runtimes in the order of round i: every
// permutation in turn, so that over len(rts)! rounds each runtime starts
// right after each other one (and first in a round, after the previous
// round's last) about as often.
func roundOrder(rts []*rt, i int) []*rt {
	order := slices.Clone(rts)
	// The i-th permutation, by the factorial number system.
	for k := 0; k < len(order); k++ {
		left := len(order) - k
		j := k + i%left
		i /= left
		order[k], order[j] = order[j], order[k]
	}
	return order
}
