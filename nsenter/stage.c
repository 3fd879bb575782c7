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

/* The "cg" message husk_stage_make_cgroup makes for the stage, and the
 * cgroup it made. The constructor's thread makes it while the thread that
 * copies husk-init spawns the stage: whichever of the two is done second
 * sends it (cg_deliver), so that neither waits for the other (the spawn
 * may wait for a CPU, and the Go runtime's start for the constructor). */
static char cg_oom[] = "cg no out of memory";
static struct {
	pthread_mutex_t lock;
	int spawned; /* husk_stage_ahead_start has run */
	char *msg;   /* the message, once made */
	size_t len;
	struct husk_ahead_cgroup cg;
} cgmsg = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* cg_deliver sends the message, or removes the cgroup when no stage is
 * there to take it over; with cgmsg.lock held. */
static void cg_deliver(void)
{
	if (stage.sock < 0 || !stage.spec || send(stage.sock, cgmsg.msg, cgmsg.len, MSG_NOSIGNAL) != (ssize_t)cgmsg.len)
		husk_ahead_remove_cgroup(&cgmsg.cg);
	/* The stage removes what was made, unless create takes it. */
	husk_ahead_forget_cgroup(&cgmsg.cg);
	if (cgmsg.msg != cg_oom)
		free(cgmsg.msg);
	cgmsg.msg = NULL;
}

int husk_stage_ahead_start(int exe_fd, int flags, const unsigned char *cpus, size_t cpus_len,
			   const struct husk_stage_spec *spec)
{
	static const char hex[] = "0123456789abcdef";
	char path[32], fl[16], mask[2 * 128 + 1], tid[16], opts[4] = "";
	char *argv[] = { "husk-init", "ahead", fl, mask, tid, NULL, NULL, opts, NULL, NULL };
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
	/* Setting the process up ahead: husk-init ahead FLAGS CPUS TID BUNDLE
	 * ID OPTS PWD, with husk's stdio as its fds 1 to 3 (OPTS: k
	 * --no-new-keyring, p --no-pivot, t --trace). */
	if (spec) {
		snprintf(tid, sizeof(tid), "%d", (int)stage.tid);
		argv[5] = (char *)spec->bundle;
		argv[6] = (char *)spec->id;
		snprintf(opts, sizeof(opts), "%s%s%s", spec->no_new_keyring ? "k" : "", spec->no_pivot ? "p" : "",
			 spec->trace ? "t" : "");
		argv[8] = (char *)(spec->pwd ? spec->pwd : "");
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
	pthread_mutex_lock(&cgmsg.lock);
	cgmsg.spawned = 1;
	if (cgmsg.msg)
		cg_deliver();
	pthread_mutex_unlock(&cgmsg.lock);
	sem_post(&stage.decided);
	return stage.sock >= 0;
}

void husk_stage_make_cgroup(char *config, size_t len, int flags, const struct husk_stage_spec *spec)
{
	struct husk_ahead_in in = { 0 };
	struct husk_ahead_plan plan = { 0 };
	struct husk_ahead_cgroup cg = { 0 };
	const char *no = NULL;
	char *bundle = NULL, *mountinfo = NULL, *made = NULL, *msg = NULL;
	size_t milen = 0, made_len = 0, dirs_len = 0, n = 0;
	long long start = xp_now_ns(), end;
	struct statfs sfs;
	struct stat st;
	int planned = 0;

	if (statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC) {
		no = "a cgroup v2 host";
	} else if (!(bundle = husk_abs_path(spec->bundle, spec->pwd)) ||
		   !(mountinfo = husk_read_text("/proc/self/mountinfo", &milen))) {
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
			planned = 1;
			if ((plan.flags & ~CLONE_NEWCGROUP) != flags)
				no = "namespaces";
			else if (husk_ahead_make_cgroup(&plan, &cg) < 0)
				no = errno == EEXIST ? "the cgroup exists" : "cannot make the cgroup";
		}
	}
	end = xp_now_ns();
	if (!no && !(made = husk_ahead_cgroup_paths(&cg, &made_len)))
		no = "out of memory";
	/* "cg ok START END NDIRS NMADE\n", the plan's directories and those
	 * made (parents first), each NUL-ended; or "cg no WHY". */
	if (!no) {
		for (int i = 0; i < plan.ndirs; i++)
			dirs_len += strlen(plan.dirs[i]) + 1;
		msg = malloc(96 + dirs_len + made_len);
		if (!msg) {
			no = "out of memory";
		} else {
			n = (size_t)sprintf(msg, "cg ok %lld %lld %d %d\n", start, end, plan.ndirs, cg.n);
			for (int i = 0; i < plan.ndirs; i++) {
				size_t l = strlen(plan.dirs[i]) + 1;
				memcpy(msg + n, plan.dirs[i], l);
				n += l;
			}
			memcpy(msg + n, made, made_len);
			n += made_len;
		}
	}
	if (no) {
		/* The stage waits for an answer, whatever it is. */
		husk_ahead_remove_cgroup(&cg);
		free(msg);
		msg = malloc(strlen(no) + 8);
		if (!msg)
			msg = cg_oom;
		else
			sprintf(msg, "cg no %s", no);
		n = strlen(msg);
	}
	pthread_mutex_lock(&cgmsg.lock);
	cgmsg.msg = msg;
	cgmsg.len = n;
	cgmsg.cg = cg;
	if (cgmsg.spawned)
		cg_deliver();
	pthread_mutex_unlock(&cgmsg.lock);
	if (planned)
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
