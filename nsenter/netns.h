#ifndef HUSK_NETNS_H
#define HUSK_NETNS_H

/* A network namespace made on a thread of its own: netns.c. */
struct husk_netns;

struct husk_netns *husk_netns_start(int *err);
int husk_netns_finish(struct husk_netns *n, int *err, long long times[2]);

#endif
