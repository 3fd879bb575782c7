/*
 * The fast path: `husk state`, `kill`, `start` and `delete` in C, run by a
 * constructor before the Go runtime starts.
 *
 * A Go process costs ~2.2 ms to start and end on the test machine (the
 * runtime's own start-up: page faults, threads, signal handlers); this
 * binary doing its work in a constructor and calling _exit costs ~0.5 ms.
 * These four commands are most of what containerd's shim, podman and
 * scripts run between a create and the end of a container, and each does
 * a few system calls of work, so for them the Go runtime was most of the
 * cost.
 *
 * Only the plain forms are handled here, and only what Go would do the
 * same way; everything else returns from the constructor and husk runs as
 * always, in Go:
 *   - arguments other than the global flags --root (absolute), --log,
 *     --log-format, --criu, --rootless, --systemd-cgroup, and the command's
 *     own plain form (`kill ID [SIGNAL]`, `delete [-f|--force] ID`, `state
 *     ID`, `start ID`): --debug, --trace, --help, `kill --all`...;
 *   - a state file without a usable fast record (fastrecord.go: an older
 *     husk's, a cgroup driver it does not describe), or a config with
 *     poststart (start) or poststop (delete) hooks;
 *   - every error, and every state the command refuses (start of a
 *     running container, delete of a running one without --force, a
 *     paused one): Go finds the same state and reports it in the log
 *     format asked for. Go is handed over to before anything is changed,
 *     or where what was done is what Go would do first anyway (a deleted
 *     cgroup directory, a killed process), so that it carries on from
 *     there;
 *   - an error after the point of no return (start's fifo read, delete's
 *     state directory) is kept for Go (husk_fast_path_error), which
 *     reports it as it reports its own errors (fastpath.go).
 * _HUSK_NOFAST=1 in the environment turns the fast path off (the tests
 * compare both paths).
 *
 * The state directory is locked (flock) for start and delete as Go locks
 * it, and released before handing over to Go, which locks it again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ahead.h"
#include "fastpath.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* Flags of the fast record: libcontainer/fastrecord.go. */
enum {
	FAST_USABLE = 1 << 0,
	FAST_POSTSTART = 1 << 1,
	FAST_POSTSTOP = 1 << 2,
	FAST_NEWPID = 1 << 3,
};

#define STATE_MAGIC "HUSKST03"
#define MAX_ARGS 32

/* A string of the state file: not NUL-terminated. */
struct span {
	const char *p;
	size_t n;
};

/* A reader of the state file's encoding; bad sticks. */
struct reader {
	const unsigned char *p, *end;
	int bad;
};

static uint64_t rd_uint(struct reader *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			break;
		unsigned char c = *r->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

static int64_t rd_int(struct reader *r)
{
	uint64_t u = rd_uint(r);
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); /* zigzag */
}

static struct span rd_str(struct reader *r)
{
	struct span s = { "", 0 };
	uint64_t n = rd_uint(r);
	if (r->bad || n > (uint64_t)(r->end - r->p)) {
		r->bad = 1;
		return s;
	}
	s.p = (const char *)r->p;
	s.n = n;
	r->p += n;
	return s;
}

/* The fast record, as fastrecord.go lays it out. */
struct record {
	uint64_t flags;
	int64_t pid;
	uint64_t start_time;
	struct span freeze_file;
	int freeze_v2;
	struct span procs_dir;
	uint64_t ndirs;
	struct reader dirs; /* the ndirs strings */
	struct span head, tail;
};

/* The command line, split. */
struct cmdline {
	char *argv[MAX_ARGS];
	int argc;
};

/* What the arguments ask for. */
struct request {
	const char *root;
	const char *cmd;
	const char *id;
	const char *signal; /* kill's, or NULL */
	int force;          /* delete -f */
};

static char dir_path[4096];   /* <root>/<id> */
static char spare_path[4096]; /* <root>/:spare (libcontainer's spareDir) */
static char state_buf[65536]; /* the state file */

