// worldline.ts: the Worldline reducer ABI (spec/abi.md, version 1) for AssemblyScript.
//
// The reducer module re-exports `alloc` and defines `step` (return-slot form) as
// `runStep(ret, ptr, len, reduce)`. Built with the stub runtime (a bump allocator that never
// frees: the host instantiates the module afresh for every step) and with `abort` routed to
// worldline.fail, so the only imports are the `worldline` module's.
//
// Typed values are canonical CBOR (spec/encoding.md). The reader is lenient about form
// (longer-than-needed heads, any key order) and strict about content (no floats, tags,
// indefinite lengths or truncation); the writer is canonical (shortest heads, map entries
// sorted by their encoded key bytes).

// ---- host imports ------------------------------------------------------------------------

// @ts-ignore: decorator
@external("worldline", "fail")
declare function hostFail(ptr: usize, len: usize): void;

// @ts-ignore: decorator
@external("worldline", "log")
declare function hostLog(ptr: usize, len: usize): void;

/** Bytes in linear memory (a view: nothing outlives the step). */
export class Span {
  constructor(public ptr: usize, public len: u32) {}

  /** True when the bytes are the UTF-8 encoding of `s`. */
  is(s: string): bool {
    const n = <u32>String.UTF8.byteLength(s);
    if (n != this.len) return false;
    if (n == <u32>s.length) {
      // All ASCII (any other character takes more than one byte): compare unit by unit.
      for (let i: u32 = 0; i < n; i++) {
        if (<i32>load<u8>(this.ptr + i) != s.charCodeAt(i)) return false;
      }
      return true;
    }
    const buf = heap.alloc(n);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, buf);
    return memory.compare(buf, this.ptr, n) == 0;
  }

  /** The bytes decoded as UTF-8 text (for messages). */
  toString(): string {
    return String.UTF8.decodeUnsafe(this.ptr, this.len);
  }
}

/** UTF-8 debug text; never affects state or the journal. */
export function log(message: string): void {
  const bytes = String.UTF8.encode(message);
  hostLog(changetype<usize>(bytes), bytes.byteLength);
}

/** Ends the step as a failure with `message`; the host journals it and keeps the state. */
export function fail(message: string): void {
  const bytes = String.UTF8.encode(message);
  hostFail(changetype<usize>(bytes), bytes.byteLength);
}

/** The `abort` of AssemblyScript's runtime (`--use abort=…`): a failed `assert` or a `throw`
 *  fails the step with its message and position, instead of importing `env.abort`. */
export function abort(
  message: string | null,
  file: string | null,
  line: u32,
  column: u32,
): void {
  const what = message == null ? "abort" : message;
  const where = file == null ? "" : ` at ${file}:${line}:${column}`;
  fail(`${what}${where}`);
  unreachable();
}

/** The `alloc` export: `len` writable bytes from the runtime's bump allocator. */
export function alloc(len: u32): usize {
  return heap.alloc(len);
}

// ---- CBOR reader ---------------------------------------------------------------------------

const MAJOR_UINT: u32 = 0;
const MAJOR_NINT: u32 = 1;
const MAJOR_BYTES: u32 = 2;
const MAJOR_TEXT: u32 = 3;
const MAJOR_ARRAY: u32 = 4;
const MAJOR_MAP: u32 = 5;
const MAJOR_SIMPLE: u32 = 7;
const CBOR_NULL: u8 = 0xf6;
/** Nesting limit of `skip` (the host's decoder allows 128; a counter needs 3). */
const DEPTH_MAX: u32 = 32;

/** A cursor over `[pos, end)`. Readers return false when the bytes are not what they want
 *  and never read past `end`; the last head read is in `major` and `arg`. */
export class Reader {
  major: u32 = 0;
  arg: u64 = 0;

  constructor(public pos: usize, public end: usize) {}

  /** A reader over a span. */
  static of(span: Span): Reader {
    return new Reader(span.ptr, span.ptr + span.len);
  }

  /** True when every byte has been read. */
  atEnd(): bool {
    return this.pos == this.end;
  }

  private left(): u64 {
    return <u64>(this.end - this.pos);
  }

  /** One head. Refuses the reserved additional info 28..30 and indefinite lengths (31). */
  head(): bool {
    if (this.pos >= this.end) return false;
    const initial = <u32>load<u8>(this.pos++);
    const info = initial & 31;
    this.major = initial >> 5;
    if (info < 24) {
      this.arg = info;
      return true;
    }
    if (info > 27) return false;
    const n = <u32>1 << (info - 24); // 1, 2, 4 or 8 big-endian bytes
    if (<u64>n > this.left()) return false;
    let v: u64 = 0;
    for (let i: u32 = 0; i < n; i++) v = (v << 8) | <u64>load<u8>(this.pos++);
    this.arg = v;
    return true;
  }

