/*
 * A coarse timer for the Go runtime's sysmon thread: see sysmon.go.
 *
 * The Makefile links husk with -Wl,--wrap=pthread_create, so every thread
 * created in the binary (the Go runtime's through runtime/cgo, and husk's
 * own C threads) is created by __wrap_pthread_create below. A build
 * without the flag (plain `go build`) never calls it and runs as before.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sys/prctl.h>

/* The timer slack of sysmon, in ns. */
#define SYSMON_SLACK_NS 1000000UL

/* Weak: defined by the linker only when it wraps pthread_create. */
extern int __real_pthread_create(pthread_t *, const pthread_attr_t *, void *(*)(void *),
				 void *) __attribute__((weak));

/* 0: not armed yet (constructors), 1: the next thread is sysmon, 2: done. */
static atomic_int state;
/* Set on the sysmon thread only. */
static _Thread_local int on_sysmon;
/* The slack sysmon was created with, which threads it creates get back. */
static unsigned long inherited_slack;
static void *(*sysmon_fn)(void *);

/* Priority 102: after fastpath.c's constructor (101), which starts husk's
 * one thread made before the Go runtime (husk_init_seal_ahead). The first
 * thread created after this is the Go runtime's first: runtime.main
 * starts sysmon before anything else, package inits included. */
__attribute__((constructor(102))) static void husk_sysmon_arm(void)
{
	atomic_store(&state, 1);
}

static void *sysmon_entry(void *arg)
{
	long slack;

	on_sysmon = 1;
	slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if (slack > 0) {
		inherited_slack = (unsigned long)slack;
		prctl(PR_SET_TIMERSLACK, SYSMON_SLACK_NS, 0, 0, 0);
	}
	return sysmon_fn(arg);
}

int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *),
			  void *arg)
{
	int expect = 1, err;

	if (atomic_compare_exchange_strong(&state, &expect, 2)) {
		sysmon_fn = fn;
		return __real_pthread_create(thread, attr, sysmon_entry, arg);
	}
	/* sysmon starts a thread when it hands a P over to a new M: that
	 * thread runs goroutines (which start the container's process, and
	 * a process inherits its creator's slack), so it gets the slack
	 * sysmon was created with, not sysmon's. */
	if (on_sysmon && inherited_slack) {
		prctl(PR_SET_TIMERSLACK, inherited_slack, 0, 0, 0);
		err = __real_pthread_create(thread, attr, fn, arg);
		prctl(PR_SET_TIMERSLACK, SYSMON_SLACK_NS, 0, 0, 0);
		return err;
	}
	return __real_pthread_create(thread, attr, fn, arg);
}
