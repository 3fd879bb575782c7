#ifndef HUSK_SIGFWD_H
#define HUSK_SIGFWD_H

/* husk_catch_signals installs, for every signal husk forwards to a
 * container's process, a handler that writes the signal's number as one
 * byte to fd (the non-blocking write end of a pipe). It returns 0, or the
 * errno of the sigaction(2) that failed. See sigfwd.go. */
int husk_catch_signals(int fd);

#endif