  private headOf(major: u32): bool {
    return this.head() && this.major == major;
  }

  /** An unsigned integer (nat, time, duration) into `arg`. */
  uint(): bool {
    return this.headOf(MAJOR_UINT);
  }

  /** A map head; the entry count goes to `arg`. */
  map(): bool {
    return this.headOf(MAJOR_MAP);
  }

  private string(major: u32): Span | null {
    if (!this.headOf(major) || this.arg > this.left()) return null;
    const span = new Span(this.pos, <u32>this.arg);
    this.pos += <usize>this.arg;
    return span;
  }

  /** A text string (viewed, not copied), or null. */
  text(): Span | null {
    return this.string(MAJOR_TEXT);
  }

  /** A byte string (viewed, not copied), or null. */
  bytes(): Span | null {
    return this.string(MAJOR_BYTES);
  }

  /** Consumes a null and returns true, or consumes nothing and returns false. */
  null(): bool {
    if (this.pos >= this.end || load<u8>(this.pos) != CBOR_NULL) return false;
    this.pos++;
    return true;
  }

  /** Skips one whole item and returns its bytes, or null. Refuses floats, undefined, other
   *  simple values and tags, which no typed value contains. */
  skip(): Span | null {
    const start = this.pos;
    if (!this.skipItem(0)) return null;
    return new Span(start, <u32>(this.pos - start));
  }

  private skipItem(depth: u32): bool {
    if (depth > DEPTH_MAX || !this.head()) return false;
    const major = this.major;
    const arg = this.arg;
    if (major == MAJOR_UINT || major == MAJOR_NINT) return true;
    if (major == MAJOR_BYTES || major == MAJOR_TEXT) {
      if (arg > this.left()) return false;
      this.pos += <usize>arg;
      return true;
    }
    if (major == MAJOR_ARRAY || major == MAJOR_MAP) {
      // Every item takes at least one byte: a count beyond the input is truncated.
      const items = major == MAJOR_MAP ? arg * 2 : arg;
      if (arg > this.left() || items > this.left()) return false;
      for (let i: u64 = 0; i < items; i++) {
        if (!this.skipItem(depth + 1)) return false;
      }
      return true;
    }
    // false (20), true (21), null (22); the long forms (floats) left arg >= 24. Tags: no.
    return major == MAJOR_SIMPLE && arg >= 20 && arg <= 22;
  }

  /** A variant `{"$tag": arm, "$value"?: v}`, keys in any order: the arm, with the value's
   *  bytes in `value` (empty for a unit arm, without "$value" or with "$value": null). */
  variant(): Variant | null {
    if (!this.map() || this.arg < 1 || this.arg > 2) return null;
    const count = <u32>this.arg;
    let tag: Span | null = null;
    let value = new Span(this.pos, 0);
    let haveValue = false;
    for (let i: u32 = 0; i < count; i++) {
      const key = this.text();
      if (key == null) return null;
      if (key.is("$tag") && tag == null) {
        tag = this.text();
        if (tag == null) return null;
      } else if (key.is("$value") && !haveValue) {
        haveValue = true;
        if (!this.null()) {
          const item = this.skip();
          if (item == null) return null;
          value = item;
        }
      } else {
        return null; // an unknown or repeated key
      }
    }
    return tag == null ? null : new Variant(tag, value);
  }
}

/** A variant read by `Reader.variant`. */
export class Variant {
  constructor(public tag: Span, public value: Span) {}
}

// ---- CBOR writer (canonical) ----------------------------------------------------------------

/** Canonical CBOR into a growing buffer. `bad` is set by a map closed with the wrong number of
 *  entries or a repeated key. */
export class Writer {
  buf: usize;
  len: u32 = 0;
  cap: u32;
  bad: bool = false;

  constructor(cap: u32) {
    this.buf = heap.alloc(cap);
    this.cap = cap;
  }

  /** The bytes written so far. */
  written(): Span {
    return new Span(this.buf, this.len);
  }

  private reserve(n: u32): void {
    if (this.cap - this.len >= n) return;
    const cap = this.cap * 2 + n;
    const buf = heap.alloc(cap);
    memory.copy(buf, this.buf, this.len);
    this.buf = buf;
    this.cap = cap;
  }

