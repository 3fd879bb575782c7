/*
 * nsexec: the part of husk's container set-up that must run before the Go
 * runtime starts threads. See nsenter.go for why, and libcontainer/sync.go
 * for the whole parent <-> child protocol.
 *
 * This code runs as the constructor of the husk binary, and as the main of
 * husk-init (cmd/husk-init), the small program husk runs when the whole
 * set-up is a plan.
 *
 * The parent (a husk command, in Go) starts this binary with a socket on
 * fd $_HUSK_SYNCFD (SOCK_SEQPACKET: one write is one message) and the
 * bootstrap data in the environment:
 *
 *   _HUSK_CLONEFLAGS  decimal CLONE_NEW* flags of namespaces to create
 *   _HUSK_NSPATHS     lines "type:path" of namespaces to join
 *                     (type as in the runtime-spec: pid, network, ...)
 *   _HUSK_NSPIDFD     (exec) a pidfd of the container's process, and
 *   _HUSK_NSFLAGS     the CLONE_NEW* flags of its namespaces: joined with
 *                     one setns(2), _HUSK_NSPATHS being the fallback
 *   _HUSK_UIDMAP      uid_map contents, when a user namespace is created
 *   _HUSK_GIDMAP      gid_map contents
 *   _HUSK_TIMENS      timens_offsets contents, when a time ns is created
 *   _HUSK_CGROUP_TASKS lines: cgroup v1 "tasks" files to join
 *   _HUSK_CGROUP2     the cgroup v2 directory to join
 *   _HUSK_OOMSCOREADJ process.oomScoreAdj: written by stage0 to the host's
 *                     /proc/self/oom_score_adj before any setns (a procfs
 *                     the container cannot have faked), then inherited
 *   _HUSK_DIRECT      set when the parent created this process itself, in
 *                     its new namespaces and cgroup v2 directory, with
 *                     clone3 (nsenter.SpawnInto): it is stage2 from the
 *                     start; it only joins the v1 cgroups, and its errors
 *                     are JSON "error" messages
 *   _HUSK_CGROUP_LATE (with _HUSK_DIRECT) the v1 tasks files are joined
 *                     only after the parent's "join" message
 *                     (husk_join_late)
 *   _HUSK_NETNS_LATE  (with _HUSK_DIRECT) the network namespace, which
 *                     the parent made ahead (nsenter/netns.go), comes
 *                     with that message, to join instead of a
 *                     CLONE_NEWNET (without an fd one is made then)
 * (the v1 memory cgroup is not among the tasks files: the container process
 * joins it last, right before execve, see
 * cgroups.JoinSpec.LateTasksFile; CLONE_NEWCGROUP then waits for that too)
 *
 * Processes and messages (child -> parent unless marked):
 *
 *   stage0 (exec'd by the parent)
 *     joins the cgroup: writes "0" to each v1 tasks file and opens the
 *     v2 directory (see cgroups.JoinSpec for why not the parent)
 *     opens every path, then setns()es: user first, mount last
 *     if a user ns is created:
 *       clone3(CLONE_PARENT|CLONE_INTO_CGROUP) stage1 ----> "pid1 <pid>"
 *       stage1: unshare(CLONE_NEWUSER), tells stage0 over a private pair
 *       stage0 writes /proc/<stage1>/{uid_map,gid_map}, answers, exits
 *     else stage0 itself is stage1
 *   stage1
 *     unshare(all other new namespaces but cgroup)
 *     writes /proc/self/timens_offsets
 *     clone3(CLONE_PARENT|CLONE_INTO_CGROUP) stage2 ----> "pid2 <pid>", exits
 *     (stage2 waits until then: EOF on a pipe stage1 closes after "pid2")
 *   stage2 (the container process; its parent is the husk parent; with
 *   _HUSK_DIRECT the parent cloned it, and stage0 and stage1 never were)
 *     becomes non-dumpable
 *     unshare(CLONE_NEWCGROUP) if asked: its cgroup is the namespace root
 *     with _HUSK_EXECPLAN set: runs the exec plan (or init plan) of the
 *       payload fd in C (execplan.c, initplan.c) and execs the program; it
 *       speaks the JSON messages of libcontainer/sync.go ("hooks",
 *       "console", "seccomp", "ready", "error") and never returns
 *     otherwise returns into Go: libcontainer.Init
 *
 * Any failure sends "err <what>: <strerror>" (with _HUSK_DIRECT, the same
 * text as a JSON "error" message) and exits 1, so the user sees what went
 * wrong instead of an EOF.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "aheadplan.h"
#include "execplan.h"
#include "spawn.h"
#include "stage.h"

/* Files are opened with openat(AT_FDCWD, ...), not open(): musl's open()
 * follows an O_CLOEXEC open with fcntl(F_SETFD), for kernels older than
 * 2.6.23, one system call more per file. */

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static int syncfd = -1;
/* direct: the parent cloned this process into its namespaces itself
 * (_HUSK_DIRECT); it reads JSON messages from the first one on. */
static int direct;

static void sendmsg_str(const char *s)
{
	ssize_t n;
	do {
		n = write(syncfd, s, strlen(s));
	} while (n < 0 && errno == EINTR);
}

/* bail reports an error to the parent and exits; with_errno appends the
 * current errno as text. */
static void __attribute__((noreturn, format(printf, 2, 3)))
bail(int with_errno, const char *fmt, ...)
{
	char buf[4096];
	int saved = errno;
	int n = snprintf(buf, sizeof(buf), "err ");
	va_list ap;

	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (with_errno && n < (int)sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(saved));
	if (direct)
		xp_send_error(syncfd, buf + 4);
	else
		sendmsg_str(buf);
	_exit(1);
}

