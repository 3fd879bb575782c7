#ifndef HUSK_AHEAD_H
#define HUSK_AHEAD_H
#include <stddef.h>

/* What the command line says that the container's set-up made ahead
 * depends on (nsenter/stage.go): run's or create's container ID and
 * flags. NULL, or no id, when it has a flag that changes what create does
 * beyond the plan (a console socket, preserved fds, the systemd driver),
 * or one the constructor does not know. */
struct husk_ahead_args {
	const char *id, *root;
	int no_pivot, no_new_keyring, trace;
};

/*
 * husk_start_ahead starts, from husk's constructor, the thread that works
 * on the CPU the Go runtime's start leaves idle (it keeps its own: see
 * startcpu.go) for a command that starts a container process: it makes
 * husk-init's sealed copy (nsenter/inithelper/image.c) and then, for `run`
 * and `create` (bundle is their bundle directory; NULL for `exec`), when
 * the constructor's own thread, reading the bundle's config.json
 * meanwhile, could tell the container's new namespaces, has husk-init make
 * them and wait to clone the container's process into them
 * (nsenter/stage.c, nsenter.AheadStage): ~0.55 ms of kernel work that is
 * then done by the time create needs it. With args, the stage goes on to
 * set the container's process up (the set-up made ahead), and the
 * constructor's thread computes the process's plan and makes its cgroup
 * before it lets the Go runtime start (husk_stage_plan_ahead): the stage,
 * whose work the process waits for, is spared them, and the runtime's
 * start, for which nothing waits yet, pays for them.
 */
void husk_start_ahead(const char *bundle, const struct husk_ahead_args *args);

/* husk_config_ahead_flags is the guess from config.json's text: the
 * CLONE_NEW* flags of linux.namespaces (but CLONE_NEWCGROUP, which the
 * container's process unshares itself), or 0 when a namespace is joined
 * by path, a type is a user or time namespace, one it does not know or
 * given twice, there is no new mount namespace, or process.terminal sends
 * the container down libcontainer's Go path. A wrong guess costs only
 * time: libcontainer decides from the whole config whether to take the
 * stage (aheadStage), and clones the process itself when it does not.
 * Only enough JSON is read to find these values: anything it cannot read
 * means 0. */
int husk_config_ahead_flags(const char *text, size_t len);

#endif
