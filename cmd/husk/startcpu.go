package main

// #include "startcpu.h"
import "C"

import (
	"fmt"
	"slices"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/internal/rawfile"
)

// Why husk starts on one CPU.
//
// The Go runtime sets GOMAXPROCS once, before main, from the number of
// CPUs the process may run on. With a second P the runtime's own start-up
// (the garbage collector's background goroutines, started before any
// package init) starts a second thread to run them, and exit has one more
// thread to end: ~0.7 ms of a ~9 ms `husk state` on the 2-vCPU test
// machine, paid by every command. So a C constructor (startcpu.c) pins the
// process to the CPU it starts on before the runtime reads its CPU set,
// and main gives every thread the original set back before it does
// anything else (restoreStartCPUs): the container's process, hooks and
// every thread husk creates later inherit the set husk was given, as if it
// had never been pinned.
//
// GOMAXPROCS then stays 1, for every command: husk's own work is a
// sequence, and its few background goroutines (the cgroup, the state file,
// the sealed helper) run while the main one waits for the container's
// process, which runs in parallel on its own. Measured with one P per CPU
// instead, create, run and exec were no faster (waking a second thread
// often takes longer here than the work handed to it) and the peak RSS of
// `husk run` was ~0.3 MiB higher: more threads, more stacks.

// restoreStartCPUs gives every thread of husk the CPU set husk was started
// with, when startcpu.c pinned it, and returns how many CPUs that set has
// (0 when husk was not pinned).
func restoreStartCPUs() (int, error) {
	var set unix.CPUSet
	if C.husk_start_cpus(unsafe.Pointer(&set), C.size_t(unsafe.Sizeof(set))) == 0 {
		return 0, nil
	}
	// A new thread gets the CPU set of the thread that creates it: once
	// every thread has the set back, later ones have it too. A thread
	// created while this runs shows up in the next pass; the loop ends
	// with a pass that finds none it has not done.
	var done []int
	for {
		tids, err := threadIDs()
		if err != nil {
			return 0, err
		}
		fresh := false
		for _, tid := range tids {
			if slices.Contains(done, tid) {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
				return 0, fmt.Errorf("restore the CPU affinity of husk's thread %d: %w", tid, err)
			}
			done = append(done, tid)
			fresh = true
		}
		if !fresh {
			return set.Count(), nil
		}
	}
}

// threadIDs lists the threads of this process.
func threadIDs() ([]int, error) {
	names, err := rawfile.ReadDirNames("/proc/self/task")
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(names))
	for _, n := range names {
		tid, err := strconv.Atoi(n)
		if err != nil {
			return nil, fmt.Errorf("/proc/self/task: unexpected entry %q", n)
		}
		tids = append(tids, tid)
	}
	return tids, nil
}
