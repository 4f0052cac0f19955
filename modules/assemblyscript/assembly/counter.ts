// counter.ts: demo/CounterSM@1, the reducer of worlds/counter (AgentOS example 00).
//
//   State  demo/CounterState@1 = record { pc: variant Idle | Counting | Done, remaining: nat }
//   Event  demo/CounterEvent@1 = variant { Start: record { target: nat }, Tick: unit }
//
// Start{target} sets remaining = target and pc = Counting (Done at once when target is 0); a
// Tick while Counting decrements remaining, and reaching 0 sets Done; a Tick in any other phase
// changes nothing. A null state (the first step) reads as {pc: Idle, remaining: 0}.

import { Input, Output, runStep } from "./envelope";
import { Reader, Span, Writer } from "./worldline";

export { alloc } from "./worldline";

const IDLE: u32 = 0;
const COUNTING: u32 = 1;
const DONE: u32 = 2;
const PC_ARMS: StaticArray<string> = ["Idle", "Counting", "Done"];

class State {
  pc: u32 = IDLE;
  remaining: u64 = 0;
}

class Event {
  isStart: bool = false;
  target: u64 = 0;
}

/** `demo/CounterStart@1 = {target: nat}`; unknown fields are skipped, as the Rust SDK does.
 *  Null, or what did not decode. */
function readStart(value: Span, event: Event): string | null {
  const r = Reader.of(value);
  if (!r.map()) return "`Start` is not a record";
  const count = r.arg;
  let haveTarget = false;
  for (let i: u64 = 0; i < count; i++) {
    const field = r.text();
    if (field == null) return "`Start` has a field name that is not text";
    if (field.is("target") && !haveTarget) {
      if (!r.uint()) return "`Start.target` is not a nat";
      event.target = r.arg;
      haveTarget = true;
    } else if (r.skip() == null) {
      return "`Start` is truncated";
    }
  }
  return haveTarget ? null : "`Start` has no `target`";
}

function readEvent(value: Span, event: Event): string | null {
  const r = Reader.of(value);
  const variant = r.variant();
  if (variant == null || !r.atEnd()) return "not a variant";
  if (variant.tag.is("Start")) {
    event.isStart = true;
    return readStart(variant.value, event);
  }
  if (variant.tag.is("Tick")) {
    return variant.value.len == 0 ? null : "`Tick` carries a value";
  }
  return `unknown arm \`${variant.tag.toString()}\``;
}

function readPc(r: Reader, state: State): string | null {
  const variant = r.variant();
  if (variant == null || variant.value.len != 0) return "`pc` is not a unit variant";
  for (let i: u32 = 0; i < <u32>PC_ARMS.length; i++) {
    if (variant.tag.is(unchecked(PC_ARMS[i]))) {
      state.pc = i;
      return null;
    }
  }
  return "`pc` has an unknown arm";
}

function readState(bytes: Span, state: State): string | null {
  const r = Reader.of(bytes);
  if (!r.map()) return "not a record";
  const count = r.arg;
  let havePc = false;
  let haveRemaining = false;
  for (let i: u64 = 0; i < count; i++) {
    const field = r.text();
    if (field == null) return "a field name is not text";
    let error: string | null = null;
    if (field.is("pc") && !havePc) {
      havePc = true;
      error = readPc(r, state);
    } else if (field.is("remaining") && !haveRemaining) {
      haveRemaining = true;
      if (r.uint()) state.remaining = r.arg;
      else error = "`remaining` is not a nat";
    } else if (r.skip() == null) {
      error = "truncated";
    }
    if (error != null) return error;
  }
  if (!havePc || !haveRemaining) return "a field is missing";
  return r.atEnd() ? null : "trailing bytes";
}

/** The canonical CBOR of the state: `end()` puts "pc" before "remaining". */
function writeState(state: State): Span {
  const w = new Writer(48);
  const m = w.map(2);
  m.key("remaining");
  w.uint(state.remaining);
  m.key("pc");
  w.unitVariant(unchecked(PC_ARMS[state.pc]));
  m.end();
  return w.written();
}

function apply(state: State, event: Event): void {
  if (event.isStart) {
    state.remaining = event.target;
    state.pc = event.target == 0 ? DONE : COUNTING;
  } else if (state.pc == COUNTING) {
    if (state.remaining > 0) state.remaining--; // never wraps below 0
    if (state.remaining == 0) state.pc = DONE;
  }
}

function reduce(input: Input, output: Output): bool {
  const event = new Event();
  let error = readEvent(input.value, event);
  if (error != null) {
    // The Rust SDK's wording: "<what> <schema> does not decode: <why>".
    output.error = `event ${input.schema.toString()} does not decode: ${error}`;
    return false;
  }
  const state = new State();
  const stateBytes = input.state;
  if (stateBytes != null) {
    error = readState(stateBytes, state);
    if (error != null) {
      output.error = `state demo/CounterState@1 does not decode: ${error}`;
      return false;
    }
  }
  apply(state, event);
  output.state = writeState(state);
  return true;
}

/** The `step` export, return-slot form: `step(ret, ptr, len)`. */
export function step(ret: usize, ptr: usize, len: u32): void {
  runStep(ret, ptr, len, reduce);
}
