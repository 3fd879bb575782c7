/*
 * initplan: the container part of a container's first process in C, for an
 * init plan (execplan.h). It does what libcontainer.standardInit and package
 * rootfs do in Go, in the same order and with the same defences, so that a
 * plain `create`/`run` never starts the Go runtime inside the container:
 *
 *   keyring, hostname, domainname          (xp_init_prelude)
 *   "/" made rslave (or as configured), the rootfs bound onto itself, the
 *   mounts, /dev, the createRuntime hooks, pivot_root (xp_rootfs_prepare)
 *   the working directory                  (xp_mkdir_cwd)
 *   readonly and masked paths, read-only /dev and root (xp_rootfs_finalize;
 *   set up ahead, before the take when the working directory exists,
 *   see execplan.c)
 *
 * Mount targets are resolved inside the rootfs with openat2(RESOLVE_IN_ROOT
 * | RESOLVE_NO_MAGICLINKS), checked to be inside it by reading back the real
 * path of the fd when a symlink was followed (root_open), and mounted
 * through /proc/self/fd/N, never by path: a
 * symlink swapped into the image can only redirect a mount inside the rootfs
 * (CVE-2021-30465). /proc and /sys must be mounted on real directories
 * (CVE-2019-16884, CVE-2023-27561), /dev entries are made relative to an fd
 * of /dev with no symlink followed (CVE-2025-52565, CVE-2026-41579), and
 * masking checks that /dev/null is the null device (CVE-2025-31133).
 *
 * The parent only chooses this path for what it covers (no user namespace,
 * a new mount namespace, no terminal, sysctls or in-container hooks, an
 * absolute cgroup path on a v1/hybrid host, ...; see
 * libcontainer/initplan.go); everything else goes through Go.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/socket.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "execplan.h"
#include "plan_internal.h"

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x1000U
#endif
#define MAX_SYMLINKS 40 /* the kernel's MAXSYMLINKS, as package rootfs */
#define CGROUP_DIR_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC)
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x1
#define MOUNT_ATTR_NOSUID 0x2
#define MOUNT_ATTR_NODEV 0x4
#define MOUNT_ATTR_NOEXEC 0x8
#define MOUNT_ATTR__ATIME 0x70
#define MOUNT_ATTR_NODIRATIME 0x80
#endif

/* struct mount_attr of mount_setattr(2); <linux/mount.h> clashes with
 * <sys/mount.h> on older libcs. */
struct xp_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* --- decoding ------------------------------------------------------- */

struct cursor {
	const unsigned char *p, *end;
	uint32_t tag;
};

static uint32_t cur_u32(struct cursor *c)
{
	uint32_t v;
	if (c->end - c->p < 4)
		xp_fail(0, "exec plan: record %u too short", c->tag);
	v = xp_u32(c->p);
	c->p += 4;
	return v;
}

static uint64_t cur_u64(struct cursor *c)
{
	uint64_t v;
	if (c->end - c->p < 8)
		xp_fail(0, "exec plan: record %u too short", c->tag);
	v = xp_u64(c->p);
	c->p += 8;
	return v;
}

static char *cur_str(struct cursor *c)
{
	uint32_t n = cur_u32(c);
	char *s;
	if ((size_t)(c->end - c->p) < n)
		xp_fail(0, "exec plan: record %u: string overruns it", c->tag);
	s = xp_strndup(c->p, n);
	c->p += n;
	return s;
}

static void decode_mount(struct xp_init *in, struct cursor *c)
{
	struct xp_mount *m;

	in->mounts = xp_grow(in->mounts, in->nmounts, sizeof(*m));
	m = &in->mounts[in->nmounts++];
	memset(m, 0, sizeof(*m));
	m->kind = (int)cur_u32(c);
	m->flags = cur_u32(c);
	m->cleared = cur_u32(c);
	m->nprop = (int)cur_u32(c);
	m->attr_set = cur_u64(c);
	m->attr_clr = cur_u64(c);
	if (m->nprop < 0 || m->nprop > 64)
		xp_fail(0, "exec plan: mount with %d propagation flags", m->nprop);
	m->prop = malloc(sizeof(uint32_t) * (size_t)(m->nprop + 1));
	if (!m->prop)
		xp_fail(ENOMEM, "exec plan");
	for (int i = 0; i < m->nprop; i++)
		m->prop[i] = cur_u32(c);
	m->dest = cur_str(c);
	m->source = cur_str(c);
	m->fstype = cur_str(c);
	m->data = cur_str(c);
	if (m->kind == XM_CGROUP1) {
		int nh = (int)cur_u32(c);
		if (nh < 0 || nh > 64)
			xp_fail(0, "exec plan: %d cgroup hierarchies", nh);
		m->hname = calloc((size_t)nh + 1, sizeof(char *));
		m->hdir = calloc((size_t)nh + 1, sizeof(char *));
		if (!m->hname || !m->hdir)
			xp_fail(ENOMEM, "exec plan");
		for (int i = 0; i < nh; i++) {
			m->hname[i] = cur_str(c);
			m->hdir[i] = cur_str(c);
		}
		m->nh = nh;
	} else if (m->kind != XM_FS && m->kind != XM_BIND) {
		xp_fail(0, "exec plan: unknown mount kind %d", m->kind);
	}
}

