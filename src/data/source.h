/*
 * src/data/source.h - the bytes a reader parses: a file or a memory buffer, plain or
 * gzip-compressed (detected from its content), with errors that name the file.
 */
#ifndef NABLA_DATA_SOURCE_H
#define NABLA_DATA_SOURCE_H

#include <stdarg.h>
#include <stdio.h>
#include <zlib.h>

#include "nabla/core.h"

typedef struct nb_source {
    const char *who;             /* the loader, for messages: "idx_load" */
    const char *name;            /* the file, for messages */
    FILE *file;                  /* NULL for a memory source */
    unsigned char *inbuf;        /* a file's input buffer */
    const unsigned char *in;     /* the next input byte */
    size_t avail;                /* input bytes at `in` */
    bool file_eof;
    bool gzip;
    bool z_live;                 /* z needs inflateEnd */
    bool member_end;             /* a gzip member ended; another may follow */
    bool eof;                    /* no more data */
    bool failed;                 /* an error was recorded */
    z_stream z;
    uint64_t limit;              /* at most this many bytes of data can come */
    uint64_t given;              /* bytes of data returned so far */
} nb_source;

/* Opens a file or a buffer (which must outlive the source). On error the message is
 * recorded (NB_ERR_IO naming the file, NB_ERR_NULL, NB_ERR_NOMEM); close it anyway. */
nb_status nb_source_open_file(nb_source *s, const char *who, const char *path);
nb_status nb_source_open_mem(nb_source *s, const char *who, const void *buf, size_t n,
                             const char *name);
void nb_source_close(nb_source *s);

/* Reads up to n bytes of data into dst: returns how many (fewer than n only at the end
 * of the data), or -1 with the error recorded (a read error, a corrupt or truncated
 * gzip stream, stray bytes after it). */
int64_t nb_source_read(nb_source *s, void *dst, size_t n);

/* Records "<who>: '<name>': <message>" with `code` and marks the source failed. */
nb_status nb_source_error(nb_source *s, nb_status code, const char *fmt, ...) NB_PRINTF(3, 4);

#endif /* NABLA_DATA_SOURCE_H */
