/*
 * src/step.c - step memory: a bump allocator over a list of chunks.
 *
 * Allocation bumps a pointer in the current chunk, moving on to the next (empty) chunk
 * or appending a new one when it does not fit. nb_step_reset empties every chunk and,
 * if the step needed more than one, replaces them by a single chunk of their total
 * size, so the next step of the same size allocates nothing.
 */
#include <string.h>

#include "internal.h"

#define CHUNK_MIN ((size_t)256 << 10)

typedef struct chunk {
    struct chunk *next;
    size_t cap;   /* usable bytes after the header */
    size_t used;
} chunk;

#define CHUNK_HEADER nb_align_up(sizeof(chunk))

static chunk *head;     /* first chunk */
static chunk *cur;      /* chunk being filled; those after it are empty */
size_t nb_nodes_recorded;

static inline char *chunk_data(chunk *c) { return (char *)c + CHUNK_HEADER; }

static chunk *chunk_new(size_t cap)
{
    chunk *c = nb_alloc(CHUNK_HEADER + cap, NB_ALIGN);
    if (!c)
        return NULL;
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    return c;
}

static size_t reserved(void)
{
    size_t total = 0;
    for (chunk *c = head; c; c = c->next)
        total += c->cap;
    return total;
}

void *nb_step_alloc(size_t size)
{
    size_t n = nb_align_up(size ? size : 1);
    if (n < size) { /* overflow */
        nb_set_error(NB_ERR_NOMEM, "out of memory: %zu bytes of step memory requested", size);
        return NULL;
    }
    if (!cur)
        cur = head;
    while (cur && cur->cap - cur->used < n && cur->next) {
        cur = cur->next;
        cur->used = 0;
    }
    if (!cur || cur->cap - cur->used < n) {
        size_t total = reserved();
        size_t cap = n > total ? n : total;
        chunk *c = chunk_new(cap > CHUNK_MIN ? cap : CHUNK_MIN);
        if (!c)
            return NULL;
        if (cur)
            cur->next = c;
        else
            head = c;
        cur = c;
    }
    void *p = chunk_data(cur) + cur->used;
    cur->used += n;
    return p;
}

nb_step_mark nb_step_mark_get(void)
{
    return (nb_step_mark){cur, cur ? cur->used : 0};
}

void nb_step_rewind(nb_step_mark mark)
{
    chunk *c = mark.chunk;
    if (!c) {
        for (c = head; c; c = c->next)
            c->used = 0;
        cur = head;
        return;
    }
    c->used = mark.used;
    for (chunk *d = c->next; d; d = d->next)
        d->used = 0;
    cur = c;
}

static void free_chunks(void)
{
    chunk *c = head;
    while (c) {
        chunk *next = c->next;
        nb_free(c);
        c = next;
    }
    head = cur = NULL;
}

void nb_step_reset(void)
{
    nb_nodes_recorded = 0;
    if (head && head->next) {
        /* Several chunks: the step needed their total. Keep one of that size. */
        size_t total = reserved();
        free_chunks();
        head = chunk_new(total); /* on failure: start empty, grow again next step */
    }
    if (head)
        head->used = 0;
    cur = head;
}

size_t nb_step_used(void)
{
    size_t total = 0;
    for (chunk *c = head; c; c = c->next) {
        total += c->used;
        if (c == cur)
            break;
    }
    return total;
}

size_t nb_step_reserved(void) { return reserved(); }

void nb_memory_release(void)
{
    nb_nodes_recorded = 0;
    free_chunks();
}
