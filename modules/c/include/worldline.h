/*
 * worldline.h: the Worldline reducer ABI (spec/abi.md, version 1) for C.
 *
 * A C reducer is built freestanding for wasm32 (no libc, no WASI) and linked with
 * src/worldline.c and src/cbor.c. The library provides the `alloc` and `step` exports
 * (return-slot form) and calls the one function a reducer defines, wl_reduce().
 *
 *   step(ret, ptr, len): reads the input envelope, calls wl_reduce(), writes the output
 *   envelope and stores its pointer and length at ret; when wl_reduce() fails it hands
 *   the message to worldline.fail instead.
 *
 * Typed values are canonical CBOR (spec/encoding.md). The reader is lenient about form
 * (longer-than-needed heads, any key order) and strict about content (no floats, tags,
 * indefinite lengths or truncation). The writer is canonical: shortest heads, and map
 * entries sorted by their encoded key bytes when the map is closed.
 */
#ifndef WORLDLINE_H
#define WORLDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- bytes ------------------------------------------------------------------------ */

/* A view of bytes in linear memory (not owned: the instance lives for one step). */
typedef struct {
    const uint8_t *ptr;
    uint32_t len;
} wl_bytes;

/* The view of a NUL-terminated string, without its NUL. */
wl_bytes wl_str(const char *s);

/* True when the bytes equal the NUL-terminated string s. */
bool wl_bytes_is(wl_bytes b, const char *s);

/* ---- memory ------------------------------------------------------------------------ */

/* The `alloc` export: a pointer to len writable bytes, 8-aligned. A bump allocator from
 * the linker's __heap_base; nothing is ever freed because the host instantiates the
 * module afresh for every step. Traps only when linear memory cannot grow. */
uint8_t *wl_alloc(uint32_t len);

/* Freestanding builds still need these: clang may emit calls to them. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* ---- host imports (module "worldline") ----------------------------------------------- */

/* UTF-8 debug text; never affects state or the journal. */
void wl_log(wl_bytes message);

/* Joins up to four parts into one freshly allocated message (for wl_fail, wl_log). */
wl_bytes wl_join(wl_bytes a, wl_bytes b, wl_bytes c, wl_bytes d);

/* ---- CBOR reader ---------------------------------------------------------------------- */

/* Nesting limit of wl_skip (the host's decoder allows 128; a counter needs 3). */
#define WL_DEPTH_MAX 32

/* A cursor over [pos, end). Readers return false, and leave pos somewhere inside the
 * slice, when the bytes are not what they want; they never read past end. */
typedef struct {
    const uint8_t *pos;
    const uint8_t *end;
} wl_reader;

/* A reader over the whole of b. */
wl_reader wl_reader_of(wl_bytes b);

/* True when every byte has been read. */
bool wl_at_end(const wl_reader *r);

/* One head: its major type (0..7) and argument (value, length or count). Refuses the
 * reserved additional info 28..30 and indefinite lengths (31). */
bool wl_read_head(wl_reader *r, uint8_t *major, uint64_t *arg);

/* An unsigned integer (major 0): nat, time, duration. */
bool wl_read_uint(wl_reader *r, uint64_t *value);

/* A text string (major 3) or byte string (major 2); the contents are viewed, not copied. */
bool wl_read_text(wl_reader *r, wl_bytes *text);
bool wl_read_bytes(wl_reader *r, wl_bytes *bytes);

/* A map head (major 5): the number of entries. */
bool wl_read_map(wl_reader *r, uint64_t *count);

/* Consumes a null (f6) and returns true, or returns false and consumes nothing. */
bool wl_read_null(wl_reader *r);

/* Skips one whole item; its bytes go to *item when item is not NULL. Refuses floats,
 * undefined, other simple values and tags, which no typed value contains. */
bool wl_skip(wl_reader *r, wl_bytes *item);

