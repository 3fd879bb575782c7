/*
 * What `run`, `create` and `exec` start ahead, before the Go runtime: see
 * ahead.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ahead.h"

/* From nsenter/inithelper/image.h, nsenter/stage.h and nsenter/nsexec.c
 * (declared here: the go command does not track headers outside a
 * package's directory). */
extern int husk_init_seal_ahead(void (*then)(int fd));
extern void husk_init_publish_sealed(void);
extern int husk_stage_ahead_arm(void);
extern void husk_stage_ahead_disarm(void);
struct husk_stage_spec {
	const char *bundle, *id, *pwd;
	int no_pivot, no_new_keyring, trace;
};
extern int husk_stage_ahead_start(int exe_fd, int flags, const unsigned char *cpus, size_t cpus_len,
				  const struct husk_stage_spec *spec);
extern int husk_ns_flag(const char *name, size_t len);
extern int husk_stage_claim_dir(const char *root, const char *id, const char *pwd);
extern void husk_stage_plan_ahead(char *config, size_t len, int flags, const struct husk_stage_spec *spec);

/* The bundle's config.json, read on the constructor's thread. */
static char config_path[4096];
static char config_buf[256 << 10];
/* The CPUs husk was started on, which the container's process gets. */
static cpu_set_t start_cpus;
/* What the stage needs to set the container's process up ahead too. */
static struct husk_stage_spec spec;
static const char *spec_root;
static int have_spec;

/* A JSON text being scanned: only enough of JSON to find a value by its
 * keys and skip the others. Anything it cannot read ends the scan, and
 * with it the guess (no namespace made ahead). */
struct js {
	const char *p, *end;
};

static void js_space(struct js *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* js_string reads a string: *s and *n are its contents as written, with
 * any escapes in them (a key or value written with escapes matches
 * nothing here). */
static int js_string(struct js *j, const char **s, size_t *n)
{
	js_space(j);
	if (j->p >= j->end || *j->p != '"')
		return -1;
	*s = ++j->p;
	while (j->p < j->end && *j->p != '"')
		j->p += *j->p == '\\' ? 2 : 1;
	if (j->p >= j->end)
		return -1;
	*n = (size_t)(j->p - *s);
	j->p++;
	return 0;
}

static int js_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && !memcmp(s, lit, n);
}

/* js_next moves past the ',' between two members or elements, and says
 * whether another one follows (1), the object or array ends with close
 * (0), or the text is broken (-1). The first call, with first set, only
 * checks for an empty object or array. */
static int js_next(struct js *j, char close, int first)
{
	js_space(j);
	if (j->p >= j->end)
		return -1;
	if (*j->p == close) {
		j->p++;
		return 0;
	}
	if (first)
		return 1;
	if (*j->p != ',')
		return -1;
	j->p++;
	return 1;
}

/* js_key reads an object member's key and its ':'. */
static int js_key(struct js *j, const char **s, size_t *n)
{
	if (js_string(j, s, n) < 0)
		return -1;
	js_space(j);
	if (j->p >= j->end || *j->p != ':')
		return -1;
	j->p++;
	return 0;
}

static int js_skip(struct js *j, int depth)
{
	const char *s;
	size_t n;
	char open, close;
	int more;

	js_space(j);
	if (j->p >= j->end || depth > 64)
		return -1;
	open = *j->p;
	if (open == '"')
		return js_string(j, &s, &n);
	if (open != '{' && open != '[') {
		/* A number, true, false or null. */
		while (j->p < j->end && !strchr(",}] \t\r\n", *j->p))
			j->p++;
		return 0;
	}
	close = open == '{' ? '}' : ']';
	j->p++;
	for (int first = 1; (more = js_next(j, close, first)) == 1; first = 0) {
		if (open == '{' && js_key(j, &s, &n) < 0)
			return -1;
		if (js_skip(j, depth + 1) < 0)
			return -1;
	}
	return more;
}

/* js_member leaves j at the value of key in the object j is at. */
static int js_member(struct js *j, const char *key)
{
	const char *s;
	size_t n;
	int more;

	js_space(j);
	if (j->p >= j->end || *j->p != '{')
		return -1;
	j->p++;
	for (int first = 1; (more = js_next(j, '}', first)) == 1; first = 0) {
		if (js_key(j, &s, &n) < 0)
			return -1;
		if (js_is(s, n, key))
			return 0;
		if (js_skip(j, 1) < 0)
			return -1;
	}
	return -1;
}

/* has_terminal says whether process.terminal is true. */
static int has_terminal(struct js *j)
{
	if (js_member(j, "process") < 0 || js_member(j, "terminal") < 0)
		return 0;
	js_space(j);
	return j->end - j->p >= 4 && !memcmp(j->p, "true", 4);
}

