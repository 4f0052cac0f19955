/*
 * worldline.c: the ABI side of a C reducer: the bump allocator and the `alloc` export, the
 * host imports, the envelopes, and the `step` export (return-slot form of spec/abi.md)
 * around the reducer's wl_reduce().
 */
#include "worldline.h"

#define EXPORT(name) __attribute__((export_name(name)))
#define IMPORT(name) __attribute__((import_module("worldline"), import_name(name)))

/* ---- bytes ---------------------------------------------------------------------------- */

static uint32_t str_len(const char *s) {
    uint32_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

wl_bytes wl_str(const char *s) {
    wl_bytes b = {(const uint8_t *)s, str_len(s)};
    return b;
}

bool wl_bytes_is(wl_bytes b, const char *s) {
    wl_bytes t = wl_str(s);
    return b.len == t.len && memcmp(b.ptr, t.ptr, t.len) == 0;
}

/* ---- memory --------------------------------------------------------------------------- */

/* Where the linker puts the end of the stack and static data (--stack-first). */
extern uint8_t __heap_base;

static uintptr_t heap_top = (uintptr_t)&__heap_base;

#define PAGE_BYTES 65536u

EXPORT("alloc") uint8_t *wl_alloc(uint32_t len) {
    uintptr_t p = (heap_top + 7) & ~(uintptr_t)7;
    uintptr_t end = p + len;
    if (end < p) {
        __builtin_trap(); /* wrapped around the address space */
    }
    uintptr_t have = __builtin_wasm_memory_size(0) * PAGE_BYTES;
    if (end > have) {
        uintptr_t pages = (end - have + PAGE_BYTES - 1) / PAGE_BYTES;
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) {
            __builtin_trap(); /* the host's memory limit */
        }
    }
    heap_top = end;
    return (uint8_t *)p;
}

/* The compiler may turn loops into calls to these, so they are written byte by byte and
 * built with -fno-builtin (see wasm32.rsp) to keep them from calling themselves. */
void *memcpy(void *dst, const void *src, size_t n) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++) {
        d[i] = s[i];
    }
    return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d < s) {
        return memcpy(dst, src, n);
    }
    for (size_t i = n; i > 0; i--) {
        d[i - 1] = s[i - 1];
    }
    return dst;
}

void *memset(void *dst, int c, size_t n) {
    uint8_t *d = dst;
    for (size_t i = 0; i < n; i++) {
        d[i] = (uint8_t)c;
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
    const uint8_t *x = a;
    const uint8_t *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i]) {
            return x[i] < y[i] ? -1 : 1;
        }
    }
    return 0;
}

/* ---- host imports --------------------------------------------------------------------- */

IMPORT("fail") void host_fail(const uint8_t *ptr, uint32_t len);
IMPORT("log") void host_log(const uint8_t *ptr, uint32_t len);

void wl_log(wl_bytes message) { host_log(message.ptr, message.len); }

wl_bytes wl_join(wl_bytes a, wl_bytes b, wl_bytes c, wl_bytes d) {
    wl_writer w;
    wl_writer_init(&w, a.len + b.len + c.len + d.len);
    wl_write_raw(&w, a);
    wl_write_raw(&w, b);
    wl_write_raw(&w, c);
    wl_write_raw(&w, d);
    return wl_written(&w);
}

/* ---- input envelope ------------------------------------------------------------------- */

/* The self-describe tag 55799: encoding.md puts it on top-level encodings; abi.md's
 * envelope has none. Skipped if the host ever sends it. */
static void skip_self_describe(wl_reader *r) {
    if (r->end - r->pos >= 3 && r->pos[0] == 0xd9 && r->pos[1] == 0xd9 && r->pos[2] == 0xf7) {
        r->pos += 3;
    }
}

