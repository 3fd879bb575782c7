/*
 * A new container's init plan, its container part, computed in C from
 * config.json before husk's Go runtime has started: see aheadplan.c.
 */
#ifndef HUSK_AHEADPLAN_H
#define HUSK_AHEADPLAN_H
#include <stddef.h>

/* What the plan is computed from besides config.json: the command line's
 * and the host's part. */
struct husk_ahead_in {
	char *config; /* config.json's text, decoded in place */
	size_t config_len;
	const char *bundle; /* absolute */
	const char *id;
	const char *mountinfo; /* this mount namespace's */
	size_t mountinfo_len;
	int no_new_keyring, no_pivot;
	int kcore; /* the host has /proc/kcore */
};

/* The plan and the cgroup the process is set up in. */
struct husk_ahead_plan {
	unsigned char *plan; /* "HUSKXP01" and the container's records */
	size_t len;
	/* The cgroup's directory in every hierarchy, in the order of
	 * cgroups/fs.Manager.Dirs: the v1 ones in mountinfo order, then the
	 * unified one. memory, cpuset and unified index them (-1: none). */
	char **dirs, **mounts; /* and the mount point each is under */
	int ndirs, memory, cpuset, unified;
	int flags;          /* CLONE_NEW* of linux.namespaces */
	const char *cwd;    /* process.cwd (the process makes its masked and
			     * read-only paths ahead when it exists) */
	void *arena;        /* where all of it is (husk_plan_ahead_free) */
	const char *reason; /* why there is no plan, when husk_plan_ahead fails */
};

/* husk_plan_ahead computes the plan, or returns -1 with out->reason when
 * the config asks for what it does not compute as create would (or what
 * create would refuse). */
int husk_plan_ahead(const struct husk_ahead_in *in, struct husk_ahead_plan *out);
void husk_plan_ahead_free(struct husk_ahead_plan *out);

/* The cgroup directories husk_ahead_make_cgroup made, parents first. */
struct husk_ahead_cgroup {
	struct made_dir *made;
	int n;
};

/* husk_ahead_make_cgroup makes the plan's cgroup directories as
 * cgroups/fs.Manager.Apply does, and lists in cg what it made; it fails
 * (-1, errno) when one of them exists already, which may be another
 * container's cgroup: create decides about that. Whatever it fails after
 * is removed. husk_ahead_remove_cgroup removes what it made, children
 * first, through fds of their parents (the stage's root may have moved);
 * -1 when a directory is left (a process still in it). */
int husk_ahead_make_cgroup(const struct husk_ahead_plan *p, struct husk_ahead_cgroup *cg);
int husk_ahead_remove_cgroup(struct husk_ahead_cgroup *cg);
/* husk_ahead_forget_cgroup frees cg's list, leaving the directories. */
void husk_ahead_forget_cgroup(struct husk_ahead_cgroup *cg);

/* husk_ahead_cgroup_paths lists what cg made, parents first, each path
 * NUL-ended (*len bytes, malloc'd): husk's constructor makes the cgroup
 * and the stage removes it unless create takes the process.
 * husk_ahead_adopt_cgroup makes cg the n directories of such a list, to
 * remove, with parents[i] an fd of the parent of the i-th (which cg then
 * owns: parents[i] becomes -1); -1 when the list is not n absolute paths
 * (cg then has those read before, for husk_ahead_remove_cgroup). The fds
 * come with the list (husk_ahead_cgroup_parents): the process's
 * pivot_root moves the stage's root, and opening them again would cost
 * the stage as much as making them cost husk's constructor. */
char *husk_ahead_cgroup_paths(const struct husk_ahead_cgroup *cg, size_t *len);
int husk_ahead_adopt_cgroup(struct husk_ahead_cgroup *cg, const char *paths, size_t len, int n, int *parents);
/* husk_ahead_cgroup_parent returns the fd of the parent of cg's i-th
 * directory, which husk_ahead_make_cgroup opened (O_PATH). */
int husk_ahead_cgroup_parent(const struct husk_ahead_cgroup *cg, int i);

/* husk_abs_path is filepath.Abs(p) as the Go runtime computes it, with
 * pwd the process's $PWD (NULL or wrong: the real working directory). */
char *husk_abs_path(const char *p, const char *pwd);

#endif
