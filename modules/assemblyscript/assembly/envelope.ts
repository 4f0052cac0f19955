// envelope.ts: the step envelopes of spec/abi.md and the `step` runner around a reducer.

import { Reader, Span, Writer, fail } from "./worldline";

/** The reducer input `{ctx?, event: {key?, value, schema}, state, version: 1}`. */
export class Input {
  /** Canonical sys/ReducerContext@1, when the module asks for it. */
  ctx: Span | null = null;
  /** The event's schema name, `ns/Name@N`. */
  schema: Span = new Span(0, 0);
  /** The event's canonical CBOR. */
  value: Span = new Span(0, 0);
  /** The cell key's canonical CBOR, keyed reducers only. */
  key: Span | null = null;
  /** The state's canonical CBOR; null on the first step (or for a new cell). */
  state: Span | null = null;
}

/** What a reducer returns: the new state's canonical CBOR, or `deleteState` for a null state;
 *  or, when the reducer returns false, the failure message in `error`. */
export class Output {
  state: Span = new Span(0, 0);
  deleteState: bool = false;
  error: string = "";
}

/** A reducer: folds `input` into `output`; false fails the step with `output.error`. */
export type Reduce = (input: Input, output: Output) => bool;

/** `"event": {"key"?: bytes, "value": bytes, "schema": text}`; null, or what is wrong. */
function readEvent(r: Reader, input: Input): string | null {
  if (!r.map()) return "`event` is not a map";
  const count = r.arg;
  let haveValue = false;
  let haveSchema = false;
  for (let i: u64 = 0; i < count; i++) {
    const key = r.text();
    if (key == null) return "`event` has a key that is not text";
    if (key.is("value")) {
      const value = r.bytes();
      if (value == null) return "`event.value` is not bytes";
      input.value = value;
      haveValue = true;
    } else if (key.is("schema")) {
      const schema = r.text();
      if (schema == null) return "`event.schema` is not text";
      input.schema = schema;
      haveSchema = true;
    } else if (key.is("key")) {
      input.key = r.bytes();
      if (input.key == null) return "`event.key` is not bytes";
    } else if (r.skip() == null) {
      return "`event` is truncated";
    }
  }
  return haveValue && haveSchema ? null : "`event` lacks `value` or `schema`";
}

/** Reads an input envelope (lenient: self-describe tag optional, any key order, unknown keys
 *  skipped); null, or what is wrong with it. */
export function readInput(ptr: usize, len: u32, input: Input): string | null {
  const r = new Reader(ptr, ptr + len);
  // The self-describe tag 55799: encoding.md puts it on top-level encodings; abi.md's
  // envelope has none. Skipped if the host ever sends it.
  if (len >= 3 && load<u8>(ptr) == 0xd9 && load<u8>(ptr + 1) == 0xd9 && load<u8>(ptr + 2) == 0xf7) {
    r.pos += 3;
  }
  if (!r.map()) return "the envelope is not a map";
  const count = r.arg;
  let haveEvent = false;
  let haveState = false;
  let haveVersion = false;
  for (let i: u64 = 0; i < count; i++) {
    const key = r.text();
    if (key == null) return "the envelope has a key that is not text";
    if (key.is("event")) {
      const error = readEvent(r, input);
      if (error != null) return error;
      haveEvent = true;
    } else if (key.is("state")) {
      if (!r.null()) {
        input.state = r.bytes();
        if (input.state == null) return "`state` is neither bytes nor null";
      }
      haveState = true;
    } else if (key.is("version")) {
      if (!r.uint() || r.arg != 1) return "`version` is not 1";
      haveVersion = true;
    } else if (key.is("ctx")) {
      input.ctx = r.bytes();
      if (input.ctx == null) return "`ctx` is not bytes";
    } else if (r.skip() == null) {
      return "the envelope is truncated";
    }
  }
  if (!haveEvent || !haveState || !haveVersion) {
    return "the envelope lacks `event`, `state` or `version`";
  }
  return r.atEnd() ? null : "trailing bytes after the envelope";
}

/** The output envelope `{"state": bytes | null}`, canonical, without the self-describe tag
 *  (no domain events, effects or annotations). */
export function writeOutput(output: Output): Span {
  const w = new Writer(output.state.len + 16);
  const m = w.map(1);
  m.key("state");
  if (output.deleteState) {
    w.null();
  } else {
    w.bytes(output.state);
  }
  m.end();
  return w.written();
}

/** The body of the `step` export, return-slot form: reads the input at `(ptr, len)`, runs
 *  `reduce`, and stores the output's pointer and length at `ret` as two little-endian i32.
 *  A failure calls worldline.fail, which does not return on a conforming host; should one
 *  return, the output is empty (pointer 0, length 0). */
export function runStep(ret: usize, ptr: usize, len: u32, reduce: Reduce): void {
  store<u32>(ret, 0);
  store<u32>(ret, 0, 4);
  const input = new Input();
  const error = readInput(ptr, len, input);
  if (error != null) {
    fail(`malformed input envelope: ${error}`);
    return;
  }
  const output = new Output();
  if (!reduce(input, output)) {
    fail(output.error);
    return;
  }
  const out = writeOutput(output);
  store<u32>(ret, <u32>out.ptr);
  store<u32>(ret, out.len, 4);
}
