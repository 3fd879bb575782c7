/*
 * execplan: stage2 of `husk exec` in C. The process already is in every
 * namespace and cgroup of the container (nsexec.c); this file does what the
 * Go path does in libcontainer.execInit/prepareExec/finalizeCredentials,
 * step by step in the same order, and execs the program without ever
 * starting the Go runtime. The plan's format is in execplan.h; the messages
 * are the JSON ones of libcontainer/sync.go.
 *
 * Every failure is reported as {"type":"error","msg":...} with the same
 * wording as the Go path, then the process exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>

#include "execplan.h"
#include "plan_internal.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#define MAX_LIST 4096     /* args, env vars, groups, rlimits */

enum { CAP_BND, CAP_EFF, CAP_INH, CAP_PRM, CAP_AMB };

static int sock = -1;
int xp_late;

/* Phases timed for `husk --trace` (_HUSK_TRACE), named like the Go path's
 * (initTracer) and sent with "ready"; "exec-plan" spans the whole C set-up
 * and tells a trace's reader that Go never started. */
struct phase {
	const char *name;
	long long start, end;
};
static int tracing, nphases;
static struct phase phases[8];

/* --- messages ------------------------------------------------------- */

/* json_append appends s to out as the inside of a JSON string. */
static size_t json_append(char *out, size_t pos, size_t cap, const char *s)
{
	for (; *s && pos + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[pos++] = '\\';
			out[pos++] = c;
		} else if (c < 0x20) {
			pos += snprintf(out + pos, cap - pos, "\\u%04x", c);
		} else {
			out[pos++] = c;
		}
	}
	out[pos] = '\0';
	return pos;
}

/* xp_send_msg_on sends {"type":type[,"msg":msg]} on the socket on with
 * fd attached when >= 0, exactly what sendSync in Go writes. The msg is
 * JSON-escaped. */
int xp_send_msg_on(int on, const char *type, const char *msg, int fd)
{
	char buf[8192], cbuf[CMSG_SPACE(sizeof(int))];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "{\"type\":\"%s\"", type);
	struct iovec iov;
	struct msghdr mh;
	ssize_t r;

	if (msg && *msg) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",\"msg\":\"");
		n = json_append(buf, n, sizeof(buf) - 2, msg);
		buf[n++] = '"';
	}
	buf[n++] = '}';
	iov.iov_base = buf;
	iov.iov_len = n;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		struct cmsghdr *c;
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do {
		r = sendmsg(on, &mh, 0);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : 0;
}

/* xp_send_msg sends a message on the sync socket (xp_send_msg_on). */
int xp_send_msg(const char *type, const char *msg, int fd)
{
	return xp_send_msg_on(sock, type, msg, fd);
}

/* xp_send_error sends {"type":"error","msg":msg} on fd: nsexec.c's
 * failures, when the parent reads JSON messages from the first one on
 * (a process it cloned itself, _HUSK_DIRECT). */
void xp_send_error(int fd, const char *msg)
{
	xp_send_msg_on(fd, "error", msg, -1);
}

/* xp_recv_msg receives one message from the sync socket fd into buf
 * (NUL-terminated), with the fd attached to it in *attached when attached
 * is not NULL (-1 without one). Returns 1 when it is a JSON message of the
 * given type, 0 when it is another one or the socket is closed (then buf
 * is empty), -1 and errno when the receive failed. */
