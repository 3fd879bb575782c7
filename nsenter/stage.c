/*
 * A container's namespaces made ahead, before the Go runtime starts: the
 * parent's side (husk-init's is husk_ahead_stage in nsexec.c). See
 * stage.go for why and how it is used.
 *
 * Not in husk-init's build: the husk binary's side only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

#include "aheadplan.h"
#include "execplan.h"
#include "spawn.h"
#include "stage.h"

/* The stage made ahead: armed by husk's constructor (cmd/husk/ahead.c) for
 * `run` and `create`, whose thread decides from config.json which
 * namespaces the container will want; when it can guess, the thread that
 * makes husk-init's sealed copy then starts husk-init from that copy to
 * make them, on the CPU the runtime's start leaves idle. A process of its
 * own rather than that thread: while a thread of husk's works in the
 * kernel on another CPU, each copy-on-write fault of the runtime's start
 * costs a TLB shootdown IPI to that CPU (~70 of them, ~0.3 ms, on the
 * test machine). */
static struct {
	sem_t decided;
	int armed, taken, flags, sock, spec;
	pid_t pid, tid;
	long long start_ns;
} stage;

/* The container's state directory, claimed ahead (husk_stage_claim_dir):
 * its path and the fd that holds its lock, until Go takes them. */
static struct {
	char path[PATH_MAX];
	int fd, taken;
} claim = { .fd = -1 };

