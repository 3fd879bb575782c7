#ifndef HUSK_INIT_IMAGE_H
#define HUSK_INIT_IMAGE_H
#include <stddef.h>

/* husk-init's bytes and sealed copies of them: image.c. */
size_t husk_init_size(void);
int husk_init_memfd(int *err);
/* then, when not NULL, runs on the thread once it has made the copy (fd;
 * -1 when it could not), which husk_init_take_sealed hands out only once
 * then has called husk_init_publish_sealed or returned: more work for the
 * CPU the Go runtime's start leaves idle, which may run husk-init from the
 * copy. */
int husk_init_seal_ahead(void (*then)(int fd));
void husk_init_publish_sealed(void);
int husk_init_take_sealed(long long *start_ns, long long *end_ns);
int husk_init_sealing_ahead(void);

#endif