static char **append_str(char **list, int *n, const unsigned char *v, uint32_t len)
{
	list = xp_grow(list, *n, sizeof(char *));
	list[(*n)++] = xp_strndup(v, len);
	list[*n] = NULL;
	return list;
}

/* xp_init_record decodes one of the init records into p->init; it returns
 * 0 when tag is not one of them. */
int xp_init_record(struct plan *p, uint32_t tag, const unsigned char *v, uint32_t len)
{
	struct cursor c = {.p = v, .end = v + len, .tag = tag};
	struct xp_init *in;

	if (tag < XP_INIT || tag > XP_HOOKS)
		return 0;
	if (!p->init) {
		p->init = calloc(1, sizeof(*p->init));
		if (!p->init)
			xp_fail(ENOMEM, "exec plan");
	}
	in = p->init;
	switch (tag) {
	case XP_INIT:
		break;
	case XP_KEYRING:
		in->keyring = xp_strndup(v, len);
		break;
	case XP_HOSTNAME:
		in->hostname = xp_strndup(v, len);
		break;
	case XP_DOMAIN:
		in->domainname = xp_strndup(v, len);
		break;
	case XP_ROOTFS:
		in->rootfs = xp_strndup(v, len);
		break;
	case XP_ROOTPROP:
		in->root_prop = cur_u32(&c);
		break;
	case XP_MOUNT:
		decode_mount(in, &c);
		break;
	case XP_DEVICE: {
		struct xp_device *d;
		in->devices = xp_grow(in->devices, in->ndevices, sizeof(*d));
		d = &in->devices[in->ndevices++];
		d->mode = cur_u32(&c);
		d->major = cur_u32(&c);
		d->minor = cur_u32(&c);
		d->uid = cur_u32(&c);
		d->gid = cur_u32(&c);
		d->path = xp_strndup(c.p, (uint32_t)(c.end - c.p));
		break;
	}
	case XP_DEVFLAGS:
		in->dev_flags = cur_u32(&c);
		break;
	case XP_RO_PATH:
		in->ro_paths = append_str(in->ro_paths, &in->nro, v, len);
		break;
	case XP_MASK_PATH:
		in->masked_paths = append_str(in->masked_paths, &in->nmasked, v, len);
		break;
	case XP_DEV_RO:
		in->dev_ro = 1;
		in->dev_ro_flags = cur_u32(&c);
		in->dev_ro_cleared = cur_u32(&c);
		break;
	case XP_ROOT_RO:
		in->root_ro = 1;
		break;
	case XP_NOPIVOT:
		in->no_pivot = 1;
		break;
	case XP_HOOKS:
		in->hooks = 1;
		break;
	default:
		xp_fail(0, "exec plan: unknown record %u", tag);
	}
	return 1;
}

/* --- paths inside the root ------------------------------------------ */

/* clean_path writes the lexically clean absolute form of p into out, as
 * Go's filepath.Clean("/" + p): ".." cannot climb above "/". */
