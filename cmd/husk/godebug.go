//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

package main

// Since Go 1.25 the runtime sizes GOMAXPROCS from the CPU limit of the
// process's cgroup and re-reads that limit in the background. husk
// commands are short-lived and run next to the container rather than
// inside a CPU limit of their own, so both are off: GOMAXPROCS is the
// number of CPUs husk may run on, as before Go 1.25. (Go 1.26 still reads
// /proc/self/cgroup, mountinfo and the cpu files once at start-up, to
// count whether the setting changed anything; no setting avoids that, but
// the runtime husk's Makefile builds with does not: scripts/rtoverlay.)