int husk_stage_claim_dir(const char *root, const char *id, const char *pwd)
{
	struct stat held, named;
	char spare[PATH_MAX];
	char *abs = root[0] ? husk_abs_path(root, pwd) : NULL;
	int fd;

	if (!abs || snprintf(claim.path, sizeof(claim.path), "%s/%s", abs, id) >= (int)sizeof(claim.path) ||
	    snprintf(spare, sizeof(spare), "%s/:spare", abs) >= (int)sizeof(spare)) {
		free(abs);
		return -1;
	}
	free(abs);
	if (syscall(SYS_renameat2, AT_FDCWD, spare, AT_FDCWD, claim.path, RENAME_NOREPLACE) < 0 &&
	    (errno == EEXIST || mkdir(claim.path, 0700) < 0))
		return -1;
	fd = openat(AT_FDCWD, claim.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	/* As lockDir: the directory must still be the one locked. */
	if (fstat(fd, &held) < 0 || stat(claim.path, &named) < 0 || held.st_ino != named.st_ino ||
	    held.st_dev != named.st_dev) {
		close(fd);
		return -1;
	}
	claim.fd = fd;
	return 0;
}

int husk_stage_claimed(void)
{
	return claim.fd >= 0 && !__atomic_load_n(&claim.taken, __ATOMIC_ACQUIRE);
}

int husk_stage_take_dir(char *path, size_t cap)
{
	if (claim.fd < 0 || __atomic_exchange_n(&claim.taken, 1, __ATOMIC_ACQ_REL) ||
	    snprintf(path, cap, "%s", claim.path) >= (int)cap)
		return -1;
	return claim.fd;
}

int husk_stage_ahead_arm(void)
{
	if (sem_init(&stage.decided, 0, 0) < 0)
		return -1;
	stage.sock = -1;
	stage.armed = 1;
	return 0;
}

void husk_stage_ahead_disarm(void)
{
	stage.armed = 0;
}

/* The "plan" message husk_stage_plan_ahead makes for the stage, and the
 * cgroup it made. The constructor's thread makes it while the thread that
 * copies husk-init spawns the stage: whichever of the two is done second
 * sends it (plan_deliver), so that neither waits for the other (the spawn
 * may wait for a CPU, and the Go runtime's start for the constructor). */
static char plan_oom[] = "cg no out of memory";
static struct {
	pthread_mutex_t lock;
	int spawned; /* husk_stage_ahead_start has run */
	char *msg;   /* the message, once made */
	size_t len;
	struct husk_ahead_cgroup cg;
} planmsg = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* send_plan sends the message with, as SCM_RIGHTS, the fds of the made
 * directories' parents, which the stage removes them by: it would take it
 * as long to open them again as it took this thread to make them. */
static int send_plan(void)
{
	union {
		char space[CMSG_SPACE(HUSK_STAGE_MAXFDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { planmsg.msg, planmsg.len };
	struct msghdr mh = { 0 };
	int n = planmsg.cg.n, *fds;
	ssize_t r;

	if (n > HUSK_STAGE_MAXFDS)
		return -1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (n > 0 && !strncmp(planmsg.msg, "plan ok ", 8)) {
		struct cmsghdr *c;
		memset(ctl.space, 0, sizeof(ctl.space));
		mh.msg_control = ctl.space;
		mh.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
		fds = (int *)(void *)CMSG_DATA(c);
		for (int i = 0; i < n; i++)
			fds[i] = husk_ahead_cgroup_parent(&planmsg.cg, i);
	}
	while ((r = sendmsg(stage.sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return r == (ssize_t)planmsg.len ? 0 : -1;
}

/* plan_deliver sends the message, or removes the cgroup when no stage is
 * there to take it over; with planmsg.lock held. */
static void plan_deliver(void)
{
	if (stage.sock < 0 || !stage.spec || send_plan() < 0)
		husk_ahead_remove_cgroup(&planmsg.cg);
	/* The stage removes what was made, unless create takes it. */
	husk_ahead_forget_cgroup(&planmsg.cg);
	if (planmsg.msg != plan_oom)
		free(planmsg.msg);
	planmsg.msg = NULL;
}

int husk_stage_ahead_start(int exe_fd, int flags, const unsigned char *cpus, size_t cpus_len,
			   const struct husk_stage_spec *spec)
{
	static const char hex[] = "0123456789abcdef";
	char path[32], fl[16], mask[2 * 128 + 1], tid[16], opts[4] = "";
	char *argv[] = { "husk-init", "ahead", fl, mask, tid, opts, NULL };
	char *envp[] = { NULL };
	int sv[2], fds[5], cerr, nfds = 1, exe = exe_fd;
	size_t i;

	stage.start_ns = xp_now_ns();
	stage.tid = (pid_t)syscall(SYS_gettid);
	if (cpus_len > 128)
		cpus_len = 128;
	for (i = 0; i < cpus_len; i++) {
		mask[2 * i] = hex[cpus[i] >> 4];
		mask[2 * i + 1] = hex[cpus[i] & 15];
	}
	mask[2 * i] = '\0';
	/* Setting the process up ahead, with the plan husk_stage_plan_ahead
	 * sends: husk-init ahead FLAGS CPUS TID OPTS, with husk's stdio as its
	 * fds 1 to 3 (OPTS: t --trace). */
	if (spec) {
		snprintf(tid, sizeof(tid), "%d", (int)stage.tid);
		snprintf(opts, sizeof(opts), "%s", spec->trace ? "t" : "");
		fds[1] = 0;
		fds[2] = 1;
		fds[3] = 2;
		/* husk-init's sealed copy, which it closes once it runs: the
		 * number it had may be one of those. */
		fds[4] = exe_fd;
		exe = 4;
		nfds = 5;
	} else {
		argv[4] = NULL;
	}
	if (flags && exe_fd >= 0 && snprintf(path, sizeof(path), "/proc/self/fd/%d", exe) < (int)sizeof(path) &&
	    snprintf(fl, sizeof(fl), "%d", flags) < (int)sizeof(fl) &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0) {
		/* husk-init's fd 0 is its end of the socket. */
		fds[0] = sv[1];
		stage.pid = husk_spawn(path, argv, envp, fds, nfds, &cerr);
		close(sv[1]);
		if (stage.pid > 0) {
			stage.sock = sv[0];
			stage.flags = flags;
			stage.spec = spec != NULL;
		} else {
			close(sv[0]);
		}
	}
	pthread_mutex_lock(&planmsg.lock);
	planmsg.spawned = 1;
	if (planmsg.msg)
		plan_deliver();
	pthread_mutex_unlock(&planmsg.lock);
	sem_post(&stage.decided);
	return stage.sock >= 0;
}

/* read_text reads a whole file (at most 1 MiB) into a new buffer. */
static char *read_text(const char *path, size_t *len)
{
	size_t cap = 16384, n = 0;
	char *buf = malloc(cap);
	int fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (!buf || fd < 0)
		goto fail;
	for (;;) {
		if (n == cap) {
			char *more = cap < (1 << 20) ? realloc(buf, cap * 2) : NULL;
			if (!more)
				goto fail;
			buf = more;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

void husk_stage_plan_ahead(char *config, size_t len, int flags, const struct husk_stage_spec *spec)
{
	struct husk_ahead_in in = { 0 };
	struct husk_ahead_plan plan = { 0 };
	struct husk_ahead_cgroup cg = { 0 };
	const char *no = NULL;
	char *bundle = NULL, *mountinfo = NULL, *made = NULL, *msg = NULL;
	size_t milen = 0, made_len = 0, dirs_len = 0, n = 0;
	long long start = xp_now_ns(), planned = 0, end;
	struct statfs sfs;
	struct stat st;
	int have_plan = 0;

	if (statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC) {
		no = "a cgroup v2 host";
	} else if (!(bundle = husk_abs_path(spec->bundle, spec->pwd)) ||
		   !(mountinfo = read_text("/proc/self/mountinfo", &milen))) {
		no = "cannot read the bundle or mountinfo";
	} else {
		in.config = config;
		in.config_len = len;
		in.bundle = bundle;
		in.id = spec->id;
		in.mountinfo = mountinfo;
		in.mountinfo_len = milen;
		in.no_new_keyring = spec->no_new_keyring;
		in.no_pivot = spec->no_pivot;
		in.kcore = stat("/proc/kcore", &st) == 0;
		if (husk_plan_ahead(&in, &plan) < 0) {
			no = plan.reason;
		} else {
			have_plan = 1;
			planned = xp_now_ns();
			if ((plan.flags & ~CLONE_NEWCGROUP) != flags)
				no = "namespaces";
			else if (husk_ahead_make_cgroup(&plan, &cg) < 0)
				no = errno == EEXIST ? "the cgroup exists" : "cannot make the cgroup";
		}
	}
	end = xp_now_ns();
	if (!no && !(made = husk_ahead_cgroup_paths(&cg, &made_len)))
		no = "out of memory";
	/* "plan ok START PLANNED END NDIRS NMADE MEMORY UNIFIED FLAGS\n" (the
	 * times, and the plan's fields but its directories), the directories
	 * and those made (parents first), each NUL-ended, process.cwd,
	 * NUL-ended, then the plan's records; or "plan no WHY". */
	if (!no) {
		size_t cwd_len = strlen(plan.cwd) + 1;
		for (int i = 0; i < plan.ndirs; i++)
			dirs_len += strlen(plan.dirs[i]) + 1;
		msg = malloc(160 + dirs_len + made_len + cwd_len + plan.len);
		if (!msg) {
			no = "out of memory";
		} else {
			n = (size_t)sprintf(msg, "plan ok %lld %lld %lld %d %d %d %d %d\n", start, planned, end,
					    plan.ndirs, cg.n, plan.memory, plan.unified, plan.flags);
			for (int i = 0; i < plan.ndirs; i++) {
				size_t l = strlen(plan.dirs[i]) + 1;
				memcpy(msg + n, plan.dirs[i], l);
				n += l;
			}
			memcpy(msg + n, made, made_len);
			n += made_len;
			memcpy(msg + n, plan.cwd, cwd_len);
			n += cwd_len;
			memcpy(msg + n, plan.plan, plan.len);
			n += plan.len;
		}
	}
	if (no) {
		/* The stage waits for an answer, whatever it is. */
		husk_ahead_remove_cgroup(&cg);
		free(msg);
		msg = malloc(strlen(no) + 10);
		if (!msg)
			msg = plan_oom;
		else
			sprintf(msg, "plan no %s", no);
		n = strlen(msg);
	}
	pthread_mutex_lock(&planmsg.lock);
	planmsg.msg = msg;
	planmsg.len = n;
	planmsg.cg = cg;
	if (planmsg.spawned)
		plan_deliver();
	pthread_mutex_unlock(&planmsg.lock);
	if (have_plan)
		husk_plan_ahead_free(&plan);
	free(made);
	free(mountinfo);
	free(bundle);
}

/* husk_stage_take waits only for the decision, which comes right after
 * husk-init's copy, long before Go asks. */
int husk_stage_take(int *sock, int *pid, int *flags, int *tid, int *spec, long long *start_ns)
{
	if (!stage.armed || __atomic_exchange_n(&stage.taken, 1, __ATOMIC_ACQ_REL))
		return -1;
	while (sem_wait(&stage.decided) < 0 && errno == EINTR)
		;
	if (stage.sock < 0)
		return -1;
	*sock = stage.sock;
	*pid = stage.pid;
	*flags = stage.flags;
	*tid = stage.tid;
	*spec = stage.spec;
	*start_ns = stage.start_ns;
	return 0;
}
