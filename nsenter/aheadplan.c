/*
 * The container part of a new container's init plan (execplan.h), computed
 * in C from config.json by husk's constructor, before its Go runtime
 * starts (nsenter/stage.c, stage.go): with it, the container's process
 * the stage clones sets up its root filesystem while husk's runtime
 * starts, instead of after it.
 *
 * It is what specconv.Convert and libcontainer.encodeInitPlan make of the
 * same config, byte for byte, for the configs it understands; for any
 * other it declines (a reason, no plan). It also finds the cgroup's
 * directories as cgroups/fs.NewManager does. It decides nothing: create
 * computes its own plan and its cgroup manager, compares, and takes the
 * process set up from this plan only when both are the same; a difference
 * costs the process and the time, never correctness. So the rules here
 * only need to agree with Go's for the configs they accept, and they
 * decline whatever they are unsure of: unknown or duplicate keys, escapes
 * that decode to NUL, invalid UTF-8, and everything that sends a container
 * down libcontainer's Go path (initGoOnlyReason) or that specconv refuses.
 *
 * Strings are decoded in place: the config's buffer is the caller's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aheadplan.h"
#include "execplan.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#ifndef MS_LAZYTIME
#define MS_LAZYTIME (1 << 25)
#endif
#define A_RDONLY 0x1ULL
#define A_NOSUID 0x2ULL
#define A_NODEV 0x4ULL
#define A_NOEXEC 0x8ULL
#define A__ATIME 0x70ULL
#define A_RELATIME 0x0ULL
#define A_NOATIME 0x10ULL
#define A_STRICTATIME 0x20ULL
#define A_NODIRATIME 0x80ULL
#define A_NOSYMFOLLOW 0x200000ULL

/* libcontainer's xpMaxList, execplan.c's MAX_LIST. */
#define MAX_LIST 4096

/* The planner's memory: one mapping it bumps through and unmaps whole
 * (husk_plan_ahead_free). In the stage, musl's allocator unmapped and
 * mapped its groups again and again as the planner freed small strings
 * (~70 us of a plan's ~200). husk_plan_ahead is not reentrant. */
#define ARENA_SIZE ((size_t)8 << 20)

static char *arena;
static size_t arena_used;

static void *a_alloc(size_t n)
{
	size_t *h;

	n = (n + 15) & ~(size_t)15;
	if (!arena || n + 16 > ARENA_SIZE - arena_used)
		return NULL;
	h = (size_t *)(arena + arena_used);
	*h = n;
	arena_used += n + 16;
	return (char *)h + 16;
}

static void *a_calloc(size_t k, size_t n)
{
	void *p = n && k > SIZE_MAX / n ? NULL : a_alloc(k * n);
	/* The mapping is fresh: zero already. */
	return p;
}

static void *a_realloc(void *old, size_t n)
{
	void *p = a_alloc(n);
	if (p && old) {
		size_t was = *(size_t *)((char *)old - 16);
		memcpy(p, old, was < n ? was : n);
	}
	return p;
}

static char *a_strndup(const char *s, size_t n)
{
	char *p = a_alloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

#define malloc(n) a_alloc(n)
#define calloc(k, n) a_calloc(k, n)
#define realloc(p, n) a_realloc(p, n)
#define strndup(s, n) a_strndup(s, n)
#define strdup(s) a_strndup(s, strlen(s))
#define free(p) ((void)(p))

/* --- JSON ---------------------------------------------------------------- */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	int type, truth;
	char *s;   /* J_STR: the decoded text; J_NUM: the number as written */
	size_t n;  /* its length; for J_ARR and J_OBJ, the element count */
	char *key; /* an object member's decoded key */
	struct jv *child, *next;
};

struct chunk {
	struct chunk *next;
	int used;
	struct jv v[64];
};

struct jp {
	char *p, *end;
	struct chunk *mem;
	int bad;
};

static struct jv *new_jv(struct jp *j, int type)
{
	struct jv *v;

	if (!j->mem || j->mem->used == 64) {
		struct chunk *c = calloc(1, sizeof(*c));
		if (!c) {
			j->bad = 1;
			return NULL;
		}
		c->next = j->mem;
		j->mem = c;
	}
	v = &j->mem->v[j->mem->used++];
	v->type = type;
	return v;
}

static void ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static char *put_utf8(char *w, unsigned c)
{
	if (c < 0x80) {
		*w++ = (char)c;
	} else if (c < 0x800) {
		*w++ = (char)(0xc0 | c >> 6);
		*w++ = (char)(0x80 | (c & 0x3f));
	} else if (c < 0x10000) {
		*w++ = (char)(0xe0 | c >> 12);
		*w++ = (char)(0x80 | (c >> 6 & 0x3f));
		*w++ = (char)(0x80 | (c & 0x3f));
	} else {
		*w++ = (char)(0xf0 | c >> 18);
		*w++ = (char)(0x80 | (c >> 12 & 0x3f));
		*w++ = (char)(0x80 | (c >> 6 & 0x3f));
		*w++ = (char)(0x80 | (c & 0x3f));
	}
	return w;
}

/* valid_utf8 says whether s holds only well-formed UTF-8 without NUL:
 * encoding/json would replace a bad sequence with U+FFFD, and a NUL makes
 * create use the Go path. */
static int valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, min, v;
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, min = 0x80, v = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, min = 0x800, v = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, min = 0x10000, v = c & 0x07;
		else
			return 0;
		if (n - i <= need)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			v = v << 6 | (s[i + k] & 0x3f);
		}
		if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* jstring decodes the string at j->p in place, NUL-terminated. */
static int jstring(struct jp *j, char **out, size_t *len)
{
	char *w, *start;

	if (j->p >= j->end || *j->p != '"')
		return -1;
	start = w = ++j->p;
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p;
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			*w++ = *j->p++;
			continue;
		}
		if (j->end - j->p < 2)
			return -1;
		switch (j->p[1]) {
		case '"':
		case '\\':
		case '/':
			*w++ = j->p[1];
			break;
		case 'b':
			*w++ = '\b';
			break;
		case 'f':
			*w++ = '\f';
			break;
		case 'n':
			*w++ = '\n';
			break;
		case 'r':
			*w++ = '\r';
			break;
		case 't':
			*w++ = '\t';
			break;
		case 'u': {
			unsigned u, lo;
			if (j->end - j->p < 6 || hex4(j->p + 2, &u) < 0)
				return -1;
			if (u >= 0xd800 && u <= 0xdbff) {
				/* A pair, or encoding/json's U+FFFD. */
				if (j->end - j->p < 12 || j->p[6] != '\\' || j->p[7] != 'u' || hex4(j->p + 8, &lo) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return -1;
				u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
				j->p += 6;
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				return -1;
			}
			if (u == 0)
				return -1;
			w = put_utf8(w, u);
			j->p += 4;
			break;
		}
		default:
			return -1;
		}
		j->p += 2;
	}
	if (j->p >= j->end)
		return -1;
	j->p++;
	*w = '\0';
	*out = start;
	*len = (size_t)(w - start);
	return valid_utf8((unsigned char *)start, *len) ? 0 : -1;
}

static struct jv *jvalue(struct jp *j, int depth);

static struct jv *jcontainer(struct jp *j, int depth, int obj)
{
	struct jv *v = new_jv(j, obj ? J_OBJ : J_ARR), **tail;
	char close = obj ? '}' : ']';

