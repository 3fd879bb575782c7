/*
 * husk-init's bytes, compiled in from husk_init.h when the build made one
 * (scripts/build-init-helper.sh; a plain `go build` has none), and the
 * sealed memfd husk executes them from: see inithelper.go.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "image.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif

#if __has_include("husk_init.h")
static const unsigned char image[] = {
#include "husk_init.h"
};
static const size_t image_size = sizeof(image);
#else
static const unsigned char image[1];
static const size_t image_size = 0;
#endif

size_t husk_init_size(void)
{
	return image_size;
}

/* husk_init_memfd returns a sealed memfd holding husk-init (close-on-exec,
 * executable, no write, no resize), or -1 and *err. */
int husk_init_memfd(int *err)
{
	size_t off = 0;
	int fd;

	/* MFD_EXEC says so explicitly to kernels (6.3+) that also know
	 * non-executable memfds; older ones refuse the flag. */
	fd = (int)syscall(SYS_memfd_create, "husk-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (fd < 0 && errno == EINVAL)
		fd = (int)syscall(SYS_memfd_create, "husk-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		goto fail;
	while (off < image_size) {
		ssize_t n = write(fd, image + off, image_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		goto fail;
	return fd;
fail:
	*err = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	return -1;
}

/* The copy made ahead: started before the Go runtime by husk's constructor
 * for the commands that start a container process, taken by Go once. The
 * thread is detached and posts done when it has made the copy: joining it
 * would unmap its stack then, which in a process running on two CPUs
 * costs a TLB shootdown on the Go side; it unmaps it itself on its way
 * out instead. */
static struct {
	int started, taken, fd, err;
	long long start_ns, end_ns; /* asked for, made: CLOCK_REALTIME, for --trace */
	sem_t done, go;
	void (*then)(int fd);
	int published;
} ahead;

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* husk_init_publish_sealed lets husk_init_take_sealed have the copy made
 * ahead: its thread calls it, or the then it runs, once it no longer uses
 * the copy itself. */
void husk_init_publish_sealed(void)
{
	if (!ahead.published) {
		ahead.published = 1;
		sem_post(&ahead.done);
	}
}

static void *seal_main(void *arg)
{
	(void)arg;
	/* Until its creator has set its CPUs: a detached thread that ended
	 * would leave it a freed thread to set them on. */
	while (sem_wait(&ahead.go) < 0 && errno == EINTR)
		;
	ahead.fd = husk_init_memfd(&ahead.err);
	ahead.end_ns = now_ns();
	if (ahead.then)
		ahead.then(ahead.fd);
	husk_init_publish_sealed();
	return NULL;
}

/* keep_off_this_cpu lets thread run on every CPU the process may use but
 * the one the caller runs on, when there is another. A new thread starts
 * on its creator's CPU unless the kernel finds another idle at that
 * moment, and husk is started by a process that is often still running
 * on the other CPU then (it returns from fork or posix_spawn); once that
 * CPU is idle, the scheduler does not move the waiting thread over (an
 * idle CPU pulls work only after it has been idle for a while), so the
 * copy was made only when the runtime's start, which keeps this CPU
 * (startcpu.c pins it), let it: ~0.7 ms after it was asked for instead of
 * ~0.15 ms, and preempting the runtime's start for its ~0.1 ms of work. */
static void keep_off_this_cpu(pthread_t thread)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof(set), &set) < 0 || !CPU_ISSET(cpu, &set) ||
	    CPU_COUNT(&set) < 2)
		return;
	CPU_CLR(cpu, &set);
	pthread_setaffinity_np(thread, sizeof(set), &set);
}

/* husk_init_seal_ahead starts making the sealed copy on a thread of its
 * own, which then runs then (when not NULL: more work for the CPU the Go
 * runtime's start leaves idle). Call it before any other thread exists (a
 * constructor). It returns whether the thread started: without one, then
 * never runs. */
int husk_init_seal_ahead(void (*then)(int fd))
{
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;

	if (!image_size || ahead.started || sem_init(&ahead.done, 0, 0) < 0 || sem_init(&ahead.go, 0, 0) < 0)
		return 0;
	ahead.then = then;
	/* Every signal blocked: a signal for husk must reach a thread of the
	 * Go runtime's, not this one. */
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* The phase starts when it is asked for: the thread may wait for a
	 * CPU (the other one may be busy, the runtime's start keeps this
	 * one). */
	ahead.start_ns = now_ns();
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ahead.started = pthread_create(&thread, &attr, seal_main, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ahead.started) {
		keep_off_this_cpu(thread);
		sem_post(&ahead.go);
	}
	pthread_attr_destroy(&attr);
	return ahead.started;
}

/* husk_init_take_sealed waits for the copy husk_init_seal_ahead started and
 * returns it, and when the thread made it (*start_ns, *end_ns): -1 when
 * none was started, it failed, or another call took it. */
int husk_init_take_sealed(long long *start_ns, long long *end_ns)
{
	if (!ahead.started || __atomic_exchange_n(&ahead.taken, 1, __ATOMIC_ACQ_REL))
		return -1;
	while (sem_wait(&ahead.done) < 0 && errno == EINTR)
		;
	*start_ns = ahead.start_ns;
	*end_ns = ahead.end_ns;
	return ahead.fd;
}

/* husk_init_sealing_ahead says whether husk_init_seal_ahead started a copy
 * (ahead.started is written before the Go runtime starts only). */
int husk_init_sealing_ahead(void)
{
	return ahead.started;
}
