/*
 * src/data/source.c - the bytes a reader parses: a file or a memory buffer, plain or
 * gzip-compressed (detected from the first two bytes, 1f 8b), decompressed by zlib's
 * inflate. File and memory loaders share everything after this, so the fuzzers test
 * the code that reads files.
 *
 * zlib's memory goes through nb_alloc like the rest of nabla's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "source.h"

#define IN_CHUNK ((size_t)1 << 16)
/* deflate's best ratio is 1032:1; gzip members add headers, never data. */
#define GZIP_MAX_RATIO 1032u

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return nb_alloc((size_t)items * size, 0);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    nb_free(p);
}

nb_status nb_source_error(nb_source *s, nb_status code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->failed = true;
    return nb_set_error(code, "%s: '%s': %s", s->who, s->name, msg);
}

/* Makes at least `want` input bytes available if the source has them: moves what is
 * left to the front of the buffer and reads more from the file. */
static nb_status fill_input(nb_source *s, size_t want)
{
    if (!s->file || s->avail >= want || s->file_eof)
        return NB_OK;
    memmove(s->inbuf, s->in, s->avail);
    s->in = s->inbuf;
    while (s->avail < want && !s->file_eof) {
        size_t got = fread(s->inbuf + s->avail, 1, IN_CHUNK - s->avail, s->file);
        s->avail += got;
        if (got == 0) {
            if (ferror(s->file))
                return nb_source_error(s, NB_ERR_IO, "cannot read: %s", strerror(errno));
            s->file_eof = true;
        }
    }
    return NB_OK;
}

/* Starts decoding once the first bytes are in: gzip or plain. */
static nb_status start(nb_source *s, uint64_t raw_size)
{
    if (fill_input(s, 2) != NB_OK)
        return NB_ERR_IO;
    s->gzip = s->avail >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b;
    if (!s->gzip) {
        s->limit = raw_size;
        return NB_OK;
    }
    s->limit = raw_size > UINT64_MAX / GZIP_MAX_RATIO ? UINT64_MAX
                                                        : raw_size * GZIP_MAX_RATIO;
    memset(&s->z, 0, sizeof s->z);
    s->z.zalloc = z_alloc;
    s->z.zfree = z_free;
    int rc = inflateInit2(&s->z, 16 + MAX_WBITS);
    if (rc != Z_OK) {
        if (rc == Z_MEM_ERROR)
            return nb_source_error(s, NB_ERR_NOMEM, "out of memory for the gzip decoder");
        return nb_source_error(s, NB_ERR_IO, "cannot start the gzip decoder (zlib %s)",
                               zlibVersion());
    }
    s->z_live = true;
    return NB_OK;
}

nb_status nb_source_open_file(nb_source *s, const char *who, const char *path)
{
    memset(s, 0, sizeof *s);
    s->who = who;
    s->name = path ? path : "(null)";
    if (!path) {
        s->failed = true;
        return nb_set_error(NB_ERR_NULL, "%s: path is NULL", who);
    }
    errno = 0;
    s->file = fopen(path, "rb");
    if (!s->file)
        return nb_source_error(s, NB_ERR_IO, "cannot open: %s",
                               errno ? strerror(errno) : "unknown error");
    /* Reads come in 64 KiB chunks into our own buffer: no stdio buffer behind it. */
    setvbuf(s->file, NULL, _IONBF, 0);
    s->inbuf = nb_alloc(IN_CHUNK, 0);
    if (!s->inbuf) {
        s->failed = true;
        return NB_ERR_NOMEM;
    }
    s->in = s->inbuf;
    /* Read first (a directory opens but fails here), then measure the file. */
    if (fill_input(s, 2) != NB_OK)
        return NB_ERR_IO;
    uint64_t size = UINT64_MAX;
    long here = ftell(s->file);
    if (here >= 0 && fseek(s->file, 0, SEEK_END) == 0) {
        long end = ftell(s->file);
        if (end >= 0)
            size = (uint64_t)end;
        if (fseek(s->file, here, SEEK_SET) != 0)
            return nb_source_error(s, NB_ERR_IO, "cannot seek: %s", strerror(errno));
    }
    return start(s, size);
}