static void clean_path(const char *p, char *out, size_t cap)
{
	size_t n = 0;

	if (strlen(p) + 2 > cap)
		xp_fail(ENAMETOOLONG, "path %.64s...", p);
	out[n++] = '/';
	while (*p) {
		const char *e;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchr(p, '/');
		len = e ? (size_t)(e - p) : strlen(p);
		if (len == 1 && p[0] == '.') {
			/* nothing */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (n > 1) {
				n--;
				while (n > 1 && out[n - 1] != '/')
					n--;
				if (n > 1)
					n--;
			}
		} else {
			if (n > 1)
				out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p += len;
	}
	out[n] = '\0';
}

static void proc_fd(int fd, char *buf, size_t cap)
{
	snprintf(buf, cap, "/proc/self/fd/%d", fd);
}

/* fd_path reads the kernel's path of fd into buf. */
static int fd_path(int fd, char *buf, size_t cap)
{
	char link[64];
	ssize_t n;

	proc_fd(fd, link, sizeof(link));
	n = readlink(link, buf, cap - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* A root directory (the rootfs before pivot_root, "/" after) and its real
 * path, which ends in '/'. */
struct root {
	int fd;
	char path[PATH_MAX + 1];
};

static void open_root(struct root *r, const char *path)
{
	size_t n;
	int err;

	r->fd = openat(AT_FDCWD, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (r->fd < 0)
		xp_fail(errno, "open rootfs %s", path);
	if ((err = fd_path(r->fd, r->path, sizeof(r->path) - 1)))
		xp_fail(-err, "readlink /proc/self/fd/%d", r->fd);
	n = strlen(r->path);
	if (n == 0 || r->path[n - 1] != '/')
		strcpy(r->path + n, "/");
}

/* root_rel stores in rel the part of real inside the root ("" for the root
 * itself); it returns -1 when real is outside. */
static int root_rel(const struct root *r, const char *real, char *rel, size_t cap)
{
	size_t rl = strlen(r->path), n = strlen(real);

	if (n + 1 == rl && !strncmp(real, r->path, n)) {
		rel[0] = '\0';
		return 0;
	}
	if (strncmp(real, r->path, rl))
		return -1;
	snprintf(rel, cap, "%s", real + rl);
	return 0;
}

/* root_open resolves p inside the root as if the root were "/" (symlinks
 * included, magic links refused) into an O_PATH fd, and rel its real path
 * relative to the root. Returns the fd or -errno; a result outside the
 * root (a directory moved out meanwhile) is a failure.
 *
 * The usual path has no symlink: it is first opened with
 * RESOLVE_NO_SYMLINKS as well. Then the kernel walked down from the root
 * through real directories only (clean has no ".."), so the real path is
 * the clean one and reading it back would only catch a directory renamed
 * out of the rootfs during the walk, a race the same renaming after the
 * check wins anyway (and which cannot reach the host: the mount stays in
 * the container's own mount namespace, "/" is rslave). That saves one
 * readlink per lookup, ~30 per container. Any symlink on the way (ELOOP)
 * takes the full resolution below, with its check. */
static int root_open(const struct root *r, const char *p, char *rel, size_t cap)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS,
	};
	char clean[PATH_MAX + 2], real[PATH_MAX + 1];
	int fd, err;

	clean_path(p, clean, sizeof(clean));
	fd = (int)syscall(SYS_openat2, r->fd, clean, &how, sizeof(how));
	if (fd >= 0) {
		if (strlen(clean + 1) >= cap) {
			close(fd);
			xp_fail(ENAMETOOLONG, "open %.64s... in rootfs", clean);
		}
		strcpy(rel, clean + 1);
		return fd;
	}
	if (errno != ELOOP)
		return -errno;
	how.resolve &= ~(uint64_t)RESOLVE_NO_SYMLINKS;
	fd = (int)syscall(SYS_openat2, r->fd, clean, &how, sizeof(how));
	if (fd < 0)
		return -errno;
	if ((err = fd_path(fd, real, sizeof(real)))) {
		close(fd);
		xp_fail(-err, "readlink /proc/self/fd/%d", fd);
	}
	if (root_rel(r, real, rel, cap) < 0) {
		close(fd);
		xp_fail(0, "open %s in rootfs: resolved to %s outside of rootfs %s", clean, real, r->path);
	}
	return fd;
}

static void before_create(int parent);

/* root_create is root_open that creates what is missing: directories with
 * mode 0755 and, when file, the last component as an empty 0644 file. Each
 * component is made relative to its resolved parent and looked up again
 * inside the root; a dangling symlink on the way is followed inside it. */
static int root_create(const struct root *r, const char *p, int file, int links, char *rel, size_t cap)
{
	char clean[PATH_MAX + 2], prel[PATH_MAX + 1], target[PATH_MAX + 1], *slash;
	const char *base;
	int fd, parent, err = 0;

	fd = root_open(r, p, rel, cap);
	if (fd != -ENOENT)
		return fd;
	clean_path(p, clean, sizeof(clean));
	slash = strrchr(clean, '/');
	base = slash + 1;
	if (slash == clean) {
		parent = root_open(r, "/", prel, sizeof(prel));
	} else {
		*slash = '\0';
		parent = root_create(r, clean, 0, links, prel, sizeof(prel));
		*slash = '/';
	}
	if (parent < 0)
		return parent;
	before_create(parent);
	if (file) {
		int f = openat(parent, base, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0644);
		if (f >= 0)
			close(f);
		else
			err = errno;
	} else if (mkdirat(parent, base, 0755) < 0) {
		err = errno;
	}
	if (err == EEXIST) {
		ssize_t n = readlinkat(parent, base, target, sizeof(target) - 1);
		err = 0;
		if (n >= 0) {
			char next[2 * PATH_MAX + 4];
			close(parent);
			if (links >= MAX_SYMLINKS)
				return -ELOOP;
			target[n] = '\0';
			if (target[0] == '/')
				snprintf(next, sizeof(next), "%s", target);
			else
				snprintf(next, sizeof(next), "/%s/%s", prel, target);
			return root_create(r, next, file, links + 1, rel, cap);
		}
	}
	close(parent);
	if (err)
		return -err;
	return root_open(r, clean, rel, cap);
}

/* struct statx as the kernel fills it, up to stx_mnt_id; declared here
 * because not every libc this file is built with has statx(). */
struct xp_statx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, spare0;
	uint64_t ino, size, blocks, attributes_mask;
	struct {
		int64_t sec;
		uint32_t nsec;
		int32_t reserved;
	} atime, btime, ctime, mtime;
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t mnt_id;
	uint64_t spare[14];
};

static int mount_id(int fd, uint64_t *id)
{
	struct xp_statx st;

	if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &st) < 0)
		return -errno;
	*id = st.mnt_id;
	return 0;
}

/* The tmpfs mounts this plan made while it was set up ahead, and not yet
 * taken (xp_ahead_pending): what it creates in them is the container's
 * own; anything else would be created on the host's file systems, which
 * waits until husk has taken the process. */