/* read_cmdline finds husk's arguments where the kernel put them, on the
 * initial stack: argc, then argv, its NULL, then the environment, which
 * environ still points at (libc's start set it; this constructor runs
 * first, see husk_fast_path). musl passes constructors no arguments, and
 * reading /proc/self/cmdline instead costs ~20 us here. argc is the one
 * slot below argv[0] that holds its own index: no argument pointer is a
 * number that small. */
static int read_cmdline(struct cmdline *c)
{
	char **env = environ;

	if (!env)
		return -1;
	for (long k = 1; k <= MAX_ARGS; k++) {
		if (!env[-1 - k])
			return -1;
		if ((long)(uintptr_t)env[-2 - k] == k) {
			c->argc = (int)k;
			memcpy(c->argv, env - 1 - k, (size_t)k * sizeof(char *));
			return 0;
		}
	}
	return -1;
}

/* flag_value matches argv[*i] against --name and --name=value and returns
 * the value, advancing *i past a separate one; NULL when it is not the
 * flag (or its value is missing, left to Go's error). */
static const char *flag_value(struct cmdline *c, int *i, const char *name)
{
	const char *a = c->argv[*i];
	size_t n = strlen(name);
	if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0)
		return NULL;
	if (a[2 + n] == '=')
		return a + 3 + n;
	if (a[2 + n] != '\0' || *i + 1 >= c->argc)
		return NULL;
	return c->argv[++*i];
}

/* valid_id applies libcontainer's validateID. */
static int valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 1024 || !strcmp(id, ".") || !strcmp(id, ".."))
		return 0;
	for (const char *p = id; *p; p++) {
		char ch = *p;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '+' || ch == '-' || ch == '.'))
			return 0;
	}
	return 1;
}

/* parse_request fills q from the command line; 0 when the fast path
 * handles it. */
static int parse_request(struct cmdline *c, struct request *q)
{
	const char *log = NULL, *v;
	int i;

	q->root = "/run/husk";
	for (i = 1; i < c->argc && c->argv[i][0] == '-'; i++) {
		if ((v = flag_value(c, &i, "root")))
			q->root = v;
		else if ((v = flag_value(c, &i, "log")))
			log = v;
		else if ((v = flag_value(c, &i, "log-format"))) {
			if (strcmp(v, "text") && strcmp(v, "json") && *v)
				return -1;
		} else if ((v = flag_value(c, &i, "rootless"))) {
			if (strcmp(v, "auto") && strcmp(v, "true") && strcmp(v, "false"))
				return -1;
		} else if (flag_value(c, &i, "criu"))
			;
		else if (strcmp(c->argv[i], "--systemd-cgroup") != 0)
			return -1;
	}
	/* Go makes a relative --root absolute and cleans it: left to Go. */
	if (q->root[0] != '/' || strstr(q->root, "/.") || strstr(q->root, "//") || i >= c->argc)
		return -1;
	q->cmd = c->argv[i++];
	if (!strcmp(q->cmd, "delete") && i < c->argc &&
	    (!strcmp(c->argv[i], "-f") || !strcmp(c->argv[i], "--force"))) {
		q->force = 1;
		i++;
	}
	int nargs = c->argc - i;
	for (int j = i; j < c->argc; j++)
		if (c->argv[j][0] == '-')
			return -1;
	if (!strcmp(q->cmd, "kill")) {
		if (nargs < 1 || nargs > 2)
			return -1;
		q->signal = nargs == 2 ? c->argv[i + 1] : NULL;
	} else if (strcmp(q->cmd, "state") && strcmp(q->cmd, "start") && strcmp(q->cmd, "delete")) {
		return -1;
	} else if (nargs != 1) {
		return -1;
	}
	q->id = c->argv[i];
	if (!valid_id(q->id) || snprintf(dir_path, sizeof(dir_path), "%s/%s", q->root, q->id) >= (int)sizeof(dir_path) ||
	    snprintf(spare_path, sizeof(spare_path), "%s/:spare", q->root) >= (int)sizeof(spare_path))
		return -1;
	if (log) {
		/* Go opens (creates) the log file whatever happens. */
		int fd = openat(AT_FDCWD, log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0)
			return -1;
		close(fd);
	}
	return 0;
}