	if (!v)
		return NULL;
	tail = &v->child;
	j->p++;
	ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return v;
	}
	for (;;) {
		char *key = NULL;
		size_t klen = 0;
		struct jv *e;

		ws(j);
		if (obj) {
			if (jstring(j, &key, &klen) < 0)
				return NULL;
			/* A duplicate key: encoding/json keeps the last one;
			 * declined rather than copied. */
			for (struct jv *o = v->child; o; o = o->next)
				if (!strcmp(o->key, key))
					return NULL;
			ws(j);
			if (j->p >= j->end || *j->p != ':')
				return NULL;
			j->p++;
		}
		e = jvalue(j, depth + 1);
		if (!e)
			return NULL;
		e->key = key;
		*tail = e;
		tail = &e->next;
		v->n++;
		ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return v;
		}
		return NULL;
	}
}

static int digits(struct jp *j)
{
	const char *s = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s ? 0 : -1;
}

static struct jv *jvalue(struct jp *j, int depth)
{
	struct jv *v;

	ws(j);
	if (j->p >= j->end || depth > 64)
		return NULL;
	switch (*j->p) {
	case '{':
	case '[':
		return jcontainer(j, depth, *j->p == '{');
	case '"':
		v = new_jv(j, J_STR);
		if (!v || jstring(j, &v->s, &v->n) < 0)
			return NULL;
		return v;
	case 't':
	case 'f':
	case 'n': {
		static const char *const lit[] = { "true", "false", "null" };
		int k = *j->p == 't' ? 0 : *j->p == 'f' ? 1 : 2;
		size_t n = strlen(lit[k]);
		if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit[k], n))
			return NULL;
		j->p += n;
		v = new_jv(j, k == 2 ? J_NULL : J_BOOL);
		if (v)
			v->truth = k == 0;
		return v;
	}
	}
	/* A number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
	v = new_jv(j, J_NUM);
	if (!v)
		return NULL;
	v->s = j->p;
	if (*j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (digits(j) < 0)
		return NULL;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (digits(j) < 0)
			return NULL;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (digits(j) < 0)
			return NULL;
	}
	v->n = (size_t)(j->p - v->s);
	return v;
}

/* member returns the value of key in obj, NULL when it is missing or
 * null (what encoding/json leaves at its zero value). */
static struct jv *member(const struct jv *obj, const char *key)
{
	if (!obj || obj->type != J_OBJ)
		return NULL;
	for (struct jv *m = obj->child; m; m = m->next)
		if (!strcmp(m->key, key))
			return m->type == J_NULL ? NULL : m;
	return NULL;
}

/* known says whether every key of obj is in keys (NULL-terminated): an
 * unknown one, or one in another case that encoding/json would still
 * match, is declined. */
static int known(const struct jv *obj, const char *const *keys)
{
	for (struct jv *m = obj->child; m; m = m->next) {
		const char *const *k = keys;
		while (*k && strcmp(*k, m->key))
			k++;
		if (!*k)
			return 0;
	}
	return 1;
}

/* json_int reads an integer-valued number (no fraction or exponent, as
 * encoding/json needs for an integer field) into *out, within [lo, hi]. */
static int json_int(const struct jv *v, long long lo, long long hi, long long *out)
{
	long long x = 0;
	size_t i = 0;
	int neg = 0;

	if (!v || v->type != J_NUM)
		return -1;
	if (v->s[0] == '-')
		neg = 1, i = 1;
	for (; i < v->n; i++) {
		if (v->s[i] < '0' || v->s[i] > '9')
			return -1;
		if (x > (LLONG_MAX - 9) / 10)
			return -1;
		x = x * 10 + (v->s[i] - '0');
	}
	if (neg)
		x = -x;
	if (x < lo || x > hi)
		return -1;
	*out = x;
	return 0;
}

static int is_str(const struct jv *v)
{
	return v && v->type == J_STR;
}

/* str_array says whether v is an array of strings (or missing). */
static int str_array(const struct jv *v)
{
	if (!v)
		return 1;
	if (v->type != J_ARR)
		return 0;
	for (struct jv *e = v->child; e; e = e->next)
		if (e->type != J_STR)
			return 0;
	return 1;
}

/* --- paths, as Go's path/filepath ---------------------------------------- */

/* clean is filepath.Clean into out (cap >= strlen(p) + 2). */
static void clean(const char *p, char *out)
{
	size_t n = strlen(p), r = 0, w = 0, dotdot = 0;
	int rooted = n > 0 && p[0] == '/';

	if (n == 0) {
		strcpy(out, ".");
		return;
	}
	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (p[r] == '/') {
			r++;
		} else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
			r++;
		} else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			while (r < n && p[r] != '/')
				out[w++] = p[r++];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
}

/* join is filepath.Join(a, b) for non-empty a and b, in a new string. */
static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *tmp = malloc(la + lb + 2), *out = malloc(la + lb + 3);

	if (!tmp || !out) {
		free(tmp);
		free(out);
		return NULL;
	}
	memcpy(tmp, a, la);
	tmp[la] = '/';
	memcpy(tmp + la + 1, b, lb + 1);
	clean(tmp, out);
	free(tmp);
	return out;
}

/* clean_abs is libcontainer's cleanPath: filepath.Clean("/" + p). */
static char *clean_abs(const char *p)
{
	size_t n = strlen(p);
	char *tmp = malloc(n + 2), *out = malloc(n + 3);

	if (!tmp || !out) {
		free(tmp);
		free(out);
		return NULL;
	}
	tmp[0] = '/';
	memcpy(tmp + 1, p, n + 1);
	clean(tmp, out);
	free(tmp);
	return out;
}

/* base is filepath.Base of a mount point (absolute and clean). */
static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s && s[1] ? s + 1 : p;
}

/* --- the plan's bytes ------------------------------------------------------ */

struct buf {
	unsigned char *b;
	size_t n, cap;
	int oom;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		unsigned char *nb;
		while (cap < b->n + n)
			cap *= 2;
		nb = realloc(b->b, cap);
		if (!nb) {
			b->oom = 1;
			return;
		}
		b->b = nb;
		b->cap = cap;
	}
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void put_u32(struct buf *b, uint32_t v)
{
	put(b, &v, sizeof(v));
}

static void put_u64(struct buf *b, uint64_t v)
{
	put(b, &v, sizeof(v));
}

static void put_lstr(struct buf *b, const char *s)
{
	put_u32(b, (uint32_t)strlen(s));
	put(b, s, strlen(s));
}

static void rec(struct buf *b, uint32_t tag, const void *v, size_t n)
{
	put_u32(b, tag);
	put_u32(b, (uint32_t)n);
	put(b, v, n);
}

static void rec_str(struct buf *b, uint32_t tag, const char *s)
{
	rec(b, tag, s, strlen(s));
}

static void rec_u32(struct buf *b, uint32_t tag, uint32_t v)
{
	rec(b, tag, &v, sizeof(v));
}

/* --- mounts, as specconv ------------------------------------------------------- */

enum { O_FLAG, O_PROP, O_ATTR, O_DECLINE };

struct mount_opt {
	const char *name;
	int kind, clear;
	uint32_t flag;
	uint64_t set, clr;
};

/* specconv's mountOptions, in its order; idmap, ridmap and tmpcopyup send
 * the mount down the Go path. */
