/*
 * src/io/meta.c - nb_meta, the ordered string map of a checkpoint's "__metadata__".
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_impl.h"

typedef struct meta_entry {
    char *key;    /* one block: key, NUL, value, NUL */
    char *value;  /* points into the block */
} meta_entry;

struct nb_meta {
    meta_entry *e;
    int64_t count, cap;
};

nb_meta *nb_meta_new(void)
{
    nb_meta *m = nb_alloc(sizeof *m, 0);
    if (m)
        memset(m, 0, sizeof *m);
    return m;
}

void nb_meta_free(nb_meta *m)
{
    if (!m)
        return;
    for (int64_t i = 0; i < m->count; i++)
        nb_free(m->e[i].key);
    nb_free(m->e);
    nb_free(m);
}

bool io_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static int64_t meta_index(const nb_meta *m, const char *key)
{
    if (!m || !key)
        return -1;
    for (int64_t i = 0; i < m->count; i++)
        if (strcmp(m->e[i].key, key) == 0)
            return i;
    return -1;
}

nb_status nb_meta_set(nb_meta *m, const char *key, const char *value)
{
    if (!m || !key || !value)
        return nb_set_error(NB_ERR_NULL, "meta_set: %s is NULL",
                            !m ? "the map" : !key ? "the key" : "the value");
    size_t kn = strlen(key), vn = strlen(value);
    if (!io_utf8_valid(key, kn))
        return nb_set_error(NB_ERR_ARG, "meta_set: key '%.60s' is not valid UTF-8", key);
    if (!io_utf8_valid(value, vn))
        return nb_set_error(NB_ERR_ARG, "meta_set: the value of '%.60s' is not valid UTF-8",
                            key);
    if (kn > SIZE_MAX / 2 - vn - 2)
        return nb_set_error(NB_ERR_NOMEM, "meta_set: out of memory: '%.60s' is too long", key);
    char *block = nb_alloc(kn + vn + 2, 1);
    if (!block)
        return NB_ERR_NOMEM;
    memcpy(block, key, kn + 1);
    memcpy(block + kn + 1, value, vn + 1);

    int64_t i = meta_index(m, key);
    if (i < 0) {
        if (m->count == m->cap) {
            int64_t cap = m->cap ? 2 * m->cap : 8;
            meta_entry *e = nb_alloc((size_t)cap * sizeof *e, 0);
            if (!e) {
                nb_free(block);
                return NB_ERR_NOMEM;
            }
            if (m->count)
                memcpy(e, m->e, (size_t)m->count * sizeof *e);
            nb_free(m->e);
            m->e = e;
            m->cap = cap;
        }
        i = m->count++;
    } else {
        nb_free(m->e[i].key);
    }
    m->e[i].key = block;
    m->e[i].value = block + kn + 1;
    return NB_OK;
}

nb_status nb_meta_set_u64(nb_meta *m, const char *key, uint64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)value);
    return nb_meta_set(m, key, buf);
}

nb_status nb_meta_set_f64(nb_meta *m, const char *key, double value)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", value);
    return nb_meta_set(m, key, buf);
}

const char *nb_meta_get(const nb_meta *m, const char *key)
{
    int64_t i = meta_index(m, key);
    return i < 0 ? NULL : m->e[i].value;
}

nb_status nb_meta_get_u64(const nb_meta *m, const char *key, uint64_t *out)
{
    const char *v = nb_meta_get(m, key);
    if (!v)
        return nb_set_error(NB_ERR_ARG, "meta_get_u64: no key '%.60s'", key ? key : "(null)");
    uint64_t x = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10)
            break;
        x = 10 * x + d;
    }
    if (p == v || *p != '\0')
        return nb_set_error(NB_ERR_ARG, "meta_get_u64: '%.60s' is '%.60s', not a whole number "
                            "in [0, 2^64)", key, v);
    if (out)
        *out = x;
    return NB_OK;
}

nb_status nb_meta_get_f64(const nb_meta *m, const char *key, double *out)
{
    const char *v = nb_meta_get(m, key);
    if (!v)
        return nb_set_error(NB_ERR_ARG, "meta_get_f64: no key '%.60s'", key ? key : "(null)");
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    bool underflow = errno == ERANGE && fabs(x) <= 1.0;  /* a denormal or 0 is fine */
    if (end == v || *end != '\0' || isspace((unsigned char)*v) || (errno == ERANGE && !underflow))
        return nb_set_error(NB_ERR_ARG, "meta_get_f64: '%.60s' is '%.60s', not a number", key,
                            v);
    if (out)
        *out = x;
    return NB_OK;
}

int64_t nb_meta_count(const nb_meta *m) { return m ? m->count : 0; }

const char *nb_meta_key(const nb_meta *m, int64_t i)
{
    return m && i >= 0 && i < m->count ? m->e[i].key : NULL;
}

const char *nb_meta_value(const nb_meta *m, int64_t i)
{
    return m && i >= 0 && i < m->count ? m->e[i].value : NULL;
}