static uint64_t fresh[32];
static int nfresh;

static void before_create(int parent)
{
	uint64_t id;

	if (!xp_ahead_pending())
		return;
	if (mount_id(parent, &id) == 0)
		for (int i = 0; i < nfresh; i++)
			if (fresh[i] == id)
				return;
	xp_ahead_take();
}

/* mount_root returns an O_PATH fd of the mount just made on target (whose
 * path relative to the root is rel): rel looked up again must resolve to
 * the same place, on another mount than target's. */
static int mount_root(const struct root *r, int target, const char *rel)
{
	char rel2[PATH_MAX + 1], p[PATH_MAX + 2];
	uint64_t under = 0, top = 0;
	int fd, err;

	snprintf(p, sizeof(p), "/%s", rel);
	fd = root_open(r, p, rel2, sizeof(rel2));
	if (fd < 0)
		xp_fail(-fd, "reopen mount /%s", rel);
	if (strcmp(rel, rel2))
		xp_fail(0, "reopen mount /%s: now resolves to /%s", rel, rel2);
	if ((err = mount_id(target, &under)) || (err = mount_id(fd, &top)))
		xp_fail(-err, "statx");
	if (top == under)
		xp_fail(0, "reopen mount /%s: no mount found there", rel);
	return fd;
}

static int do_mount(const char *src, int fd, const char *type, unsigned long flags, const char *data)
{
	char p[64];
	proc_fd(fd, p, sizeof(p));
	return mount(src, p, type, flags, data);
}

/* remount_bind applies flags to the bind mount fd is the root of, like
 * "mount --bind -o remount,...". No user namespace here, so no flag is
 * locked (the Go path handles those). */
static void remount_bind(int fd, const char *dest, uint32_t flags)
{
	flags = (flags & ~(uint32_t)MS_REC) | MS_BIND | MS_REMOUNT;
	if (do_mount(NULL, fd, NULL, flags, NULL) < 0)
		xp_fail(errno, "remount %s with flags %#x", dest, flags);
}

static void apply_mount_options(int fd, const char *dest, const struct xp_mount *m)
{
	for (int i = 0; i < m->nprop; i++)
		if (do_mount(NULL, fd, NULL, m->prop[i], NULL) < 0)
			xp_fail(errno, "set propagation %#x on %s", m->prop[i], dest);
	if (m->attr_set || m->attr_clr) {
		struct xp_mount_attr a = {.attr_set = m->attr_set, .attr_clr = m->attr_clr};
		if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
			xp_fail(errno, "mount_setattr %s (set %#llx, clear %#llx)", dest,
				(unsigned long long)m->attr_set, (unsigned long long)m->attr_clr);
	}
}

/* finish_mount applies the propagation and recursive attributes of m to
 * the mount just made on target. */
static void finish_mount(const struct root *r, const struct xp_mount *m, const char *dest, int target, const char *rel)
{
	int fd;

	if (m->nprop == 0 && !m->attr_set && !m->attr_clr)
		return;
	fd = mount_root(r, target, rel);
	apply_mount_options(fd, dest, m);
	close(fd);
}

/* /dev stays writable until finalize: devices and links are made in it. */
static uint32_t flags_for(const struct xp_mount *m, const char *dest)
{
	return strcmp(dest, "/dev") ? m->flags : m->flags & ~(uint32_t)MS_RDONLY;
}

static void mount_fs(const struct root *r, const struct xp_mount *m, const char *dest)
{
	char rel[PATH_MAX + 1];
	int target = root_create(r, dest, 0, 0, rel, sizeof(rel));

	if (target < 0)
		xp_fail(-target, "mount %s on %s: create in rootfs %s", m->fstype, dest, dest);
	if (!strcmp(m->fstype, "proc") || !strcmp(m->fstype, "sysfs")) {
		struct stat st;
		/* A symlink in the image (/proc -> /fake) would leave a fake
		 * /proc that swallows label and sysctl writes. */
		if (strcmp(dest + 1, rel))
			xp_fail(0, "mount %s on %s: destination is a symlink (to /%s), %s must be mounted on an ordinary directory",
				m->fstype, dest, rel, m->fstype);
		if (fstat(target, &st) < 0)
			xp_fail(errno, "fstat %s", dest);
		if (!S_ISDIR(st.st_mode))
			xp_fail(0, "mount %s on %s: destination is not a directory", m->fstype, dest);
	}
	if (do_mount(m->source, target, m->fstype, flags_for(m, dest), m->data) < 0)
		xp_fail(errno, "mount %s (%s) on %s", m->source, m->fstype, dest);
	if (xp_ahead_pending() && !strcmp(m->fstype, "tmpfs") && nfresh < (int)(sizeof(fresh) / sizeof(fresh[0]))) {
		int fd = mount_root(r, target, rel);
		if (mount_id(fd, &fresh[nfresh]) == 0)
			nfresh++;
		close(fd);
	}
	finish_mount(r, m, dest, target, rel);
	close(target);
}