/* raw_clone forks with extra clone flags (CLONE_PARENT). With a NULL stack
 * the child continues on a copy of the caller's stack, like fork(2). */
static pid_t raw_clone(unsigned long flags)
{
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

/* clone_into_cgroup is raw_clone that also puts the child in the cgroup v2
 * directory cgfd (when >= 0), without the global lock a cgroup.procs
 * write takes. Kernels without clone3 get the lock after all. */
static pid_t clone_into_cgroup(unsigned long flags, int cgfd)
{
	struct clone_args args;
	pid_t pid;

	if (cgfd < 0)
		return raw_clone(flags);
	memset(&args, 0, sizeof(args));
	args.flags = flags | CLONE_INTO_CGROUP;
	/* clone3 refuses an exit signal with CLONE_PARENT: the child gets
	 * the caller's own, SIGCHLD (Go's ForkExec). */
	args.exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
	args.cgroup = (unsigned long long)cgfd;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid >= 0 || (errno != ENOSYS && errno != E2BIG))
		return pid;
	pid = raw_clone(flags);
	if (pid == 0) {
		int fd = openat(cgfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			bail(1, "join cgroup v2");
		close(fd);
	}
	return pid;
}

/* join_cgroup_v1 moves this (single-threaded) process into each listed
 * tasks file by writing "0": for the current thread the kernel skips the
 * global threadgroup lock that a cgroup.procs write takes. */
static void join_cgroup_v1(char *files)
{
	char *line, *save = NULL;

	for (line = strtok_r(files, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int fd = openat(AT_FDCWD, line, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			bail(1, "open %s", line);
		if (write(fd, "0", 1) != 1)
			bail(1, "join cgroup: write %s", line);
		close(fd);
	}
}

struct nstype {
	const char *name;
	int flag;
};

static const struct nstype nstypes[] = {
	{"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC},
	{"uts", CLONE_NEWUTS},   {"network", CLONE_NEWNET},
	{"pid", CLONE_NEWPID},   {"cgroup", CLONE_NEWCGROUP},
	{"time", CLONE_NEWTIME}, {"mount", CLONE_NEWNS},
};
#define NSTYPES (sizeof(nstypes) / sizeof(nstypes[0]))

/* husk_ns_flag is the CLONE_NEW* flag of the runtime-spec namespace type
 * name (len bytes, not NUL-terminated), 0 for a type it does not know. The
 * husk binary's guess from config.json (cmd/husk/ahead.c) uses it too. */
int husk_ns_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < NSTYPES; i++)
		if (strlen(nstypes[i].name) == len && !memcmp(nstypes[i].name, name, len))
			return nstypes[i].flag;
	return 0;
}

/* join_namespaces opens every path before joining any, since joining the
 * mount namespace changes what paths mean; then joins in nstypes order:
 * user first (the others need privilege in it), mount last. */
static void join_namespaces(char *spec)
{
	int fds[NSTYPES];
	const char *paths[NSTYPES];
	size_t i;
	char *line, *save = NULL;

	for (i = 0; i < NSTYPES; i++) {
		fds[i] = -1;
		paths[i] = NULL;
	}
	for (line = strtok_r(spec, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		if (!colon)
			bail(0, "bad namespace spec %s", line);
		*colon = '\0';
		for (i = 0; i < NSTYPES; i++)
			if (!strcmp(line, nstypes[i].name))
				break;
		if (i == NSTYPES)
			bail(0, "unknown namespace type %s", line);
		fds[i] = openat(AT_FDCWD, colon + 1, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			bail(1, "open %s namespace %s", line, colon + 1);
		paths[i] = colon + 1;
	}
	for (i = 0; i < NSTYPES; i++) {
		if (fds[i] < 0)
			continue;
		if (setns(fds[i], nstypes[i].flag) < 0)
			bail(1, "join %s namespace %s", nstypes[i].name, paths[i]);
		close(fds[i]);
	}
}

static void write_file(const char *path, const char *data)
{
	int fd = openat(AT_FDCWD, path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(data);

	if (fd < 0)
		bail(1, "open %s", path);
	if (write(fd, data, len) != (ssize_t)len)
		bail(1, "write %s", path);
	close(fd);
}

/* new_userns creates stage1 in a new user namespace and maps its IDs from
 * stage0, which still has CAP_SETUID/CAP_SETGID in the parent namespace (a
 * process cannot map IDs beyond its own from inside the new namespace). */
static void new_userns(int cgfd)
{
	int pair[2];
	char c = 0, buf[64];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
		bail(1, "socketpair");
	/* stage1 enters the cgroup v2 here: once in its user namespace it
	 * would lack the permission to. */
	pid = clone_into_cgroup(CLONE_PARENT, cgfd);
	if (pid < 0)
		bail(1, "clone stage1");
	if (pid == 0) {
		close(pair[0]);
		if (unshare(CLONE_NEWUSER) < 0)
			bail(1, "unshare user namespace");
		if (write(pair[1], "u", 1) != 1)
			bail(1, "sync with stage0");
		if (read(pair[1], &c, 1) != 1 || c != 'm')
			_exit(1); /* stage0 reported the error */
		close(pair[1]);
		if (setresgid(0, 0, 0) < 0)
			bail(1, "setresgid 0 in the user namespace (is gid 0 mapped?)");
		if (setresuid(0, 0, 0) < 0)
			bail(1, "setresuid 0 in the user namespace (is uid 0 mapped?)");
		/* Changing credentials made us non-dumpable, which hands our
		 * /proc/self files to the host's root: take them back. */
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
			bail(1, "prctl(PR_SET_DUMPABLE)");
		return;
	}
	close(pair[1]);
	snprintf(buf, sizeof(buf), "pid1 %d", pid);
	sendmsg_str(buf);
	if (read(pair[0], &c, 1) != 1 || c != 'u')
		bail(0, "stage1 died before creating its user namespace");
	{
		const char *uidmap = getenv("_HUSK_UIDMAP");
		const char *gidmap = getenv("_HUSK_GIDMAP");
		if (uidmap && *uidmap) {
			snprintf(buf, sizeof(buf), "/proc/%d/uid_map", pid);
			write_file(buf, uidmap);
		}
		if (gidmap && *gidmap) {
			snprintf(buf, sizeof(buf), "/proc/%d/gid_map", pid);
			write_file(buf, gidmap);
		}
	}
	if (write(pair[0], "m", 1) != 1)
		bail(1, "sync with stage1");
	_exit(0);
}

/* join_cgroups joins the v1 hierarchies (but memory, joined last by the
 * container process) and opens the v2 directory for clone3. */
static void join_cgroups(int *cgfd)
{
	const char *s = getenv("_HUSK_CGROUP_TASKS");

	if (s && *s) {
		char *files = strdup(s);
		if (!files)
			bail(1, "strdup");
		join_cgroup_v1(files);
		free(files);
	}
	s = getenv("_HUSK_CGROUP2");
	if (s && *s) {
		*cgfd = openat(AT_FDCWD, s, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (*cgfd < 0)
			bail(1, "open cgroup %s", s);
	}
}

/* write_oom_score_adj writes process.oomScoreAdj (_HUSK_OOMSCOREADJ), when
 * set, to /proc/self/oom_score_adj: the host's /proc, before any setns, a
 * procfs the container cannot have faked. Children inherit the value. */
static void write_oom_score_adj(void)
{
	const char *s = getenv("_HUSK_OOMSCOREADJ");
	int fd;

	if (!s || !*s)
		return;
	fd = openat(AT_FDCWD, "/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		bail(1, "process.oomScoreAdj: write %s to /proc/self/oom_score_adj%s", s,
		     errno == EACCES ? " (lowering it needs CAP_SYS_RESOURCE)" : "");
	close(fd);
}

/* become_container is stage2's part: the container's process, the first
 * process of these stages that the container can see. Until it execs the
 * container's program it runs husk's code: keep other processes in the
 * container from ptracing it or opening its /proc files (CVE-2019-5736
 * and friends). (stage0 and stage1 stay dumpable: they live outside the
 * container's PID namespace, and stage1 must own its
 * /proc/self/timens_offsets.) It returns only to the Go path. */
static void become_container(int flags, int cgfd)
{
	const char *s;

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		bail(1, "prctl(PR_SET_DUMPABLE)");
	/* Die with the parent during set-up; Go clears this once the parent
	 * no longer needs to be alive. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (cgfd >= 0)
		close(cgfd);
	if (flags & CLONE_NEWCGROUP) {
		if (unshare(CLONE_NEWCGROUP) < 0)
			bail(1, "unshare cgroup namespace");
	}
	/* An exec with a C plan (execplan.h) finishes here, without Go. */
	s = getenv("_HUSK_EXECPLAN");
	if (s && *s)
		husk_exec_plan(syncfd);
}

/* What a direct process enters only when the parent's "join" message says
 * it is ready (husk_join_late): the v1 tasks files (_HUSK_CGROUP_LATE),
 * which the parent creates while this process starts, and the network
 * namespace (_HUSK_NETNS_LATE), which may still be in the making when the
 * parent clones this process (nsenter/netns.go). */
static char *late_tasks;
static int late_netns, late_pending;

void husk_join_late(int sock)
{
	char buf[256];
	int fd, r;

	if (!late_pending)
		return;
	late_pending = 0;
	r = xp_recv_msg(sock, "join", buf, sizeof(buf), &fd);
	if (r < 0)
		bail(1, "receive from the sync socket");
	if (r == 0)
		bail(0, "the runtime did not make the cgroup and network namespace");
	if (late_netns) {
		/* Without an fd the parent could not make it: make one here. */
		if (fd >= 0 ? setns(fd, CLONE_NEWNET) < 0 : unshare(CLONE_NEWNET) < 0)
			bail(1, fd >= 0 ? "join the network namespace made ahead" : "unshare network namespace");
	}
	if (fd >= 0)
		close(fd);
	if (late_tasks) {
		join_cgroup_v1(late_tasks);
		free(late_tasks);
		late_tasks = NULL;
	}
}

/* direct_container is the whole of this code for a process the parent
 * cloned itself into its new namespaces and cgroup v2 directory with
 * clone3 (_HUSK_DIRECT, nsenter.SpawnInto): there is nothing to join or
 * unshare and no process to fork, only the v1 cgroups and the network
 * namespace made ahead to enter. With _HUSK_CGROUP_LATE and
 * _HUSK_NETNS_LATE the parent finishes them while this process starts: it
 * enters them once it needs them (husk_join_late). */
static void direct_container(int flags)
{
	const char *s;
	int cgfd = -1;

	/* Still the host's /proc: the root filesystem is not set up yet. */
	write_oom_score_adj();
	s = getenv("_HUSK_CGROUP_LATE");
	if (s && *s) {
		late_pending = 1;
		s = getenv("_HUSK_CGROUP_TASKS");
		if (s && *s && !(late_tasks = strdup(s)))
			bail(1, "strdup");
	} else {
		join_cgroups(&cgfd);
	}
	s = getenv("_HUSK_NETNS_LATE");
	if (s && *s)
		late_netns = late_pending = 1;
	become_container(flags, cgfd);
}

void husk_nsexec(void)
{
	const char *fdstr = getenv("_HUSK_SYNCFD");
	const char *s;
	char buf[64];
	int flags = 0, cgfd = -1, order[2];
	pid_t pid;

	if (!fdstr || !*fdstr)
		return;
	syncfd = atoi(fdstr);
	s = getenv("_HUSK_CLONEFLAGS");
	if (s && *s)
		flags = atoi(s);
	s = getenv("_HUSK_DIRECT");
	if (s && *s) {
		direct = 1;
		direct_container(flags);
		return;
	}

	/* The cgroup first: its paths are the host's, before any setns. */
	join_cgroups(&cgfd);

	write_oom_score_adj();

	/* One setns(2) on a pidfd joins all of a process's namespaces at
	 * once; kernels before 5.8 refuse a pidfd (EINVAL): then the paths. */
	s = getenv("_HUSK_NSPIDFD");
	if (s && *s) {
		int pidfd = atoi(s);
		const char *f = getenv("_HUSK_NSFLAGS");
		int nsflags = f ? atoi(f) : 0;

		if (nsflags && setns(pidfd, nsflags) == 0)
			unsetenv("_HUSK_NSPATHS");
		else if (nsflags && errno != EINVAL)
			bail(1, "join the namespaces of the container's process (flags %#x)", nsflags);
		close(pidfd);
	}
	s = getenv("_HUSK_NSPATHS");
	if (s && *s) {
		char *spec = strdup(s);
		if (!spec)
			bail(1, "strdup");
		join_namespaces(spec);
		free(spec);
	}

	if (flags & CLONE_NEWUSER) {
		new_userns(cgfd); /* returns only in stage1, in the cgroup */
		if (cgfd >= 0)
			close(cgfd);
		cgfd = -1;
	}

	if (flags & ~(CLONE_NEWUSER | CLONE_NEWCGROUP)) {
		if (unshare(flags & ~(CLONE_NEWUSER | CLONE_NEWCGROUP)) < 0)
			bail(1, "unshare namespaces (flags %#x)", flags & ~(CLONE_NEWUSER | CLONE_NEWCGROUP));
	}
	if (flags & CLONE_NEWTIME) {
		s = getenv("_HUSK_TIMENS");
		if (s && *s)
			write_file("/proc/self/timens_offsets", s);
	}
	/* stage2 must not speak before the parent has its PID: the parent
	 * reads "pid2" first. stage2 waits for EOF on this pipe, which stage1
	 * closes once "pid2" is sent (the C exec path is fast enough to win
	 * that race otherwise). */
	if (pipe2(order, O_CLOEXEC) < 0)
		bail(1, "pipe");
	pid = clone_into_cgroup(CLONE_PARENT, cgfd);
	if (pid < 0)
		bail(1, "clone container process");
	if (pid > 0) {
		snprintf(buf, sizeof(buf), "pid2 %d", pid);
		sendmsg_str(buf);
		close(order[1]);
		_exit(0);
	}
	close(order[1]);
	while (read(order[0], buf, 1) < 0 && errno == EINTR)
		;
	close(order[0]);

	become_container(flags, cgfd);
}

/* The message `husk-init ahead` waits for: "go CG N\n" and N environment
 * entries, each ended by a NUL; with it, the fds the container's process
 * gets as its fds 0, 1, ... and, when CG >= 0, the cgroup v2 directory to
 * clone it into, at index CG. libcontainer builds it (nsenter/stage.go)
 * from what it would otherwise give husk-init's execve. */
static char go_msg[HUSK_STAGE_MAXMSG];

/* recv_fds receives one message of at most cap bytes into buf and the fds
 * sent with it (SCM_RIGHTS, close-on-exec), *nfds of them into fds (at most
 * HUSK_STAGE_MAXFDS). It returns the message's length, 0 at EOF, or -1 on
 * an error or a message or fds cut short (those received are in fds). */
static ssize_t recv_fds(int sock, char *buf, size_t cap, int *fds, int *nfds)
{
	union {
		char space[CMSG_SPACE(HUSK_STAGE_MAXFDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, cap };
	struct msghdr mh = { 0 };
	struct cmsghdr *c;
	ssize_t n;

	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.space;
	mh.msg_controllen = sizeof(ctl.space);
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	*nfds = 0;
	if (n <= 0)
		return n;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			if (k > HUSK_STAGE_MAXFDS - *nfds)
				k = HUSK_STAGE_MAXFDS - *nfds;
			memcpy(fds + *nfds, CMSG_DATA(c), (size_t)k * sizeof(int));
			*nfds += k;
		}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -1;
	return n;
}

static int recv_go(int sock, int *fds, int *nfds)
{
	ssize_t n = recv_fds(sock, go_msg, sizeof(go_msg) - 1, fds, nfds);

	if (n > 0)
		go_msg[n] = '\0';
	return (int)n;
}

int husk_place_fds(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (fds[i] < n && fds[i] != i) {
			/* The system call, not musl's fcntl(), which follows
			 * F_DUPFD_CLOEXEC with F_SETFD for old kernels. */
			int moved = (int)syscall(SYS_fcntl, fds[i], F_DUPFD_CLOEXEC, n);
			if (moved < 0)
				return -1;
			fds[i] = moved;
		}
	for (i = 0; i < n; i++) {
		if (fds[i] == i) {
			if (fcntl(i, F_SETFD, 0) < 0)
				return -1;
		} else if (dup2(fds[i], i) < 0) {
			return -1;
		}
	}
	return 0;
}

/* place_fds puts fds[i] at fd i for i < n and closes the fds received
 * beyond those (the originals, and the cgroup's). It runs in the container's
 * process before anything else: errors end it, and the parent sees its
 * sync socket close. */
static void place_fds(int *fds, int n, int total)
{
	int i;

	if (husk_place_fds(fds, n) < 0)
		_exit(1);
	for (i = 0; i < total; i++)
		if (fds[i] >= n)
			close(fds[i]);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The "go" message as the stage read it, for the process it clones. */
static struct {
	int fds[HUSK_STAGE_MAXFDS];
	int nfds, cg, nenv, len, n;
} go;

/* husk's CPUs (the stage's CPUS argument: husk's own before it pinned
 * itself, see cmd/husk/startcpu.go), which the container's process gets.
 * The stage is started on all of them but the one husk's Go runtime
 * starts on, and clones the process it sets up ahead so: cloned with
 * husk's, the process may be placed on the runtime's CPU, and would stay
 * there (the scheduler does not move a task that just ran to an idle CPU),
 * sharing it with the runtime's start. Once running, it takes husk's. */
static cpu_set_t husk_cpus;
static int husk_cpus_set;

/* stage_child is the container's process a stage cloned: it takes the
 * environment and fds of the "go" message, tells husk its PID and goes on
 * as a process husk cloned itself. It never returns. */
static void __attribute__((noreturn)) stage_child(void)
{
	char *p, *stop, buf[32];
	sigset_t none;
	int i, n;

	syncfd = -1;
	if (husk_cpus_set && sched_setaffinity(0, sizeof(husk_cpus), &husk_cpus) < 0)
		_exit(1);
	place_fds(go.fds, go.cg >= 0 ? go.cg : go.nfds, go.nfds);
	p = go_msg + go.len;
	stop = go_msg + go.n;
	for (i = 0; i < go.nenv && p < stop; i++) {
		if (putenv(p) < 0)
			_exit(1);
		p += strlen(p) + 1;
	}
	/* husk learns the process's PID from it, and not from the stage,
	 * which may get no CPU again until the process is far into its
	 * set-up. /proc is still the host's: /proc/self names the host's
	 * PID. */
	n = (int)readlink("/proc/self", buf, sizeof(buf) - 1);
	if (n <= 0 || !(p = getenv("_HUSK_SYNCFD")))
		_exit(1);
	buf[n] = '\0';
	if (xp_send_msg_on(atoi(p), "pid", buf, -1) < 0)
		_exit(1);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	husk_nsexec();
	_exit(1);
}

#if defined(__x86_64__)
/* The stack of the process a stage clones, which shares the stage's
 * memory: as large as a main thread's, and only touched as used. */
#define STAGE_STACK (8 << 20)

/* clone3_stack is clone3(2) for a child that runs stage_child on the
 * stack given in args: it starts at the instruction after the system call
 * with its stack pointer at the top of that stack, so no C code may run
 * between the two: hence assembly. */
static pid_t clone3_stack(struct clone_args *args)
{
	register long rax __asm__("rax") = SYS_clone3;
	register struct clone_args *rdi __asm__("rdi") = args;
	register long rsi __asm__("rsi") = sizeof(*args);
	register void (*r12)(void) __asm__("r12") = stage_child;

	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "call *%%r12\n\t"
			 "ud2\n"
			 "1:"
			 : "+r"(rax)
			 : "r"(rdi), "r"(rsi), "r"(r12)
			 : "rcx", "r11", "memory");
	return (pid_t)rax;
}
#endif

/* stage_clone clones the container's process, husk's child, into the
 * cgroup v2 directory cgfd (when >= 0). Where it can, the process shares
 * the stage's memory (CLONE_VM) rather than a copy of it: the stage only
 * exits after the clone, and a fork costs ~65 us on the test machine
 * (its page tables copied and write-protected, then a copy-on-write fault
 * for each page the process writes), against ~25 for CLONE_VM. The
 * process then runs on a stack of its own, made while the stage waited. */
static pid_t stage_clone(int cgfd, void *stack)
{
	pid_t pid = -1;

#if defined(__x86_64__)
	if (stack != MAP_FAILED) {
		struct clone_args args;

		memset(&args, 0, sizeof(args));
		/* clone3 refuses an exit signal with CLONE_PARENT: the child
		 * gets the stage's own, SIGCHLD. */
		args.flags = CLONE_VM | CLONE_PARENT | (cgfd >= 0 ? CLONE_INTO_CGROUP : 0);
		args.cgroup = (unsigned long long)(cgfd >= 0 ? cgfd : 0);
		args.stack = (unsigned long long)(uintptr_t)stack;
		args.stack_size = STAGE_STACK;
		pid = clone3_stack(&args);
		if (pid < 0) {
			errno = -pid;
			if (errno != ENOSYS && errno != E2BIG)
				return -1;
		}
	}
#else
	(void)stack;
#endif
	if (pid < 0)
		pid = clone_into_cgroup(CLONE_PARENT, cgfd);
	if (pid == 0)
		stage_child();
	return pid;
}

/* send_mountinfo sends husk's /proc/self/mountinfo ("mi START END\n" and
 * the text): create needs it for the cgroup hierarchies, and reading it
 * costs ~50 us there, on its critical path; here it is read while husk's Go
 * runtime starts. Until it unshares, this process is in husk's mount
 * namespace, with husk's root, so the text is what husk would read. Just
 * the first line when it cannot be read or sent whole (husk then reads the
 * file itself). */
static void send_mountinfo(void)
{
	size_t cap = 16384, len, hdr;
	long long start = xp_now_ns(), end;
	char *buf = malloc(cap);
	ssize_t n = -1;
	int fd = -1;

	if (buf)
		fd = openat(AT_FDCWD, "/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	/* Room for the header, written once the times are known. */
	hdr = len = 64;
	while (fd >= 0) {
		if (len == cap) {
			char *more = cap < HUSK_STAGE_MAXMOUNTINFO ? realloc(buf, cap * 2) : NULL;
			if (!more) {
				n = -1;
				break;
			}
			buf = more;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	end = xp_now_ns();
	if (buf && n == 0) {
		char head[64];
		int h = snprintf(head, sizeof(head), "mi %lld %lld\n", start, end);
		if (h > 0 && (size_t)h <= hdr) {
			memcpy(buf + hdr - h, head, h);
			do {
				n = write(syncfd, buf + hdr - h, len - hdr + h);
			} while (n < 0 && errno == EINTR);
			if (n >= 0) {
				free(buf);
				return;
			}
		}
	}
	free(buf);
	sendmsg_str("mi 0 0\n");
}

/* husk_ahead_stage is `husk-init ahead FLAGS CPUS`: the stage the husk
 * binary starts before its Go runtime does (nsenter/stage.c), with its
 * socket at fd 0. It sends husk's mountinfo (send_mountinfo), unshares
 * the container's new namespaces (FLAGS, CLONE_NEW*, never user, time or
 * cgroup; a new PID namespace is its children's) while husk starts, says
 * when it made them ("made START END", for --trace), reads CPUS (hex
 * bytes of a CPU set: husk's own before it pinned itself, see
 * cmd/husk/startcpu.go), which the container's process gets (husk_cpus),
 * and, as `husk-init ahead FLAGS CPUS TID OPTS`, sets that process up
 * ahead (speculate); otherwise, or when it does not, it waits for "go"
 * (recv_go). Then it clones the container's process into the namespaces
 * and its cgroup v2 directory
 * (CLONE_PARENT: husk's child) and exits. The process takes the
 * environment and fds of the message, tells husk its PID ({"type":"pid"}
 * on its sync socket) and goes on as a process husk cloned itself
 * (_HUSK_DIRECT). On EOF instead of "go", which is how husk discards a
 * stage it does not use, the stage exits. Errors are "err ..." messages,
 * as stage1's. */
/* --- the set-up made ahead ------------------------------------------------ */

/* The container part of the init plan husk's constructor computed
 * (aheadplan.c, sent in its "plan" message), which the process the stage
 * clones, sharing its memory, sets itself up with until husk takes it
 * (_HUSK_AHEAD, execplan.c). */
const unsigned char *husk_ahead_plan_bytes;
size_t husk_ahead_plan_len;
/* The config's process.cwd, from the same message: with it the process
 * can tell, before husk takes it, whether it will have to create it. */
const char *husk_ahead_cwd;

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

/* The process set up ahead, and the cgroup directories made for it. */
static struct {
	struct husk_ahead_cgroup cg;
	int pidfd;
	pid_t pid;
} ahead = { .pidfd = -1 };

/* thread_gone waits (up to 10 ms) until husk's thread tid, which spawned
 * this stage, has ended: until then it is the parent of this stage and of
 * the process it clones (CLONE_PARENT), which dies with it
 * (PR_SET_PDEATHSIG). Then the parent is husk's main thread. */
static int thread_gone(pid_t tid)
{
	struct pollfd p;
	int fd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD), r;

	if (fd < 0)
		return errno == ESRCH;
	p.fd = fd;
	p.events = POLLIN;
	do {
		r = poll(&p, 1, 10);
	} while (r < 0 && errno == EINTR);
	close(fd);
	return r > 0;
}

/* env_add appends an environment entry to the "go" message being built. */
static void env_add(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(go_msg + go.n, sizeof(go_msg) - (size_t)go.n, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(go_msg) - (size_t)go.n) {
		go.n += n + 1;
		go.nenv++;
	}
}

/* The plan husk's constructor computed for the process and the cgroup it
 * made (husk_stage_plan_ahead in stage.c): its "plan" message comes once,
 * while this stage makes the namespaces. The fields point into msg. */
static struct {
	int read;
	char *msg;
	const char *dirs; /* ndirs NUL-ended directories, cgroups/fs's order */
	size_t dirs_len;
	int ndirs, memory, unified, flags;
	long long times[3]; /* planned (start, end), cgroup made (end) */
	/* With the message: fds of the parents of the directories husk's
	 * constructor made (-1 once adopted, see husk_ahead_adopt_cgroup). */
	int fds[HUSK_STAGE_MAXFDS], nfds;
} given;

/* given_dir is the directory of hierarchy i. */
static const char *given_dir(int i)
{
	const char *d = given.dirs;

	while (i-- > 0)
		d += strlen(d) + 1;
	return d;
}

/* close_given closes the fds the "plan" message brought that are left. */
static void close_given(void)
{
	for (int i = 0; i < given.nfds; i++)
		if (given.fds[i] >= 0)
			close(given.fds[i]);
	given.nfds = 0;
}

/* take_plan reads the "plan" message into given and the cgroup it lists
 * into ahead.cg, which this stage then removes unless husk takes the
 * process. -1, with *why, when husk has no plan for it. */
static int take_plan(const char **why)
{
	static char no[128];
	char head[1], *d, *end, *m;
	ssize_t n;
	int nmade, off = 0;

	if (given.read)
		return -1;
	given.read = 1;
	/* Its size first: the plan can be large. */
	do {
		n = recv(0, head, sizeof(head), MSG_PEEK | MSG_TRUNC);
	} while (n < 0 && errno == EINTR);
	*why = "no plan from husk";
	if (n <= 0 || !(given.msg = malloc((size_t)n + 1)))
		return -1;
	n = recv_fds(0, given.msg, (size_t)n, given.fds, &given.nfds);
	if (n <= 0)
		return -1;
	given.msg[n] = '\0';
	if (!strncmp(given.msg, "plan no ", 8)) {
		size_t l = strnlen(given.msg + 8, sizeof(no) - 1);
		memcpy(no, given.msg + 8, l);
		no[l] = '\0';
		*why = no;
		return -1;
	}
	*why = "bad plan message";
	if (sscanf(given.msg, "plan ok %lld %lld %lld %d %d %d %d %d\n%n", &given.times[0], &given.times[1],
		   &given.times[2], &given.ndirs, &nmade, &given.memory, &given.unified, &given.flags, &off) != 8 ||
	    !off || given.ndirs < 0 || nmade < 0 || given.memory >= given.ndirs || given.unified >= given.ndirs ||
	    given.nfds != nmade)
		return -1;
	/* The directories, those made (parents first), the cwd, then the
	 * plan. */
	end = given.msg + n;
	d = m = given.msg + off;
	for (int i = 0; i < given.ndirs; i++) {
		char *nul = memchr(m, '\0', (size_t)(end - m));
		if (!nul)
			return -1;
		m = nul + 1;
	}
	given.dirs = d;
	given.dirs_len = (size_t)(m - d);
	d = m;
	for (int i = 0; i < nmade; i++) {
		char *nul = memchr(m, '\0', (size_t)(end - m));
		if (!nul)
			return -1;
		m = nul + 1;
	}
	/* The fds are the made directories' parents. */
	if (husk_ahead_adopt_cgroup(&ahead.cg, d, (size_t)(m - d), nmade, given.fds) < 0)
		return -1;
	d = memchr(m, '\0', (size_t)(end - m));
	if (!d)
		return -1;
	husk_ahead_cwd = m;
	m = d + 1;
	husk_ahead_plan_bytes = (const unsigned char *)m;
	husk_ahead_plan_len = (size_t)(end - m);
	return 0;
}

/* speculate sets the container's process up ahead, while husk's Go runtime
 * starts (see stage.go): with the plan and the cgroup husk's constructor
 * made meanwhile (take_plan), it clones the process into the namespaces
 * made and the cgroup v2 directory, with the environment and fds husk
 * would have sent: husk's stdio (this process's fds 1 to 3), a sync socket
 * whose other end husk gets, the memory cgroup's tasks file. It tells husk
 * "spec START PLANNED CGSTART CGEND N" (when husk planned and made the
 * cgroup), the N cgroup directories and the plan, which create compares
 * with its own. It returns -1 with *why, and the cgroup removed, when it
 * does not. args: TID OPTS. */
static int speculate(char **args, int flags, void *stack, const char **why)
{
	char path[PATH_MAX], head[128];
	const char *opts = args[1];
	int sv[2], cgfd = -1, memfd = -1, n, i;
	ssize_t r;
	struct msghdr mh = { 0 };
	struct iovec iov[3];
	union {
		char space[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct cmsghdr *c;

	if (take_plan(why) < 0)
		goto undo;
	*why = "out of memory";
	if (given.unified >= 0 &&
	    (cgfd = openat(AT_FDCWD, given_dir(given.unified), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		goto undo;
	if (given.memory >= 0) {
		snprintf(path, sizeof(path), "%s/tasks", given_dir(given.memory));
		if ((memfd = openat(AT_FDCWD, path, O_WRONLY | O_CLOEXEC)) < 0)
			goto undo;
	}
	if (!thread_gone(atoi(args[0]))) {
		*why = "husk's thread that started the stage is still running";
		goto undo;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		goto undo;

	/* What husk's spawn would have sent (libcontainer/spawn.go). */
	go.nenv = 0;
	go.n = go.len = snprintf(go_msg, sizeof(go_msg), "go\n");
	env_add("_HUSK_SYNCFD=3");
	env_add("_HUSK_INITTYPE=standard");
	env_add("_HUSK_EXTRAFILES=0");
	env_add("_HUSK_EXECPLAN=1");
	env_add("_HUSK_DIRECT=1");
	env_add("_HUSK_AHEAD=1");
	env_add("_HUSK_CLONEFLAGS=%d", flags);
	if (strchr(opts, 't'))
		env_add("_HUSK_TRACE=1");
	go.fds[0] = 1;
	go.fds[1] = 2;
	go.fds[2] = 3;
	go.fds[3] = sv[1];
	go.nfds = 4;
	if (memfd >= 0) {
		env_add("_HUSK_MEMCGFD=%d", go.nfds);
		go.fds[go.nfds++] = memfd;
	}
	/* The cgroup namespace is rooted at the cgroup once the process is
	 * in it in every hierarchy, the memory one included (late). */
	if (given.flags & CLONE_NEWCGROUP)
		env_add("_HUSK_LATE_CGROUPNS=1");
	{
		/* The v1 tasks files but memory's, which the process joins
		 * last (cgroups.JoinSpec). */
		char tasks[8192];
		size_t off = 0;
		for (i = 0; i < given.ndirs; i++) {
			if (i == given.memory || i == given.unified)
				continue;
			off += (size_t)snprintf(tasks + off, sizeof(tasks) - off, "%s%s/tasks", off ? "\n" : "",
						given_dir(i));
			if (off >= sizeof(tasks))
				goto undo_sock;
		}
		if (off)
			env_add("_HUSK_CGROUP_TASKS=%s", tasks);
	}
	go.cg = -1;
	if (cgfd >= 0) {
		go.cg = go.nfds;
		go.fds[go.nfds++] = cgfd;
	}
	/* "spec START PLANNED CGSTART CGEND N\n", the N directories (each
	 * NUL-ended) and the plan, with husk's end of the process's sync
	 * socket: sent before the clone, so that the process never holds
	 * husk's end. The process tells its PID itself. */
	n = snprintf(head, sizeof(head), "spec %lld %lld %lld %lld %d\n", given.times[0], given.times[1],
		     given.times[1], given.times[2], given.ndirs);
	iov[0] = (struct iovec){ head, (size_t)n };
	iov[1] = (struct iovec){ (void *)given.dirs, given.dirs_len };
	iov[2] = (struct iovec){ (void *)husk_ahead_plan_bytes, husk_ahead_plan_len };
	mh.msg_iov = iov;
	mh.msg_iovlen = 3;
	mh.msg_control = ctl.space;
	mh.msg_controllen = sizeof(ctl.space);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &sv[0], sizeof(int));
	while ((r = sendmsg(0, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	close(sv[0]);
	if (r < 0) {
		close(sv[1]);
		goto undo;
	}
	ahead.pid = stage_clone(cgfd, stack);
	close(sv[1]);
	if (cgfd >= 0)
		close(cgfd);
	if (memfd >= 0)
		close(memfd);
	if (ahead.pid < 0) {
		/* husk sees the socket close before a PID: it drops. */
		return 0;
	}
	ahead.pidfd = (int)syscall(SYS_pidfd_open, ahead.pid, 0);
	return 0;

undo_sock:
	close(sv[0]);
	close(sv[1]);
undo:
	if (cgfd >= 0)
		close(cgfd);
	if (memfd >= 0)
		close(memfd);
	close_given();
	husk_ahead_remove_cgroup(&ahead.cg);
	husk_ahead_plan_bytes = NULL;
	husk_ahead_cwd = NULL;
	free(given.msg);
	given.msg = NULL;
	return -1;
}

/* drop_ahead undoes speculate when husk does not take the process: the
 * process is killed and, once it has exited (a zombie is out of its
 * cgroup already), the cgroup removed. husk kills and reaps it first when
 * it can (its child); were husk gone, this does. */
static void drop_ahead(void)
{
	struct pollfd p = { .fd = ahead.pidfd, .events = POLLIN };

	if (ahead.pidfd >= 0) {
		syscall(SYS_pidfd_send_signal, ahead.pidfd, SIGKILL, NULL, 0);
		while (poll(&p, 1, 1000) < 0 && errno == EINTR)
			;
	}
	husk_ahead_remove_cgroup(&ahead.cg);
}

int husk_ahead_stage(int argc, char **argv)
{
	const char *flags_s = argv[0], *cpus_s = argv[1], *why = NULL;
	int flags = atoi(flags_s), i, spec = argc >= 4;
	long long start, end;
	char buf[160];
	void *stack = MAP_FAILED;

	syncfd = 0;
	/* Nothing but its socket and, to set the container's process up
	 * ahead, husk's stdio at 1 to 3: husk's stdout and stderr must not
	 * stay open for longer. */
	syscall(SYS_close_range, spec ? 4 : 1, ~0U, 0);
	send_mountinfo();
	start = xp_now_ns();
	if (unshare(flags) < 0)
		bail(1, "unshare namespaces (flags %#x)", flags);
	end = xp_now_ns();
	snprintf(buf, sizeof(buf), "made %lld %lld", start, end);
	sendmsg_str(buf);
	CPU_ZERO(&husk_cpus);
	for (i = 0; cpus_s[2 * i] && cpus_s[2 * i + 1] && i < (int)sizeof(husk_cpus); i++) {
		int hi = hexval(cpus_s[2 * i]), lo = hexval(cpus_s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			break;
		((unsigned char *)&husk_cpus)[i] = (unsigned char)(hi << 4 | lo);
	}
	husk_cpus_set = CPU_COUNT(&husk_cpus) > 0;
#if defined(__x86_64__)
	stack = mmap(NULL, STAGE_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE,
		     -1, 0);
#endif
	if (spec) {
		/* The process set up ahead is cloned on this process's CPUs
		 * (husk_cpus). */
		if (speculate(argv + 2, flags, stack, &why) == 0) {
			/* husk's verdict: "take", or EOF. */
			ssize_t n;
			syscall(SYS_close_range, 1, 3, 0);
			do {
				n = read(0, buf, sizeof(buf) - 1);
			} while (n < 0 && errno == EINTR);
			if (n == 4 && !memcmp(buf, "take", 4))
				_exit(0);
			drop_ahead();
			_exit(0);
		}
		syscall(SYS_close_range, 1, 3, 0);
		snprintf(buf, sizeof(buf), "nospec %s", why ? why : "");
		sendmsg_str(buf);
	}
	/* This process was started on every CPU but the one husk's runtime
	 * starts on; the container's process it clones for husk may use all
	 * of husk's. */
	if (husk_cpus_set && sched_setaffinity(0, sizeof(husk_cpus), &husk_cpus) < 0)
		bail(1, "set the CPUs of the container's process");
	go.n = recv_go(0, go.fds, &go.nfds);
	if (go.n == 0)
		_exit(0);
	if (go.n < 0 || sscanf(go_msg, "go %d %d\n%n", &go.cg, &go.nenv, &go.len) != 2 ||
	    (go.cg >= 0 && go.cg != go.nfds - 1))
		bail(0, "bad go message");
	if (stage_clone(go.cg >= 0 ? go.fds[go.cg] : -1, stack) < 0)
		bail(1, "clone container process");
	/* The process first, should it share this CPU: its set-up is what
	 * husk waits for, this process's exit (~25 us, handing its memory
	 * over) is not. */
	sched_yield();
	_exit(0);
}
