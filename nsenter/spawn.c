/*
 * husk_spawn: start husk-init (or any program) with vfork and execve, for
 * the parent, from Go. syscall.ForkExec does the same but, in the child,
 * resets each of the ~65 signal handlers the Go runtime installed (a
 * sigaction each) before it restores the signal mask and execs: a signal
 * arriving in that window must not run a Go handler on the parent's memory.
 * Here the child keeps every signal blocked through execve instead, which
 * needs neither, and the program it execs unblocks them itself (husk-init
 * does, first thing). Not in husk-init's build: the parent's side only.
 *
 * husk_spawn_into does the same with clone3(2), the child created in new
 * namespaces (CLONE_NEW*) and, with cgroupfd >= 0, in a cgroup v2
 * directory (CLONE_INTO_CGROUP): libcontainer starts a new container's
 * process that way, so that it needs no intermediate process to unshare
 * and fork it. x86-64 only (it needs a few instructions of assembly);
 * ENOSYS elsewhere.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <linux/sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "spawn.h"

/* The RLIMIT_NOFILE this process was started with, read before the Go
 * runtime raises its soft limit to the hard one (package syscall): the
 * processes husk starts get it back, as those Go's os/exec starts do (and
 * runc's since 1.2), so that a container whose config sets no such limit
 * gets its caller's, whichever way husk starts it. */
static struct rlimit start_nofile;
static int have_start_nofile;

/* In the husk binary a thread that fastpath.c's earlier constructor
 * starts may spawn before this runs (the stage made ahead): the flag is
 * published atomically, and until it is set nothing has raised the limit
 * to give back. */
__attribute__((constructor)) static void record_start_nofile(void)
{
	if (getrlimit(RLIMIT_NOFILE, &start_nofile) == 0)
		__atomic_store_n(&have_start_nofile, 1, __ATOMIC_RELEASE);
}

struct spawn_req {
	const char *path;
	char *const *argv, *const *envp;
	const int *fds;
	int nfds;
	int *child_errno;
};

/* exec_child puts fds[i] at fd i and execs: the child's side of both
 * spawns. It runs on memory it shares with the parent (CLONE_VM), so only
 * system calls, and the error written where the parent finds it. */
static void __attribute__((noreturn)) exec_child(const struct spawn_req *r)
{
	int moved[HUSK_SPAWN_MAXFDS];

	memcpy(moved, r->fds, (size_t)r->nfds * sizeof(int));
	if (husk_place_fds(moved, r->nfds) < 0)
		goto fail;
	/* The system call: musl's setrlimit would have every thread of the
	 * process (the parent's, in this shared memory) set it too. */
	if (__atomic_load_n(&have_start_nofile, __ATOMIC_ACQUIRE) &&
	    syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &start_nofile, NULL) < 0)
		goto fail;
	execve(r->path, r->argv, r->envp);
fail:
	*r->child_errno = errno;
	_exit(127);
}

pid_t husk_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds,
		 int *child_errno)
{
	struct spawn_req r = {path, argv, envp, fds, nfds, child_errno};
	sigset_t all, old;
	pid_t pid;

	*child_errno = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = vfork();
	if (pid == 0)
		exec_child(&r);
	if (pid < 0)
		*child_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return pid;
}

#if defined(__x86_64__)
/* clone3_vfork is clone3(2) for a child that shares the caller's memory
 * and runs fn(arg) on the stack given in args, which fn never returns
 * from. The child starts at the instruction after the system call with
 * its stack pointer at the top of that stack, so no C code may run
 * between the two: hence assembly. */
static pid_t clone3_vfork(struct clone_args *args, void (*fn)(const struct spawn_req *),
			  const struct spawn_req *arg)
{
	register long rax __asm__("rax") = SYS_clone3;
	register struct clone_args *rdi __asm__("rdi") = args;
	register long rsi __asm__("rsi") = sizeof(*args);
	register void (*r12)(const struct spawn_req *) __asm__("r12") = fn;
	register const struct spawn_req *r13 __asm__("r13") = arg;

	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "mov %%r13, %%rdi\n\t"
			 "call *%%r12\n\t"
			 "ud2\n"
			 "1:"
			 : "+r"(rax)
			 : "r"(rdi), "r"(rsi), "r"(r12), "r"(r13)
			 : "rcx", "r11", "memory");
	return (pid_t)rax;
}

pid_t husk_spawn_into(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds,
		      unsigned long long flags, int cgroupfd, int *child_errno)
{
	struct spawn_req r = {path, argv, envp, fds, nfds, child_errno};
	/* The child's stack, in this frame: the parent stays suspended
	 * (CLONE_VFORK) until the child has exec'd or died. */
	static const size_t stack_size = 32768;
	char stack[32768] __attribute__((aligned(16)));
	struct clone_args args;
	sigset_t all, old;
	long ret;

	*child_errno = 0;
	memset(&args, 0, sizeof(args));
	args.flags = CLONE_VM | CLONE_VFORK | flags;
	args.exit_signal = SIGCHLD;
	args.stack = (unsigned long long)(uintptr_t)stack;
	args.stack_size = stack_size;
	if (cgroupfd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (unsigned long long)cgroupfd;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = clone3_vfork(&args, exec_child, &r);
	if (ret < 0) {
		*child_errno = (int)-ret;
		ret = -1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return (pid_t)ret;
}

#else
pid_t husk_spawn_into(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds,
		      unsigned long long flags, int cgroupfd, int *child_errno)
{
	(void)path, (void)argv, (void)envp, (void)fds, (void)nfds, (void)flags, (void)cgroupfd;
	*child_errno = ENOSYS;
	return -1;
}

#endif