static void mount_bind(const struct root *r, const struct xp_mount *m, const char *dest)
{
	char rel[PATH_MAX + 1];
	uint32_t flags;
	int target = root_open(r, dest, rel, sizeof(rel));

	if (target == -ENOENT) {
		struct stat st;
		if (stat(m->source, &st) < 0)
			xp_fail(errno, "bind mount %s on %s: stat %s", m->source, dest, m->source);
		target = root_create(r, dest, !S_ISDIR(st.st_mode), 0, rel, sizeof(rel));
	}
	if (target < 0)
		xp_fail(-target, "bind mount %s on %s: open in rootfs %s", m->source, dest, dest);
	if (do_mount(m->source, target, NULL, MS_BIND | (m->flags & MS_REC), NULL) < 0)
		xp_fail(errno, "bind mount %s on %s", m->source, dest);
	flags = flags_for(m, dest);
	if ((flags & ~(uint32_t)(MS_BIND | MS_REC | MS_REMOUNT)) || m->cleared) {
		int fd = mount_root(r, target, rel);
		remount_bind(fd, dest, flags);
		close(fd);
	}
	finish_mount(r, m, dest, target, rel);
	close(target);
}

/* mount_cgroup1: a tmpfs at dest with one bind mount of the container's own
 * cgroup directory per hierarchy (the parent listed them), as
 * rootfs.mountCgroupV1. The tmpfs is fresh: plain *at calls are safe in it. */
/* remount_hierarchy gives the hierarchy bound at dir/name the cgroup
 * mount's flags. */
static void remount_hierarchy(int dir, const char *dest, const char *name, uint32_t flags)
{
	int fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		xp_fail(errno, "open %s/%s", dest, name);
	remount_bind(fd, dest, flags);
	close(fd);
}

static void mount_cgroup1(const struct root *r, const struct xp_mount *m, const char *dest)
{
	char rel[PATH_MAX + 1];
	int target = root_create(r, dest, 0, 0, rel, sizeof(rel)), dir;
	/* The usual cgroup mount (ro, nosuid, nodev, noexec, and relatime or
	 * no atime option: runc's and Docker's) leaves the tmpfs and every
	 * hierarchy with the same flags: then one recursive mount_setattr(2)
	 * at the end does what a remount of each would, ~20 syscalls fewer. */
	uint32_t lockable = m->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
					MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME);
	int usual = (lockable & ~(uint32_t)MS_RELATIME) == (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);

	if (target < 0)
		xp_fail(-target, "mount cgroup on %s: create in rootfs %s", dest, dest);
	if (do_mount("tmpfs", target, "tmpfs", CGROUP_DIR_FLAGS, "mode=755") < 0)
		xp_fail(errno, "mount tmpfs on %s", dest);
	dir = mount_root(r, target, rel);
	for (int i = 0; i < m->nh; i++) {
		const char *name = m->hname[i];
		int fd;

		if (mkdirat(dir, name, 0755) < 0 && errno != EEXIST)
			xp_fail(errno, "mkdir %s/%s", dest, name);
		fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			xp_fail(errno, "open %s/%s", dest, name);
		if (do_mount(m->hdir[i], fd, NULL, MS_BIND | MS_REC, NULL) < 0)
			xp_fail(errno, "bind mount %s on %s/%s", m->hdir[i], dest, name);
		close(fd);
		if (!usual)
			remount_hierarchy(dir, dest, name, m->flags);
		/* cpu -> cpu,cpuacct, where tools look for it. */
		if (strchr(name, ',')) {
			char *names = strdup(name), *save = NULL;
			if (!names)
				xp_fail(ENOMEM, "mount cgroup");
			for (char *c = strtok_r(names, ",", &save); c; c = strtok_r(NULL, ",", &save))
				if (symlinkat(name, dir, c) < 0 && errno != EEXIST)
					xp_fail(errno, "symlink %s/%s", dest, c);
			free(names);
		}
	}
	apply_mount_options(dir, dest, m);
	if (usual) {
		struct xp_mount_attr a = {
			.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
			/* relatime is the value 0 of the atime field */
			.attr_clr = MOUNT_ATTR__ATIME | MOUNT_ATTR_NODIRATIME,
		};
		if (syscall(SYS_mount_setattr, dir, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0) {
			if (errno != ENOSYS)
				xp_fail(errno, "mount_setattr %s (read-only, nosuid, nodev, noexec)", dest);
			for (int i = 0; i < m->nh; i++)
				remount_hierarchy(dir, dest, m->hname[i], m->flags);
			usual = 0;
		}
	}
	if (!usual && (m->flags & MS_RDONLY))
		remount_bind(dir, dest, CGROUP_DIR_FLAGS | MS_RDONLY);
	close(dir);
	close(target);
}

/* --- /dev ------------------------------------------------------------ */

/* dev_parent returns an fd of the directory holding /dev/rel (made when
 * missing, no symlink followed) and sets *name to the last component. */