static const struct mount_opt mount_opts[] = {
	{ "defaults", O_FLAG, 0, 0, 0, 0 },
	{ "ro", O_FLAG, 0, MS_RDONLY, 0, 0 },
	{ "rw", O_FLAG, 1, MS_RDONLY, 0, 0 },
	{ "nosuid", O_FLAG, 0, MS_NOSUID, 0, 0 },
	{ "suid", O_FLAG, 1, MS_NOSUID, 0, 0 },
	{ "nodev", O_FLAG, 0, MS_NODEV, 0, 0 },
	{ "dev", O_FLAG, 1, MS_NODEV, 0, 0 },
	{ "noexec", O_FLAG, 0, MS_NOEXEC, 0, 0 },
	{ "exec", O_FLAG, 1, MS_NOEXEC, 0, 0 },
	{ "sync", O_FLAG, 0, MS_SYNCHRONOUS, 0, 0 },
	{ "async", O_FLAG, 1, MS_SYNCHRONOUS, 0, 0 },
	{ "dirsync", O_FLAG, 0, MS_DIRSYNC, 0, 0 },
	{ "remount", O_FLAG, 0, MS_REMOUNT, 0, 0 },
	{ "mand", O_FLAG, 0, MS_MANDLOCK, 0, 0 },
	{ "nomand", O_FLAG, 1, MS_MANDLOCK, 0, 0 },
	{ "noatime", O_FLAG, 0, MS_NOATIME, 0, 0 },
	{ "atime", O_FLAG, 1, MS_NOATIME, 0, 0 },
	{ "nodiratime", O_FLAG, 0, MS_NODIRATIME, 0, 0 },
	{ "diratime", O_FLAG, 1, MS_NODIRATIME, 0, 0 },
	{ "relatime", O_FLAG, 0, MS_RELATIME, 0, 0 },
	{ "norelatime", O_FLAG, 1, MS_RELATIME, 0, 0 },
	{ "strictatime", O_FLAG, 0, MS_STRICTATIME, 0, 0 },
	{ "nostrictatime", O_FLAG, 1, MS_STRICTATIME, 0, 0 },
	{ "lazytime", O_FLAG, 0, MS_LAZYTIME, 0, 0 },
	{ "nolazytime", O_FLAG, 1, MS_LAZYTIME, 0, 0 },
	{ "iversion", O_FLAG, 0, MS_I_VERSION, 0, 0 },
	{ "noiversion", O_FLAG, 1, MS_I_VERSION, 0, 0 },
	{ "acl", O_FLAG, 0, MS_POSIXACL, 0, 0 },
	{ "noacl", O_FLAG, 1, MS_POSIXACL, 0, 0 },
	{ "silent", O_FLAG, 0, MS_SILENT, 0, 0 },
	{ "loud", O_FLAG, 1, MS_SILENT, 0, 0 },
	{ "nosymfollow", O_FLAG, 0, MS_NOSYMFOLLOW, 0, 0 },
	{ "symfollow", O_FLAG, 1, MS_NOSYMFOLLOW, 0, 0 },
	{ "bind", O_FLAG, 0, MS_BIND, 0, 0 },
	{ "rbind", O_FLAG, 0, MS_BIND | MS_REC, 0, 0 },
	{ "private", O_PROP, 0, MS_PRIVATE, 0, 0 },
	{ "rprivate", O_PROP, 0, MS_PRIVATE | MS_REC, 0, 0 },
	{ "shared", O_PROP, 0, MS_SHARED, 0, 0 },
	{ "rshared", O_PROP, 0, MS_SHARED | MS_REC, 0, 0 },
	{ "slave", O_PROP, 0, MS_SLAVE, 0, 0 },
	{ "rslave", O_PROP, 0, MS_SLAVE | MS_REC, 0, 0 },
	{ "unbindable", O_PROP, 0, MS_UNBINDABLE, 0, 0 },
	{ "runbindable", O_PROP, 0, MS_UNBINDABLE | MS_REC, 0, 0 },
	{ "rro", O_ATTR, 0, 0, A_RDONLY, 0 },
	{ "rrw", O_ATTR, 0, 0, 0, A_RDONLY },
	{ "rnosuid", O_ATTR, 0, 0, A_NOSUID, 0 },
	{ "rsuid", O_ATTR, 0, 0, 0, A_NOSUID },
	{ "rnodev", O_ATTR, 0, 0, A_NODEV, 0 },
	{ "rdev", O_ATTR, 0, 0, 0, A_NODEV },
	{ "rnoexec", O_ATTR, 0, 0, A_NOEXEC, 0 },
	{ "rexec", O_ATTR, 0, 0, 0, A_NOEXEC },
	{ "rnodiratime", O_ATTR, 0, 0, A_NODIRATIME, 0 },
	{ "rdiratime", O_ATTR, 0, 0, 0, A_NODIRATIME },
	{ "rnosymfollow", O_ATTR, 0, 0, A_NOSYMFOLLOW, 0 },
	{ "rsymfollow", O_ATTR, 0, 0, 0, A_NOSYMFOLLOW },
	{ "rnoatime", O_ATTR, 0, 0, A_NOATIME, A__ATIME },
	{ "rstrictatime", O_ATTR, 0, 0, A_STRICTATIME, A__ATIME },
	{ "rrelatime", O_ATTR, 0, 0, A_RELATIME, A__ATIME },
	{ "ratime", O_ATTR, 0, 0, A_RELATIME, A__ATIME },
	{ "rnostrictatime", O_ATTR, 0, 0, A_RELATIME, A__ATIME },
	{ "rnorelatime", O_ATTR, 0, 0, A_STRICTATIME, A__ATIME },
	{ "idmap", O_DECLINE, 0, 0, 0, 0 },
	{ "ridmap", O_DECLINE, 0, 0, 0, 0 },
	{ "tmpcopyup", O_DECLINE, 0, 0, 0, 0 },
};

static const struct mount_opt *mount_opt(const char *name)
{
	for (size_t i = 0; i < sizeof(mount_opts) / sizeof(mount_opts[0]); i++)
		if (!strcmp(mount_opts[i].name, name))
			return &mount_opts[i];
	return NULL;
}

/* A mount as configs.Mount holds it. */
struct cmount {
	char *dest, *source, *fstype, *data;
	uint32_t flags, cleared;
	uint32_t prop[64];
	int nprop;
	uint64_t set, clr;
};

/* The planner's state: its reason for declining. */
struct ctx {
	const char *reason;
};

static int decline(struct ctx *c, const char *why)
{
	if (!c->reason)
		c->reason = why;
	return -1;
}

/* convert_mount is specconv's convertMount with parseMountOptions. */
static int convert_mount(struct ctx *c, const struct jv *sm, const char *bundle, struct cmount *m)
{
	static const char *const keys[] = { "destination", "type", "source", "options", "uidMappings", "gidMappings", NULL };
	const struct jv *dest = member(sm, "destination"), *type = member(sm, "type"), *src = member(sm, "source");
	const struct jv *opts = member(sm, "options"), *um = member(sm, "uidMappings"), *gm = member(sm, "gidMappings");
	size_t datalen = 0;
	char *data;

	memset(m, 0, sizeof(*m));
	if (sm->type != J_OBJ || !known(sm, keys))
		return decline(c, "mount: unknown key");
	if (!is_str(dest) || dest->s[0] != '/' || (type && !is_str(type)) || (src && !is_str(src)) || !str_array(opts))
		return decline(c, "mount: field");
	if ((um && (um->type != J_ARR || um->n)) || (gm && (gm->type != J_ARR || gm->n)))
		return decline(c, "mount: id mappings");
	m->dest = malloc(dest->n + 2);
	if (!m->dest)
		return decline(c, "out of memory");
	clean(dest->s, m->dest);
	m->source = src ? src->s : "";
	m->fstype = type ? type->s : "";
	/* The data is at most the options, comma-joined. */
	datalen = 1;
	for (struct jv *o = opts ? opts->child : NULL; o; o = o->next)
		datalen += o->n + 1;
	data = malloc(datalen);
	datalen = 0;
	if (!data)
		return decline(c, "out of memory");
	data[0] = '\0';
	for (struct jv *o = opts ? opts->child : NULL; o; o = o->next) {
		const struct mount_opt *mo = mount_opt(o->s);
		if (!mo) {
			if (datalen)
				data[datalen++] = ',';
			memcpy(data + datalen, o->s, o->n + 1);
			datalen += o->n;
			continue;
		}
		switch (mo->kind) {
		case O_FLAG:
			if (mo->clear) {
				m->flags &= ~mo->flag;
				m->cleared |= mo->flag;
			} else {
				m->flags |= mo->flag;
				m->cleared &= ~mo->flag;
			}
			break;
		case O_PROP:
			if (m->nprop == (int)(sizeof(m->prop) / sizeof(m->prop[0])))
				return decline(c, "mount: propagation options");
			m->prop[m->nprop++] = mo->flag;
			break;
		case O_ATTR:
			if (mo->clr == A__ATIME) {
				m->clr |= mo->clr;
				m->set = (m->set & ~mo->clr) | mo->set;
			} else {
				m->set = (m->set & ~mo->clr) | mo->set;
				m->clr = (m->clr & ~mo->set) | mo->clr;
			}
			break;
		default:
			return decline(c, "mount: idmap or tmpcopyup");
		}
	}
	m->data = data;
	if (!strcmp(m->fstype, "bind"))
		m->flags |= MS_BIND;
	if (m->flags & MS_BIND) {
		m->fstype = "bind";
		if (!m->source[0])
			return decline(c, "mount: bind without source");
		if (m->source[0] != '/') {
			m->source = join(bundle, m->source);
			if (!m->source)
				return decline(c, "out of memory");
		}
		if (m->flags & MS_REMOUNT)
			return decline(c, "mount: remount with bind");
	} else if (!m->fstype[0]) {
		return decline(c, "mount: no type");
	}
	if (!strcmp(m->dest, "/"))
		return decline(c, "mount on /");
	return 0;
}

