#ifndef HUSK_SPAWN_H
#define HUSK_SPAWN_H
#include <sys/types.h>

#define HUSK_SPAWN_MAXFDS 1024

pid_t husk_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds,
		 int *child_errno);
pid_t husk_spawn_into(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds,
		      unsigned long long flags, int cgroupfd, int *child_errno);

/* husk_place_fds puts fds[i] at fd i, for the n of them, with dup2 (which
 * clears close-on-exec; one already in place has it cleared): first it
 * moves out of the way each that another's dup2 would overwrite before its
 * turn, and updates fds with where it went. Only system calls: it runs in
 * vfork children that share their parent's memory. 0, or -1 and errno.
 * In nsexec.c, which husk-init's stage needs it in too. */
int husk_place_fds(int *fds, int n);

#endif
