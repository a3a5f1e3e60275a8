/*
 * src/step.c - step memory: a bump allocator over a list of chunks, and the step id.
 *
 * Allocation bumps a pointer in the current chunk, moving on to the next (empty) chunk
 * or appending a new one when it does not fit. nb_step_reset empties every chunk and,
 * if the step needed more than one, replaces them by a single chunk of their total
 * size, so the next step of the same size allocates nothing.
 *
 * Each step starts at a rotating offset (0, 64, ..., 448 bytes) into the first chunk, so
 * a tensor kept from an earlier step does not line up with a tensor of the new one: its
 * stale header is found by its step id rather than read as a live tensor. The first
 * chunk is sized so that the largest offset still fits the step.
 */
#include <string.h>

#include "internal.h"

#define CHUNK_MIN ((size_t)256 << 10)
#define SHIFT_STEP ((size_t)64)
#define SHIFT_PERIOD 8
#define SHIFT_MAX (SHIFT_STEP * (SHIFT_PERIOD - 1))

typedef struct chunk {
    struct chunk *next;
    size_t cap;   /* usable bytes after the header */
    size_t used;
} chunk;

#define CHUNK_HEADER nb_align_up(sizeof(chunk))

static chunk *head;       /* first chunk */
static chunk *cur;        /* chunk being filled; those after it are empty */
static size_t head_high;  /* the most of head used this step */
static uint64_t step_id = 1;
size_t nb_nodes_recorded;
nb_node *nb_last_node;

static inline char *chunk_data(chunk *c) { return (char *)c + CHUNK_HEADER; }

nb_step_view nb_step_view_;

/* Call whenever the chunk list changes. */
static void view_update(void)
{
    nb_step_view_.single = head && !head->next;
    nb_step_view_.data = head ? chunk_data(head) : NULL;
    nb_step_view_.cap = head ? head->cap : 0;
    nb_step_view_.used = head ? &head->used : NULL;
}

static size_t start_offset(void) { return SHIFT_STEP * (size_t)(step_id % SHIFT_PERIOD); }

uint64_t nb_step_id(void) { return step_id; }

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
    if (size > SIZE_MAX / 2) { /* no chunk could hold it, and the sums below would wrap */
        nb_set_error(NB_ERR_NOMEM, "out of memory: %zu bytes of step memory requested", size);
        return NULL;
    }
    size_t n = nb_align_up(size ? size : 1);
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
        view_update();
    }
    void *p = chunk_data(cur) + cur->used;
    cur->used += n;
    if (cur == head && cur->used > head_high)
        head_high = cur->used;
    return p;
}

nb_step_mark nb_step_mark_get(void)
{
    return (nb_step_mark){cur, cur ? cur->used : 0, nb_nodes_recorded, nb_last_node, step_id};
}

nb_status nb_step_rewind(nb_step_mark mark)
{
    if (mark.step != step_id)
        return nb_set_error(NB_ERR_STATE, "step_rewind: the mark is from step %llu, this is "
                            "step %llu (a mark is invalid after nb_step_reset)",
                            (unsigned long long)mark.step, (unsigned long long)step_id);
    chunk *c = mark.chunk;
    if (!c) { /* taken before anything was allocated in this step */
        for (chunk *d = head; d; d = d->next)
            d->used = 0;
        cur = head;
        nb_nodes_recorded = mark.nodes;
        nb_last_node = mark.last;
        return NB_OK;
    }
    /* The mark's chunk must be at or before cur, and its position not ahead of now. */
    bool found = false;
    for (chunk *d = head; d; d = d->next) {
        if (d == c) {
            found = true;
            break;
        }
        if (d == cur)
            break;
    }
    if (!found || (c == cur && mark.used > c->used) || mark.nodes > nb_nodes_recorded)
        return nb_set_error(NB_ERR_STATE, "step_rewind: the mark lies ahead of the current "
                            "position (it was taken before an earlier rewind)");
    c->used = mark.used;
    for (chunk *d = c->next; d; d = d->next)
        d->used = 0;
    cur = c;
    nb_nodes_recorded = mark.nodes;
    nb_last_node = mark.last;
    return NB_OK;
}

int nb_step_holds(const void *p, size_t n)
{
    const char *q = p;
    bool past_cur = false;
    for (chunk *c = head; c; c = c->next) {
        const char *d = chunk_data(c);
        if (q >= d && q < d + c->cap)
            return !past_cur && n <= c->used && q <= d + c->used - n ? 1 : 2;
        if (c == cur)
            past_cur = true;
    }
    return 0;
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
    nb_last_node = NULL;
    step_id++;
    nb_release_deferred();
    size_t start = start_offset();
    if (head && head->next) {
        /* Several chunks: the step needed their total. Keep one of that size. */
        size_t total = reserved() + SHIFT_MAX;
        free_chunks();
        head = chunk_new(total); /* on failure: start empty, grow again next step */
    } else if (head && head_high + SHIFT_MAX > head->cap && head_high > SHIFT_MAX) {
        /* One chunk, nearly full: make room for every start offset. */
        size_t need = head_high + SHIFT_MAX;
        free_chunks();
        head = chunk_new(need);
    }
    if (head)
        head->used = start <= head->cap ? start : 0;
    head_high = head ? head->used : 0;
    cur = head;
    view_update();
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
    nb_last_node = NULL;
    step_id++;
    nb_release_deferred();
    free_chunks();
    head_high = 0;
    view_update();
}
