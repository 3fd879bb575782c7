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
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../execplan.h"

extern void husk_nsexec(void);

/* make_netns is `husk-init netns`: it makes a network namespace and sends
 * {"type":"netns"} with an fd of it over the socket at fd 0, or without
 * one and the errno as its "msg". The husk binary runs it ahead of the
 * container (nsenter/netns.c): a process of its own, and not a thread of
 * husk's, because while a thread of husk's works in the kernel on another
 * CPU, every copy-on-write fault of the Go runtime's start costs a TLB
 * shootdown IPI to that CPU. */
static int make_netns(void)
{
	char err[16] = "";
	int fd = -1;

	if (unshare(CLONE_NEWNET) < 0 ||
	    (fd = openat(AT_FDCWD, "/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		snprintf(err, sizeof(err), "%d", errno);
	return xp_send_msg_on(0, "netns", err, fd) < 0;
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
