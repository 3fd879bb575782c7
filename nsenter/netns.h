#ifndef HUSK_NETNS_H
#define HUSK_NETNS_H

/* A network namespace made on a thread of its own: netns.c. */
struct husk_netns;

struct husk_netns *husk_netns_start(int *err);
int husk_netns_finish(struct husk_netns *n, int *err, long long times[2], int *ahead_made);

/* Made ahead, before the Go runtime starts (see netns.c): arm from a
 * constructor (0 when armed), disarm when the thread that was to decide
 * does not run, and, on that thread, make says whether to make it and
 * makes it. */
int husk_netns_ahead_arm(void);
void husk_netns_ahead_disarm(void);
void husk_netns_ahead_make(int wanted);

#endif
