/*
 * A network namespace made ahead, on a thread of its own: see netns.go.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "execplan.h"
#include "netns.h"

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

/* husk_netns_start starts the thread; NULL (and *err) when it cannot. */
struct husk_netns *husk_netns_start(int *err)
{
	struct husk_netns *n = calloc(1, sizeof(*n));
	pthread_attr_t attr;
	sigset_t all, old;

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
 * and finished making it; it frees n. */
int husk_netns_finish(struct husk_netns *n, int *err, long long times[2])
{
	int fd;

	pthread_join(n->thread, NULL);
	fd = n->fd;
	*err = n->err;
	times[0] = n->start_ns;
	times[1] = n->end_ns;
	free(n);
	return fd;
}