/* --- cgroups ---------------------------------------------------------------- */

struct line {
	const char *s;
	size_t n;
};

/* next_field splits the next space-separated field off *l. */
static struct line next_field(struct line *l)
{
	struct line f;

	while (l->n && *l->s == ' ')
		l->s++, l->n--;
	f.s = l->s;
	while (l->n && *l->s != ' ')
		l->s++, l->n--;
	f.n = (size_t)(l->s - f.s);
	return f;
}

/* unescape decodes mountinfo's octal escapes (\040) into a new string. */
static char *unescape(struct line f)
{
	char *out = malloc(f.n + 1), *w = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < f.n; i++) {
		const char *p = f.s + i;
		if (*p == '\\' && i + 3 < f.n && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
		    p[3] <= '7') {
			*w++ = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
			i += 3;
			continue;
		}
		*w++ = *p;
	}
	*w = '\0';
	return out;
}

/* A cgroup mount of mountinfo. */
struct cgmount {
	char *root, *mountpoint, *dev, *key; /* key: the v1 controllers, comma-joined */
	int cgroup2;
};

static const char *const v1_subsystems[] = {
	"cpuset", "cpu",	"cpuacct", "memory", "devices", "freezer", "net_cls", "blkio",
	"perf_event", "net_prio", "hugetlb", "pids",	  "rdma",    "misc",    "debug",   NULL,
};

/* cgroup_mounts lists mountinfo's cgroup and cgroup2 mounts in order; key
 * is what cgroups/fs keeps of a v1 mount's options ("" for none). */
static int cgroup_mounts(struct ctx *c, const char *text, size_t len, struct cgmount **out, int *n)
{
	const char *p = text, *end = text + len;
	struct cgmount *ms = NULL;
	int count = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct line l = { p, (size_t)((nl ? nl : end) - p) }, pre, post, f[5], fstype, opts;
		const char *sep = NULL;

		p = nl ? nl + 1 : end;
		for (size_t i = 0; i + 3 <= l.n; i++)
			if (!memcmp(l.s + i, " - ", 3)) {
				sep = l.s + i;
				break;
			}
		if (!sep)
			continue;
		post = (struct line){ sep + 3, (size_t)(l.s + l.n - sep - 3) };
		fstype = next_field(&post);
		if (!(fstype.n == 6 && !memcmp(fstype.s, "cgroup", 6)) && !(fstype.n == 7 && !memcmp(fstype.s, "cgroup2", 7)))
			continue;
		next_field(&post); /* source */
		opts = next_field(&post);
		pre = (struct line){ l.s, (size_t)(sep - l.s) };
		for (int k = 0; k < 5; k++)
			f[k] = next_field(&pre);
		/* What neither Go parser keeps. */
		if (!f[4].n || !opts.n)
			continue;
		struct cgmount *grown = realloc(ms, (size_t)(count + 1) * sizeof(*ms));
		if (!grown)
			return decline(c, "out of memory");
		*out = ms = grown;
		memset(&ms[count], 0, sizeof(ms[count]));
		ms[count].cgroup2 = fstype.n == 7;
		ms[count].dev = strndup(f[2].s, f[2].n);
		ms[count].root = unescape(f[3]);
		ms[count].mountpoint = unescape(f[4]);
		ms[count].key = calloc(1, opts.n + 1);
		count++;
		*n = count;
		if (!ms[count - 1].dev || !ms[count - 1].root || !ms[count - 1].mountpoint || !ms[count - 1].key)
			return decline(c, "out of memory");
		if (!ms[count - 1].cgroup2) {
			char *o = strndup(opts.s, opts.n), *save = NULL, *k = ms[count - 1].key;
			if (!o)
				return decline(c, "out of memory");
			for (char *t = strtok_r(o, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				int sub = !strncmp(t, "name=", 5);
				for (int s = 0; !sub && v1_subsystems[s]; s++)
					sub = !strcmp(t, v1_subsystems[s]);
				if (!sub)
					continue;
				if (*k)
					strcat(k, ",");
				strcat(k, t);
			}
			free(o);
		}
	}
	*out = ms;
	*n = count;
	return 0;
}

/* cg_dir is cgroups/fs's hierarchy.dir: the directory of the absolute,
 * clean cgroup path in the mount m. */
static char *cg_dir(const struct cgmount *m, const char *path)
{
	size_t rl = strlen(m->root);
	const char *rel = path;
	char *out;

	if (strcmp(m->root, "/") &&
	    (!strcmp(path, m->root) || (!strncmp(path, m->root, rl) && path[rl] == '/')))
		rel = path + rl;
	if (!strcmp(rel, "/"))
		return strdup(m->mountpoint);
	out = malloc(strlen(m->mountpoint) + strlen(rel) + 1);
	if (out)
		strcat(strcpy(out, m->mountpoint), rel);
	return out;
}

/* manager_dirs are the cgroup's directories as cgroups/fs.NewManager finds
 * them: one per v1 hierarchy (by controllers, a mount of the hierarchy's
 * root preferred), the unified one last. */
