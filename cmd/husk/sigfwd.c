/*
 * The signal handler of husk's foreground `run` and `exec`: see sigfwd.go
 * for why it is C and not os/signal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "sigfwd.h"

static int forward_fd = -1;

/* Async-signal-safe: one write(2), errno preserved for the code it
 * interrupted. A full pipe (64 KiB of signals not yet read) drops it. */
static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	(void)!write(forward_fd, &b, 1);
	errno = saved;
}

/* kept_by_go names the signals whose Go handler stays: SIGURG (the
 * runtime's goroutine preemption) and SIGPROF (its profiler); SIGCHLD,
 * husk's own children exiting; the faults that the runtime turns into a
 * panic or a crash report (a handler here would hide a crash); and SIGKILL
 * and SIGSTOP, which no process can catch. */
static int kept_by_go(int sig)
{
	switch (sig) {
	case SIGURG:
	case SIGPROF:
	case SIGCHLD:
	case SIGILL:
	case SIGTRAP:
	case SIGBUS:
	case SIGFPE:
	case SIGSEGV:
	case SIGSYS:
	case SIGKILL:
	case SIGSTOP:
		return 1;
	}
	return 0;
}

int husk_catch_signals(int fd)
{
	struct sigaction sa = { 0 };
	int sig;

	forward_fd = fd;
	sa.sa_handler = on_signal;
	/* SA_ONSTACK: the signal may land on a thread running a goroutine,
	 * whose stack is small; the runtime gives every thread an alternate
	 * signal stack for this. */
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (sig = 1; sig < _NSIG; sig++) {
		if (kept_by_go(sig))
			continue;
		if (sigaction(sig, &sa, NULL) < 0) {
			/* The C library keeps a few real-time signals for
			 * itself (32-33 in glibc, 32-34 in musl) and refuses
			 * them: Go never forwards 32 and 33 either. */
			if (errno == EINVAL && sig >= 32 && sig < SIGRTMIN)
				continue;
			return errno;
		}
	}
	return 0;
}
