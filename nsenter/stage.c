/*
 * A container's namespaces made ahead, before the Go runtime starts: the
 * parent's side (husk-init's is husk_ahead_stage in nsexec.c). See
 * stage.go for why and how it is used.
 *
 * Not in husk-init's build: the husk binary's side only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "execplan.h"
#include "spawn.h"
#include "stage.h"

/* The stage made ahead: armed by husk's constructor (cmd/husk/ahead.c) for
 * `run` and `create`; the thread that makes husk-init's sealed copy then
 * decides from config.json which namespaces the container will want and,
 * when it can guess, starts husk-init from that copy to make them, on the
 * CPU the runtime's start leaves idle. A process of its own rather than
 * that thread: while a thread of husk's works in the kernel on another
 * CPU, each copy-on-write fault of the runtime's start costs a TLB
 * shootdown IPI to that CPU (~70 of them, ~0.3 ms, on the test machine). */
static struct {
	sem_t decided;
	int armed, taken, flags, sock;
	pid_t pid, tid;
	long long start_ns;
} stage;

int husk_stage_ahead_arm(void)
{
	if (sem_init(&stage.decided, 0, 0) < 0)
		return -1;
	stage.sock = -1;
	stage.armed = 1;
	return 0;
}

void husk_stage_ahead_disarm(void)
{
	stage.armed = 0;
}

int husk_stage_ahead_start(int exe_fd, int flags, const unsigned char *cpus, size_t cpus_len)
{
	static const char hex[] = "0123456789abcdef";
	char path[32], fl[16], mask[2 * 128 + 1];
	char *argv[] = { "husk-init", "ahead", fl, mask, NULL };
	char *envp[] = { NULL };
	int sv[2], cerr;
	size_t i;

	stage.start_ns = xp_now_ns();
	stage.tid = (pid_t)syscall(SYS_gettid);
	if (cpus_len > 128)
		cpus_len = 128;
	for (i = 0; i < cpus_len; i++) {
		mask[2 * i] = hex[cpus[i] >> 4];
		mask[2 * i + 1] = hex[cpus[i] & 15];
	}
	mask[2 * i] = '\0';
	if (flags && exe_fd >= 0 && snprintf(path, sizeof(path), "/proc/self/fd/%d", exe_fd) < (int)sizeof(path) &&
	    snprintf(fl, sizeof(fl), "%d", flags) < (int)sizeof(fl) &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0) {
		/* husk-init's fd 0 is its end of the socket. */
		stage.pid = husk_spawn(path, argv, envp, &sv[1], 1, &cerr);
		close(sv[1]);
		if (stage.pid > 0) {
			stage.sock = sv[0];
			stage.flags = flags;
		} else {
			close(sv[0]);
		}
	}
	sem_post(&stage.decided);
	return stage.sock >= 0;
}

/* husk_stage_take waits only for the decision, which comes right after
 * husk-init's copy, long before Go asks. */
int husk_stage_take(int *sock, int *pid, int *flags, int *tid, long long *start_ns)
{
	if (!stage.armed || __atomic_exchange_n(&stage.taken, 1, __ATOMIC_ACQ_REL))
		return -1;
	while (sem_wait(&stage.decided) < 0 && errno == EINTR)
		;
	if (stage.sock < 0)
		return -1;
	*sock = stage.sock;
	*pid = stage.pid;
	*flags = stage.flags;
	*tid = stage.tid;
	*start_ns = stage.start_ns;
	return 0;
}
