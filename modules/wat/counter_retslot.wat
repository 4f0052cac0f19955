;; counter_retslot.wat: the AgentOS 00-counter reducer (demo/CounterSM@1), written by hand
;; against spec/abi.md with no SDK. This file exports `step` in the RETURN-SLOT form:
;;
;;     step(ret: i32, ptr: i32, len: i32) -> ()
;;
;; The host first calls alloc(8) for `ret`, then alloc(len) for the input; the module writes the
;; output pointer and length at `ret` as two little-endian i32. counter.wat has the same code
;; with a multi-value `step`. Everything between the "SHARED CORE" markers is identical in
;; both files (WAT has no includes, so it is copied).
;;
;; State  demo/CounterState@1 = record { pc: variant Idle | Counting | Done, remaining: nat }
;; Event  demo/CounterEvent@1 = variant { Start: record { target: nat }, Tick: unit }
;;
;;   Start{target}  remaining := target; pc := Counting, or Done at once if target is 0
;;   Tick           only while Counting: remaining -= 1; reaching 0 sets pc := Done
;;   null state     (a new cell / the first step) reads as { pc: Idle, remaining: 0 }
;;
;; Input, canonical CBOR as the host writes it (keys in canonical order):
;;   { "ctx"?: bytes, "event": { "key"?: bytes, "value": bytes, "schema": text },
;;     "state": bytes | null, "version": 1 }
;; Output: { "state": bytes } with the new state as canonical CBOR.
;;
;; Anything that does not decode (a malformed or truncated envelope, an unknown event tag, a
;; field of the wrong type, a state that is not a CounterState) calls worldline.fail with a
;; short UTF-8 message and returns an empty output; the module never traps on its input.
(module
  ;; ================================ SHARED CORE (begin) ================================

  ;; The only import: ends the step as a failure with a UTF-8 message.
  (import "worldline" "fail" (func $fail (param i32 i32)))

  ;; One page to start with; alloc grows it on demand.
  (memory (export "memory") 1)

  ;; ---- constant strings (offset, length) ---------------------------------------------
  ;; Envelope keys.
  (data (i32.const 16)  "event")       ;;  16, 5
  (data (i32.const 24)  "state")       ;;  24, 5
  (data (i32.const 32)  "version")     ;;  32, 7
  (data (i32.const 40)  "value")       ;;  40, 5
  (data (i32.const 48)  "schema")      ;;  48, 6
  (data (i32.const 56)  "key")         ;;  56, 3
  (data (i32.const 64)  "ctx")         ;;  64, 3
  ;; Typed-value keys and names.
  (data (i32.const 72)  "$tag")        ;;  72, 4
  (data (i32.const 80)  "$value")      ;;  80, 6
  (data (i32.const 88)  "target")      ;;  88, 6
  (data (i32.const 96)  "Start")       ;;  96, 5
  (data (i32.const 104) "Tick")        ;; 104, 4
  (data (i32.const 112) "pc")          ;; 112, 2
  (data (i32.const 120) "remaining")   ;; 120, 9
  ;; pc arm names, 8 bytes apart so that arm n lives at 136 + 8n.
  (data (i32.const 136) "Idle")        ;; 136, 4   pc = 0
  (data (i32.const 144) "Counting")    ;; 144, 8   pc = 1
  (data (i32.const 152) "Done")        ;; 152, 4   pc = 2
  ;; Failure messages.
  (data (i32.const 256) "malformed envelope")  ;; 256, 18
  (data (i32.const 288) "malformed event")     ;; 288, 15
  (data (i32.const 320) "malformed state")     ;; 320, 15

  ;; ---- globals ---------------------------------------------------------------------------
  ;; Bump allocator: everything above 1024 is heap. The host instantiates the module afresh
  ;; for every step, so nothing is ever freed.
  (global $heap (mut i32) (i32.const 1024))

  ;; CBOR reader: the cursor and the end of the slice being read.
  (global $pos (mut i32) (i32.const 0))
  (global $end (mut i32) (i32.const 0))
  ;; The last head read: its major type and its argument (value, or length, or count).
  (global $major (mut i32) (i32.const 0))
  (global $arg (mut i64) (i64.const 0))
  ;; The last text or byte string read (its contents are skipped over, not copied).
  (global $str_ptr (mut i32) (i32.const 0))
  (global $str_len (mut i32) (i32.const 0))
  ;; The `$tag` of the last unit variant read by $read_unit_variant.
  (global $tag_ptr (mut i32) (i32.const 0))
  (global $tag_len (mut i32) (i32.const 0))

  ;; CBOR writer: the write cursor, and the start of the output envelope.
  (global $out (mut i32) (i32.const 0))
  (global $out_base (mut i32) (i32.const 0))

  ;; ---- alloc -----------------------------------------------------------------------------
  ;; alloc(len) -> a pointer to len writable bytes, 8-aligned. Grows memory as needed; traps
  ;; only if memory cannot grow (the host's memory limit), which no counter input comes near.
  (func $alloc (export "alloc") (param $n i32) (result i32)
    (local $p i32) (local $new_end i32) (local $have i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (local.set $new_end (i32.add (local.get $p) (local.get $n)))
    (if (i32.lt_u (local.get $new_end) (local.get $p)) (then (unreachable)))  ;; wrapped
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.gt_u (local.get $new_end) (local.get $have))
      (then
        ;; grow by ceil((new_end - have) / 64 KiB) pages
        (if (i32.eq
              (memory.grow
                (i32.shr_u
                  (i32.add (i32.sub (local.get $new_end) (local.get $have)) (i32.const 0xffff))
                  (i32.const 16)))
              (i32.const -1))
          (then (unreachable)))))
    (global.set $heap (local.get $new_end))
    (local.get $p))

  ;; ---- CBOR reader -------------------------------------------------------------------------
  ;; Each reader returns 1 on success and 0 if the bytes are not what it wants; it never reads
  ;; past $end. The callers give up on the first 0, so a 0 leaves $pos wherever it is.

  ;; Reads one head at $pos into $major and $arg. Additional info 0..23 is the argument itself;
  ;; 24, 25, 26, 27 are followed by 1, 2, 4, 8 big-endian bytes. 28..31 (reserved, and the
  ;; indefinite lengths, which canonical input never has) are refused.
  (func $head (result i32)
    (local $b i32) (local $ai i32) (local $n i32)
    (if (i32.ge_u (global.get $pos) (global.get $end)) (then (return (i32.const 0))))
    (local.set $b (i32.load8_u (global.get $pos)))
    (global.set $pos (i32.add (global.get $pos) (i32.const 1)))
    (global.set $major (i32.shr_u (local.get $b) (i32.const 5)))
    (local.set $ai (i32.and (local.get $b) (i32.const 31)))
    (if (i32.lt_u (local.get $ai) (i32.const 24))
      (then
        (global.set $arg (i64.extend_i32_u (local.get $ai)))
        (return (i32.const 1))))
    (if (i32.gt_u (local.get $ai) (i32.const 27)) (then (return (i32.const 0))))
    (local.set $n (i32.shl (i32.const 1) (i32.sub (local.get $ai) (i32.const 24))))
    (if (i32.gt_u (local.get $n) (i32.sub (global.get $end) (global.get $pos)))
      (then (return (i32.const 0))))  ;; truncated
    (global.set $arg (i64.const 0))
    (loop $byte
      (global.set $arg
        (i64.or
          (i64.shl (global.get $arg) (i64.const 8))
          (i64.load8_u (global.get $pos))))
      (global.set $pos (i32.add (global.get $pos) (i32.const 1)))
      (br_if $byte (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.const 1))

  ;; Reads a head of the given major type: 0 unsigned (value in $arg), 5 map (count in $arg).
  (func $read_major (param $want i32) (result i32)
    (if (result i32) (call $head)
      (then (i32.eq (global.get $major) (local.get $want)))
      (else (i32.const 0))))

  ;; Reads a byte string (major 2) or text string (major 3) whose contents fit before $end;
  ;; leaves them in $str_ptr/$str_len and moves past them.
  (func $read_str (param $want i32) (result i32)
    (if (i32.eqz (call $read_major (local.get $want))) (then (return (i32.const 0))))
    (if (i64.gt_u
          (global.get $arg)
          (i64.extend_i32_u (i32.sub (global.get $end) (global.get $pos))))
      (then (return (i32.const 0))))  ;; truncated
    (global.set $str_ptr (global.get $pos))
    (global.set $str_len (i32.wrap_i64 (global.get $arg)))
    (global.set $pos (i32.add (global.get $pos) (global.get $str_len)))
    (i32.const 1))

  ;; Is the last string read equal to the n bytes at lit?
  (func $str_is (param $lit i32) (param $n i32) (result i32)
    (local $i i32)
    (if (i32.ne (global.get $str_len) (local.get $n)) (then (return (i32.const 0))))
    (block $differ
      (loop $next
        (if (i32.eq (local.get $i) (local.get $n)) (then (return (i32.const 1))))
        (br_if $differ
          (i32.ne
            (i32.load8_u (i32.add (global.get $str_ptr) (local.get $i)))
            (i32.load8_u (i32.add (local.get $lit) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  ;; Reads a text string and checks it is the key at (lit, n).
  (func $key (param $lit i32) (param $n i32) (result i32)
    (if (result i32) (call $read_str (i32.const 3))
      (then (call $str_is (local.get $lit) (local.get $n)))
      (else (i32.const 0))))

  ;; Reads a null (simple value 22, the single byte f6).
  (func $read_null (result i32)
    (if (i32.ge_u (global.get $pos) (global.get $end)) (then (return (i32.const 0))))
    (if (i32.ne (i32.load8_u (global.get $pos)) (i32.const 0xf6)) (then (return (i32.const 0))))
    (global.set $pos (i32.add (global.get $pos) (i32.const 1)))
    (i32.const 1))

  ;; Reads a variant whose arm is unit: {"$tag": arm}, or {"$tag": arm, "$value": null} (which
  ;; encoding.md allows; the host's canonical form omits it). The arm goes to $tag_ptr/$tag_len.
  (func $read_unit_variant (result i32)
    (local $n i64)
    (block $no
      (br_if $no (i32.eqz (call $read_major (i32.const 5))))
      (local.set $n (global.get $arg))
      (br_if $no (i32.eqz (call $key (i32.const 72) (i32.const 4))))        ;; "$tag"
      (br_if $no (i32.eqz (call $read_str (i32.const 3))))
      (global.set $tag_ptr (global.get $str_ptr))
      (global.set $tag_len (global.get $str_len))
      (if (i64.eq (local.get $n) (i64.const 1)) (then (return (i32.const 1))))
      (br_if $no (i64.ne (local.get $n) (i64.const 2)))
      (br_if $no (i32.eqz (call $key (i32.const 80) (i32.const 6))))        ;; "$value"
      (br_if $no (i32.eqz (call $read_null)))
      (return (i32.const 1)))
    (i32.const 0))

  ;; Is the last unit variant's arm equal to the n bytes at lit?
  (func $tag_is (param $lit i32) (param $n i32) (result i32)
    (global.set $str_ptr (global.get $tag_ptr))
    (global.set $str_len (global.get $tag_len))
    (call $str_is (local.get $lit) (local.get $n)))

  ;; ---- CBOR writer (canonical: shortest heads) ----------------------------------------------
  (func $emit (param $b i32)
    (i32.store8 (global.get $out) (local.get $b))
    (global.set $out (i32.add (global.get $out) (i32.const 1))))

  ;; Writes a head of major type `major` with argument v in its shortest form.
  (func $emit_head (param $major i32) (param $v i64)
    (local $mt i32) (local $ai i32) (local $n i32)
    (local.set $mt (i32.shl (local.get $major) (i32.const 5)))
    (if (i64.lt_u (local.get $v) (i64.const 24))
      (then
        (call $emit (i32.or (local.get $mt) (i32.wrap_i64 (local.get $v))))
        (return)))
    ;; 1, 2, 4 or 8 following bytes: additional info 24, 25, 26, 27
    (local.set $ai (i32.const 24)) (local.set $n (i32.const 1))
    (if (i64.gt_u (local.get $v) (i64.const 0xff))
      (then (local.set $ai (i32.const 25)) (local.set $n (i32.const 2))))
    (if (i64.gt_u (local.get $v) (i64.const 0xffff))
      (then (local.set $ai (i32.const 26)) (local.set $n (i32.const 4))))
    (if (i64.gt_u (local.get $v) (i64.const 0xffffffff))
      (then (local.set $ai (i32.const 27)) (local.set $n (i32.const 8))))
    (call $emit (i32.or (local.get $mt) (local.get $ai)))
    (loop $byte  ;; big-endian: most significant byte first
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (call $emit
        (i32.wrap_i64
          (i64.shr_u (local.get $v) (i64.extend_i32_u (i32.shl (local.get $n) (i32.const 3))))))
      (br_if $byte (local.get $n))))

  ;; Copies n bytes from src to the write cursor.
  (func $emit_copy (param $src i32) (param $n i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $emit (i32.load8_u (i32.add (local.get $src) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  ;; Writes a text string.
  (func $emit_text (param $src i32) (param $n i32)
    (call $emit_head (i32.const 3) (i64.extend_i32_u (local.get $n)))
    (call $emit_copy (local.get $src) (local.get $n)))

  ;; ---- the reducer ---------------------------------------------------------------------------

  ;; Reports a failure: calls worldline.fail(msg, n) and makes the output empty.
  (func $failed (param $msg i32) (param $n i32) (result i32)
    (call $fail (local.get $msg) (local.get $n))
    (global.set $out_base (global.get $heap))
    (i32.const 0))

  ;; Runs one step on the input envelope at (ptr, len). Writes the output envelope at $out_base
  ;; and returns its length (0, after a call to fail, when the input does not decode).
  (func $reduce (param $ptr i32) (param $len i32) (result i32)
    (local $n i64)
    (local $ev_ptr i32) (local $ev_len i32)
    (local $st_ptr i32) (local $st_len i32) (local $st_null i32)
    (local $is_start i32) (local $target i64)
    (local $pc i32) (local $rem i64)          ;; pc: 0 Idle, 1 Counting, 2 Done
    (local $s i32) (local $s_len i32)

    (block $bad_state
      (block $bad_event
        (block $bad_envelope
          ;; -- the envelope -------------------------------------------------------------------
          (global.set $pos (local.get $ptr))
          (global.set $end (i32.add (local.get $ptr) (local.get $len)))
          (br_if $bad_envelope (i32.lt_u (global.get $end) (global.get $pos)))
          ;; encoding.md gives top-level encodings the self-describe tag 55799 (d9 d9 f7);
          ;; abi.md's envelope has none. Skip it if the host sends it.
          (if (i32.ge_u (i32.sub (global.get $end) (global.get $pos)) (i32.const 3))
            (then
              (if (i32.and
                    (i32.eq (i32.load16_u (global.get $pos)) (i32.const 0xd9d9))
                    (i32.eq (i32.load8_u offset=2 (global.get $pos)) (i32.const 0xf7)))
                (then (global.set $pos (i32.add (global.get $pos) (i32.const 3)))))))
          (br_if $bad_envelope (i32.eqz (call $read_major (i32.const 5))))
          (local.set $n (global.get $arg))
          (if (i64.eq (local.get $n) (i64.const 4))
            (then  ;; "ctx": bytes (only when abi.reducer.context is set; unused here)
              (br_if $bad_envelope (i32.eqz (call $key (i32.const 64) (i32.const 3))))
              (br_if $bad_envelope (i32.eqz (call $read_str (i32.const 2)))))
            (else
              (br_if $bad_envelope (i64.ne (local.get $n) (i64.const 3)))))

          ;; "event": { "key"?: bytes, "value": bytes, "schema": text }
          (br_if $bad_envelope (i32.eqz (call $key (i32.const 16) (i32.const 5))))
          (br_if $bad_envelope (i32.eqz (call $read_major (i32.const 5))))
          (local.set $n (global.get $arg))
          (if (i64.eq (local.get $n) (i64.const 3))
            (then  ;; "key": bytes (keyed reducers only; unused here)
              (br_if $bad_envelope (i32.eqz (call $key (i32.const 56) (i32.const 3))))
              (br_if $bad_envelope (i32.eqz (call $read_str (i32.const 2)))))
            (else
              (br_if $bad_envelope (i64.ne (local.get $n) (i64.const 2)))))
          (br_if $bad_envelope (i32.eqz (call $key (i32.const 40) (i32.const 5))))   ;; "value"
          (br_if $bad_envelope (i32.eqz (call $read_str (i32.const 2))))
          (local.set $ev_ptr (global.get $str_ptr))
          (local.set $ev_len (global.get $str_len))
          (br_if $bad_envelope (i32.eqz (call $key (i32.const 48) (i32.const 6))))   ;; "schema"
          (br_if $bad_envelope (i32.eqz (call $read_str (i32.const 3))))

          ;; "state": bytes | null
          (br_if $bad_envelope (i32.eqz (call $key (i32.const 24) (i32.const 5))))
          (if (call $read_null)
            (then (local.set $st_null (i32.const 1)))
            (else
              (br_if $bad_envelope (i32.eqz (call $read_str (i32.const 2))))
              (local.set $st_ptr (global.get $str_ptr))
              (local.set $st_len (global.get $str_len))))

          ;; "version": 1, and nothing after it
          (br_if $bad_envelope (i32.eqz (call $key (i32.const 32) (i32.const 7))))
          (br_if $bad_envelope (i32.eqz (call $read_major (i32.const 0))))
          (br_if $bad_envelope (i64.ne (global.get $arg) (i64.const 1)))
          (br_if $bad_envelope (i32.ne (global.get $pos) (global.get $end)))

          ;; -- the event: {"$tag": "Start", "$value": {"target": nat}} or {"$tag": "Tick"} ----
          (global.set $pos (local.get $ev_ptr))
          (global.set $end (i32.add (local.get $ev_ptr) (local.get $ev_len)))
          (br_if $bad_event (i32.eqz (call $read_major (i32.const 5))))
          (local.set $n (global.get $arg))
          (br_if $bad_event (i32.eqz (call $key (i32.const 72) (i32.const 4))))       ;; "$tag"
          (br_if $bad_event (i32.eqz (call $read_str (i32.const 3))))
          (if (call $str_is (i32.const 96) (i32.const 5))                               ;; "Start"
            (then
              (local.set $is_start (i32.const 1))
              (br_if $bad_event (i64.ne (local.get $n) (i64.const 2)))
              (br_if $bad_event (i32.eqz (call $key (i32.const 80) (i32.const 6))))   ;; "$value"
              (br_if $bad_event (i32.eqz (call $read_major (i32.const 5))))
              (br_if $bad_event (i64.ne (global.get $arg) (i64.const 1)))
              (br_if $bad_event (i32.eqz (call $key (i32.const 88) (i32.const 6))))   ;; "target"
              (br_if $bad_event (i32.eqz (call $read_major (i32.const 0))))           ;; nat
              (local.set $target (global.get $arg)))
            (else
              (br_if $bad_event (i32.eqz (call $str_is (i32.const 104) (i32.const 4)))) ;; "Tick"
              (if (i64.ne (local.get $n) (i64.const 1))
                (then  ;; tolerated: {"$tag": "Tick", "$value": null}
                  (br_if $bad_event (i64.ne (local.get $n) (i64.const 2)))
                  (br_if $bad_event (i32.eqz (call $key (i32.const 80) (i32.const 6))))
                  (br_if $bad_event (i32.eqz (call $read_null)))))))
          (br_if $bad_event (i32.ne (global.get $pos) (global.get $end)))

          ;; -- the state: {"pc": {"$tag": arm}, "remaining": nat}, or null -------------------
          (if (i32.eqz (local.get $st_null))
            (then
              (global.set $pos (local.get $st_ptr))
              (global.set $end (i32.add (local.get $st_ptr) (local.get $st_len)))
              (br_if $bad_state (i32.eqz (call $read_major (i32.const 5))))
              (br_if $bad_state (i64.ne (global.get $arg) (i64.const 2)))
              (br_if $bad_state (i32.eqz (call $key (i32.const 112) (i32.const 2))))      ;; "pc"
              (br_if $bad_state (i32.eqz (call $read_unit_variant)))
              ;; the arm: Idle (136, 4), Counting (144, 8) or Done (152, 4)
              (if (call $tag_is (i32.const 136) (i32.const 4))
                (then (local.set $pc (i32.const 0)))
                (else
                  (if (call $tag_is (i32.const 144) (i32.const 8))
                    (then (local.set $pc (i32.const 1)))
                    (else
                      (br_if $bad_state (i32.eqz (call $tag_is (i32.const 152) (i32.const 4))))
                      (local.set $pc (i32.const 2))))))
              ;; "remaining": nat
              (br_if $bad_state (i32.eqz (call $key (i32.const 120) (i32.const 9))))
              (br_if $bad_state (i32.eqz (call $read_major (i32.const 0))))
              (local.set $rem (global.get $arg))
              (br_if $bad_state (i32.ne (global.get $pos) (global.get $end)))))
          ;; (a null state leaves pc = 0 Idle, rem = 0: the locals' initial values)

          ;; -- the transition --------------------------------------------------------------
          (if (local.get $is_start)
            (then
              (local.set $rem (local.get $target))
              (local.set $pc (select (i32.const 2) (i32.const 1) (i64.eqz (local.get $target)))))
            (else  ;; Tick: only while Counting
              (if (i32.eq (local.get $pc) (i32.const 1))
                (then
                  (if (i64.ne (local.get $rem) (i64.const 0))  ;; never wraps below 0
                    (then (local.set $rem (i64.sub (local.get $rem) (i64.const 1)))))
                  (if (i64.eqz (local.get $rem))
                    (then (local.set $pc (i32.const 2))))))))

          ;; -- the output ------------------------------------------------------------------
          ;; The new state, canonical: a2 62 "pc" a1 64 "$tag" <arm> 69 "remaining" <uint>
          ;; (at most 38 bytes).
          (local.set $s (call $alloc (i32.const 64)))
          (global.set $out (local.get $s))
          (call $emit (i32.const 0xa2))
          (call $emit_text (i32.const 112) (i32.const 2))                        ;; "pc"
          (call $emit (i32.const 0xa1))
          (call $emit_text (i32.const 72) (i32.const 4))                         ;; "$tag"
          (call $emit_text
            (i32.add (i32.const 136) (i32.shl (local.get $pc) (i32.const 3)))   ;; arm name
            (select (i32.const 8) (i32.const 4) (i32.eq (local.get $pc) (i32.const 1))))
          (call $emit_text (i32.const 120) (i32.const 9))                        ;; "remaining"
          (call $emit_head (i32.const 0) (local.get $rem))
          (local.set $s_len (i32.sub (global.get $out) (local.get $s)))

          ;; The envelope: a1 65 "state" <byte string head> <state>  (at most 47 bytes).
          (global.set $out_base (call $alloc (i32.const 64)))
          (global.set $out (global.get $out_base))
          (call $emit (i32.const 0xa1))
          (call $emit_text (i32.const 24) (i32.const 5))                         ;; "state"
          (call $emit_head (i32.const 2) (i64.extend_i32_u (local.get $s_len)))
          (call $emit_copy (local.get $s) (local.get $s_len))
          (return (i32.sub (global.get $out) (global.get $out_base))))
        ;; $bad_envelope
        (return (call $failed (i32.const 256) (i32.const 18))))
      ;; $bad_event
      (return (call $failed (i32.const 288) (i32.const 15))))
    ;; $bad_state
    (call $failed (i32.const 320) (i32.const 15)))

  ;; ================================ SHARED CORE (end) ==================================

  ;; ---- the export: return-slot form -----------------------------------------------------
  ;; step(ret, ptr, len): writes out_ptr at ret and out_len at ret + 4 (i32.store is
  ;; little-endian). After a failure the output is (heap top, 0).
  (func $step (export "step") (param $ret i32) (param $ptr i32) (param $len i32)
    (local $out_len i32)
    (local.set $out_len (call $reduce (local.get $ptr) (local.get $len)))
    (i32.store offset=0 (local.get $ret) (global.get $out_base))
    (i32.store offset=4 (local.get $ret) (local.get $out_len)))
)