/* A variant {"$tag": arm, "$value"?: v}, keys in any order. The arm goes to *tag; the
 * value's bytes to *value (empty for a unit arm, written without "$value" or with
 * "$value": null). */
bool wl_read_variant(wl_reader *r, wl_bytes *tag, wl_bytes *value);

/* ---- CBOR writer (canonical) ------------------------------------------------------------ */

/* Bytes written into a buffer from wl_alloc that grows as needed. `bad` is set by a map
 * that was closed with the wrong number of entries or a repeated key. */
typedef struct {
    uint8_t *buf;
    uint32_t len;
    uint32_t cap;
    bool bad;
} wl_writer;

/* A writer with room for cap bytes to start with. */
void wl_writer_init(wl_writer *w, uint32_t cap);

/* The bytes written so far. */
wl_bytes wl_written(const wl_writer *w);

/* Raw bytes, as they are (no head). */
void wl_write_raw(wl_writer *w, wl_bytes b);

/* A head in its shortest form. */
void wl_write_head(wl_writer *w, uint8_t major, uint64_t arg);

void wl_write_uint(wl_writer *w, uint64_t value);
void wl_write_text(wl_writer *w, wl_bytes text);
void wl_write_bytes(wl_writer *w, wl_bytes bytes);
void wl_write_null(wl_writer *w);

/* Most entries of one map built with wl_map_*. */
#define WL_MAP_ENTRIES_MAX 32

/* A map being written: where each entry starts and where its key ends. */
typedef struct {
    uint32_t count;
    uint32_t written;
    uint32_t entry[WL_MAP_ENTRIES_MAX];
    uint32_t key_end[WL_MAP_ENTRIES_MAX];
} wl_map;

/* Opens a map of exactly count entries. Write each entry as wl_map_key() followed by one
 * value, in any order; wl_map_end() sorts them into canonical order (by encoded key). */
void wl_map_begin(wl_writer *w, wl_map *m, uint32_t count);
void wl_map_key(wl_writer *w, wl_map *m, const char *key);
void wl_map_end(wl_writer *w, wl_map *m);

/* A unit-arm variant {"$tag": arm} (a unit arm has no "$value" in canonical form). */
void wl_write_unit_variant(wl_writer *w, const char *arm);

/* ---- envelopes ---------------------------------------------------------------------------- */

/* The reducer input {ctx?, event: {key?, value, schema}, state, version: 1}. */
typedef struct {
    bool has_ctx;
    wl_bytes ctx;       /* canonical sys/ReducerContext@1, when the module asks for it */
    wl_bytes schema;    /* the event's schema name, ns/Name@N */
    wl_bytes value;     /* the event's canonical CBOR */
    bool has_key;
    wl_bytes key;       /* the cell key's canonical CBOR, keyed reducers only */
    bool has_state;
    wl_bytes state;     /* the state's canonical CBOR; absent (null) on the first step */
} wl_input;

/* Reads an input envelope (lenient: self-describe tag optional, any key order, unknown
 * keys skipped). Returns NULL, or what is wrong with it. */
const char *wl_input_read(wl_bytes envelope, wl_input *in);

/* What a reducer returns: the new state (canonical CBOR), or delete_state to output a null
 * state; or, when wl_reduce() returns false, the failure message. */
typedef struct {
    bool delete_state;
    wl_bytes state;
    wl_bytes error;
} wl_output;

/* The output envelope {"state": bytes | null}, canonical, without the self-describe tag
 * (this library emits no domain events, effects or annotations). */
wl_bytes wl_output_write(const wl_output *out);

/* ---- the reducer ------------------------------------------------------------------------- */

/* Defined by the reducer: folds in->value into in->state. Returns true with out->state
 * set (or out->delete_state), or false with out->error set; the step then fails with that
 * message and the state stays as it was. */
bool wl_reduce(const wl_input *in, wl_output *out);

#endif /* WORLDLINE_H */