/* "event": {"key"?: bytes, "value": bytes, "schema": text} */
static const char *read_event(wl_reader *r, wl_input *in) {
    uint64_t count;
    bool have_value = false;
    bool have_schema = false;
    if (!wl_read_map(r, &count)) {
        return "`event` is not a map";
    }
    for (uint64_t i = 0; i < count; i++) {
        wl_bytes key;
        if (!wl_read_text(r, &key)) {
            return "`event` has a key that is not text";
        }
        if (wl_bytes_is(key, "value")) {
            have_value = wl_read_bytes(r, &in->value);
            if (!have_value) {
                return "`event.value` is not bytes";
            }
        } else if (wl_bytes_is(key, "schema")) {
            have_schema = wl_read_text(r, &in->schema);
            if (!have_schema) {
                return "`event.schema` is not text";
            }
        } else if (wl_bytes_is(key, "key")) {
            in->has_key = wl_read_bytes(r, &in->key);
            if (!in->has_key) {
                return "`event.key` is not bytes";
            }
        } else if (!wl_skip(r, NULL)) {
            return "`event` is truncated";
        }
    }
    if (!have_value || !have_schema) {
        return "`event` lacks `value` or `schema`";
    }
    return NULL;
}

/* One entry of the envelope, its key already read. */
static const char *read_entry(wl_reader *r, wl_bytes key, wl_input *in, bool *have) {
    if (wl_bytes_is(key, "event")) {
        have[0] = true;
        return read_event(r, in);
    }
    if (wl_bytes_is(key, "state")) {
        have[1] = true;
        in->has_state = !wl_read_null(r);
        if (in->has_state && !wl_read_bytes(r, &in->state)) {
            return "`state` is neither bytes nor null";
        }
        return NULL;
    }
    if (wl_bytes_is(key, "version")) {
        uint64_t version;
        have[2] = true;
        return wl_read_uint(r, &version) && version == 1 ? NULL : "`version` is not 1";
    }
    if (wl_bytes_is(key, "ctx")) {
        in->has_ctx = wl_read_bytes(r, &in->ctx);
        return in->has_ctx ? NULL : "`ctx` is not bytes";
    }
    return wl_skip(r, NULL) ? NULL : "the envelope is truncated";
}

const char *wl_input_read(wl_bytes envelope, wl_input *in) {
    wl_reader r = wl_reader_of(envelope);
    uint64_t count;
    bool have[3] = {false, false, false}; /* event, state, version */
    memset(in, 0, sizeof *in);
    skip_self_describe(&r);
    if (!wl_read_map(&r, &count)) {
        return "the envelope is not a map";
    }
    for (uint64_t i = 0; i < count; i++) {
        wl_bytes key;
        if (!wl_read_text(&r, &key)) {
            return "the envelope has a key that is not text";
        }
        const char *error = read_entry(&r, key, in, have);
        if (error != NULL) {
            return error;
        }
    }
    if (!have[0] || !have[1] || !have[2]) {
        return "the envelope lacks `event`, `state` or `version`";
    }
    return wl_at_end(&r) ? NULL : "trailing bytes after the envelope";
}

/* ---- output envelope ------------------------------------------------------------------ */

wl_bytes wl_output_write(const wl_output *out) {
    wl_writer w;
    wl_map m;
    wl_writer_init(&w, out->state.len + 16);
    wl_map_begin(&w, &m, 1);
    wl_map_key(&w, &m, "state");
    if (out->delete_state) {
        wl_write_null(&w);
    } else {
        wl_write_bytes(&w, out->state);
    }
    wl_map_end(&w, &m);
    return wl_written(&w);
}

/* ---- the step export ------------------------------------------------------------------- */

/* Runs one step; returns the output envelope, or empty bytes after calling worldline.fail
 * (which does not return on a conforming host; the empty output covers one that does). */
static wl_bytes run_step(wl_bytes envelope) {
    wl_input in;
    wl_output out = {false, {NULL, 0}, {NULL, 0}};
    wl_bytes failed = {NULL, 0};
    const char *error = wl_input_read(envelope, &in);
    if (error != NULL) {
        wl_bytes message = wl_join(wl_str("malformed input envelope: "), wl_str(error),
                                   wl_str(""), wl_str(""));
        host_fail(message.ptr, message.len);
        return failed;
    }
    if (!wl_reduce(&in, &out)) {
        host_fail(out.error.ptr, out.error.len);
        return failed;
    }
    return wl_output_write(&out);
}

/* step(ret, ptr, len): the return-slot form. The output pointer and length go to ret as two
 * little-endian i32 (wasm32 is little-endian, so plain stores do it). */
EXPORT("step") void wl_step(uint32_t *ret, const uint8_t *ptr, uint32_t len) {
    wl_bytes envelope = {ptr, len};
    wl_bytes output = run_step(envelope);
    ret[0] = (uint32_t)(uintptr_t)output.ptr;
    ret[1] = output.len;
}
