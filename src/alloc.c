/*
 * src/alloc.c - the one door all of nabla's memory goes through.
 *
 * Every block carries a small record just before the pointer nb_alloc returns: the
 * allocator that gave it (so nb_free returns it there, whatever is installed by then),
 * the raw pointer, and a link for nb_free_deferred's list.
 */
#include <assert.h>
#include <stdlib.h>

#include "internal.h"

#define BLOCK_MAGIC 0x6e61626c61626c6bULL /* "nablablk" */
#define ALIGN_MAX 4096

typedef struct block_record {
    nb_allocator a;
    void *base;                      /* what a.alloc returned */
    struct block_record *deferred;   /* next in the deferred list */
    uint64_t magic;
} block_record;

static void *default_alloc(size_t size, size_t align, void *ud)
{
    (void)ud;
    if (size == 0)
        size = 1;
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    if (size > SIZE_MAX - (align - 1))
        return NULL;
    size = (size + align - 1) & ~(align - 1);
    return aligned_alloc(align, size);
}

static void default_free(void *ptr, void *ud)
{
    (void)ud;
    free(ptr);
}

static nb_allocator allocator = {default_alloc, default_free, NULL};
static block_record *deferred_head;

void nb_set_allocator(const nb_allocator *a)
{
    if (a && a->alloc && a->free)
        allocator = *a;
    else
        allocator = (nb_allocator){default_alloc, default_free, NULL};
}

void *nb_alloc(size_t size, size_t align)
{
    if (align == 0)
        align = NB_ALIGN;
    if ((align & (align - 1)) != 0 || align > ALIGN_MAX) {
        nb_set_error(NB_ERR_ARG, "alloc: alignment %zu is not a power of two up to %d", align,
                     ALIGN_MAX);
        return NULL;
    }
    if (align < _Alignof(block_record))
        align = _Alignof(block_record);
    /* The record sits in the `pre` bytes before the returned pointer. */
    size_t pre = (sizeof(block_record) + align - 1) & ~(align - 1);
    if (size > SIZE_MAX - pre - ALIGN_MAX) {
        nb_set_error(NB_ERR_NOMEM, "out of memory: %zu bytes requested", size);
        return NULL;
    }
    char *base = allocator.alloc(pre + size, align, allocator.ud);
    if (!base) {
        nb_set_error(NB_ERR_NOMEM, "out of memory: %zu bytes requested", size);
        return NULL;
    }
    char *p = base + pre;
    block_record *r = (block_record *)(void *)(p - sizeof *r);
    r->a = allocator;
    r->base = base;
    r->deferred = NULL;
    r->magic = BLOCK_MAGIC;
    return p;
}

static block_record *record_of(void *ptr)
{
    block_record *r = (block_record *)(void *)((char *)ptr - sizeof *r);
    assert(r->magic == BLOCK_MAGIC && "nb_free of memory nb_alloc did not give");
    return r;
}

void nb_free(void *ptr)
{
    if (!ptr)
        return;
    block_record *r = record_of(ptr);
    nb_allocator a = r->a;
    r->magic = 0;
    a.free(r->base, a.ud);
}

void nb_free_deferred(void *ptr)
{
    if (!ptr)
        return;
    block_record *r = record_of(ptr);
    r->deferred = deferred_head;
    deferred_head = r;
}

void nb_release_deferred(void)
{
    block_record *r = deferred_head;
    deferred_head = NULL;
    while (r) {
        block_record *next = r->deferred;
        nb_allocator a = r->a;
        r->magic = 0;
        a.free(r->base, a.ud);
        r = next;
    }
}
