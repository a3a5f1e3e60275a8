/*
 * src/io/io_impl.h - what the files of src/io share (private to the module; it includes
 * only public headers, like every module on top of the engine).
 */
#ifndef NABLA_SRC_IO_IMPL_H
#define NABLA_SRC_IO_IMPL_H

#include <jansson.h>

#include "nabla.h"
#include "nabla/io.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "nabla's safetensors code assumes a little-endian host"
#endif

/* Header lengths above this are refused, as the reference implementation does. */
#define IO_HEADER_MAX 100000000u

/* Who reports (the public function's name without "nb_") and about which file (NULL:
 * a buffer in memory), for messages "checkpoint_load: 'run.st': ...". */
typedef struct io_ctx {
    const char *fn;
    const char *path;
} io_ctx;

/* Records `code` with "<fn>: '<path>': <message>" and returns it. */
nb_status io_error(const io_ctx *c, nb_status code, const char *fmt, ...) NB_PRINTF(3, 4);

/* jansson allocates through nb_alloc between io_json_begin and io_json_end (the
 * previous functions are put back). io_json_nomem says whether an allocation failed
 * since io_json_begin. */
typedef struct io_json_scope {
    json_malloc_t malloc_fn;
    json_free_t free_fn;
} io_json_scope;

void io_json_begin(io_json_scope *s);
void io_json_end(const io_json_scope *s);
bool io_json_nomem(void);

/* The parsed, checked header of a file held by an nb_safetensors (safetensors.c). */
nb_status io_parse_header(const io_ctx *c, const char *header, size_t n, uint64_t data_size,
                          nb_safetensors **out);

/* Reads and checks the header of the open file fd. */
nb_status io_read_header(const io_ctx *c, int fd, nb_safetensors **out);

/* The same for a whole file of `size` bytes in memory. */
nb_status io_open_mem(const io_ctx *c, const void *data, size_t size, nb_safetensors **out);

/* Reads n bytes at offset `at` of fd; NB_ERR_IO naming the reason (or an early end). */
nb_status io_read_at(const io_ctx *c, int fd, void *buf, size_t n, uint64_t at);

/* Checks the first 8 bytes of a file of `size` bytes and returns its header length. */
nb_status io_header_length(const io_ctx *c, const unsigned char first[8], uint64_t size,
                           uint64_t *n);

/* Takes the metadata map out of st: the caller owns it, and st, which has none from
 * then on, is only good for nb_safetensors_close. Allocates nothing. */
nb_meta *io_take_meta(nb_safetensors *st);

/* True if s holds valid UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF). */
bool io_utf8_valid(const char *s, size_t n);

/* Writes "[2,3]" for any rank into buf (always NUL-terminated). */
void io_shape_str(int ndim, const int64_t *shape, char *buf, size_t n);

#endif /* NABLA_SRC_IO_IMPL_H */
