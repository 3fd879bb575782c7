/*
 * Linking husk with musl (see the Makefile) uses Debian's libseccomp.a,
 * which glibc's headers compiled with _FORTIFY_SOURCE: it calls the one
 * checked function below, which musl does not have. The check itself
 * (the format string is not in writable memory) is glibc's business; this
 * prints as the unchecked call does.
 */
#include <stdarg.h>
#include <stdio.h>

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	va_list ap;
	int n;

	(void)flag;
	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n;
}
