#ifndef HUSK_SPAWN_H
#define HUSK_SPAWN_H
#include <sys/types.h>

#define HUSK_SPAWN_MAXFDS 1024

pid_t husk_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds,
		 int *child_errno);
pid_t husk_spawn_into(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds,
		      unsigned long long flags, int cgroupfd, int *child_errno);

/* What husk_spawn_join's child joins before it execs, in this order. */
struct husk_join {
	const char *oom_score_adj; /* written to /proc/self/oom_score_adj, or NULL */
	const char *tasks;         /* v1 cgroup tasks files, each NUL-terminated,
				    * an empty one last; or NULL */
	int pidfd;                 /* the process whose namespaces to join */
	int nsflags;               /* its CLONE_NEW* to join (PID included) */
	int self_pidns;            /* this process's PID namespace */
	int cgroupfd;              /* cgroup v2 directory, or -1 */
};

/* Where husk_spawn_join failed (child_errno holds the errno). */
enum {
	HUSK_JOIN_OK,
	HUSK_JOIN_PIDNS,   /* the calling thread's setns(CLONE_NEWPID) */
	HUSK_JOIN_RESTORE, /* putting that back: the thread is unusable */
	HUSK_JOIN_OOM,
	HUSK_JOIN_CGROUP, /* child_index: which tasks file */
	HUSK_JOIN_SETNS,
	HUSK_JOIN_FDS,
	HUSK_JOIN_EXEC,
};

pid_t husk_spawn_join(int exe_index, char *const argv[], char *const envp[], const int *fds, int nfds,
		      const struct husk_join *join, int *child_errno, int *step, int *child_index);

#endif