int husk_config_ahead_flags(const char *text, size_t len)
{
	struct js j = { text, text + len };
	const char *s, *type, *path;
	size_t n, type_n, path_n;
	int more, flag, flags = 0;

	/* A terminal takes libcontainer's Go path, which makes its
	 * namespaces itself. */
	if (has_terminal(&j))
		return 0;
	j.p = text;
	if (js_member(&j, "linux") < 0 || js_member(&j, "namespaces") < 0)
		return 0;
	js_space(&j);
	if (j.p >= j.end || *j.p != '[')
		return 0;
	j.p++;
	for (int first = 1; (more = js_next(&j, ']', first)) == 1; first = 0) {
		js_space(&j);
		if (j.p >= j.end || *j.p != '{')
			return 0;
		j.p++;
		type = path = NULL;
		type_n = path_n = 0;
		for (int f = 1; (more = js_next(&j, '}', f)) == 1; f = 0) {
			if (js_key(&j, &s, &n) < 0)
				return 0;
			if (js_is(s, n, "type")) {
				if (js_string(&j, &type, &type_n) < 0)
					return 0;
			} else if (js_is(s, n, "path")) {
				if (js_string(&j, &path, &path_n) < 0)
					return 0;
			} else if (js_skip(&j, 2) < 0) {
				return 0;
			}
		}
		/* A namespace joined by path, and user and time namespaces
		 * (work between the namespace and the process), are not made
		 * ahead; nor is anything not read whole. */
		if (more < 0 || !type || path_n > 0)
			return 0;
		flag = husk_ns_flag(type, type_n);
		if (!flag || (flag & (CLONE_NEWUSER | CLONE_NEWTIME)) || (flags & flag))
			return 0;
		flags |= flag;
	}
	/* Without a new mount namespace the container is set up by Go. The
	 * cgroup namespace is the container process's to unshare, once it is
	 * in its cgroup. */
	return more == 0 && (flags & CLONE_NEWNS) ? flags & ~CLONE_NEWCGROUP : 0;
}

/* read_config reads config_path into config_buf; its length, or -1 when
 * it cannot be read whole. */
static ssize_t read_config(void)
{
	size_t len = 0;
	ssize_t n;
	int fd = openat(AT_FDCWD, config_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (len < sizeof(config_buf) && (n = read(fd, config_buf + len, sizeof(config_buf) - len)) > 0)
		len += (size_t)n;
	close(fd);
	return len < sizeof(config_buf) ? (ssize_t)len : -1;
}

/* The decision, made on the constructor's thread while the other makes
 * husk-init's sealed copy: the namespaces the stage makes (0: none) and,
 * in have_spec, whether it sets the container's process up too. */
static sem_t decided;
static int ahead_flags;

/* stage_job runs on the thread that made husk-init's copy (sealed_fd). */
static void stage_job(int sealed_fd)
{
	while (sem_wait(&decided) < 0 && errno == EINTR)
		;
	husk_stage_ahead_start(sealed_fd, ahead_flags, (const unsigned char *)&start_cpus, sizeof(start_cpus),
			       have_spec ? &spec : NULL);
	/* husk-init has exec'd: Go may have the copy. */
	husk_init_publish_sealed();
}

void husk_start_ahead(const char *bundle, const struct husk_ahead_args *args)
{
	ssize_t len;
	int stage;

	if (bundle && args && args->id) {
		spec.bundle = bundle;
		spec.id = args->id;
		spec.pwd = getenv("PWD");
		spec.no_pivot = args->no_pivot;
		spec.no_new_keyring = args->no_new_keyring;
		spec.trace = args->trace;
		spec_root = args->root;
		have_spec = 1;
	}

	/* On one CPU, making it ahead would only make it sooner. This runs
	 * before startcpu.c pins husk to one CPU: these are the caller's. */
	stage = bundle && sched_getaffinity(0, sizeof(start_cpus), &start_cpus) == 0 && CPU_COUNT(&start_cpus) > 1 &&
		snprintf(config_path, sizeof(config_path), "%s/config.json", bundle) < (int)sizeof(config_path) &&
		sem_init(&decided, 0, 0) == 0 && husk_stage_ahead_arm() == 0;
	if (!husk_init_seal_ahead(stage ? stage_job : NULL)) {
		if (stage)
			husk_stage_ahead_disarm();
		return;
	}
	if (!stage)
		return;
	/* While the other thread copies husk-init: what to make ahead. */
	len = read_config();
	ahead_flags = len > 0 ? husk_config_ahead_flags(config_buf, (size_t)len) : 0;
	/* Only the create that owns the ID sets its container up ahead. */
	if (have_spec && (!ahead_flags || husk_stage_claim_dir(spec_root, spec.id, spec.pwd) < 0))
		have_spec = 0;
	sem_post(&decided);
	/* The process's plan and cgroup, made here: this thread's work
	 * delays the Go runtime's start, on which nothing waits yet, rather
	 * than the stage's, on which the process's does. */
	if (have_spec)
		husk_stage_plan_ahead(config_buf, (size_t)len, ahead_flags, &spec);
}
