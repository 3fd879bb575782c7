package main

// Why sysmon gets a coarse timer.
//
// The Go runtime's sysmon thread wakes up every 20 µs while a goroutine
// runs or sits in a system call, and backs off only after 50 wake-ups in a
// row with nothing to do. Here a 20 µs sleep lasts ~100 µs (the default
// 50 µs timer slack, and the VM's timers), so sysmon never backs off
// during a `husk run` (~6 ms), wakes ~60 times, and, the other CPU being
// busy with the container's process, mostly preempts husk's main thread
// to do it: ~0.6 ms of every run on the test machine, ~9%.
//
// sysmon.c gives that one thread a timer slack of 1 ms (prctl
// PR_SET_TIMERSLACK), which lets the kernel delay its wake-ups by as much;
// everything else sysmon does is unchanged, only later. husk needs none of
// it promptly: it never runs long goroutines that need preempting, its few
// background goroutines run while the main one waits on a channel, and the
// work it does while the container's process sets itself up runs on the
// main goroutine (libcontainer.Create stages the state file there), not on
// one that waits for sysmon to take the P from a blocking system call.
//
// The thread is found by how it is created: husk is linked with
// -Wl,--wrap=pthread_create (Makefile), so sysmon.c's __wrap_pthread_create
// sees every thread created in the process, and runtime.main creates sysmon
// first, before any package's init; the only thread created before that is
// husk's own (fastpath.c's constructor), which sysmon.c's constructor,
// running after it, lets by. A thread inherits the slack of the thread
// that creates it, and so does a process: the threads sysmon creates (to
// run goroutines when it hands a P over) get the slack sysmon was created
// with, so that neither they nor the container's process, hooks or any
// child husk starts run with sysmon's. A build without the flag (`go
// build`) never calls the wrapper and runs as before.
