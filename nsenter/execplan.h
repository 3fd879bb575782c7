/*
 * The exec plan: how `husk exec` (and `create`, for a container's first
 * process: an "init plan") tells the container process what to do when it
 * runs in C (execplan.c, initplan.c) instead of starting the Go runtime.
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
 * An init plan has INIT and the container's records (initplan.c does what
 * libcontainer.standardInit and package rootfs do in Go, in their order):
 *
 *   INIT      32  empty: this is a container's first process; the exec
 *                 fifo's O_PATH fd is $_HUSK_FIFOFD (none: "start" comes
 *                 on the sync socket)
 *   KEYRING   33  string: session keyring to join ("_ses.<id>")
 *   HOSTNAME  34  string
 *   DOMAIN    35  string
 *   ROOTFS    36  string: the rootfs, an absolute path (required)
 *   ROOTPROP  37  u32: MS_* propagation of "/" (recursive)
 *   MOUNT     38  u32 kind (1 new fs, 2 bind, 3 cgroup v1 layout),
 *                 u32 flags, u32 cleared flags, u32 n, u64 attr_set,
 *                 u64 attr_clr, u32 propagation[n], then the strings
 *                 destination, source, fstype, data, each u32 len + bytes;
 *                 kind 3 goes on with u32 h and h pairs of strings
 *                 (directory name, host directory to bind there)
 *   DEVICE    39  u32 mode (S_IF* | permissions), u32 major, u32 minor,
 *                 u32 uid, u32 gid, then the path
 *   DEVFLAGS  40  u32: 1 /dev is bound from the host, 2 /dev/pts is
 *                 mounted, 4 the host has /proc/kcore
 *   RO_PATH   41  string: a linux.readonlyPaths entry
 *   MASK_PATH 42  string: a linux.maskedPaths entry
 *   DEV_RO    43  u32 flags, u32 cleared: remount /dev read-only last
 *   ROOT_RO   44  empty: root.readonly
 *   NOPIVOT   45  empty: move the rootfs onto / and chroot
 *   HOOKS     46  empty: ask the parent to run the createRuntime hooks
 *                 before pivot_root ("hooks", wait for "hooks-done")
 *
 * What the plan cannot express (AppArmor profile, SELinux label; for an
 * init a user namespace, a terminal, sysctls, createContainer and
 * startContainer hooks, ...) makes the parent use the Go path instead; see
 * libcontainer/execplan.go and initplan.go.
 */
#ifndef HUSK_EXECPLAN_H
#define HUSK_EXECPLAN_H
#include <stddef.h>

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
	XP_INIT = 32,
	XP_KEYRING = 33,
	XP_HOSTNAME = 34,
	XP_DOMAIN = 35,
	XP_ROOTFS = 36,
	XP_ROOTPROP = 37,
	XP_MOUNT = 38,
	XP_DEVICE = 39,
	XP_DEVFLAGS = 40,
	XP_RO_PATH = 41,
	XP_MASK_PATH = 42,
	XP_DEV_RO = 43,
	XP_ROOT_RO = 44,
	XP_NOPIVOT = 45,
	XP_HOOKS = 46,
};

/* xp_now_ns is CLOCK_REALTIME in nanoseconds: the clock of every phase
 * --trace shows, Go's and C's (execplan.c). */
long long xp_now_ns(void);

/* xp_send_msg_on sends the JSON message {"type":type,"msg":msg} on the
 * socket on, with fd attached when >= 0 (execplan.c). */
int xp_send_msg_on(int on, const char *type, const char *msg, int fd);

/* xp_send_error sends msg as the JSON "error" message on fd. */
void xp_send_error(int fd, const char *msg);

/* xp_recv_msg receives one message from fd and says whether it has the
 * given type (execplan.c). */
int xp_recv_msg(int fd, const char *type, char *buf, size_t size, int *attached);

/* husk_join_late enters what the parent of a direct process makes while
 * it starts (nsexec.c): the v1 cgroups (_HUSK_CGROUP_LATE) and the network
 * namespace (_HUSK_NETNS_LATE), once the parent's "join" message on sock
 * says they are ready; it does nothing otherwise, or the second time. The
 * plan calls it before it needs them: a sysfs or cgroup mount, the /dev
 * nodes (which the devices cgroup checks), the hooks (which may look at
 * both), the memory cgroup. */
void husk_join_late(int sock);

/* The container part of the init plan computed ahead (the stage's "plan"
 * message), which the process the stage clones sets itself up with
 * (nsexec.c, _HUSK_AHEAD). */
extern const unsigned char *husk_ahead_plan_bytes;
extern size_t husk_ahead_plan_len;
/* And the config's process.cwd. */
extern const char *husk_ahead_cwd;

/* husk_ns_flag is the CLONE_NEW* flag of a runtime-spec namespace type
 * (len bytes), 0 for one it does not know (nsexec.c). */
int husk_ns_flag(const char *name, size_t len);

/* husk_exec_plan runs the plan in stage2 and never returns. */
void husk_exec_plan(int syncfd) __attribute__((noreturn));

#endif