static int manager_dirs(struct ctx *c, struct cgmount *ms, int n, const char *path, struct husk_ahead_plan *out)
{
	struct cgmount **v1 = calloc((size_t)n + 1, sizeof(*v1)), *unified = NULL;
	int nv1 = 0;

	if (!v1)
		return decline(c, "out of memory");
	for (int i = 0; i < n; i++) {
		struct cgmount *m = &ms[i];
		int k;
		if (m->cgroup2) {
			if (!unified || (strcmp(unified->root, "/") && !strcmp(m->root, "/")))
				unified = m;
			continue;
		}
		if (!m->key[0])
			continue;
		for (k = 0; k < nv1 && strcmp(v1[k]->key, m->key); k++)
			;
		if (k < nv1) {
			if (strcmp(v1[k]->root, "/") && !strcmp(m->root, "/"))
				v1[k] = m;
			continue;
		}
		v1[nv1++] = m;
	}
	if (!nv1) {
		free(v1);
		return decline(c, "no cgroup v1 hierarchy");
	}
	out->dirs = calloc((size_t)nv1 + 1, sizeof(char *));
	out->mounts = calloc((size_t)nv1 + 1, sizeof(char *));
	out->memory = out->cpuset = out->unified = -1;
	if (!out->dirs || !out->mounts) {
		free(v1);
		return decline(c, "out of memory");
	}
	for (int k = 0; k < nv1 + (unified != NULL); k++) {
		struct cgmount *m = k < nv1 ? v1[k] : unified;
		char *d = cg_dir(m, path);
		if (!d) {
			free(v1);
			return decline(c, "out of memory");
		}
		out->mounts[out->ndirs] = strdup(m->mountpoint);
		out->dirs[out->ndirs++] = d;
		if (!out->mounts[out->ndirs - 1]) {
			free(v1);
			return decline(c, "out of memory");
		}
		if (k == nv1) {
			out->unified = k;
			continue;
		}
		/* The controller lists are comma-joined: look for whole names. */
		char *keys = strdup(m->key), *save = NULL;
		if (!keys) {
			free(v1);
			return decline(c, "out of memory");
		}
		for (char *t = strtok_r(keys, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (!strcmp(t, "memory"))
				out->memory = k;
			if (!strcmp(t, "cpuset"))
				out->cpuset = k;
		}
		free(keys);
	}
	free(v1);
	return 0;
}

/* layout is libcontainer/rootfs's configHierarchies: the v1 cgroup mount's
 * directory names and host directories, one per hierarchy (by device, a
 * mount of its root preferred), appended to v. */
static int layout(struct ctx *c, struct cgmount *ms, int n, const char *path, struct buf *v)
{
	struct cgmount **picked = calloc((size_t)n + 1, sizeof(*picked));
	int np = 0, unified = -1;

	if (!picked)
		return decline(c, "out of memory");
	for (int i = 0; i < n; i++) {
		struct cgmount *m = &ms[i];
		int k, dup = 0;
		for (k = 0; k < np; k++)
			if (!strcmp(picked[k]->dev, m->dev)) {
				if (strcmp(picked[k]->root, "/") && !strcmp(m->root, "/"))
					picked[k] = m;
				dup = 1;
				break;
			}
		if (dup)
			continue;
		if (m->cgroup2) {
			if (unified >= 0) {
				if (strcmp(picked[unified]->root, "/") && !strcmp(m->root, "/"))
					picked[unified] = m;
				continue;
			}
			unified = np;
		}
		picked[np++] = m;
	}
	put_u32(v, (uint32_t)np);
	for (int k = 0; k < np; k++) {
		struct cgmount *m = picked[k];
		size_t rl = strlen(m->root);
		const char *rel = path;
		char *dir;
		if (strcmp(m->root, "/")) {
			if (!strcmp(path, m->root))
				rel = "/";
			else if (!strncmp(path, m->root, rl) && path[rl] == '/')
				rel = path + rl;
		}
		dir = join(m->mountpoint, rel);
		if (!dir) {
			free(picked);
			return decline(c, "out of memory");
		}
		put_lstr(v, m->cgroup2 ? "unified" : base(m->mountpoint));
		put_lstr(v, dir);
		free(dir);
	}
	free(picked);
	return 0;
}

/* cgroup_path is specconv's cgroupPath for the cgroupfs driver. */
static char *cgroup_path(const struct jv *v, const char *id)
{
	const char *p = is_str(v) ? v->s : "";
	char *out, *tmp;

	if (p[0] == '/') {
		out = malloc(strlen(p) + 2);
		if (out)
			clean(p, out);
		return out;
	}
	tmp = join("/husk", p[0] ? p : id);
	return tmp;
}

/* --- the config ---------------------------------------------------------------- */

/* check_version is specconv's checkVersion: 1.0.0 through 1.3.x. */
static int check_version(const struct jv *v)
{
	unsigned long nums[3];
	const char *s;
	char *end;

	if (!is_str(v))
		return -1;
	s = v->s;
	for (int i = 0; i < 3; i++) {
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		nums[i] = strtoul(s, &end, 10);
		if (errno || nums[i] > UINT32_MAX)
			return -1;
		s = end;
		if (i < 2 && *s++ != '.')
			return -1;
	}
	if (*s && *s != '-' && *s != '+')
		return -1;
	return nums[0] == 1 && nums[1] <= 3 ? 0 : -1;
}

static int check_process(struct ctx *c, const struct jv *p)
{
	static const char *const keys[] = { "terminal", "consoleSize", "user", "args", "env", "cwd", "capabilities",
					    "rlimits", "noNewPrivileges", "apparmorProfile", "selinuxLabel",
					    "oomScoreAdj", "scheduler", "ioPriority", "execCPUAffinity", NULL };
	const struct jv *args = member(p, "args"), *env = member(p, "env"), *cwd = member(p, "cwd");
	const struct jv *t = member(p, "terminal"), *user = member(p, "user"), *rl = member(p, "rlimits");
	const struct jv *oom = member(p, "oomScoreAdj"), *aa = member(p, "apparmorProfile"), *se = member(p, "selinuxLabel");
	long long x;

	if (!p || p->type != J_OBJ || !known(p, keys))
		return decline(c, "process");
	if (t && (t->type != J_BOOL || t->truth))
		return decline(c, "process.terminal");
	if ((aa && (!is_str(aa) || aa->n)) || (se && (!is_str(se) || se->n)))
		return decline(c, "process: LSM label");
	if (member(p, "scheduler") || member(p, "ioPriority") || member(p, "execCPUAffinity"))
		return decline(c, "process: scheduler, I/O priority or CPU affinity");
	if (!args || args->type != J_ARR || !args->n || args->n > MAX_LIST || !str_array(args))
		return decline(c, "process.args");
	if (!is_str(cwd) || cwd->s[0] != '/')
		return decline(c, "process.cwd");
	if (!str_array(env) || (env && env->n > MAX_LIST))
		return decline(c, "process.env");
	for (struct jv *e = env ? env->child : NULL; e; e = e->next) {
		const char *eq = strchr(e->s, '=');
		if (!eq || eq == e->s)
			return decline(c, "process.env");
	}
	if (rl && (rl->type != J_ARR || rl->n > MAX_LIST))
		return decline(c, "process.rlimits");
	if (user) {
		const struct jv *g = member(user, "additionalGids"), *um = member(user, "umask");
		if (user->type != J_OBJ || (g && (g->type != J_ARR || g->n > MAX_LIST)) ||
		    (um && json_int(um, 0, 0777, &x) < 0))
			return decline(c, "process.user");
	}
	if (oom && json_int(oom, -1000, 1000, &x) < 0)
		return decline(c, "process.oomScoreAdj");
	return 0;
}

/* check_hooks declines hooks run inside the container (createContainer,
 * startContainer: the Go path), and says in *before whether prestart or
 * createRuntime hooks run before pivot_root (the plan's HOOKS record);
 * their entries must be what specconv accepts. */
static int check_hooks(struct ctx *c, const struct jv *h, int *before)
{
	static const char *const keys[] = { "prestart",	 "createRuntime", "createContainer",
					    "startContainer", "poststart",	   "poststop",
					    NULL };
	static const char *const hook_keys[] = { "path", "args", "env", "timeout", NULL };

	*before = 0;
	if (!h)
		return 0;
	if (h->type != J_OBJ || !known(h, keys))
		return decline(c, "hooks");
	for (int i = 0; keys[i]; i++) {
		const struct jv *l = member(h, keys[i]);
		if (!l)
			continue;
		if (l->type != J_ARR)
			return decline(c, "hooks");
		if (l->n && i >= 2 && i <= 3)
			return decline(c, "hooks in the container");
		if (l->n && i < 2)
			*before = 1;
		for (struct jv *e = l->child; e; e = e->next) {
			const struct jv *p = member(e, "path"), *t = member(e, "timeout");
			long long x;
			if (e->type != J_OBJ || !known(e, hook_keys) || !is_str(p) || p->s[0] != '/' ||
			    !str_array(member(e, "args")) || !str_array(member(e, "env")) ||
			    (t && json_int(t, 1, INT_MAX, &x) < 0))
				return decline(c, "hooks");
		}
	}
	return 0;
}

/* A device as configs.Device holds it. */
struct cdev {
	char *path;
	char type;
	long long major, minor;
	uint32_t mode, uid, gid;
};

static const struct cdev default_devices[] = {
	{ "/dev/null", 'c', 1, 3, 0666, 0, 0 },	   { "/dev/zero", 'c', 1, 5, 0666, 0, 0 },
	{ "/dev/full", 'c', 1, 7, 0666, 0, 0 },	   { "/dev/random", 'c', 1, 8, 0666, 0, 0 },
	{ "/dev/urandom", 'c', 1, 9, 0666, 0, 0 }, { "/dev/tty", 'c', 5, 0, 0666, 0, 0 },
};

static int put_device(struct ctx *c, struct buf *b, const struct cdev *d)
{
	uint32_t t = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
	struct buf v = { 0 };
	char *p = clean_abs(d->path);

	if (!p)
		return decline(c, "out of memory");
	/* initGoOnlyReason: a clean path below /dev. */
	if (strncmp(p, "/dev/", 5) || !p[5]) {
		free(p);
		return decline(c, "device path");
	}
	put_u32(&v, t | (d->mode & 07777));
	put_u32(&v, (uint32_t)d->major);
	put_u32(&v, (uint32_t)d->minor);
	put_u32(&v, d->uid);
	put_u32(&v, d->gid);
	put(&v, p, strlen(p));
	free(p);
	rec(b, XP_DEVICE, v.b, v.n);
	free(v.b);
	return v.oom ? decline(c, "out of memory") : 0;
}

/* put_devices is specconv's convertDevices, encoded: the default devices
 * linux.devices does not replace, then linux.devices in order. */
static int put_devices(struct ctx *c, struct buf *b, const struct jv *devs)
{
	static const char *const keys[] = { "path", "type", "major", "minor", "fileMode", "uid", "gid", NULL };
	struct cdev *list = NULL;
	int n = 0, err = 0;

	if (devs && devs->type != J_ARR)
		return decline(c, "linux.devices");
	if (devs && devs->n) {
		list = calloc(devs->n, sizeof(*list));
		if (!list)
			return decline(c, "out of memory");
	}
	for (struct jv *d = devs ? devs->child : NULL; d; d = d->next) {
		const struct jv *path = member(d, "path"), *type = member(d, "type"), *mode = member(d, "fileMode");
		const struct jv *uid = member(d, "uid"), *gid = member(d, "gid");
		struct cdev *o = &list[n];
		long long x;

		if (d->type != J_OBJ || !known(d, keys) || !is_str(path) || path->s[0] != '/' || !is_str(type) ||
		    type->n != 1 || !strchr("cbup", type->s[0]) || json_int(member(d, "major"), 0, LLONG_MAX, &o->major) < 0 ||
		    json_int(member(d, "minor"), 0, LLONG_MAX, &o->minor) < 0) {
			err = decline(c, "linux.devices");
			break;
		}
		o->path = malloc(path->n + 2);
		if (!o->path) {
			err = decline(c, "out of memory");
			break;
		}
		clean(path->s, o->path);
		for (int k = 0; k < n; k++)
			if (!strcmp(list[k].path, o->path))
				err = decline(c, "linux.devices: duplicate");
		o->type = type->s[0];
		o->mode = 0666;
		if (mode) {
			if (json_int(mode, 0, UINT32_MAX, &x) < 0) {
				err = decline(c, "linux.devices.fileMode");
				break;
			}
			o->mode = (uint32_t)x & 0777;
		}
		if (uid) {
			if (json_int(uid, 0, UINT32_MAX, &x) < 0) {
				err = decline(c, "linux.devices.uid");
				break;
			}
			o->uid = (uint32_t)x;
		}
		if (gid) {
			if (json_int(gid, 0, UINT32_MAX, &x) < 0) {
				err = decline(c, "linux.devices.gid");
				break;
			}
			o->gid = (uint32_t)x;
		}
		if (err)
			break;
		n++;
	}
	for (size_t i = 0; !err && i < sizeof(default_devices) / sizeof(default_devices[0]); i++) {
		int replaced = 0;
		for (int k = 0; k < n; k++)
			replaced |= !strcmp(list[k].path, default_devices[i].path);
		if (!replaced)
			err = put_device(c, b, &default_devices[i]);
	}
	for (int k = 0; !err && k < n; k++)
		err = put_device(c, b, &list[k]);
	free(list);
	return err;
}

static int path_array(struct ctx *c, const struct jv *v, const char *field)
{
	if (!str_array(v))
		return decline(c, field);
	for (struct jv *e = v ? v->child : NULL; e; e = e->next)
		if (e->s[0] != '/')
			return decline(c, field);
	return 0;
}

/* check_linux reads what of linux create needs from here, and declines
 * what it does not compute: *flags gets the new namespaces, *prop the
 * rootfs propagation. */
static int check_linux(struct ctx *c, const struct jv *l, int *flags, uint32_t *prop)
{
	static const char *const keys[] = { "uidMappings", "gidMappings", "sysctl",	   "resources",
					    "cgroupsPath", "namespaces",	"devices",	   "seccomp",
					    "rootfsPropagation", "maskedPaths", "readonlyPaths", "mountLabel",
					    "personality", "timeOffsets",	NULL };
	static const char *const ns_keys[] = { "type", "path", NULL };
	const struct jv *ns = member(l, "namespaces"), *um = member(l, "uidMappings"), *gm = member(l, "gidMappings");
	const struct jv *sys = member(l, "sysctl"), *lbl = member(l, "mountLabel"), *rp = member(l, "rootfsPropagation");
	const struct jv *to = member(l, "timeOffsets"), *res = member(l, "resources"), *cp = member(l, "cgroupsPath");

	if (!l || l->type != J_OBJ || !known(l, keys))
		return decline(c, "linux");
	if ((um && (um->type != J_ARR || um->n)) || (gm && (gm->type != J_ARR || gm->n)))
		return decline(c, "linux: id mappings");
	if ((sys && (sys->type != J_OBJ || sys->n)) || (to && (to->type != J_OBJ || to->n)) || member(l, "personality"))
		return decline(c, "linux: sysctl, time offsets or personality");
	if (lbl && (!is_str(lbl) || lbl->n))
		return decline(c, "linux.mountLabel");
	if (cp && !is_str(cp))
		return decline(c, "linux.cgroupsPath");
	if (res) {
		const struct jv *h = member(res, "hugepageLimits");
		/* Set needs to know which cgroup2 directories create made. */
		if (res->type != J_OBJ || (h && (h->type != J_ARR || h->n)))
			return decline(c, "linux.resources");
	}
	*flags = 0;
	if (!ns || ns->type != J_ARR)
		return decline(c, "linux.namespaces");
	for (struct jv *e = ns->child; e; e = e->next) {
		const struct jv *t = member(e, "type"), *p = member(e, "path");
		int flag;
		if (e->type != J_OBJ || !known(e, ns_keys) || !is_str(t) || (p && (!is_str(p) || p->n)))
			return decline(c, "linux.namespaces: joined by path");
		flag = husk_ns_flag(t->s, t->n);
		if (!flag || (*flags & flag))
			return decline(c, "linux.namespaces");
		*flags |= flag;
	}
	if (!(*flags & CLONE_NEWNS) || (*flags & (CLONE_NEWUSER | CLONE_NEWTIME)))
		return decline(c, "linux.namespaces: no mount namespace, or a user or time one");
	*prop = 0;
	if (rp) {
		const struct mount_opt *mo = is_str(rp) ? mount_opt(rp->s) : NULL;
		if (!mo || mo->kind != O_PROP)
			return decline(c, "linux.rootfsPropagation");
		*prop = mo->flag;
		if (!(*prop & MS_REC) || !(*prop & (MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)))
			return decline(c, "linux.rootfsPropagation");
	}
	if (path_array(c, member(l, "maskedPaths"), "linux.maskedPaths") < 0 ||
	    path_array(c, member(l, "readonlyPaths"), "linux.readonlyPaths") < 0)
		return -1;
	return 0;
}

/* put_mount appends m's MOUNT record; names and dirs (the v1 layout) are
 * appended for a cgroup mount. */
static int put_mount(struct ctx *c, struct buf *b, const struct cmount *m, int kind, struct cgmount *ms, int nms,
		     const char *cgpath)
{
	struct buf v = { 0 };

	put_u32(&v, (uint32_t)kind);
	put_u32(&v, m->flags);
	put_u32(&v, m->cleared);
	put_u32(&v, (uint32_t)m->nprop);
	put_u64(&v, m->set);
	put_u64(&v, m->clr);
	for (int i = 0; i < m->nprop; i++)
		put_u32(&v, m->prop[i]);
	put_lstr(&v, m->dest);
	put_lstr(&v, m->source);
	put_lstr(&v, m->fstype);
	put_lstr(&v, m->data);
	if (kind == 3 && layout(c, ms, nms, cgpath, &v) < 0) {
		free(v.b);
		return -1;
	}
	rec(b, XP_MOUNT, v.b, v.n);
	free(v.b);
	return v.oom ? decline(c, "out of memory") : 0;
}

static int plan(struct ctx *c, const struct husk_ahead_in *in, const struct jv *top, struct husk_ahead_plan *out)
{
	static const char *const keys[] = { "ociVersion", "process",     "root",  "hostname", "domainname",
					    "mounts",	  "hooks",	 "annotations", "linux",   NULL };
	static const char *const root_keys[] = { "path", "readonly", NULL };
	const struct jv *root = member(top, "root"), *host = member(top, "hostname"), *dom = member(top, "domainname");
	const struct jv *mounts = member(top, "mounts"), *l = member(top, "linux"), *rpath, *ro;
	struct cgmount *ms = NULL;
	int nms = 0, flags, err, hooks;
	uint32_t prop, dev_flags = 0;
	struct buf b = { 0 };
	char *rootfs, *cgpath;
	struct stat st;

	if (!top || top->type != J_OBJ || !known(top, keys))
		return decline(c, "config: unknown key");
	if (check_version(member(top, "ociVersion")) < 0)
		return decline(c, "ociVersion");
	if (!root || root->type != J_OBJ || !known(root, root_keys))
		return decline(c, "root");
	rpath = member(root, "path");
	ro = member(root, "readonly");
	if (!is_str(rpath) || !rpath->n || (ro && ro->type != J_BOOL))
		return decline(c, "root");
	if ((host && !is_str(host)) || (dom && !is_str(dom)) || (mounts && mounts->type != J_ARR))
		return decline(c, "hostname, domainname or mounts");
	if (check_process(c, member(top, "process")) < 0 || check_hooks(c, member(top, "hooks"), &hooks) < 0 ||
	    check_linux(c, l, &flags, &prop) < 0)
		return -1;
	if (((host && host->n) || (dom && dom->n)) && !(flags & CLONE_NEWUTS))
		return decline(c, "hostname without a uts namespace");
	rootfs = rpath->s[0] == '/' ? malloc(rpath->n + 2) : join(in->bundle, rpath->s);
	if (!rootfs)
		return decline(c, "out of memory");
	if (rpath->s[0] == '/')
		clean(rpath->s, rootfs);
	if (stat(rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return decline(c, "root.path");
	cgpath = cgroup_path(member(l, "cgroupsPath"), in->id);
	if (!cgpath || !strcmp(cgpath, "/"))
		return decline(c, "linux.cgroupsPath");
	if (cgroup_mounts(c, in->mountinfo, in->mountinfo_len, &ms, &nms) < 0 || manager_dirs(c, ms, nms, cgpath, out) < 0) {
		free(ms);
		return -1;
	}
	out->flags = flags;
	out->cwd = member(member(top, "process"), "cwd")->s;

	put(&b, XP_MAGIC, XP_MAGIC_LEN);
	rec(&b, XP_INIT, NULL, 0);
	if (!in->no_new_keyring) {
		char *k = malloc(strlen(in->id) + 6);
		if (!k) {
			free(ms);
			return decline(c, "out of memory");
		}
		rec_str(&b, XP_KEYRING, strcat(strcpy(k, "_ses."), in->id));
	}
	if (host && host->n)
		rec_str(&b, XP_HOSTNAME, host->s);
	if (dom && dom->n)
		rec_str(&b, XP_DOMAIN, dom->s);
	rec_str(&b, XP_ROOTFS, rootfs);
	if (prop)
		rec_u32(&b, XP_ROOTPROP, prop);
	err = 0;
	for (struct jv *sm = mounts ? mounts->child : NULL; !err && sm; sm = sm->next) {
		struct cmount m;
		int kind = 1;
		if ((err = convert_mount(c, sm, in->bundle, &m)) < 0)
			break;
		if (!strcmp(m.dest, "/dev")) {
			dev_flags &= ~(uint32_t)1;
			if (m.flags & MS_BIND)
				dev_flags |= 1;
		} else if (!strcmp(m.dest, "/dev/pts")) {
			dev_flags |= 2;
		}
		if (!strcmp(m.fstype, "bind"))
			kind = 2;
		else if (!strcmp(m.fstype, "cgroup"))
			kind = 3;
		if ((err = put_mount(c, &b, &m, kind, ms, nms, cgpath)) < 0)
			break;
		if (!strcmp(m.dest, "/dev") && (m.flags & MS_RDONLY)) {
			uint32_t v[2] = { m.flags, m.cleared };
			rec(&b, XP_DEV_RO, v, sizeof(v));
		}
	}
	free(ms);
	if (err || put_devices(c, &b, member(l, "devices")) < 0) {
		free(b.b);
		return -1;
	}
	if (in->kcore)
		dev_flags |= 4;
	rec_u32(&b, XP_DEVFLAGS, dev_flags);
	for (struct jv *p = member(l, "readonlyPaths") ? member(l, "readonlyPaths")->child : NULL; p; p = p->next)
		rec_str(&b, XP_RO_PATH, p->s);
	for (struct jv *p = member(l, "maskedPaths") ? member(l, "maskedPaths")->child : NULL; p; p = p->next)
		rec_str(&b, XP_MASK_PATH, p->s);
	if (ro && ro->truth)
		rec(&b, XP_ROOT_RO, NULL, 0);
	if (in->no_pivot)
		rec(&b, XP_NOPIVOT, NULL, 0);
	if (hooks)
		rec(&b, XP_HOOKS, NULL, 0);
	if (b.oom) {
		free(b.b);
		return decline(c, "out of memory");
	}
	out->plan = b.b;
	out->len = b.n;
	return 0;
}

int husk_plan_ahead(const struct husk_ahead_in *in, struct husk_ahead_plan *out)
{
	struct jp j = { in->config, in->config + in->config_len, NULL, 0 };
	struct ctx c = { 0 };
	struct jv *top;
	int err;

	memset(out, 0, sizeof(*out));
	out->memory = out->cpuset = out->unified = -1;
	arena = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (arena == MAP_FAILED) {
		arena = NULL;
		out->reason = "out of memory";
		return -1;
	}
	arena_used = 0;
	out->arena = arena;
	top = jvalue(&j, 0);
	ws(&j);
	if (!top || j.bad || j.p != j.end)
		err = decline(&c, "config.json: not JSON this reads");
	else
		err = plan(&c, in, top, out);
	arena = NULL;
	if (err < 0) {
		husk_plan_ahead_free(out);
		out->reason = c.reason ? c.reason : "declined";
		return -1;
	}
	return 0;
}

#undef malloc
#undef calloc
#undef realloc
#undef strndup
#undef strdup
#undef free

void husk_plan_ahead_free(struct husk_ahead_plan *out)
{
	if (out->arena)
		munmap(out->arena, ARENA_SIZE);
	memset(out, 0, sizeof(*out));
	out->memory = out->cpuset = out->unified = -1;
}

/* --- the cgroup, as cgroups/fs.Manager.Apply makes it ------------------ */

static int write_str(const char *dir, const char *file, const char *v)
{
	char path[PATH_MAX];
	int fd, ok;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -1;
	fd = openat(AT_FDCWD, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, v, strlen(v)) == (ssize_t)strlen(v);
	close(fd);
	return ok ? 0 : -1;
}

/* read_trim reads dir/file into v (cap bytes), without its trailing
 * whitespace. */
static int read_trim(const char *dir, const char *file, char *v, size_t cap)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -1;
	fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, v, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	while (n > 0 && (v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	v[n] = '\0';
	return 0;
}

/* init_cpuset is cgroups/fs's initCpuset for a cpuset directory made here:
 * empty cpus and mems (a parent without clone_children) get the parent's,
 * and a parent made here gets clone_children. */
static int init_cpuset(const char *dir, int parent)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char cur[4096], up[PATH_MAX];

	for (int i = 0; i < 2; i++) {
		if (read_trim(dir, files[i], cur, sizeof(cur)) < 0)
			return -1;
		if (cur[0])
			continue;
		snprintf(up, sizeof(up), "%s", dir);
		*strrchr(up, '/') = '\0';
		if (read_trim(up, files[i], cur, sizeof(cur)) < 0 || write_str(dir, files[i], cur) < 0)
			return -1;
	}
	return parent ? write_str(dir, "cgroup.clone_children", "1") : 0;
}

/* A directory made for the cgroup: its path, and its name (in path) in
 * its parent, open. The process set up with the plan pivots into its root
 * filesystem in the stage's mount namespace, which moves the stage's root
 * there too: paths no longer reach the host's cgroup mounts, the parents'
 * fds do. */
struct made_dir {
	int parent;
	char *path, *name;
};

/* made_add appends the directory at path, made already, to made. */
static int made_add(const char *path, struct made_dir *made, int *nmade)
{
	struct made_dir *m = &made[*nmade];
	char *slash;

	m->path = strdup(path);
	slash = m->path ? strrchr(m->path, '/') : NULL;
	if (!slash)
		goto fail;
	*slash = '\0';
	m->parent = openat(AT_FDCWD, m->path[0] ? m->path : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	*slash = '/';
	if (m->parent < 0)
		goto fail;
	m->name = slash + 1;
	(*nmade)++;
	return 0;
fail:
	free(m->path);
	return -1;
}

/* mkdir_p makes dir and its missing parents below root, appending each it
 * made to made. */
static int mkdir_p(const char *root, const char *dir, struct made_dir *made, int *nmade)
{
	char *parent, *slash;
	int err;

	if (mkdir(dir, 0755) < 0) {
		if (errno != ENOENT || strlen(dir) <= strlen(root))
			return -1;
		parent = strdup(dir);
		if (!parent)
			return -1;
		slash = strrchr(parent, '/');
		*slash = '\0';
		err = mkdir_p(root, parent, made, nmade);
		free(parent);
		if (err < 0 || mkdir(dir, 0755) < 0)
			return -1;
	}
	if (made_add(dir, made, nmade) < 0) {
		int e = errno;
		rmdir(dir);
		errno = e;
		return -1;
	}
	return 0;
}

int husk_ahead_make_cgroup(const struct husk_ahead_plan *p, struct husk_ahead_cgroup *cg)
{
	size_t cap = 1;
	int err = 0, saved;

	for (int i = 0; i < p->ndirs; i++)
		for (const char *c = p->dirs[i]; *c; c++)
			cap += *c == '/';
	cg->n = 0;
	cg->made = calloc(cap + (size_t)p->ndirs, sizeof(struct made_dir));
	if (!cg->made)
		return -1;
	for (int i = 0; !err && i < p->ndirs; i++) {
		int first = cg->n;
		/* An existing cgroup (EEXIST) may be another container's. */
		err = mkdir_p(p->mounts[i], p->dirs[i], cg->made, &cg->n);
		for (int k = first; !err && i == p->cpuset && k < cg->n; k++) {
			/* The directories made here, top-down: path by the fds. */
			char path[PATH_MAX];
			snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", cg->made[k].parent, cg->made[k].name);
			err = init_cpuset(path, k < cg->n - 1);
		}
	}
	if (err) {
		saved = errno;
		husk_ahead_remove_cgroup(cg);
		errno = saved;
	}
	return err;
}

int husk_ahead_remove_cgroup(struct husk_ahead_cgroup *cg)
{
	int err = 0;

	for (int i = cg->n - 1; i >= 0; i--)
		if (unlinkat(cg->made[i].parent, cg->made[i].name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			err = -1;
	if (!err)
		husk_ahead_forget_cgroup(cg);
	return err;
}

void husk_ahead_forget_cgroup(struct husk_ahead_cgroup *cg)
{
	for (int i = 0; i < cg->n; i++) {
		close(cg->made[i].parent);
		free(cg->made[i].path);
	}
	free(cg->made);
	cg->made = NULL;
	cg->n = 0;
}

int husk_ahead_cgroup_parent(const struct husk_ahead_cgroup *cg, int i)
{
	return cg->made[i].parent;
}

char *husk_ahead_cgroup_paths(const struct husk_ahead_cgroup *cg, size_t *len)
{
	size_t n = 0;
	char *buf;

	for (int i = 0; i < cg->n; i++)
		n += strlen(cg->made[i].path) + 1;
	buf = malloc(n + 1);
	if (!buf)
		return NULL;
	*len = 0;
	for (int i = 0; i < cg->n; i++) {
		size_t l = strlen(cg->made[i].path) + 1;
		memcpy(buf + *len, cg->made[i].path, l);
		*len += l;
	}
	return buf;
}

int husk_ahead_adopt_cgroup(struct husk_ahead_cgroup *cg, const char *paths, size_t len, int n, int *parents)
{
	const char *p = paths, *end = paths + len;

	cg->n = 0;
	cg->made = calloc((size_t)n + 1, sizeof(struct made_dir));
	if (!cg->made)
		return -1;
	for (int i = 0; i < n; i++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		struct made_dir *m = &cg->made[cg->n];
		char *slash;

		if (!nul || p[0] != '/' || !(m->path = strdup(p)))
			return -1;
		slash = strrchr(m->path, '/');
		m->name = slash + 1;
		m->parent = parents[i];
		parents[i] = -1;
		cg->n++;
		p = nul + 1;
	}
	return p == end ? 0 : -1;
}

char *husk_abs_path(const char *p, const char *pwd)
{
	struct stat a, b;
	char wd[PATH_MAX], *tmp, *out;

	if (p[0] == '/') {
		wd[0] = '\0';
	} else if (pwd && pwd[0] == '/' && stat(pwd, &a) == 0 && stat(".", &b) == 0 && a.st_dev == b.st_dev &&
		   a.st_ino == b.st_ino && strlen(pwd) < sizeof(wd)) {
		/* os.Getwd: $PWD when it names the working directory. */
		strcpy(wd, pwd);
	} else if (!getcwd(wd, sizeof(wd))) {
		return NULL;
	}
	tmp = malloc(strlen(wd) + strlen(p) + 2);
	out = malloc(strlen(wd) + strlen(p) + 3);
	if (tmp && out) {
		sprintf(tmp, "%s%s%s", wd, wd[0] ? "/" : "", p);
		clean(tmp, out);
	}
	free(tmp);
	return out;
}
