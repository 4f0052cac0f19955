/*
 * cbor.c: the minimal CBOR of spec/encoding.md that reducers need. The reader accepts any
 * head length and key order (the host writes canonical input, but a reducer should not
 * break on a longer head); the writer only ever writes canonical bytes.
 */
#include "worldline.h"

/* ---- reader ---------------------------------------------------------------------------- */

enum {
    MAJOR_UINT = 0,
    MAJOR_NINT = 1,
    MAJOR_BYTES = 2,
    MAJOR_TEXT = 3,
    MAJOR_ARRAY = 4,
    MAJOR_MAP = 5,
    MAJOR_TAG = 6,
    MAJOR_SIMPLE = 7,
};

enum { SIMPLE_FALSE = 20, SIMPLE_TRUE = 21, SIMPLE_NULL = 22, CBOR_NULL = 0xf6 };

wl_reader wl_reader_of(wl_bytes b) {
    wl_reader r = {b.ptr, b.ptr + b.len};
    return r;
}

bool wl_at_end(const wl_reader *r) { return r->pos == r->end; }

static uint32_t remaining(const wl_reader *r) { return (uint32_t)(r->end - r->pos); }

bool wl_read_head(wl_reader *r, uint8_t *major, uint64_t *arg) {
    if (remaining(r) < 1) {
        return false;
    }
    uint8_t initial = *r->pos++;
    uint8_t info = initial & 31;
    *major = initial >> 5;
    if (info < 24) {
        *arg = info;
        return true;
    }
    if (info > 27) {
        return false; /* reserved, or an indefinite length */
    }
    uint32_t n = 1u << (info - 24); /* 1, 2, 4 or 8 big-endian bytes */
    if (remaining(r) < n) {
        return false;
    }
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++) {
        v = (v << 8) | *r->pos++;
    }
    *arg = v;
    return true;
}

static bool read_major(wl_reader *r, uint8_t want, uint64_t *arg) {
    uint8_t major;
    return wl_read_head(r, &major, arg) && major == want;
}

bool wl_read_uint(wl_reader *r, uint64_t *value) { return read_major(r, MAJOR_UINT, value); }

bool wl_read_map(wl_reader *r, uint64_t *count) { return read_major(r, MAJOR_MAP, count); }

static bool read_string(wl_reader *r, uint8_t major, wl_bytes *out) {
    uint64_t len;
    if (!read_major(r, major, &len) || len > remaining(r)) {
        return false;
    }
    out->ptr = r->pos;
    out->len = (uint32_t)len;
    r->pos += len;
    return true;
}

bool wl_read_text(wl_reader *r, wl_bytes *text) { return read_string(r, MAJOR_TEXT, text); }

bool wl_read_bytes(wl_reader *r, wl_bytes *bytes) { return read_string(r, MAJOR_BYTES, bytes); }

bool wl_read_null(wl_reader *r) {
    if (remaining(r) < 1 || *r->pos != CBOR_NULL) {
        return false;
    }
    r->pos++;
    return true;
}

static bool skip_item(wl_reader *r, uint32_t depth) {
    uint8_t major;
    uint64_t arg;
    if (depth > WL_DEPTH_MAX || !wl_read_head(r, &major, &arg)) {
        return false;
    }
    switch (major) {
    case MAJOR_UINT:
    case MAJOR_NINT:
        return true;
    case MAJOR_BYTES:
    case MAJOR_TEXT:
        if (arg > remaining(r)) {
            return false;
        }
        r->pos += arg;
        return true;
    case MAJOR_ARRAY:
    case MAJOR_MAP: {
        /* Every item takes at least one byte: a count beyond the input is truncated. */
        uint64_t items = major == MAJOR_MAP ? arg * 2 : arg;
        if (arg > remaining(r) || items > remaining(r)) {
            return false;
        }
        for (uint64_t i = 0; i < items; i++) {
            if (!skip_item(r, depth + 1)) {
                return false;
            }
        }
        return true;
    }
    case MAJOR_SIMPLE:
        /* false, true and null only: wl_read_head already refused the long forms
         * (floats are info 25..27), which leave arg >= 24 here. */
        return arg == SIMPLE_FALSE || arg == SIMPLE_TRUE || arg == SIMPLE_NULL;
    default: /* tags */
        return false;
    }
}

bool wl_skip(wl_reader *r, wl_bytes *item) {
    const uint8_t *start = r->pos;
    if (!skip_item(r, 0)) {
        return false;
    }
    if (item != NULL) {
        item->ptr = start;
        item->len = (uint32_t)(r->pos - start);
    }
    return true;
}

bool wl_read_variant(wl_reader *r, wl_bytes *tag, wl_bytes *value) {
    uint64_t count;
    bool have_tag = false;
    bool have_value = false;
    if (!wl_read_map(r, &count) || count < 1 || count > 2) {
        return false;
    }
    value->ptr = r->pos;
    value->len = 0;
    for (uint64_t i = 0; i < count; i++) {
        wl_bytes key;
        if (!wl_read_text(r, &key)) {
            return false;
        }
        if (wl_bytes_is(key, "$tag") && !have_tag) {
            have_tag = wl_read_text(r, tag);
            if (!have_tag) {
                return false;
            }
        } else if (wl_bytes_is(key, "$value") && !have_value) {
            have_value = true;
            /* A unit arm may carry "$value": null; it reads as no value. */
            if (!wl_read_null(r) && !wl_skip(r, value)) {
                return false;
            }
        } else {
            return false; /* an unknown or repeated key */
        }
    }
    return have_tag;
}