  /** Raw bytes (no head). */
  raw(ptr: usize, n: u32): void {
    this.reserve(n);
    memory.copy(this.buf + this.len, ptr, n);
    this.len += n;
  }

  private byte(b: u32): void {
    this.reserve(1);
    store<u8>(this.buf + this.len, <u8>b);
    this.len++;
  }

  /** A head in its shortest form. */
  head(major: u32, arg: u64): void {
    const mt = major << 5;
    if (arg < 24) {
      this.byte(mt | <u32>arg);
      return;
    }
    let n: u32 = 8;
    let info: u32 = 27;
    if (arg <= 0xff) {
      n = 1;
      info = 24;
    } else if (arg <= 0xffff) {
      n = 2;
      info = 25;
    } else if (arg <= 0xffffffff) {
      n = 4;
      info = 26;
    }
    this.byte(mt | info);
    for (let i: u32 = n; i > 0; i--) this.byte(<u32>(arg >> (<u64>(i - 1) * 8)) & 0xff);
  }

  uint(v: u64): void {
    this.head(MAJOR_UINT, v);
  }

  /** A text string, UTF-8. */
  text(s: string): void {
    const n = <u32>String.UTF8.byteLength(s);
    this.head(MAJOR_TEXT, n);
    this.reserve(n);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, this.buf + this.len);
    this.len += n;
  }

  bytes(span: Span): void {
    this.head(MAJOR_BYTES, span.len);
    this.raw(span.ptr, span.len);
  }

  null(): void {
    this.byte(CBOR_NULL);
  }

  /** Opens a map of exactly `count` entries: write each as `key()` then one value, in any
   *  order; `end()` sorts them into canonical order. */
  map(count: u32): MapWriter {
    this.head(MAJOR_MAP, count);
    return new MapWriter(this, count);
  }

  /** A unit-arm variant `{"$tag": arm}`. */
  unitVariant(arm: string): void {
    const m = this.map(1);
    m.key("$tag");
    this.text(arm);
    m.end();
  }
}

/** A map being written: where each entry starts and where its key ends. */
export class MapWriter {
  private entries: StaticArray<u32>;
  private keyEnds: StaticArray<u32>;
  private written: u32 = 0;

  constructor(private w: Writer, private count: u32) {
    this.entries = new StaticArray<u32>(count);
    this.keyEnds = new StaticArray<u32>(count);
  }

  /** Begins an entry with a text key. */
  key(k: string): void {
    if (this.written >= this.count) {
      this.w.bad = true;
      return;
    }
    unchecked((this.entries[this.written] = this.w.len));
    this.w.text(k);
    unchecked((this.keyEnds[this.written] = this.w.len));
    this.written++;
  }

  private order(a: u32, b: u32): i32 {
    const ea = unchecked(this.entries[a]);
    const eb = unchecked(this.entries[b]);
    const la = unchecked(this.keyEnds[a]) - ea;
    const lb = unchecked(this.keyEnds[b]) - eb;
    const c = memory.compare(this.w.buf + ea, this.w.buf + eb, min(la, lb));
    if (c != 0) return c;
    return la < lb ? -1 : la > lb ? 1 : 0;
  }

  /** Closes the map: entries sorted by their encoded key bytes (a proper prefix first). */
  end(): void {
    const n = this.written;
    if (n != this.count) {
      this.w.bad = true;
      return;
    }
    const order = new StaticArray<u32>(n);
    let sorted = true;
    for (let i: u32 = 0; i < n; i++) {
      // insertion sort: maps are small
      let j = i;
      while (j > 0 && this.order(unchecked(order[j - 1]), i) > 0) {
        unchecked((order[j] = order[j - 1]));
        j--;
        sorted = false;
      }
      unchecked((order[j] = i));
      if (j > 0 && this.order(unchecked(order[j - 1]), i) == 0) this.w.bad = true;
    }
    if (sorted || n == 0) return;
    // Entries are contiguous: copy them out in key order, then back.
    const w = this.w;
    const start = unchecked(this.entries[0]);
    const total = w.len - start;
    const scratch = heap.alloc(total);
    let at: u32 = 0;
    for (let k: u32 = 0; k < n; k++) {
      const e = unchecked(order[k]);
      const from = unchecked(this.entries[e]);
      const to = e + 1 < n ? unchecked(this.entries[e + 1]) : w.len;
      memory.copy(scratch + at, w.buf + from, to - from);
      at += to - from;
    }
    memory.copy(w.buf + start, scratch, total);
  }
}
