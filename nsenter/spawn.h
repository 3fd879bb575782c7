#ifndef HUSK_SPAWN_H
#define HUSK_SPAWN_H
#include <sys/types.h>

#define HUSK_SPAWN_MAXFDS 1024

pid_t husk_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds,
		 int *child_errno);
pid_t husk_spawn_into(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds,
		      unsigned long long flags, int cgroupfd, int *child_errno);

#endif