nb_status nb_source_open_mem(nb_source *s, const char *who, const void *buf, size_t n,
                             const char *name)
{
    memset(s, 0, sizeof *s);
    s->who = who;
    s->name = name ? name : "<memory>";
    if (!buf && n > 0) {
        s->failed = true;
        return nb_set_error(NB_ERR_NULL, "%s: buffer is NULL", who);
    }
    s->in = buf;
    s->avail = n;
    return start(s, n);
}

void nb_source_close(nb_source *s)
{
    if (s->z_live)
        inflateEnd(&s->z);
    if (s->file)
        fclose(s->file);
    nb_free(s->inbuf);
    memset(s, 0, sizeof *s);
}

/* Inflates into dst; returns the bytes produced or -1. */
static int64_t inflate_some(nb_source *s, unsigned char *dst, size_t n)
{
    size_t done = 0;
    while (done < n) {
        if (s->member_end) {
            /* Another gzip member may follow; anything else is an error. */
            if (fill_input(s, 2) != NB_OK)
                return -1;
            if (s->avail == 0) {
                s->eof = true;
                break;
            }
            if (s->avail < 2 || s->in[0] != 0x1f || s->in[1] != 0x8b) {
                nb_source_error(s, NB_ERR_IO, "%zu stray byte%s after the end of the gzip "
                                "stream", s->avail, s->avail == 1 ? "" : "s");
                return -1;
            }
            if (inflateReset(&s->z) != Z_OK) {
                nb_source_error(s, NB_ERR_IO, "cannot restart the gzip decoder");
                return -1;
            }
            s->member_end = false;
        }
        if (s->avail == 0 && fill_input(s, 1) != NB_OK)
            return -1;
        uInt in_now = s->avail > UINT_MAX ? UINT_MAX : (uInt)s->avail;
        size_t want = n - done;
        uInt out_now = want > UINT_MAX ? UINT_MAX : (uInt)want;
        s->z.next_in = (Bytef *)(uintptr_t)s->in;
        s->z.avail_in = in_now;
        s->z.next_out = dst + done;
        s->z.avail_out = out_now;
        int rc = inflate(&s->z, Z_NO_FLUSH);
        size_t used = in_now - s->z.avail_in, made = out_now - s->z.avail_out;
        s->in += used;
        s->avail -= used;
        done += made;
        if (rc == Z_STREAM_END) {
            s->member_end = true;
            continue;
        }
        if (rc == Z_OK)
            continue;
        if (rc == Z_BUF_ERROR && s->avail == 0 && (!s->file || s->file_eof)) {
            nb_source_error(s, NB_ERR_IO, "the gzip stream is truncated (it ends after %llu "
                            "bytes of data, before its end marker)",
                            (unsigned long long)(s->given + done));
            return -1;
        }
        if (rc == Z_BUF_ERROR)
            continue; /* more input is on its way */
        if (rc == Z_MEM_ERROR) {
            nb_source_error(s, NB_ERR_NOMEM, "out of memory in the gzip decoder");
            return -1;
        }
        nb_source_error(s, NB_ERR_IO, "corrupt gzip stream (%s)",
                        s->z.msg ? s->z.msg : "zlib error");
        return -1;
    }
    return (int64_t)done;
}

int64_t nb_source_read(nb_source *s, void *dst, size_t n)
{
    if (s->failed)
        return -1;
    if (n == 0 || s->eof)
        return 0;
    int64_t got;
    if (s->gzip) {
        got = inflate_some(s, dst, n);
    } else {
        size_t done = 0;
        while (done < n) {
            if (s->avail == 0) {
                if (fill_input(s, 1) != NB_OK)
                    return -1;
                if (s->avail == 0) {
                    s->eof = true;
                    break;
                }
            }
            size_t k = s->avail < n - done ? s->avail : n - done;
            memcpy((unsigned char *)dst + done, s->in, k);
            s->in += k;
            s->avail -= k;
            done += k;
        }
        got = (int64_t)done;
    }
    if (got > 0)
        s->given += (uint64_t)got;
    return got;
}
