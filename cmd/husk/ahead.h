#ifndef HUSK_AHEAD_H
#define HUSK_AHEAD_H
#include <stddef.h>

/*
 * husk_start_ahead starts, from husk's constructor, the thread that works
 * on the CPU the Go runtime's start leaves idle (it keeps its own: see
 * startcpu.go) for a command that starts a container process: it makes
 * husk-init's sealed copy (nsenter/inithelper/image.c) and then, for `run`
 * and `create` (bundle is their bundle directory; NULL for `exec`), reads
 * the bundle's config.json and, when the container will want a new
 * network namespace, has husk-init make it (nsenter/netns.c): ~0.45 ms of
 * kernel work that is then done by the time create needs it.
 */
void husk_start_ahead(const char *bundle);

/* husk_config_wants_netns is the guess from config.json's text: whether
 * linux.namespaces has a new network namespace and no user or time
 * namespace, nor any joined by path, and process.terminal does not send
 * the container down libcontainer's Go path. A wrong guess costs only
 * time: libcontainer decides from the whole config whether to take what
 * was made ahead (aheadNetNS), and makes its own when nothing was. Only
 * enough JSON is read to find these values: anything it cannot read
 * means no. */
int husk_config_wants_netns(const char *text, size_t len);

#endif
