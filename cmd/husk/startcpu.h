#ifndef HUSK_STARTCPU_H
#define HUSK_STARTCPU_H
#include <stddef.h>

/* husk_start_cpus copies the CPU set husk was started with into set (a
 * cpu_set_t of size bytes) and returns 1 if the constructor pinned the
 * process to one CPU, else 0. */
int husk_start_cpus(void *set, size_t size);

#endif
