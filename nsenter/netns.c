/*
 * A network namespace made ahead, on a thread of its own: see netns.go.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "execplan.h"
#include "netns.h"
#include "spawn.h"

struct husk_netns {
	pthread_t thread;
	int fd;
	int err;
	long long start_ns, end_ns; /* CLOCK_REALTIME, for --trace */
};

static void *netns_main(void *arg)
{
	struct husk_netns *n = arg;

	n->start_ns = xp_now_ns();
	/* The namespace is this thread's alone; the thread ends with it.
	 * openat: musl's open adds an fcntl for O_CLOEXEC. */
	if (unshare(CLONE_NEWNET) < 0 ||
	    (n->fd = openat(AT_FDCWD, "/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		n->err = errno;
	n->end_ns = xp_now_ns();
	return NULL;
}

/* The namespace made ahead: husk's constructor arms it for `run` and
 * `create` (cmd/husk/ahead.c) before the Go runtime starts; the thread that
 * makes husk-init's sealed copy then decides, from config.json, whether the
 * container will want one and, if so, runs husk-init from that copy to make
 * it (`husk-init netns`, which sends an fd of it back over a socket) while
 * the runtime starts. A process of its own rather than this thread: while
 * a thread of husk's works in the kernel on another CPU, each copy-on-write
 * fault of the runtime's start costs a TLB shootdown IPI to that CPU (~70
 * of them, ~0.3 ms, on the test machine). The first husk_netns_start takes
 * it instead of starting a thread. */
static struct {
	struct husk_netns n;
	sem_t decided, done;
	int armed, wanted, taken, sock;
	pid_t pid;
} ahead;

int husk_netns_ahead_arm(void)
{
	if (sem_init(&ahead.decided, 0, 0) < 0 || sem_init(&ahead.done, 0, 0) < 0)
		return -1;
	ahead.n.fd = -1;
	ahead.sock = -1;
	ahead.armed = 1;
	return 0;
}

void husk_netns_ahead_disarm(void)
{
	ahead.armed = 0;
}

int husk_netns_ahead_start(int exe_fd, int wanted)
{
	char path[32];
	char *argv[] = { "husk-init", "netns", NULL };
	char *envp[] = { NULL };
	int sv[2], cerr;

	ahead.n.start_ns = xp_now_ns();
	if (wanted && (exe_fd < 0 || snprintf(path, sizeof(path), "/proc/self/fd/%d", exe_fd) >= (int)sizeof(path) ||
		       socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0))
		wanted = 0;
	if (wanted) {
		/* husk-init's fd 0 is its end of the socket. */
		ahead.pid = husk_spawn(path, argv, envp, &sv[1], 1, &cerr);
		close(sv[1]);
		if (ahead.pid > 0) {
			ahead.sock = sv[0];
		} else {
			close(sv[0]);
			wanted = 0;
		}
	}
	ahead.wanted = wanted;
	sem_post(&ahead.decided);
	return wanted;
}

void husk_netns_ahead_finish(void)
{
	char buf[64];
	const char *m;
	int fd, r = xp_recv_msg(ahead.sock, "netns", buf, sizeof(buf), &fd);

	if (r == 1 && fd >= 0) {
		ahead.n.fd = fd;
	} else {
		/* The errno husk-init sent, or what went wrong here. */
		ahead.n.err = r < 0 ? errno : r == 1 && (m = strstr(buf, "\"msg\":\"")) && atoi(m + 7) > 0 ? atoi(m + 7) : EIO;
		if (fd >= 0)
			close(fd);
	}
	close(ahead.sock);
	while (waitpid(ahead.pid, NULL, 0) < 0 && errno == EINTR)
		;
	ahead.n.end_ns = xp_now_ns();
	sem_post(&ahead.done);
}

/* take_ahead returns the namespace made ahead, once; NULL when none is
 * made (or it was taken). It waits only for the decision, which comes
 * right after husk-init's copy, long before Go asks. */
static struct husk_netns *take_ahead(void)
{
	if (!ahead.armed || __atomic_exchange_n(&ahead.taken, 1, __ATOMIC_ACQ_REL))
		return NULL;
	while (sem_wait(&ahead.decided) < 0 && errno == EINTR)
		;
	return ahead.wanted ? &ahead.n : NULL;
}

/* husk_netns_start starts the thread; NULL (and *err) when it cannot. */
struct husk_netns *husk_netns_start(int *err)
{
	struct husk_netns *n = take_ahead();
	pthread_attr_t attr;
	sigset_t all, old;

	if (n)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n) {
		*err = ENOMEM;
		return NULL;
	}
	n->fd = -1;
	/* The thread starts with every signal blocked: a signal for husk
	 * must reach one of the Go runtime's threads, not this one. */
	sigfillset(&all);
	pthread_attr_init(&attr);
	/* It needs little stack; the default is husk's 1 MiB. */
	pthread_attr_setstacksize(&attr, 64 << 10);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	*err = pthread_create(&n->thread, &attr, netns_main, n);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (*err) {
		free(n);
		return NULL;
	}
	return n;
}

/* husk_netns_finish waits for the thread and returns an fd of the
 * namespace (close-on-exec), or -1 and *err, with when the thread started
 * and finished making it, and whether it was the one made ahead; it frees
 * n (unless it is that one, which is static). */
int husk_netns_finish(struct husk_netns *n, int *err, long long times[2], int *ahead_made)
{
	int fd;

	*ahead_made = n == &ahead.n;
	if (*ahead_made)
		while (sem_wait(&ahead.done) < 0 && errno == EINTR)
			;
	else
		pthread_join(n->thread, NULL);
	fd = n->fd;
	*err = n->err;
	times[0] = n->start_ns;
	times[1] = n->end_ns;
	if (!*ahead_made)
		free(n);
	return fd;
}