/* in_dir returns the path of name in the state directory: relative to
 * dirfd, the open directory, or whole for AT_FDCWD. */
static const char *in_dir(int dirfd, const char *name)
{
	static char path[sizeof(dir_path) + 16];
	if (dirfd != AT_FDCWD)
		return name;
	snprintf(path, sizeof(path), "%s/%s", dir_path, name);
	return path;
}

/* read_record reads the state file of the state directory (dirfd, see
 * in_dir) into state_buf and its fast record into rec; 0 when it has a
 * usable one. */
static int read_record(int dirfd, struct record *rec)
{
	int fd = openat(dirfd, in_dir(dirfd, "state"), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* A short read of a regular file is its end (as rawfile.ReadWhole). */
	ssize_t n = read(fd, state_buf, sizeof(state_buf));
	close(fd);
	if (n < (ssize_t)sizeof(STATE_MAGIC) || n == (ssize_t)sizeof(state_buf) ||
	    memcmp(state_buf, STATE_MAGIC, sizeof(STATE_MAGIC) - 1) != 0)
		return -1;
	struct reader r = { (unsigned char *)state_buf + sizeof(STATE_MAGIC) - 1, (unsigned char *)state_buf + n, 0 };
	uint64_t len = rd_uint(&r);
	if (r.bad || len > (uint64_t)(r.end - r.p))
		return -1;
	r.end = r.p + len;
	rec->flags = rd_uint(&r);
	rec->pid = rd_int(&r);
	rec->start_time = rd_uint(&r);
	rec->freeze_file = rd_str(&r);
	if (r.p >= r.end || *r.p > 1)
		return -1;
	rec->freeze_v2 = *r.p++;
	rec->procs_dir = rd_str(&r);
	rec->ndirs = rd_uint(&r);
	rec->dirs = r;
	for (uint64_t k = 0; k < rec->ndirs && !r.bad; k++)
		rd_str(&r);
	rec->head = rd_str(&r);
	rec->tail = rd_str(&r);
	if (r.bad || r.p != r.end || !(rec->flags & FAST_USABLE) || rec->pid < 0 || rec->pid > INT32_MAX)
		return -1;
	return 0;
}

/* span_path copies s into buf as a C string; NULL when it does not fit
 * or is empty. */
static const char *span_path(struct span s, char *buf, size_t size)
{
	if (s.n == 0 || s.n >= size || memchr(s.p, '\0', s.n))
		return NULL;
	memcpy(buf, s.p, s.n);
	buf[s.n] = '\0';
	return buf;
}

/* read_small reads a small file (a cgroup or proc file) into buf, NUL
 * terminated; the length, or -1 with errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	int saved = errno;
	close(fd);
	errno = saved;
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* alive is libcontainer's Container.alive: the recorded process exists,
 * is not a zombie, and has the recorded start time (not a reused PID). */
static int alive(const struct record *rec)
{
	char path[64], buf[1024];
	if (rec->pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)rec->pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return 0;
	/* The command name (field 2) may hold spaces and parentheses. */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	char state = 0;
	for (int field = 3; field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return 0;
		if (field == 3)
			state = *p;
		if (field == 22) {
			char *end;
			errno = 0;
			unsigned long long st = strtoull(p, &end, 10);
			if (errno || end == p)
				return 0;
			return state != 'Z' && state != 'X' && st == rec->start_time;
		}
		while (*p && *p != ' ')
			p++;
	}
	return 0;
}

enum status { STOPPED, CREATED, RUNNING, PAUSED, UNKNOWN };
static const char *const status_names[] = { "stopped", "created", "running", "paused" };

/* status is libcontainer's Container.status (dirfd: see in_dir). UNKNOWN
 * is a cgroup v2 freeze that was asked for: only cgroup.events tells
 * whether it is complete, which is left to Go. */
static enum status status(int dirfd, const struct record *rec)
{
	struct stat st;
	char path[4096], buf[64];

	if (!alive(rec))
		return STOPPED;
	if (fstatat(dirfd, in_dir(dirfd, "exec.fifo"), &st, AT_SYMLINK_NOFOLLOW) == 0)
		return CREATED;
	if (!span_path(rec->freeze_file, path, sizeof(path)) || read_small(path, buf, sizeof(buf)) < 0)
		return RUNNING;
	buf[strcspn(buf, "\n")] = '\0';
	if (rec->freeze_v2)
		return strcmp(buf, "1") == 0 ? UNKNOWN : RUNNING;
	return strcmp(buf, "FROZEN") == 0 ? PAUSED : RUNNING;
}

/* open_locked opens the state directory and takes Go's lock (lockDir). */
static int open_locked(void)
{
	struct stat held, named;
	int fd = openat(AT_FDCWD, dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r;
	do
		r = flock(fd, LOCK_EX);
	while (r < 0 && errno == EINTR);
	/* The directory may have gone while the lock was awaited: deleted, or
	 * kept as the spare and already another container's (lockDir). */
	if (r == 0 && (fstat(fd, &held) < 0 || stat(dir_path, &named) < 0 || held.st_ino != named.st_ino ||
		       held.st_dev != named.st_dev)) {
		errno = ENOENT;
		r = -1;
	}
	if (r < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* pidfd_alive opens a pidfd of the container's process and checks, after
 * opening it, that the PID is still the container's (Container.pidfd). */
static int pidfd_alive(const struct record *rec)
{
	if (rec->pid <= 0)
		return -1;
	int fd = syscall(SYS_pidfd_open, (pid_t)rec->pid, 0);
	if (fd < 0)
		return -1;
	if (!alive(rec)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int poll_wait(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	int r;
	do
		r = poll(fds, n, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Results of a command: done (exit 0), left to Go, or failed after the
 * point of no return (the message is in fast_err). */
enum outcome { DONE, TO_GO, FAILED };
static char fast_err[512];

const char *husk_fast_path_error(void)
{
	return fast_err;
}

/* failed keeps the error of a step past the point of no return for Go:
 * the formatted text, then errno's. */
static enum outcome __attribute__((format(printf, 1, 2))) failed(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(fast_err, sizeof(fast_err), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(fast_err))
		snprintf(fast_err + n, sizeof(fast_err) - n, ": %s", strerror(saved));
	return FAILED;
}

/* print_state writes `husk state`'s JSON: the record's head, the pid and
 * the status, the tail (State.IndentedJSON). */
static int print_state(const struct record *rec, enum status st)
{
	char mid[64];
	struct iovec iov[3] = {
		{ (void *)rec->head.p, rec->head.n },
		{ mid, 0 },
		{ (void *)rec->tail.p, rec->tail.n },
	};
	iov[1].iov_len = snprintf(mid, sizeof(mid), "%d,\n  \"status\": \"%s\"", st == STOPPED ? 0 : (int)rec->pid,
				  status_names[st]);
	size_t left = iov[0].iov_len + iov[1].iov_len + iov[2].iov_len;
	struct iovec *v = iov;
	int nv = 3;
	while (left > 0) {
		ssize_t w = writev(1, v, nv);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		left -= w;
		/* A short write: skip what was written. */
		while (nv > 0 && (size_t)w >= v->iov_len) {
			w -= v->iov_len;
			v++;
			nv--;
		}
		if (nv > 0) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= w;
		}
	}
	return 0;
}

static enum outcome fast_state(void)
{
	/* No lock, as Go's state takes none: the paths from AT_FDCWD. */
	struct record rec;
	enum status st = UNKNOWN;
	if (read_record(AT_FDCWD, &rec) == 0)
		st = status(AT_FDCWD, &rec);
	if (st == UNKNOWN)
		return TO_GO;
	if (print_state(&rec, st) < 0)
		return failed("write /dev/stdout");
	return DONE;
}

static enum outcome fast_kill(const char *sigarg)
{
	int sig = SIGTERM;
	if (sigarg && (sig = husk_parse_signal(sigarg)) <= 0)
		return TO_GO;
	struct record rec;
	if (read_record(AT_FDCWD, &rec) < 0)
		return TO_GO;
	int pfd = pidfd_alive(&rec);
	if (pfd < 0)
		return TO_GO;
	int ok = syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) == 0;
	close(pfd);
	return ok ? DONE : TO_GO;
}

static enum outcome fast_start(void)
{
	enum outcome out = TO_GO;
	int dirfd = open_locked(), pfd = -1, ffd = -1;
	struct record rec;
	if (dirfd < 0)
		return TO_GO;
	if (read_record(dirfd, &rec) || (rec.flags & FAST_POSTSTART) || status(dirfd, &rec) != CREATED)
		goto out;
	if ((pfd = pidfd_alive(&rec)) < 0)
		goto out;
	/* As Container.Start: a non-blocking open, then wait for the byte the
	 * process writes or for its death. */
	if ((ffd = openat(dirfd, "exec.fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
		goto out;
	struct pollfd fds[2] = { { .fd = ffd, .events = POLLIN }, { .fd = pfd, .events = POLLIN } };
	if (poll_wait(fds, 2, -1) < 0 || !(fds[0].revents & POLLIN))
		goto out; /* it died: Go says so */
	char b;
	if (read(ffd, &b, 1) != 1)
		goto out;
	/* The program runs (or is about to): from here on, Go would not
	 * find the container in a state it can start. */
	out = unlinkat(dirfd, "exec.fifo", 0) < 0 ? failed("remove %s/exec.fifo", dir_path) : DONE;
out:
	if (ffd >= 0)
		close(ffd);
	if (pfd >= 0)
		close(pfd);
	close(dirfd);
	return out;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

/* remove_state_dir is libcontainer's removeStateDir. */
/* empty_dir says whether the directory open at dirfd (never read from
 * before) has no entries. */
static int empty_dir(int dirfd)
{
	char buf[512];
	long n;

	while ((n = syscall(SYS_getdents64, dirfd, buf, sizeof(buf))) > 0)
		for (long off = 0; off < n;) {
			const char *name = buf + off + 19; /* d_ino, d_off, d_reclen, d_type */
			unsigned short reclen;
			memcpy(&reclen, buf + off + 16, sizeof(reclen));
			if (strcmp(name, ".") && strcmp(name, ".."))
				return 0;
			off += reclen;
		}
	return n == 0;
}

/* remove_state_dir is libcontainer's removeStateDir, keep included: the
 * emptied directory becomes the root's spare one when there is none. */
static int remove_state_dir(int dirfd)
{
	static const char *const files[] = { "state", "config", "exec.fifo" };
	int clean = 1;
	for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++)
		if (unlinkat(dirfd, files[k], 0) < 0 && errno != ENOENT) {
			clean = 0;
			break;
		}
	if (clean && empty_dir(dirfd) &&
	    syscall(SYS_renameat2, AT_FDCWD, dir_path, AT_FDCWD, spare_path, RENAME_NOREPLACE) == 0)
		return 0;
	if (rmdir(dir_path) == 0 || errno == ENOENT)
		return 0;
	return nftw(dir_path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static enum outcome fast_delete(int force)
{
	enum outcome out = TO_GO;
	int dirfd = open_locked(), pfd = -1;
	struct record rec;
	char path[4096], buf[64];
	if (dirfd < 0)
		return TO_GO;
	if (read_record(dirfd, &rec) || (rec.flags & FAST_POSTSTOP))
		goto out;
	enum status st = status(dirfd, &rec);
	/* Without its own PID namespace, the container's processes may
	 * outlive its init: Go finds them in every sub-cgroup. */
	if (!(rec.flags & FAST_NEWPID) || st == PAUSED || st == UNKNOWN || (st == RUNNING && !force))
		goto out;
	if (st != STOPPED) {
		/* Container.killAndWait: the kernel kills the other processes
		 * of the PID namespace with its init. */
		if ((pfd = pidfd_alive(&rec)) >= 0) {
			struct pollfd fds[1] = { { .fd = pfd, .events = POLLIN } };
			if (syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0) < 0 || poll_wait(fds, 1, 10000) <= 0)
				goto out;
		}
	}
	/* Processes still in the cgroup (exiting ones): Go kills them and
	 * waits. A sub-cgroup makes rmdir fail: Go too. */
	if (span_path(rec.procs_dir, path, sizeof(path))) {
		if (strlen(path) + sizeof("/cgroup.procs") > sizeof(path))
			goto out;
		strcat(path, "/cgroup.procs");
		ssize_t n = read_small(path, buf, sizeof(buf));
		if (n > 0 || (n < 0 && errno != ENOENT))
			goto out;
	}
	for (uint64_t k = 0; k < rec.ndirs; k++) {
		struct span d = rd_str(&rec.dirs);
		if (!span_path(d, path, sizeof(path)) || (rmdir(path) < 0 && errno != ENOENT))
			goto out;
	}
	out = remove_state_dir(dirfd) < 0 ? failed("remove state directory: %s", dir_path) : DONE;
out:
	if (pfd >= 0)
		close(pfd);
	close(dirfd);
	return out;
}

/* starts_process returns the index of the command in c when it is one
 * that starts a container process (run, create, exec), whatever global
 * flags come before it; 0 for any other. */
static int starts_process(struct cmdline *c)
{
	static const char *const valued[] = { "root", "log", "log-format", "criu", "rootless", "trace" };

	for (int i = 1; i < c->argc; i++) {
		const char *a = c->argv[i];
		if (a[0] != '-')
			return !strcmp(a, "run") || !strcmp(a, "create") || !strcmp(a, "exec") ? i : 0;
		for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
			if (flag_value(c, &i, valued[k]))
				break;
	}
	return 0;
}

/* bundle_arg returns the --bundle (-b) of run or create, whose own flags
 * start at argv[i]; "." without one. It only finds the flag, and does not
 * check the rest: Go does, and this only guides what is made ahead. */
static const char *bundle_arg(struct cmdline *c, int i)
{
	for (; i < c->argc; i++) {
		const char *a = c->argv[i];
		if (!strcmp(a, "--"))
			break;
		if (a[0] != '-')
			continue;
		a += a[1] == '-' ? 2 : 1;
		if (!strcmp(a, "b") || !strcmp(a, "bundle"))
			return i + 1 < c->argc ? c->argv[i + 1] : ".";
		if (!strncmp(a, "b=", 2))
			return a + 2;
		if (!strncmp(a, "bundle=", 7))
			return a + 7;
	}
	return ".";
}

/* flag_is says whether the flag argument arg (after its dashes) is name,
 * with or without "=value"; *value gets the value or NULL. */
static int flag_is(const char *arg, const char *name, const char **value)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) || (arg[n] && arg[n] != '='))
		return 0;
	*value = arg[n] ? arg + n + 1 : NULL;
	return 1;
}

/* ahead_args reads what the set-up made ahead depends on (ahead.h): the
 * global flags before the command at argv[cmd], run's or create's own
 * after it, and the container ID. It leaves a->id NULL at a flag that
 * changes what create does beyond the plan, at one it does not know, and
 * at flags after the ID: Go reads the command line, and a guess that
 * differs from it costs only the time. */
static void ahead_args(struct cmdline *c, int cmd, struct husk_ahead_args *a)
{
	static const char *const global_valued[] = { "root", "log", "log-format", "criu", "rootless" };
	static const char *const valued[] = { "bundle", "b", "pid-file" };
	static const char *const run_bools[] = { "detach", "d", "keep", "no-subreaper" };
	const char *id = NULL, *v;
	int run = !strcmp(c->argv[cmd], "run");

	memset(a, 0, sizeof(*a));
	a->root = "/run/husk";
	for (int i = 1; i < cmd; i++) {
		const char *arg = c->argv[i] + (c->argv[i][1] == '-' ? 2 : 1);
		int known = 0;
		for (size_t k = 0; !known && k < sizeof(global_valued) / sizeof(global_valued[0]); k++)
			if ((known = flag_is(arg, global_valued[k], &v))) {
				if (!v)
					v = ++i < cmd ? c->argv[i] : "";
				if (!strcmp(global_valued[k], "root"))
					a->root = v;
			}
		if (!known && flag_is(arg, "trace", &v)) {
			known = a->trace = 1;
			if (!v)
				i++;
		}
		if (!known && !(flag_is(arg, "debug", &v) && (!v || !strcmp(v, "true"))))
			return; /* --systemd-cgroup, and what is not known */
	}
	for (int i = cmd + 1; i < c->argc; i++) {
		const char *arg = c->argv[i];
		int known = 0;
		if (!strcmp(arg, "--")) {
			if (id || i + 2 != c->argc)
				return;
			id = c->argv[i + 1];
			break;
		}
		if (arg[0] != '-' || !arg[1]) {
			if (id)
				return;
			id = arg;
			continue;
		}
		if (id)
			return;
		arg += arg[1] == '-' ? 2 : 1;
		for (size_t k = 0; !known && k < sizeof(valued) / sizeof(valued[0]); k++)
			if ((known = flag_is(arg, valued[k], &v)) && !v && ++i >= c->argc)
				return;
		if (!known && flag_is(arg, "preserve-fds", &v)) {
			if (!v && ++i >= c->argc)
				return;
			if (strcmp(v ? v : c->argv[i], "0"))
				return;
			known = 1;
		}
		if (!known && flag_is(arg, "no-pivot", &v) && (!v || !strcmp(v, "true")))
			known = a->no_pivot = 1;
		if (!known && flag_is(arg, "no-new-keyring", &v) && (!v || !strcmp(v, "true")))
			known = a->no_new_keyring = 1;
		for (size_t k = 0; run && !known && k < sizeof(run_bools) / sizeof(run_bools[0]); k++)
			known = flag_is(arg, run_bools[k], &v) && (!v || !strcmp(v, "true") || !strcmp(v, "false"));
		if (!known)
			return; /* --console-socket, and what is not known */
	}
	if (id && valid_id(id))
		a->id = id;
}

static long long start_ns;

long long husk_start_ns(void)
{
	return start_ns;
}

/* Priority 101: before the other constructors (startcpu.c's pin), which
 * the fast path does not need; and the thread husk_init_seal_ahead starts
 * keeps every CPU husk was given. */
__attribute__((constructor(101))) static void husk_fast_path(void)
{
	static struct cmdline c;
	struct request q = { 0 };
	struct timespec ts;
	const char *s;
	enum outcome out;
	int i;

	if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
		start_ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	if (((s = getenv("_HUSK_SYNCFD")) && *s) || read_cmdline(&c) < 0)
		return;
	if ((i = starts_process(&c))) {
		/* Go starts the process from a sealed copy of husk-init: it is
		 * made on another CPU while the Go runtime starts, and so is a
		 * new container's network namespace (ahead.c). */
		struct husk_ahead_args a;
		int exec = !strcmp(c.argv[i], "exec");
		if (!exec)
			ahead_args(&c, i, &a);
		husk_start_ahead(exec ? NULL : bundle_arg(&c, i + 1), exec ? NULL : &a);
		return;
	}
	if (((s = getenv("_HUSK_NOFAST")) && *s) || parse_request(&c, &q) < 0)
		return;
	if (!strcmp(q.cmd, "state"))
		out = fast_state();
	else if (!strcmp(q.cmd, "kill"))
		out = fast_kill(q.signal);
	else if (!strcmp(q.cmd, "start"))
		out = fast_start();
	else
		out = fast_delete(q.force);
	if (out == DONE)
		_exit(0);
	if (out == TO_GO)
		fast_err[0] = '\0';
}

/* Signal names without the SIG prefix, for husk_parse_signal. */
static const struct {
	const char *name;
	int sig;
} signal_names[] = {
	{ "ABRT", SIGABRT }, { "ALRM", SIGALRM }, { "BUS", SIGBUS },	    { "CHLD", SIGCHLD },
	{ "CLD", SIGCHLD },  { "CONT", SIGCONT }, { "FPE", SIGFPE },	    { "HUP", SIGHUP },
	{ "ILL", SIGILL },   { "INT", SIGINT },	  { "IO", SIGIO },	    { "IOT", SIGIOT },
	{ "KILL", SIGKILL }, { "PIPE", SIGPIPE }, { "POLL", SIGPOLL },	    { "PROF", SIGPROF },
	{ "PWR", SIGPWR },   { "QUIT", SIGQUIT }, { "SEGV", SIGSEGV },	    { "STKFLT", SIGSTKFLT },
	{ "STOP", SIGSTOP }, { "SYS", SIGSYS },	  { "TERM", SIGTERM },	    { "TRAP", SIGTRAP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },	    { "URG", SIGURG },
	{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "VTALRM", SIGVTALRM }, { "WINCH", SIGWINCH },
	{ "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
};

/* Real-time signals as user space numbers them: glibc and musl keep 32
 * and 33 for themselves, so RTMIN is 34 for `kill -l`, runc and every
 * container image. */
enum { SIG_RTMIN = 34, SIG_RTMAX = 64 };

/* parse_decimal parses a whole string of decimal digits; -1 for anything
 * else, or a number past 1000. */
static long parse_decimal(const char *s)
{
	long v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 1000)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

int husk_parse_signal(const char *raw)
{
	char name[16];
	size_t n = strlen(raw);
	long num = parse_decimal(raw);

	if (num >= 0)
		return num >= 1 && num <= SIG_RTMAX ? (int)num : 0;
	if (n >= 3 && strncasecmp(raw, "SIG", 3) == 0) {
		raw += 3;
		n -= 3;
	}
	if (n == 0 || n >= sizeof(name))
		return 0;
	for (size_t k = 0; k <= n; k++)
		name[k] = raw[k] >= 'a' && raw[k] <= 'z' ? raw[k] - 'a' + 'A' : raw[k];
	for (size_t k = 0; k < sizeof(signal_names) / sizeof(signal_names[0]); k++)
		if (!strcmp(name, signal_names[k].name))
			return signal_names[k].sig;
	/* RTMIN, RTMIN+N, RTMAX, RTMAX-N */
	int base, sign;
	if (!strncmp(name, "RTMIN", 5))
		base = SIG_RTMIN, sign = 1;
	else if (!strncmp(name, "RTMAX", 5))
		base = SIG_RTMAX, sign = -1;
	else
		return 0;
	if (name[5] == '\0')
		return base;
	if (name[5] != (sign > 0 ? '+' : '-'))
		return 0;
	long off = parse_decimal(name + 6);
	if (off < 0)
		return 0;
	long sig = base + sign * off;
	return sig >= SIG_RTMIN && sig <= SIG_RTMAX ? (int)sig : 0;
}