/* ---- writer ------------------------------------------------------------------------------ */

void wl_writer_init(wl_writer *w, uint32_t cap) {
    w->buf = wl_alloc(cap);
    w->len = 0;
    w->cap = cap;
    w->bad = false;
}

wl_bytes wl_written(const wl_writer *w) {
    wl_bytes b = {w->buf, w->len};
    return b;
}

/* Makes room for n more bytes: a new buffer twice as large (the old one is simply left
 * behind; the instance ends with the step). */
static void reserve(wl_writer *w, uint32_t n) {
    if (w->cap - w->len >= n) {
        return;
    }
    uint32_t cap = w->cap * 2 + n;
    uint8_t *buf = wl_alloc(cap);
    memcpy(buf, w->buf, w->len);
    w->buf = buf;
    w->cap = cap;
}

void wl_write_raw(wl_writer *w, wl_bytes b) {
    reserve(w, b.len);
    memcpy(w->buf + w->len, b.ptr, b.len);
    w->len += b.len;
}

void wl_write_head(wl_writer *w, uint8_t major, uint64_t arg) {
    uint8_t head[9];
    uint32_t n; /* argument bytes after the initial byte */
    uint8_t info;
    if (arg < 24) {
        n = 0;
        info = (uint8_t)arg;
    } else if (arg <= 0xff) {
        n = 1;
        info = 24;
    } else if (arg <= 0xffff) {
        n = 2;
        info = 25;
    } else if (arg <= 0xffffffffu) {
        n = 4;
        info = 26;
    } else {
        n = 8;
        info = 27;
    }
    head[0] = (uint8_t)(major << 5) | info;
    for (uint32_t i = 0; i < n; i++) { /* big-endian */
        head[1 + i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
    }
    wl_bytes b = {head, 1 + n};
    wl_write_raw(w, b);
}

void wl_write_uint(wl_writer *w, uint64_t value) { wl_write_head(w, MAJOR_UINT, value); }

void wl_write_text(wl_writer *w, wl_bytes text) {
    wl_write_head(w, MAJOR_TEXT, text.len);
    wl_write_raw(w, text);
}

void wl_write_bytes(wl_writer *w, wl_bytes bytes) {
    wl_write_head(w, MAJOR_BYTES, bytes.len);
    wl_write_raw(w, bytes);
}

void wl_write_null(wl_writer *w) {
    static const uint8_t null_byte = CBOR_NULL;
    wl_bytes b = {&null_byte, 1};
    wl_write_raw(w, b);
}

void wl_map_begin(wl_writer *w, wl_map *m, uint32_t count) {
    wl_write_head(w, MAJOR_MAP, count);
    m->count = count;
    m->written = 0;
    if (count > WL_MAP_ENTRIES_MAX) {
        w->bad = true;
    }
}

void wl_map_key(wl_writer *w, wl_map *m, const char *key) {
    if (m->written >= m->count || m->written >= WL_MAP_ENTRIES_MAX) {
        w->bad = true;
        return;
    }
    m->entry[m->written] = w->len;
    wl_write_text(w, wl_str(key));
    m->key_end[m->written] = w->len;
    m->written++;
}

/* Compares the encoded keys of entries a and b bytewise (a proper prefix sorts first). */
static int key_order(const wl_writer *w, const wl_map *m, uint32_t a, uint32_t b) {
    uint32_t la = m->key_end[a] - m->entry[a];
    uint32_t lb = m->key_end[b] - m->entry[b];
    int c = memcmp(w->buf + m->entry[a], w->buf + m->entry[b], la < lb ? la : lb);
    if (c != 0) {
        return c;
    }
    return la < lb ? -1 : (la > lb ? 1 : 0);
}

void wl_map_end(wl_writer *w, wl_map *m) {
    uint32_t n = m->written;
    uint32_t order[WL_MAP_ENTRIES_MAX];
    bool sorted = true;
    if (n != m->count) {
        w->bad = true;
        return;
    }
    for (uint32_t i = 0; i < n; i++) { /* insertion sort: maps are small */
        uint32_t j = i;
        while (j > 0 && key_order(w, m, order[j - 1], i) > 0) {
            order[j] = order[j - 1];
            j--;
            sorted = false;
        }
        order[j] = i;
        if (j > 0 && key_order(w, m, order[j - 1], i) == 0) {
            w->bad = true; /* a repeated key */
        }
    }
    if (sorted || n == 0) {
        return;
    }
    /* Entries are contiguous: copy them out in key order, then back. */
    uint32_t start = m->entry[0];
    uint32_t total = w->len - start;
    uint8_t *scratch = wl_alloc(total);
    uint32_t at = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t e = order[k];
        uint32_t end = e + 1 < n ? m->entry[e + 1] : w->len;
        memcpy(scratch + at, w->buf + m->entry[e], end - m->entry[e]);
        at += end - m->entry[e];
    }
    memcpy(w->buf + start, scratch, total);
}

void wl_write_unit_variant(wl_writer *w, const char *arm) {
    wl_map m;
    wl_map_begin(w, &m, 1);
    wl_map_key(w, &m, "$tag");
    wl_write_text(w, wl_str(arm));
    wl_map_end(w, &m);
}
