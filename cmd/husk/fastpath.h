#ifndef HUSK_FASTPATH_H
#define HUSK_FASTPATH_H

/* husk_parse_signal returns the signal a `kill` argument names, with or
 * without the SIG prefix in any case ("KILL", "sigterm", "RTMIN+2"), or
 * given as a number from 1 to 64; 0 when it names none. */
int husk_parse_signal(const char *raw);

/* husk_fast_path_error returns the error of a fast path command that
 * failed past its point of no return, for Go to report; "" when there is
 * none. */
const char *husk_fast_path_error(void);

/* husk_start_ns returns when the first constructor ran (CLOCK_REALTIME,
 * in ns): the time zero of --trace. */
long long husk_start_ns(void);

#endif
