/*
 * husk-init: the container-side half of husk as a small static C program
 * (built with musl by scripts/build-init-helper.sh, embedded in husk by
 * package nsenter/inithelper). husk executes it, from a sealed memfd, for a
 * process whose whole set-up is a plan (nsenter/execplan.h): it runs the
 * same code as the constructor of the husk binary (nsexec.c) and execs the
 * container's program, without the ~0.4 ms of glibc's start-up (CPUID
 * probing is expensive in a VM) and without mapping husk's 6 MB binary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

extern void husk_nsexec(void);

/* make_netns is `husk-init netns`: it makes a network namespace and sends
 * an fd of it (or the errno, as an int, without one) over the socket at fd
 * 0. The husk binary runs it ahead of the container (nsenter/netns.c): a
 * process of its own, and not a thread of husk's, because while a thread
 * of husk's works in the kernel on another CPU, every copy-on-write fault
 * of the Go runtime's start costs a TLB shootdown IPI to that CPU. */
static int make_netns(void)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	int err = 0, fd = -1;
	struct iovec iov = { &err, sizeof(err) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (unshare(CLONE_NEWNET) < 0 ||
	    (fd = openat(AT_FDCWD, "/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		err = errno;
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(0, &msg, MSG_NOSIGNAL) < 0;
}

int main(int argc, char **argv)
{
	static const char msg[] = "husk-init: run by husk only, with a plan\n";
	sigset_t none;

	if (argc == 2 && !strcmp(argv[1], "netns"))
		return make_netns();

	/* husk starts this program with every signal blocked (nsenter.Spawn):
	 * it and the container's program run with none blocked. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* Returns only when there is no plan: the Go path needs the husk
	 * binary itself. */
	husk_nsexec();
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	return 1;
}