static int dev_parent(int dev, char *rel, char **name)
{
	char *slash = strrchr(rel, '/'), *c, *save = NULL;
	int cur = dev;

	if (!slash) {
		*name = rel;
		return dev;
	}
	*slash = '\0';
	*name = slash + 1;
	for (c = strtok_r(rel, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int next;
		if (mkdirat(cur, c, 0755) < 0 && errno != EEXIST)
			xp_fail(errno, "device /dev/%s: mkdirat %s", *name, c);
		next = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			xp_fail(errno, "device /dev/%s: open %s", *name, c);
		if (cur != dev)
			close(cur);
		cur = next;
	}
	return cur;
}

/* bind_device binds the host's node onto a new empty file, when mknod is
 * refused (a devices cgroup without "m"), after checking the host node. */
static void bind_device(int parent, const char *name, const char *host, const struct xp_device *d)
{
	struct stat st;
	int src, dst, f;

	src = openat(AT_FDCWD, host, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0)
		xp_fail(errno, "create device %s: open host device %s", host, host);
	if (fstat(src, &st) < 0)
		xp_fail(errno, "create device %s: fstat", host);
	if ((st.st_mode & S_IFMT) != (d->mode & S_IFMT) ||
	    (!S_ISFIFO(d->mode) && st.st_rdev != makedev(d->major, d->minor)))
		xp_fail(0, "create device %s: host %s is not the configured device", host, host);
	f = openat(parent, name, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0600);
	if (f >= 0)
		close(f);
	else if (errno != EEXIST)
		xp_fail(errno, "create device %s: create", host);
	dst = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0)
		xp_fail(errno, "create device %s: open", host);
	if (fstat(dst, &st) < 0)
		xp_fail(errno, "create device %s: fstat", host);
	if (!S_ISREG(st.st_mode))
		xp_fail(0, "create device %s: bind target is not a regular file (mode %#o)", host, st.st_mode);
	{
		char s[64];
		proc_fd(src, s, sizeof(s));
		if (do_mount(s, dst, NULL, MS_BIND, NULL) < 0)
			xp_fail(errno, "create device %s: bind mount %s", host, host);
	}
	close(dst);
	close(src);
}

/* created_owner tells the owner a node made in dir gets: the creator's
 * (fsuid and fsgid, here the euid and egid husk-init was started with,
 * which the auxiliary vector holds), the directory's group if it is
 * setgid. Returns 0 when dir cannot be examined. */
static int created_owner(int dir, uid_t *uid, gid_t *gid)
{
	struct stat st;

	if (fstat(dir, &st) < 0)
		return 0;
	*uid = (uid_t)getauxval(AT_EUID);
	*gid = (st.st_mode & S_ISGID) ? st.st_gid : (gid_t)getauxval(AT_EGID);
	return 1;
}

