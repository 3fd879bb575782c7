#ifndef HUSK_NETNS_H
#define HUSK_NETNS_H

/* A network namespace made on a thread of its own: netns.c. */
struct husk_netns;

struct husk_netns *husk_netns_start(int *err);
int husk_netns_finish(struct husk_netns *n, int *err, long long times[2], int *ahead_made);

/* Made ahead, before the Go runtime starts (see netns.c), by husk-init run
 * from the sealed copy the thread husk's constructor starts makes: arm
 * from the constructor (0 when armed), disarm when that thread does not
 * start; on the thread, start with the copy's fd (before the copy is
 * handed to Go) says whether the container wants the namespace and, when
 * it does, starts husk-init (it returns whether it did), and finish, after
 * that, waits for its answer. */
int husk_netns_ahead_arm(void);
void husk_netns_ahead_disarm(void);
int husk_netns_ahead_start(int exe_fd, int wanted);
void husk_netns_ahead_finish(void);

#endif
