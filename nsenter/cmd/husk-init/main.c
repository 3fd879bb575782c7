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
extern int husk_ahead_stage(int argc, char **argv);

int main(int argc, char **argv)
{
	static const char msg[] = "husk-init: run by husk only, with a plan\n";
	sigset_t none;

	/* The container's namespaces made ahead, before husk's Go runtime
	 * starts (nsenter/stage.go): a process of its own, and not a thread
	 * of husk's, because while a thread of husk's works in the kernel on
	 * another CPU, every copy-on-write fault of the runtime's start costs
	 * a TLB shootdown IPI to that CPU. */
	if ((argc == 4 || argc == 6) && !strcmp(argv[1], "ahead"))
		return husk_ahead_stage(argc - 2, argv + 2);

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