static void create_devices(const struct xp_init *in, int dev)
{
	mode_t old = umask(0);
	int bind = 0;
	uid_t own_uid = 0;
	gid_t own_gid = 0;
	/* A node that already has the configured owner needs no fchownat
	 * (in /dev itself: a subdirectory is not examined). */
	int known = created_owner(dev, &own_uid, &own_gid);

	for (int i = 0; i < in->ndevices; i++) {
		const struct xp_device *d = &in->devices[i];
		char rel[PATH_MAX + 1], *name;
		dev_t rdev = makedev(d->major, d->minor);
		int parent;

		/* The parent checked: "/dev/" + a clean relative path. */
		snprintf(rel, sizeof(rel), "%s", d->path + 5);
		parent = dev_parent(dev, rel, &name);
		if (!bind) {
			if (mknodat(parent, name, d->mode, rdev) == 0) {
				int owned = known && parent == dev && d->uid == own_uid && d->gid == own_gid;
				if (!owned && fchownat(parent, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
					xp_fail(errno, "create device %s: fchownat", d->path);
			} else if (errno == EEXIST) {
				struct stat st;
				if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
					xp_fail(errno, "create device %s: fstatat", d->path);
				if ((st.st_mode & S_IFMT) != (d->mode & S_IFMT) ||
				    (!S_ISFIFO(d->mode) && st.st_rdev != rdev))
					xp_fail(0, "create device %s: exists as a different file (mode %#o)", d->path, st.st_mode);
			} else if (errno == EPERM) {
				bind = 1;
			} else {
				xp_fail(errno, "create device %s: mknodat", d->path);
			}
		}
		if (bind)
			bind_device(parent, name, d->path, d);
		if (parent != dev)
			close(parent);
	}
	umask(old);
}

/* symlink_in creates /dev/name -> target; an existing symlink is kept. */
static void symlink_in(int dev, const char *target, const char *name)
{
	struct stat st;

	if (symlinkat(target, dev, name) == 0)
		return;
	if (errno == EEXIST && fstatat(dev, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return;
	xp_fail(errno, "symlink %s /dev/%s", target, name);
}

static void setup_dev(const struct root *r, const struct xp_init *in)
{
	char rel[PATH_MAX + 1];
	int dev;

	if (in->dev_flags & XD_BIND_DEV)
		return;
	dev = root_create(r, "/dev", 0, 0, rel, sizeof(rel));
	if (dev < 0)
		xp_fail(-dev, "open /dev");
	if (strcmp(rel, "dev"))
		xp_fail(0, "open /dev: /dev is a symlink to /%s", rel);
	before_create(dev);
	create_devices(in, dev);
	symlink_in(dev, "/proc/self/fd", "fd");
	symlink_in(dev, "/proc/self/fd/0", "stdin");
	symlink_in(dev, "/proc/self/fd/1", "stdout");
	symlink_in(dev, "/proc/self/fd/2", "stderr");
	if (in->dev_flags & XD_KCORE)
		symlink_in(dev, "/proc/kcore", "core");
	if (in->dev_flags & XD_HAS_PTS) {
		/* The container's ptmx is its own devpts instance's. */
		if (unlinkat(dev, "ptmx", 0) < 0 && errno != ENOENT)
			xp_fail(errno, "remove /dev/ptmx");
		symlink_in(dev, "pts/ptmx", "ptmx");
	}
	close(dev);
}

/* --- the steps --------------------------------------------------------- */

static void check_procfs(const char *path)
{
	struct statfs st;

	if (statfs(path, &st) < 0)
		xp_fail(errno, "statfs %s", path);
	if (st.f_type != PROC_SUPER_MAGIC)
		xp_fail(0, "%s is not procfs (fs type %#lx)", path, (unsigned long)st.f_type);
}

void xp_init_prelude(const struct xp_init *in)
{
	/* A private session keyring, so the container cannot read the host's
	 * keys; kernels without keyrings, or a policy forbidding them, are
	 * fine. */
	if (in->keyring && syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, in->keyring) < 0 &&
	    errno != ENOSYS && errno != EPERM && errno != EACCES)
		xp_fail(errno, "join session keyring");
	if (in->hostname && sethostname(in->hostname, strlen(in->hostname)) < 0)
		xp_fail(errno, "sethostname \"%s\"", in->hostname);
	if (in->domainname && setdomainname(in->domainname, strlen(in->domainname)) < 0)
		xp_fail(errno, "setdomainname \"%s\"", in->domainname);
}

/* run_hooks asks the parent to run the createRuntime (and prestart) hooks
 * and waits until it has. */
static void run_hooks(int sock)
{
	char buf[512];
	int r;

	/* The hooks see the process husk created (set up ahead: taken). */
	xp_ahead_take();
	if (xp_send_msg("hooks", NULL, -1) < 0)
		xp_fail(errno, "send \"hooks\" to the sync socket");
	r = xp_recv_msg(sock, "hooks-done", buf, sizeof(buf), NULL);
	if (r < 0)
		xp_fail(errno, "receive from the sync socket");
	if (r == 0)
		xp_fail(0, "the runtime did not finish the createRuntime hooks");
}

static void pivot_root_to(const char *rootfs)
{
	int old = openat(AT_FDCWD, "/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);

	if (old < 0)
		xp_fail(errno, "open old root /");
	if (chdir(rootfs) < 0)
		xp_fail(errno, "chdir %s", rootfs);
	/* pivot_root(".", ".") stacks the old root on the new one: no
	 * directory for it in the rootfs. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		xp_fail(errno, "pivot_root %s", rootfs);
	if (fchdir(old) < 0)
		xp_fail(errno, "fchdir old root");
	/* The old root may still be shared with the host: a slave first, so
	 * that unmounting it does not propagate to the host. */
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		xp_fail(errno, "make old root rslave");
	if (umount2(".", MNT_DETACH) < 0)
		xp_fail(errno, "detach old root");
	if (chdir("/") < 0)
		xp_fail(errno, "chdir /");
	close(old);
}

static void move_root(const char *rootfs)
{
	if (chdir(rootfs) < 0)
		xp_fail(errno, "chdir %s", rootfs);
	if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0)
		xp_fail(errno, "move rootfs %s onto /", rootfs);
	if (chroot(".") < 0)
		xp_fail(errno, "chroot %s", rootfs);
	if (chdir("/") < 0)
		xp_fail(errno, "chdir /");
}

void xp_rootfs_prepare(const struct xp_init *in, int sock)
{
	uint32_t prop = in->root_prop ? in->root_prop : (MS_SLAVE | MS_REC);
	struct root r;

	/* The parent sends only recursive slave/private/unbindable values,
	 * which leave no shared mount that would make pivot_root fail. */
	if (mount(NULL, "/", NULL, prop, NULL) < 0)
		xp_fail(errno, "set propagation of / to %#x", prop);
	if (mount(in->rootfs, in->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		xp_fail(errno, "bind mount rootfs %s onto itself", in->rootfs);
	check_procfs("/proc");
	open_root(&r, in->rootfs);
	for (int i = 0; i < in->nmounts; i++) {
		const struct xp_mount *m = &in->mounts[i];
		char dest[PATH_MAX + 2];

		clean_path(m->dest, dest, sizeof(dest));
		switch (m->kind) {
		case XM_FS:
			/* sysfs shows the network namespace of its mounter. */
			if (!strcmp(m->fstype, "sysfs"))
				husk_join_late(sock);
			mount_fs(&r, m, dest);
			break;
		case XM_BIND:
			mount_bind(&r, m, dest);
			break;
		case XM_CGROUP1:
			husk_join_late(sock);
			mount_cgroup1(&r, m, dest);
			break;
		}
	}
	husk_join_late(sock);
	setup_dev(&r, in);
	close(r.fd);
	if (in->hooks)
		run_hooks(sock);
	if (in->no_pivot)
		move_root(in->rootfs);
	else
		pivot_root_to(in->rootfs);
}

/* xp_mkdir_cwd creates a missing working directory, as runc does; inside
 * the new root, so the path cannot lead out of it. */
void xp_mkdir_cwd(const char *cwd)
{
	char p[PATH_MAX + 2];

	clean_path(cwd, p, sizeof(p));
	/* Usually the directory exists: one mkdir says so. */
	if (p[1] == '\0' || mkdir(p, 0755) == 0 || errno == EEXIST)
		return;
	if (errno != ENOENT)
		xp_fail(errno, "process.cwd: create %s", p);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			xp_fail(errno, "process.cwd: create %s", p);
		*s = c;
		if (!c)
			break;
	}
}

static void readonly_path(const struct root *r, const char *p)
{
	char rel[PATH_MAX + 1];
	struct statfs st;
	uint32_t flags = MS_RDONLY;
	int fd = root_open(r, p, rel, sizeof(rel)), top;

	if (fd == -ENOENT)
		return;
	if (fd < 0)
		xp_fail(-fd, "make %s read-only", p);
	if (!rel[0]) {
		/* The root itself: a bind mount stacked on it could not be
		 * reached (lookups start beneath it). As with runc, the root
		 * mount itself becomes read-only. */
		top = dup(fd);
		if (top < 0)
			xp_fail(errno, "make %s read-only: dup", p);
	} else {
		char s[64];
		proc_fd(fd, s, sizeof(s));
		if (mount(s, s, NULL, MS_BIND | MS_REC, NULL) < 0)
			xp_fail(errno, "bind mount %s onto itself", p);
		top = mount_root(r, fd, rel);
	}
	/* Keep nosuid/nodev/noexec of the mount. */
	if (fstatfs(top, &st) < 0)
		xp_fail(errno, "make %s read-only: fstatfs", p);
	if (st.f_flags & ST_NOSUID)
		flags |= MS_NOSUID;
	if (st.f_flags & ST_NODEV)
		flags |= MS_NODEV;
	if (st.f_flags & ST_NOEXEC)
		flags |= MS_NOEXEC;
	remount_bind(top, p, flags);
	close(top);
	close(fd);
}

static void mask_path(const struct root *r, const char *p, int null)
{
	char rel[PATH_MAX + 1];
	struct stat st;
	int fd = root_open(r, p, rel, sizeof(rel));

	if (fd == -ENOENT)
		return;
	if (fd < 0)
		xp_fail(-fd, "mask %s", p);
	if (fstat(fd, &st) < 0)
		xp_fail(errno, "fstat %s", p);
	if (S_ISDIR(st.st_mode)) {
		if (do_mount("tmpfs", fd, "tmpfs", MS_RDONLY, NULL) < 0)
			xp_fail(errno, "mask %s with tmpfs", p);
	} else {
		char s[64];
		proc_fd(null, s, sizeof(s));
		if (do_mount(s, fd, NULL, MS_BIND, NULL) < 0)
			xp_fail(errno, "mask %s with /dev/null", p);
	}
	close(fd);
}

static void remount_path(const struct root *r, const char *p, uint32_t flags)
{
	char rel[PATH_MAX + 1];
	int fd = root_open(r, p, rel, sizeof(rel));

	if (fd < 0)
		xp_fail(-fd, "remount %s", p);
	remount_bind(fd, p, flags | MS_RDONLY);
	close(fd);
}

void xp_rootfs_finalize(const struct xp_init *in)
{
	struct root r;

	check_procfs("/proc");
	open_root(&r, "/");
	for (int i = 0; i < in->nro; i++)
		readonly_path(&r, in->ro_paths[i]);
	if (in->nmasked > 0) {
		char rel[PATH_MAX + 1];
		struct stat st;
		/* /dev/null is checked to be the null device and used by fd: a
		 * symlink there once got a procfs file bound writable. */
		int null = root_open(&r, "/dev/null", rel, sizeof(rel));
		if (null < 0)
			xp_fail(-null, "mask paths: open /dev/null");
		if (fstat(null, &st) < 0)
			xp_fail(errno, "fstat /dev/null");
		if (strcmp(rel, "dev/null") || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
			xp_fail(0, "mask paths: /dev/null is not the null device (resolves to /%s, mode %#o)", rel, st.st_mode);
		for (int i = 0; i < in->nmasked; i++)
			mask_path(&r, in->masked_paths[i], null);
		close(null);
	}
	if (in->dev_ro)
		remount_path(&r, "/dev", in->dev_ro_flags);
	if (in->root_ro)
		remount_path(&r, "/", MS_RDONLY | MS_REC);
	close(r.fd);
}
