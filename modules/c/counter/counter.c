/*
 * counter.c: demo/CounterSM@1, the reducer of worlds/counter (AgentOS example 00), in C.
 *
 *   State  demo/CounterState@1 = record { pc: variant Idle | Counting | Done, remaining: nat }
 *   Event  demo/CounterEvent@1 = variant { Start: record { target: nat }, Tick: unit }
 *
 * Start{target} sets remaining = target and pc = Counting (Done at once when target is 0);
 * a Tick while Counting decrements remaining, and reaching 0 sets Done; a Tick in any other
 * phase changes nothing. A null state (the first step) reads as {pc: Idle, remaining: 0}.
 */
#include "worldline.h"

typedef enum { PC_IDLE, PC_COUNTING, PC_DONE } counter_pc;

static const char *const PC_ARMS[] = {"Idle", "Counting", "Done"};

typedef struct {
    counter_pc pc;
    uint64_t remaining;
} counter_state;

typedef struct {
    bool is_start;
    uint64_t target;
    wl_bytes tag; /* the arm, for the message when it is unknown */
} counter_event;

/* What did not decode, for the failure message. */
typedef const char *why;

/* read_event's answer for an arm it does not know (the message then names the arm). */
static const char UNKNOWN_ARM[] = "unknown arm";

/* demo/CounterStart@1 = {target: nat}; unknown fields are skipped, as the Rust SDK does. */
static why read_start(wl_bytes value, uint64_t *target) {
    wl_reader r = wl_reader_of(value);
    uint64_t count;
    bool have_target = false;
    if (!wl_read_map(&r, &count)) {
        return "`Start` is not a record";
    }
    for (uint64_t i = 0; i < count; i++) {
        wl_bytes field;
        if (!wl_read_text(&r, &field)) {
            return "`Start` has a field name that is not text";
        }
        if (wl_bytes_is(field, "target") && !have_target) {
            have_target = true;
            if (!wl_read_uint(&r, target)) {
                return "`Start.target` is not a nat";
            }
        } else if (!wl_skip(&r, NULL)) {
            return "`Start` is truncated";
        }
    }
    return have_target ? NULL : "`Start` has no `target`";
}

static why read_event(wl_bytes value, counter_event *event) {
    wl_reader r = wl_reader_of(value);
    wl_bytes tag;
    wl_bytes arm_value;
    if (!wl_read_variant(&r, &tag, &arm_value) || !wl_at_end(&r)) {
        return "not a variant";
    }
    event->tag = tag;
    if (wl_bytes_is(tag, "Start")) {
        event->is_start = true;
        return read_start(arm_value, &event->target);
    }
    if (wl_bytes_is(tag, "Tick")) {
        event->is_start = false;
        return arm_value.len == 0 ? NULL : "`Tick` carries a value";
    }
    return UNKNOWN_ARM;
}

static why read_pc(wl_reader *r, counter_pc *pc) {
    wl_bytes tag;
    wl_bytes arm_value;
    if (!wl_read_variant(r, &tag, &arm_value) || arm_value.len != 0) {
        return "`pc` is not a unit variant";
    }
    for (uint32_t i = 0; i < 3; i++) {
        if (wl_bytes_is(tag, PC_ARMS[i])) {
            *pc = (counter_pc)i;
            return NULL;
        }
    }
    return "`pc` has an unknown arm";
}

static why read_state(wl_bytes bytes, counter_state *state) {
    wl_reader r = wl_reader_of(bytes);
    uint64_t count;
    bool have_pc = false;
    bool have_remaining = false;
    if (!wl_read_map(&r, &count)) {
        return "not a record";
    }
    for (uint64_t i = 0; i < count; i++) {
        wl_bytes field;
        why error = NULL;
        if (!wl_read_text(&r, &field)) {
            return "a field name is not text";
        }
        if (wl_bytes_is(field, "pc") && !have_pc) {
            have_pc = true;
            error = read_pc(&r, &state->pc);
        } else if (wl_bytes_is(field, "remaining") && !have_remaining) {
            have_remaining = true;
            error = wl_read_uint(&r, &state->remaining) ? NULL : "`remaining` is not a nat";
        } else if (!wl_skip(&r, NULL)) {
            error = "truncated";
        }
        if (error != NULL) {
            return error;
        }
    }
    if (!have_pc || !have_remaining) {
        return "a field is missing";
    }
    return wl_at_end(&r) ? NULL : "trailing bytes";
}

/* The canonical CBOR of the state: wl_map_end puts "pc" before "remaining". */
static wl_bytes write_state(const counter_state *state) {
    wl_writer w;
    wl_map m;
    wl_writer_init(&w, 48);
    wl_map_begin(&w, &m, 2);
    wl_map_key(&w, &m, "remaining");
    wl_write_uint(&w, state->remaining);
    wl_map_key(&w, &m, "pc");
    wl_write_unit_variant(&w, PC_ARMS[state->pc]);
    wl_map_end(&w, &m);
    return wl_written(&w);
}

static void apply(counter_state *state, const counter_event *event) {
    if (event->is_start) {
        state->remaining = event->target;
        state->pc = event->target == 0 ? PC_DONE : PC_COUNTING;
    } else if (state->pc == PC_COUNTING) {
        if (state->remaining > 0) { /* never wraps below 0 */
            state->remaining--;
        }
        if (state->remaining == 0) {
            state->pc = PC_DONE;
        }
    }
}

/* "<what> <schema> does not decode: <reason>", the Rust SDK's wording. */
static bool failed(wl_output *out, const char *what, wl_bytes schema, wl_bytes reason) {
    out->error = wl_join(wl_str(what), schema, wl_str(" does not decode: "), reason);
    return false;
}

bool wl_reduce(const wl_input *in, wl_output *out) {
    counter_state state = {PC_IDLE, 0};
    counter_event event = {false, 0, {NULL, 0}};
    why error = read_event(in->value, &event);
    if (error == UNKNOWN_ARM) {
        wl_bytes reason = wl_join(wl_str("unknown arm `"), event.tag, wl_str("`"), wl_str(""));
        return failed(out, "event ", in->schema, reason);
    }
    if (error != NULL) {
        return failed(out, "event ", in->schema, wl_str(error));
    }
    if (in->has_state) {
        error = read_state(in->state, &state);
        if (error != NULL) {
            return failed(out, "state ", wl_str("demo/CounterState@1"), wl_str(error));
        }
    }
    apply(&state, &event);
    out->state = write_state(&state);
    return true;
}
