/*
 * The exec plan: how `husk exec` tells the container process what to do
 * when it runs in C (execplan.c) instead of starting the Go runtime.
 *
 * The parent (libcontainer/execplan.go, the only encoder) writes the plan
 * into the payload memfd ($_HUSK_PAYLOADFD) and sets _HUSK_EXECPLAN=1;
 * without that variable the payload is the JSON of the Go path.
 *
 * Layout, native endian (parent and child run on the same host):
 *
 *   magic   8 bytes "HUSKXP01"
 *   records until the end of the file, each:
 *     u32 tag, u32 len, len bytes of value (no padding)
 *
 * Strings are raw bytes without a NUL (they must contain none). Repeated
 * tags append in order. A missing record means its zero value, except
 * UMASK (default 022). An unknown tag is an error: parent and child are the
 * same binary, so a mismatch means a corrupt plan.
 *
 *   tag           value
 *   ARG      1    string; one record per argument, argv order (>= 1)
 *   ENV      2    string "NAME=VALUE"; one record per variable
 *   CWD      3    string (required)
 *   UID      4    u32
 *   GID      5    u32
 *   GROUPS   6    u32[n]: the additional gids (setgroups)
 *   UMASK    7    u32
 *   CAPS     8    u64[5]: bounding, effective, inheritable, permitted,
 *                 ambient; bit n is capability n
 *   RLIMIT   9    u32 resource, u32 0, u64 soft, u64 hard, then the
 *                 name ("RLIMIT_NOFILE", for messages); one per rlimit
 *   NNP     10    empty: set no_new_privs
 *   SCHED   11    struct sched_attr as the kernel takes it (size field
 *                 first; see sched_setattr(2))
 *   IOPRIO  12    i32: the ioprio_set(2) value, class << 13 | level
 *   TTY     13    u32 has_size, u16 rows, u16 cols: allocate a pty
 *   SECCOMP 14    u32 flags (SECCOMP_FILTER_FLAG_*), u32 notify, then
 *                 struct sock_filter[n]
 *   NFDS    15    u32: preserved fds (3 .. 3+n-1 stay open)
 *
 * What the plan cannot express (AppArmor profile, SELinux label,
 * oom_score_adj) makes the parent use the Go path instead; see
 * libcontainer/execplan.go.
 */
#ifndef HUSK_EXECPLAN_H
#define HUSK_EXECPLAN_H

#define XP_MAGIC "HUSKXP01"
#define XP_MAGIC_LEN 8

enum xp_tag {
	XP_ARG = 1,
	XP_ENV = 2,
	XP_CWD = 3,
	XP_UID = 4,
	XP_GID = 5,
	XP_GROUPS = 6,
	XP_UMASK = 7,
	XP_CAPS = 8,
	XP_RLIMIT = 9,
	XP_NNP = 10,
	XP_SCHED = 11,
	XP_IOPRIO = 12,
	XP_TTY = 13,
	XP_SECCOMP = 14,
	XP_NFDS = 15,
};

/* husk_exec_plan runs the plan in stage2 and never returns. */
void husk_exec_plan(int syncfd) __attribute__((noreturn));

#endif
