#ifndef HUSK_INIT_IMAGE_H
#define HUSK_INIT_IMAGE_H
#include <stddef.h>

/* husk-init's bytes and sealed copies of them: image.c. */
size_t husk_init_size(void);
int husk_init_memfd(int *err);
int husk_init_seal_ahead(void (*then)(void));
int husk_init_take_sealed(long long *start_ns, long long *end_ns);
int husk_init_sealing_ahead(void);

#endif
