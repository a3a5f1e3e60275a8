/*
 * src/alloc.c - the one door all of nabla's memory goes through.
 */
#include <stdlib.h>

#include "internal.h"

static void *default_alloc(size_t size, size_t align, void *ud)
{
    (void)ud;
    if (size == 0)
        size = 1;
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size = (size + align - 1) & ~(align - 1);
    return aligned_alloc(align, size);
}

static void default_free(void *ptr, void *ud)
{
    (void)ud;
    free(ptr);
}

static nb_allocator allocator = {default_alloc, default_free, NULL};

void nb_set_allocator(const nb_allocator *a)
{
    if (a && a->alloc && a->free)
        allocator = *a;
    else
        allocator = (nb_allocator){default_alloc, default_free, NULL};
}

void *nb_alloc(size_t size, size_t align)
{
    void *p = allocator.alloc(size, align, allocator.ud);
    if (!p)
        nb_set_error(NB_ERR_NOMEM, "out of memory: %zu bytes requested", size);
    return p;
}

void nb_free(void *ptr)
{
    if (ptr)
        allocator.free(ptr, allocator.ud);
}
