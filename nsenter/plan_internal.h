/*
 * What execplan.c (the process part of a plan, and the plan's reader) and
 * initplan.c (the container part of an init plan: keyring, hostname, root
 * filesystem) share. Not an interface: both files are one program.
 */
#ifndef HUSK_PLAN_INTERNAL_H
#define HUSK_PLAN_INTERNAL_H

#include <stdint.h>
#include <linux/filter.h>

/* Files are opened with openat(AT_FDCWD, ...), not open(): musl's open()
 * follows an O_CLOEXEC open with fcntl(F_SETFD), for kernels older than
 * 2.6.23, one system call more per file. */

struct rlim_rec {
	int resource;
	uint64_t soft, hard;
	char *name;
};

/* One linux.mounts entry, or the cgroup v1 layout (XP_MOUNT). */
enum { XM_FS = 1, XM_BIND = 2, XM_CGROUP1 = 3 };

struct xp_mount {
	int kind;
	uint32_t flags, cleared; /* MS_* to set, and to clear (bind remounts) */
	uint32_t *prop;          /* propagation changes, in order */
	int nprop;
	uint64_t attr_set, attr_clr; /* recursive mount_setattr(2) attributes */
	char *dest, *source, *fstype, *data;
	/* XM_CGROUP1: the hierarchies, each a directory name under dest and
	 * the host directory of the container's cgroup to bind there. */
	char **hname, **hdir;
	int nh;
};

struct xp_device {
	uint32_t mode; /* S_IF* | permissions */
	uint32_t major, minor, uid, gid;
	char *path;
};

/* Bits of XP_DEVFLAGS. */
enum { XD_BIND_DEV = 1, XD_HAS_PTS = 2, XD_KCORE = 4 };

/* The container part of an init plan. */
struct xp_init {
	char *keyring, *hostname, *domainname, *rootfs;
	uint32_t root_prop;
	struct xp_mount *mounts;
	int nmounts;
	struct xp_device *devices;
	int ndevices;
	uint32_t dev_flags;
	char **ro_paths, **masked_paths;
	int nro, nmasked;
	int dev_ro;
	uint32_t dev_ro_flags, dev_ro_cleared;
	int root_ro, no_pivot, hooks;
};

struct plan {
	char **argv, **envp;
	int argc, envc;
	char *cwd;
	uint32_t uid, gid, umask;
	uint32_t *groups;
	int ngroups;
	uint64_t caps[5]; /* bounding, effective, inheritable, permitted, ambient */
	struct rlim_rec *rlimits;
	int nrlimits;
	int nnp;
	unsigned char *sched; /* raw struct sched_attr, or NULL */
	uint32_t sched_len;
	int has_ioprio, ioprio;
	int tty, tty_has_size;
	uint16_t tty_rows, tty_cols;
	struct sock_filter *filter;
	int filter_len;
	uint32_t seccomp_flags, seccomp_notify;
	uint32_t nfds;
	struct xp_init *init; /* NULL for an exec */
};

/* xp_fail reports an error ("msg: strerror(err)" when err != 0) to the
 * parent, or on stderr once xp_late is set, and exits 1. */
extern int xp_late;
void xp_fail(int err, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
int xp_send_msg(const char *type, const char *msg, int fd);
const char *xp_errtext(int err, char *buf, size_t len);
int xp_phase_begin(const char *name);
void xp_phase_end(int i);
char *xp_strndup(const unsigned char *p, uint32_t n);
void *xp_grow(void *list, int count, size_t elem);
uint32_t xp_u32(const unsigned char *v);
uint64_t xp_u64(const unsigned char *v);

/* The set-up made ahead (execplan.c): whether this process, set up ahead
 * with the plan computed ahead, waits for husk to take it; and waiting for that,
 * which it must before it creates anything outside the file systems its
 * plan mounted. */
int xp_ahead_pending(void);
void xp_ahead_take(void);

/* initplan.c */
int xp_init_record(struct plan *p, uint32_t tag, const unsigned char *v, uint32_t len);
void xp_init_prelude(const struct xp_init *in);
void xp_rootfs_prepare(const struct xp_init *in, int sock);
void xp_mkdir_cwd(const char *cwd);
void xp_rootfs_finalize(const struct xp_init *in);

#endif
