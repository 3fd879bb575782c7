//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

package main

// Since Go 1.25 the runtime sizes GOMAXPROCS from the CPU limit of the
// process's cgroup: at start-up it reads /proc/self/cgroup,
// /proc/self/mountinfo and the cgroup's cpu files (~0.15 ms on the test
// machine, in every husk process), and it re-reads them in the
// background. husk commands are short-lived and run next to the
// container rather than inside a CPU limit of their own, so both are off:
// GOMAXPROCS is the number of CPUs husk may run on, as before Go 1.25.