int xp_recv_msg(int fd, const char *type, char *buf, size_t size, int *attached)
{
	union {
		char space[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, size - 1 };
	struct msghdr mh = { 0 };
	struct cmsghdr *c;
	char want[64];
	ssize_t n;

	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (attached) {
		*attached = -1;
		mh.msg_control = ctl.space;
		mh.msg_controllen = sizeof(ctl.space);
	}
	do {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	if (attached)
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
			    c->cmsg_len == CMSG_LEN(sizeof(int)))
				memcpy(attached, CMSG_DATA(c), sizeof(int));
	snprintf(want, sizeof(want), "\"type\":\"%s\"", type);
	return n > 0 && strstr(buf, want) != NULL;
}

/* errtext is strerror with a lower-case first letter, as Go prints errnos
 * ("no such file or directory"). */
const char *xp_errtext(int err, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

/* fail reports an error to the parent and exits; err != 0 appends its
 * text after ": ". */
void xp_fail(int err, const char *fmt, ...)
{
	char msg[4096], e[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err && n >= 0 && n < (int)sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s", xp_errtext(err, e, sizeof(e)));
	if (xp_late) {
		/* The parent has gone: the container's stderr is all there is. */
		dprintf(2, "husk init: %s\n", msg);
		_exit(1);
	}
	xp_send_msg("error", msg, -1);
	_exit(1);
}

long long xp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int xp_phase_begin(const char *name)
{
	if (!tracing || nphases == (int)(sizeof(phases) / sizeof(phases[0])))
		return -1;
	phases[nphases].name = name;
	phases[nphases].start = xp_now_ns();
	return nphases++;
}

void xp_phase_end(int i)
{
	if (i >= 0)
		phases[i].end = xp_now_ns();
}

/* --- reading the plan ------------------------------------------------ */

char *xp_strndup(const unsigned char *p, uint32_t n)
{
	char *s;
	if (memchr(p, '\0', n))
		xp_fail(0, "exec plan: string with a NUL byte");
	s = malloc((size_t)n + 1);
	if (!s)
		xp_fail(ENOMEM, "exec plan");
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* grow makes room in list (count used) for one more element and a
 * terminator. */
void *xp_grow(void *list, int count, size_t elem)
{
	void *p;
	if (count >= MAX_LIST)
		xp_fail(0, "exec plan: too many entries");
	p = realloc(list, (size_t)(count + 2) * elem);
	if (!p)
		xp_fail(ENOMEM, "exec plan");
	return p;
}

uint32_t xp_u32(const unsigned char *v) { uint32_t x; memcpy(&x, v, 4); return x; }
uint64_t xp_u64(const unsigned char *v) { uint64_t x; memcpy(&x, v, 8); return x; }

static void need_len(uint32_t tag, uint32_t len, uint32_t want)
{
	if (len < want)
		xp_fail(0, "exec plan: record %u too short (%u bytes)", tag, len);
}

/* read_all reads the payload memfd whole. The buffer stays allocated: the
 * plan decoded from it points into it. */
static unsigned char *read_all(int fd, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	size_t off = 0;

	if (fstat(fd, &st) < 0)
		xp_fail(errno, "exec plan: fstat");
	if (st.st_size < XP_MAGIC_LEN || st.st_size > (64 << 20))
		xp_fail(0, "exec plan: bad size %lld", (long long)st.st_size);
	buf = malloc((size_t)st.st_size);
	if (!buf)
		xp_fail(ENOMEM, "exec plan");
	while (off < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			xp_fail(n < 0 ? errno : EIO, "exec plan: read");
		off += (size_t)n;
	}
	close(fd);
	*len = off;
	return buf;
}

/* parse_plan decodes a plan; with container_only, one of a container's
 * records only (the part computed ahead, which has no process
 * records). */
static void parse_plan(const unsigned char *buf, size_t size, struct plan *p, int container_only)
{
	const unsigned char *cur, *end;

	if (size < XP_MAGIC_LEN || memcmp(buf, XP_MAGIC, XP_MAGIC_LEN))
		xp_fail(0, "exec plan: bad magic");
	memset(p, 0, sizeof(*p));
	p->umask = 022;
	cur = buf + XP_MAGIC_LEN;
	end = buf + size;
	while (cur < end) {
		uint32_t tag, len;
		const unsigned char *v;

		if (end - cur < 8)
			xp_fail(0, "exec plan: truncated record");
		tag = xp_u32(cur);
		len = xp_u32(cur + 4);
		v = cur + 8;
		if ((size_t)(end - v) < len)
			xp_fail(0, "exec plan: record %u overruns the plan", tag);
		cur = v + len;
		switch (tag) {
		case XP_ARG:
			p->argv = xp_grow(p->argv, p->argc, sizeof(char *));
			p->argv[p->argc++] = xp_strndup(v, len);
			p->argv[p->argc] = NULL;
			break;
		case XP_ENV:
			p->envp = xp_grow(p->envp, p->envc, sizeof(char *));
			p->envp[p->envc++] = xp_strndup(v, len);
			p->envp[p->envc] = NULL;
			break;
		case XP_CWD:
			p->cwd = xp_strndup(v, len);
			break;
		case XP_UID:
			need_len(tag, len, 4);
			p->uid = xp_u32(v);
			break;
		case XP_GID:
			need_len(tag, len, 4);
			p->gid = xp_u32(v);
			break;
		case XP_GROUPS:
			if (len / 4 > MAX_LIST)
				xp_fail(0, "exec plan: too many groups");
			p->ngroups = (int)(len / 4);
			p->groups = malloc(len + 4);
			if (!p->groups)
				xp_fail(ENOMEM, "exec plan");
			memcpy(p->groups, v, (size_t)p->ngroups * 4);
			break;
		case XP_UMASK:
			need_len(tag, len, 4);
			p->umask = xp_u32(v);
			break;
		case XP_CAPS:
			need_len(tag, len, 40);
			for (int i = 0; i < 5; i++)
				p->caps[i] = xp_u64(v + 8 * i);
			break;
		case XP_RLIMIT:
			need_len(tag, len, 24);
			p->rlimits = xp_grow(p->rlimits, p->nrlimits, sizeof(struct rlim_rec));
			p->rlimits[p->nrlimits].resource = (int)xp_u32(v);
			p->rlimits[p->nrlimits].soft = xp_u64(v + 8);
			p->rlimits[p->nrlimits].hard = xp_u64(v + 16);
			p->rlimits[p->nrlimits].name = xp_strndup(v + 24, len - 24);
			p->nrlimits++;
			break;
		case XP_NNP:
			p->nnp = 1;
			break;
		case XP_SCHED:
			need_len(tag, len, 48); /* SCHED_ATTR_SIZE_VER0 */
			p->sched = (unsigned char *)v;
			p->sched_len = len;
			break;
		case XP_IOPRIO:
			need_len(tag, len, 4);
			p->has_ioprio = 1;
			p->ioprio = (int)xp_u32(v);
			break;
		case XP_TTY:
			need_len(tag, len, 8);
			p->tty = 1;
			p->tty_has_size = xp_u32(v) != 0;
			memcpy(&p->tty_rows, v + 4, 2);
			memcpy(&p->tty_cols, v + 6, 2);
			break;
		case XP_SECCOMP:
			need_len(tag, len, 8);
			p->seccomp_flags = xp_u32(v);
			p->seccomp_notify = xp_u32(v + 4);
			p->filter_len = (int)((len - 8) / sizeof(struct sock_filter));
			/* Copied: the records are not aligned for sock_filter. */
			p->filter = malloc((size_t)p->filter_len * sizeof(struct sock_filter) + 1);
			if (!p->filter)
				xp_fail(ENOMEM, "exec plan");
			memcpy(p->filter, v + 8, (size_t)p->filter_len * sizeof(struct sock_filter));
			break;
		case XP_NFDS:
			need_len(tag, len, 4);
			p->nfds = xp_u32(v);
			break;
		default:
			if (!xp_init_record(p, tag, v, len))
				xp_fail(0, "exec plan: unknown record %u", tag);
		}
	}
	if (p->init && !p->init->rootfs)
		xp_fail(0, "exec plan: init without a rootfs");
	if (container_only) {
		if (!p->init || p->argc || p->cwd)
			xp_fail(0, "exec plan made ahead: not a container's part");
		return;
	}
	if (p->argc == 0)
		xp_fail(0, "exec plan: no args");
	if (!p->cwd)
		xp_fail(0, "exec plan: no cwd");
	if (!p->envp) {
		p->envp = xp_grow(NULL, 0, sizeof(char *));
		p->envp[0] = NULL;
	}
}

/* --- the steps, in execInit's order --------------------------------- */

/* setup_console: setupConsole in Go (without the /dev/console mount, which
 * only a container's first process does). */
static void setup_console(const struct plan *p)
{
	int master, peer, unlock = 0;

	master = openat(AT_FDCWD, "/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		xp_fail(errno, "open /dev/ptmx");
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		xp_fail(errno, "unlock pty");
	/* The peer by TIOCGPTPEER, never by a path (CVE-2025-52565). */
	peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (peer < 0)
		xp_fail(errno, "open pty peer");
	if (p->tty_has_size) {
		struct winsize ws = {.ws_row = p->tty_rows, .ws_col = p->tty_cols};
		if (ioctl(peer, TIOCSWINSZ, &ws) < 0)
			xp_fail(errno, "set console size");
	}
	if (xp_send_msg("console", NULL, master) < 0)
		xp_fail(errno, "send \"console\" to the sync socket");
	close(master);
	if (setsid() < 0)
		xp_fail(errno, "setsid");
	if (ioctl(peer, TIOCSCTTY, 0) < 0)
		xp_fail(errno, "set controlling terminal");
	for (int i = 0; i < 3; i++)
		if (dup3(peer, i, 0) < 0)
			xp_fail(errno, "dup pty to fd %d", i);
	if (peer > 2)
		close(peer);
}

/* set_rlimits: the rlimits part of setupProcess. */
static void set_rlimits(const struct plan *p)
{
	for (int i = 0; i < p->nrlimits; i++) {
		const struct rlim_rec *r = &p->rlimits[i];
		struct rlimit lim = {.rlim_cur = r->soft, .rlim_max = r->hard}, cur;
		int err;

		if (prlimit(0, r->resource, &lim, NULL) == 0)
			continue;
		err = errno;
		memset(&cur, 0, sizeof(cur));
		prlimit(0, r->resource, NULL, &cur);
		if (err == EPERM && r->hard > (uint64_t)cur.rlim_max) {
			char e[128];
			xp_fail(0, "process.rlimits: set %s to soft %llu, hard %llu: %s: the hard limit cannot be raised above the runtime's own (%llu) without CAP_SYS_RESOURCE",
			     r->name, (unsigned long long)r->soft, (unsigned long long)r->hard,
			     xp_errtext(err, e, sizeof(e)), (unsigned long long)cur.rlim_max);
		}
		xp_fail(err, "process.rlimits: set %s to soft %llu, hard %llu", r->name,
		     (unsigned long long)r->soft, (unsigned long long)r->hard);
	}
}

static void set_scheduler(const struct plan *p)
{
	if (!p->sched)
		return;
	/* Copied to an aligned buffer; its size field says how much the
	 * kernel reads. */
	uint64_t attr[16];
	if (p->sched_len > sizeof(attr))
		xp_fail(0, "exec plan: sched_attr too long");
	memset(attr, 0, sizeof(attr));
	memcpy(attr, p->sched, p->sched_len);
	if (syscall(SYS_sched_setattr, 0, attr, 0) < 0)
		xp_fail(errno, "process.scheduler: sched_setattr");
}

static void set_ioprio(const struct plan *p)
{
	if (p->has_ioprio && syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, p->ioprio) < 0)
		xp_fail(errno, "process.ioPriority: ioprio_set");
}

static void set_no_new_privs(const struct plan *p)
{
	if (p->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		xp_fail(errno, "prctl(PR_SET_NO_NEW_PRIVS)");
}

static int executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (!(st.st_mode & 0111))
		return EACCES;
	return 0;
}

/* look_path: lookPath in Go, through the PATH of the process's env (the
 * last PATH= wins; an empty entry is "."). Returns a malloc'ed path. */
static char *look_path(const struct plan *p)
{
	const char *file = p->argv[0], *path = "", *dir;
	int err;

	if (strchr(file, '/')) {
		if ((err = executable(file)))
			xp_fail(err, "exec: \"%s\"", file);
		return (char *)file;
	}
	for (int i = 0; i < p->envc; i++)
		if (!strncmp(p->envp[i], "PATH=", 5))
			path = p->envp[i] + 5;
	for (dir = path;; ) {
		const char *colon = strchr(dir, ':');
		size_t dlen = colon ? (size_t)(colon - dir) : strlen(dir);
		char *cand = malloc(dlen + strlen(file) + 3);

		if (!cand)
			xp_fail(ENOMEM, "exec: \"%s\"", file);
		if (dlen == 0)
			sprintf(cand, "./%s", file);
		else
			sprintf(cand, "%.*s/%s", (int)dlen, dir, file);
		if (!executable(cand))
			return cand;
		free(cand);
		if (!colon)
			break;
		dir = colon + 1;
	}
	xp_fail(0, "exec: \"%s\": executable file not found in $PATH", file);
}

/* join_late_cgroup: joinLateCgroup in Go. The v1 memory cgroup's tasks
 * file was opened by the parent; writing "0" moves this thread only. */
static void join_late_cgroup(void)
{
	const char *s = getenv("_HUSK_MEMCGFD");

	if (s && *s) {
		int fd = atoi(s);
		ssize_t n = write(fd, "0", 1);
		int err = errno;
		close(fd);
		if (n != 1)
			xp_fail(n < 0 ? err : EIO, "join the memory cgroup");
	}
	s = getenv("_HUSK_LATE_CGROUPNS");
	if (s && *s && unshare(CLONE_NEWCGROUP) < 0)
		xp_fail(errno, "unshare cgroup namespace");
}

/* install_seccomp: seccomp.Install in Go, on this (the only) thread.
 * Returns the listener fd or -1. No other syscall follows seccomp(2). */
static int install_seccomp(const struct plan *p)
{
	struct sock_fprog prog;
	int listener = (p->seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) != 0;
	long r;

	if (p->filter_len == 0)
		xp_fail(0, "linux.seccomp: install seccomp filter: empty program");
	if (p->filter_len > BPF_MAXINSNS)
		xp_fail(0, "linux.seccomp: install seccomp filter: program longer than %d instructions", BPF_MAXINSNS);
	if (listener != (p->seccomp_notify != 0))
		xp_fail(0, "linux.seccomp: install seccomp filter: notify and the NEW_LISTENER flag disagree");
	prog.len = (unsigned short)p->filter_len;
	prog.filter = p->filter;
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &prog);
	if (r < 0) {
		if (errno == EACCES)
			xp_fail(0, "linux.seccomp: install seccomp filter: permission denied (set no_new_privs first or hold CAP_SYS_ADMIN)");
		xp_fail(errno, "linux.seccomp: install seccomp filter");
	}
	return listener ? (int)r : -1;
}

/* set_credentials: finalizeCredentials in Go, in package caps' order: the
 * bounding set shrinks (needs CAP_SETPCAP), the IDs change with the
 * capabilities kept, then the sets are set exactly; then the umask. */
static void set_credentials(const struct plan *p)
{
	uint64_t amb = p->caps[CAP_AMB] & p->caps[CAP_PRM] & p->caps[CAP_INH];
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	/* The kernel refuses (EINVAL) the first capability past the last it
	 * knows: that ends the loop without reading cap_last_cap. */
	for (int c = 0; c < 64; c++) {
		if (p->caps[CAP_BND] & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, (unsigned long)c, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break;
			xp_fail(errno, "process.capabilities.bounding: drop capability %d from bounding set", c);
		}
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		xp_fail(errno, "prctl PR_SET_KEEPCAPS 1");
	/* Raw syscalls: no libc credential broadcast (one thread anyway). In a
	 * user namespace with setgroups denied only an empty list can be set,
	 * and that is what an empty config asks for. */
	if (syscall(SYS_setgroups, p->ngroups, p->groups) < 0 && !(errno == EPERM && p->ngroups == 0))
		xp_fail(errno, "process.user.additionalGids: setgroups");
	if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0)
		xp_fail(errno, "process.user.gid: setresgid %u", p->gid);
	if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0)
		xp_fail(errno, "process.user.uid: setresuid %u", p->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		xp_fail(errno, "prctl PR_SET_KEEPCAPS 0");
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(p->caps[CAP_EFF] >> (32 * i));
		data[i].permitted = (uint32_t)(p->caps[CAP_PRM] >> (32 * i));
		data[i].inheritable = (uint32_t)(p->caps[CAP_INH] >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		xp_fail(errno, "process.capabilities: capset (effective %#llx, permitted %#llx, inheritable %#llx)",
		     (unsigned long long)p->caps[CAP_EFF], (unsigned long long)p->caps[CAP_PRM],
		     (unsigned long long)p->caps[CAP_INH]);
	/* Kernels before 4.3 have no ambient set (EINVAL): fine if none is
	 * asked for. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && (errno != EINVAL || amb))
		xp_fail(errno, "process.capabilities: clear ambient capabilities");
	for (int c = 0; c < 64; c++)
		if ((amb & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)c, 0, 0) < 0)
			xp_fail(errno, "process.capabilities: raise ambient capability %d (must be permitted and inheritable)", c);
	umask(p->umask);
}

/* enter_cwd: chdir, then make sure the cwd is inside the container: one
 * reached through a leaked host fd would not start with '/'
 * (CVE-2024-21626). The raw getcwd shows "(unreachable)" as is. */
static void enter_cwd(const struct plan *p)
{
	char buf[4096];

	if (chdir(p->cwd) < 0)
		xp_fail(errno, "process.cwd: chdir %s", p->cwd);
	if (syscall(SYS_getcwd, buf, sizeof(buf)) < 0 || buf[0] != '/')
		xp_fail(0, "process.cwd: %s is outside the container", p->cwd);
}

/* close_extra_fds: every fd past the preserved ones becomes close-on-exec,
 * the sync socket and husk's fds included (CVE-2024-21626). */
static void close_extra_fds(const struct plan *p)
{
	if (syscall(SYS_close_range, 3 + p->nfds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		xp_fail(errno, "close_range");
}

/* send_ready sends "ready" with the trace's phases, a JSON array inside
 * the JSON message (send_msg escapes it, as json.Marshal does in Go). */
static void send_ready(int whole)
{
	char msg[1024];
	size_t n = 0;

	xp_phase_end(whole);
	if (tracing) {
		msg[n++] = '[';
		for (int i = 0; i < nphases; i++)
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s{\"n\":\"%s\",\"s\":%lld,\"e\":%lld}",
					      i ? "," : "", phases[i].name, phases[i].start, phases[i].end);
		snprintf(msg + n, sizeof(msg) - n, "]");
	}
	if (xp_send_msg("ready", tracing ? msg : NULL, -1) < 0)
		xp_fail(errno, "send \"ready\" to the sync socket");
}

/* wait_for_start blocks a container's first process until `start`.
 *
 * Usually `start` is another process: it opens the exec fifo for reading.
 * The fd is an O_PATH handle from the parent: reopened through
 * /proc/self/fd whatever this process can see of the state directory. The
 * fifo stays open, execve closes it: that tells `start` the program runs.
 *
 * Without a fifo (libcontainer.CreateOpts.StartHere: `husk run`) the
 * parent itself starts the container: it sends "start" on the sync socket,
 * which then stays open until execve closes it, with the same meaning. The
 * socket closing first means the parent exited or deleted the container
 * before it started: nothing is left to do.
 *
 * From here on the parent may be gone, so errors go to the container's
 * stderr (xp_late). */
static void wait_for_start(void)
{
	const char *s = getenv("_HUSK_FIFOFD");
	char path[64], buf[64];
	int fd, fifo, r;

	xp_late = 1;
	if (!s || !*s) {
		r = xp_recv_msg(sock, "start", buf, sizeof(buf), NULL);
		if (r < 0)
			xp_fail(errno, "wait for start on the sync socket");
		if (r == 0 && !buf[0])
			_exit(1);
		if (r == 0)
			xp_fail(0, "wait for start: unexpected message %s", buf);
		return;
	}
	close(sock);
	sock = -1;
	fifo = atoi(s);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fifo);
	fd = openat(AT_FDCWD, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		xp_fail(errno, "open exec fifo");
	if (write(fd, "0", 1) != 1)
		xp_fail(errno, "write exec fifo");
	close(fifo);
}

/* The set-up made ahead (_HUSK_AHEAD): this process was cloned by the
 * stage, before husk's Go runtime started, with the container part of
 * the init plan husk's constructor computed (nsexec.c, aheadplan.c); it
 * sets up the root filesystem with it while husk starts, and gets husk's
 * whole plan once create has found the parts the same ("plan",
 * xp_ahead_take). Until
 * then it creates nothing on the host's file systems (initplan.c): the
 * config may yet be one create refuses. */
static struct {
	int on, taken;
	struct plan full;
} ahead_state;

int xp_ahead_pending(void)
{
	return ahead_state.on && !ahead_state.taken;
}

void xp_ahead_take(void)
{
	unsigned char *raw;
	char buf[256];
	size_t len;
	int fd = -1, ph, r;

	if (!xp_ahead_pending())
		return;
	ph = xp_phase_begin("ahead-taken");
	r = xp_recv_msg(sock, "plan", buf, sizeof(buf), &fd);
	if (r < 0)
		xp_fail(errno, "receive from the sync socket");
	if (r == 0 || fd < 0)
		xp_fail(0, "husk did not take the process set up ahead");
	if (strstr(buf, "\"msg\":\"fifo\"")) {
		int fifo = -1;
		char num[16];
		r = xp_recv_msg(sock, "fifo", buf, sizeof(buf), &fifo);
		if (r <= 0 || fifo < 0)
			xp_fail(r < 0 ? errno : 0, "receive the exec fifo");
		snprintf(num, sizeof(num), "%d", fifo);
		setenv("_HUSK_FIFOFD", num, 1);
	}
	raw = read_all(fd, &len);
	/* create compared them already; this process holds it to that. */
	if (len < husk_ahead_plan_len || memcmp(raw, husk_ahead_plan_bytes, husk_ahead_plan_len) ||
	    (len >= husk_ahead_plan_len + 4 && xp_u32(raw + husk_ahead_plan_len) >= XP_INIT))
		xp_fail(0, "husk's plan is not the one this process was set up with ahead");
	parse_plan(raw, len, &ahead_state.full, 0);
	ahead_state.taken = 1;
	xp_phase_end(ph);
}

/* cwd_exists says whether cwd, looked up in this process's root, is a
 * directory: xp_mkdir_cwd will not have to make it. */
static int cwd_exists(const char *cwd)
{
	struct stat st;

	return cwd && cwd[0] == '/' && stat(cwd, &st) == 0 && S_ISDIR(st.st_mode);
}

void husk_exec_plan(int syncfd)
{
	struct plan p;
	const char *s;
	char *path;
	int late_seccomp, notify = -1, whole, ph, prepared = 0, finalized = 0;

	sock = syncfd;
	tracing = getenv("_HUSK_TRACE") != NULL;
	whole = xp_phase_begin("exec-plan");
	s = getenv("_HUSK_AHEAD");
	if (s && *s && husk_ahead_plan_bytes) {
		struct plan ap;
		ahead_state.on = 1;
		parse_plan(husk_ahead_plan_bytes, husk_ahead_plan_len, &ap, 1);
		if (whole >= 0)
			phases[whole].name = "init-plan";
		ph = xp_phase_begin("rootfs-prepare");
		xp_init_prelude(ap.init);
		xp_rootfs_prepare(ap.init, sock);
		xp_phase_end(ph);
		/* Its /dev made and its hooks run: once husk has taken it, it
		 * may set the cgroup's limits, while this process finishes its
		 * set-up, and with CreateOpts.StartEarly send "start" too. */
		if (xp_send_msg("prepared", NULL, -1) < 0)
			xp_fail(errno, "send \"prepared\" to the sync socket");
		/* While husk is not there yet, the masked and read-only paths,
		 * which change nothing outside this mount namespace: they come
		 * after the cwd is made, which the read-only root or paths
		 * could keep from being made, so only when the cwd exists (the
		 * plan husk takes it with has the same). */
		if (xp_ahead_pending() && cwd_exists(husk_ahead_cwd)) {
			ph = xp_phase_begin("rootfs-finalize");
			xp_rootfs_finalize(ap.init);
			xp_phase_end(ph);
			finalized = 1;
		}
		xp_ahead_take();
		p = ahead_state.full;
		prepared = 1;
	} else {
		size_t len;
		unsigned char *buf;
		s = getenv("_HUSK_PAYLOADFD");
		if (!s || !*s)
			xp_fail(0, "missing config fd");
		buf = read_all(atoi(s), &len);
		parse_plan(buf, len, &p, 0);
	}
	if (p.init) {
		/* standardInit's order: the container's own set-up, the root
		 * filesystem, the cwd, then what must come last in it. */
		if (whole >= 0)
			phases[whole].name = "init-plan";
		if (!prepared) {
			ph = xp_phase_begin("rootfs-prepare");
			xp_init_prelude(p.init);
			xp_rootfs_prepare(p.init, sock);
			xp_phase_end(ph);
		}
		xp_mkdir_cwd(p.cwd);
		if (!finalized) {
			ph = xp_phase_begin("rootfs-finalize");
			xp_rootfs_finalize(p.init);
			xp_phase_end(ph);
		}
	}
	if (p.tty)
		setup_console(&p);
	ph = xp_phase_begin("process-setup");
	set_rlimits(&p);
	set_scheduler(&p);
	set_ioprio(&p);
	set_no_new_privs(&p);
	xp_phase_end(ph);
	path = look_path(&p);
	/* Into the memory cgroup while still privileged, before seccomp could
	 * forbid it; the others first, when they were not needed yet. */
	husk_join_late(sock);
	join_late_cgroup();
	/* With no_new_privs the filter waits until right before execve, so it
	 * filters none of this set-up; without, installing needs
	 * CAP_SYS_ADMIN, about to be lost; a listener must reach the parent. */
	late_seccomp = p.filter && p.nnp && !p.seccomp_notify;
	if (p.filter && !late_seccomp) {
		ph = xp_phase_begin("seccomp");
		notify = install_seccomp(&p);
		xp_phase_end(ph);
	}
	ph = xp_phase_begin("credentials");
	set_credentials(&p);
	xp_phase_end(ph);
	enter_cwd(&p);
	close_extra_fds(&p);
	if (notify >= 0) {
		if (xp_send_msg("seccomp", NULL, notify) < 0)
			xp_fail(errno, "send \"seccomp\" to the sync socket");
		close(notify);
	}
	/* The parent may exit once it has "ready" (exec --detach). */
	if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0)
		xp_fail(errno, "prctl(PR_SET_PDEATHSIG)");
	send_ready(whole);
	if (p.init)
		wait_for_start();
	if (late_seccomp)
		install_seccomp(&p);
	/* On success execve closes the sync socket: the parent's signal. */
	execve(path, p.argv, p.envp);
	xp_fail(errno, "exec %s", p.argv[0]);
}
