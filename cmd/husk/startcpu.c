/*
 * husk starts on one CPU: see startcpu.go. This constructor runs before the
 * Go runtime, which sizes GOMAXPROCS from the CPUs the process may use when
 * it starts.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "startcpu.h"

static cpu_set_t saved;
static int pinned;

__attribute__((constructor)) static void husk_pin_start_cpu(void)
{
	const char *s = getenv("_HUSK_SYNCFD");
	cpu_set_t one;
	int cpu;

	/* The container's side (husk re-executed as its init) keeps the
	 * CPUs it was given: nothing restores them there. With GOMAXPROCS
	 * set the runtime ignores the CPU set: nothing to gain. */
	if ((s && *s) || getenv("GOMAXPROCS"))
		return;
	/* More than CPU_SETSIZE CPUs: EINVAL, and husk starts as it is. */
	if (sched_getaffinity(0, sizeof(saved), &saved) < 0 || CPU_COUNT(&saved) < 2)
		return;
	cpu = sched_getcpu();
	if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &saved))
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one) == 0)
		pinned = 1;
}

int husk_start_cpus(void *set, size_t size)
{
	if (!pinned || size != sizeof(saved))
		return 0;
	memcpy(set, &saved, sizeof(saved));
	return 1;
}
