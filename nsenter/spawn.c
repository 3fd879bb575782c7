/*
 * husk_spawn: start husk-init (or any program) with vfork and execve, for
 * the parent, from Go. syscall.ForkExec does the same but, in the child,
 * resets each of the ~65 signal handlers the Go runtime installed (a
 * sigaction each) before it restores the signal mask and execs: a signal
 * arriving in that window must not run a Go handler on the parent's memory.
 * Here the child keeps every signal blocked through execve instead, which
 * needs neither, and the program it execs unblocks them itself (husk-init
 * does, first thing). Not in husk-init's build: the parent's side only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "spawn.h"

pid_t husk_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds,
		 int *child_errno)
{
	sigset_t all, old;
	pid_t pid;

	*child_errno = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = vfork();
	if (pid == 0) {
		/* The child borrows the parent's memory until execve: only
		 * system calls, and the error written where the parent finds
		 * it. fds[i] goes to fd i; first out of the way those that
		 * would be overwritten before their turn. */
		int moved[HUSK_SPAWN_MAXFDS];
		for (int i = 0; i < nfds; i++) {
			moved[i] = fds[i];
			if (fds[i] < nfds && fds[i] != i) {
				moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, nfds);
				if (moved[i] < 0)
					goto fail;
			}
		}
		for (int i = 0; i < nfds; i++) {
			if (moved[i] == i) {
				if (fcntl(i, F_SETFD, 0) < 0)
					goto fail;
			} else if (dup2(moved[i], i) < 0) {
				goto fail;
			}
		}
		execve(path, argv, envp);
	fail:
		*child_errno = errno;
		_exit(127);
	}
	if (pid < 0)
		*child_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return pid;
}
