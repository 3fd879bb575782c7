#ifndef HUSK_STAGE_H
#define HUSK_STAGE_H
#include <stddef.h>

/* The most fds an ahead stage forks the container's process with: what one
 * SCM_RIGHTS message carries (the kernel's SCM_MAX_FD), the cgroup's
 * among them. */
#define HUSK_STAGE_MAXFDS 253

/* The largest "go" message husk-init reads, NUL included. */
#define HUSK_STAGE_MAXMSG 65536

/* The largest mountinfo the stage reads and sends husk (send_mountinfo in
 * nsexec.c); a larger one husk reads itself. Below what a SOCK_SEQPACKET
 * message may carry with the default socket buffer. */
#define HUSK_STAGE_MAXMOUNTINFO (128 << 10)

/* What the stage needs to set the container's process up ahead as well
 * (speculate in nsexec.c): from the command line, which the constructor
 * read (cmd/husk/fastpath.c), and the working directory as Go finds it. */
struct husk_stage_spec {
	const char *bundle, *id, *pwd;
	int no_pivot, no_new_keyring, trace;
};

/* A container's namespaces made ahead, before the Go runtime starts, by
 * husk-init run as a stage of its own (`husk-init ahead`): see stage.c.
 * Arm from the constructor (0 when armed), disarm when the thread that
 * makes husk-init's copy does not start; on that thread, start with the
 * copy's fd spawns husk-init to unshare flags (0: none is wanted) and says
 * whether it did. Take, from Go, returns it once: the parent's end of its
 * socket, its PID, the flags, the thread that spawned it and when it was
 * asked for; -1 when there is none. */
/* husk_stage_claim_dir claims the state directory of container id under
 * the state root (relative to pwd, see husk_abs_path) as create's first
 * step does (libcontainer's makeStateDir and lockDir): the root's spare
 * directory renamed, or a new one made, and locked; -1 when it cannot (the
 * ID is taken, the root missing...). Setting a container up ahead makes
 * its cgroup, which only the create that owns the ID may do: of two
 * creates of one ID, the one that loses here does not set up ahead.
 * husk_stage_take_dir hands the claim to Go once: the fd holding the lock
 * (-1: none), and the path; husk_stage_claimed says whether there is one
 * to take. */
int husk_stage_claim_dir(const char *root, const char *id, const char *pwd);
int husk_stage_claimed(void);
int husk_stage_take_dir(char *path, size_t cap);

int husk_stage_ahead_arm(void);
void husk_stage_ahead_disarm(void);
int husk_stage_ahead_start(int exe_fd, int flags, const unsigned char *cpus, size_t cpus_len,
			   const struct husk_stage_spec *spec);
int husk_stage_take(int *sock, int *pid, int *flags, int *tid, int *spec, long long *start_ns);

/* husk_stage_plan_ahead computes, from husk's constructor, the plan of the
 * process the stage sets up ahead (aheadplan.c; config, len bytes of
 * config.json, decoded in place; flags, the namespaces the stage makes)
 * and makes its cgroup as create would, while the stage starts and makes
 * the namespaces on another CPU. The stage gets both ("plan" message, sent
 * by this thread or, when the stage is not spawned yet, by the one that
 * spawns it) and removes the cgroup unless create takes the process; with
 * no stage, it is removed at once. Call it once the stage is decided on
 * with spec, and before the Go runtime starts: the Go runtime's start can
 * wait, the stage's process cannot. */
void husk_stage_plan_ahead(char *config, size_t len, int flags, const struct husk_stage_spec *spec);

#endif
