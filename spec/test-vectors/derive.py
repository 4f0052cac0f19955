#!/usr/bin/env python3
"""Derives spec/test-vectors/values.json independently of the Rust code.

Each vector gives a type, a value in both JSON lenses, and the canonical CBOR a conforming
implementation must produce. The CBOR here is built by hand from the rules of spec/encoding.md
(the typed-value table) and encoded by the `cbor2` library in canonical mode, never by
Worldline, so the Rust test that checks these vectors compares two independent encoders.

    pip install cbor2 && python3 spec/test-vectors/derive.py > spec/test-vectors/values.json
"""
import hashlib
import json

import cbor2

SELF_DESCRIBE = bytes([0xD9, 0xD9, 0xF7])

H = "sha256:" + "ab" * 32
U = "0f8fad5b-d9cb-469f-a165-70867728950e"

SCHEMAS = {
    "demo/Pc@1": {"variant": {"Idle": {"unit": {}}, "Counting": {"unit": {}}, "Done": {"unit": {}}}},
    "demo/Start@1": {"record": {"target": {"nat": {}}}},
    "demo/Event@1": {"variant": {"Start": {"ref": "demo/Start@1"}, "Tick": {"unit": {}}}},
    "demo/Point@1": {"record": {"x": {"int": {}}, "y": {"int": {}}}},
}

# label, type, plain lens, tagged lens, the CBOR data model value (python) per the spec table
VECTORS = [
    ("nat_small", {"nat": {}}, 3, {"nat": 3}, 3),
    ("nat_max", {"nat": {}}, 18446744073709551615, {"nat": 18446744073709551615}, 18446744073709551615),
    ("int_negative", {"int": {}}, -500, {"int": -500}, -500),
    ("int_min", {"int": {}}, -9223372036854775808, {"int": -9223372036854775808}, -9223372036854775808),
    ("bool", {"bool": {}}, True, {"bool": True}, True),
    ("text_unicode", {"text": {}}, "héllo ✓", {"text": "héllo ✓"}, "héllo ✓"),
    ("bytes", {"bytes": {}}, "AAEC/w==", {"bytes_b64": "AAEC/w=="}, bytes([0, 1, 2, 255])),
    ("time_ns", {"time": {}}, 1700000000000000000, {"time_ns": 1700000000000000000}, 1700000000000000000),
    ("time_rfc3339", {"time": {}}, "2023-11-14T22:13:20Z", {"time_ns": 1700000000000000000}, 1700000000000000000),
    ("duration", {"duration": {}}, 2000000000, {"duration_ns": 2000000000}, 2000000000),
    ("dec128_normalized", {"dec128": {}}, "001.2500", {"dec128": "1.25"}, "1.25"),
    ("dec128_exponent", {"dec128": {}}, "12.5E-3", {"dec128": "0.0125"}, "0.0125"),
    ("dec128_large", {"dec128": {}}, "1e100", {"dec128": "1E+100"}, "1E+100"),
    ("hash", {"hash": {}}, H, {"hash": H}, H),
    ("uuid_uppercase_in", {"uuid": {}}, U.upper(), {"uuid": U}, U),
    ("unit", {"unit": {}}, None, {"null": {}}, None),
    ("option_none", {"option": {"nat": {}}}, None, {"null": {}}, None),
    ("option_some", {"option": {"nat": {}}}, 7, {"nat": 7}, 7),
    ("record_fields_sorted_by_length_then_bytes",
     {"record": {"bb": {"nat": {}}, "a": {"nat": {}}, "ccc": {"text": {}}}},
     {"ccc": "x", "bb": 2, "a": 1},
     {"record": {"a": {"nat": 1}, "bb": {"nat": 2}, "ccc": {"text": "x"}}},
     {"a": 1, "bb": 2, "ccc": "x"}),
    ("record_missing_option_is_null",
     {"record": {"deliver_at_ns": {"nat": {}}, "key": {"option": {"text": {}}}}},
     {"deliver_at_ns": 5},
     {"record": {"deliver_at_ns": {"nat": 5}, "key": {"null": {}}}},
     {"deliver_at_ns": 5, "key": None}),
    ("variant_unit_arm", {"ref": "demo/Pc@1"}, {"$tag": "Done"}, {"variant": {"tag": "Done"}}, {"$tag": "Done"}),
    ("variant_unit_arm_shorthand", {"ref": "demo/Pc@1"}, "Counting", {"variant": {"tag": "Counting"}}, {"$tag": "Counting"}),
    ("variant_with_value", {"ref": "demo/Event@1"}, {"Start": {"target": 3}},
     {"variant": {"tag": "Start", "value": {"record": {"target": {"nat": 3}}}}},
     {"$tag": "Start", "$value": {"target": 3}}),
    ("variant_unit_ref_arm", {"ref": "demo/Event@1"}, {"$tag": "Tick", "$value": None},
     {"variant": {"tag": "Tick"}}, {"$tag": "Tick"}),
    ("list_keeps_order", {"list": {"nat": {}}}, [3, 1, 2], {"list": [{"nat": 3}, {"nat": 1}, {"nat": 2}]}, [3, 1, 2]),
    ("set_sorted_and_deduplicated", {"set": {"text": {}}}, ["b", "a", "bb", "a"],
     {"set": [{"text": "bb"}, {"text": "a"}, {"text": "b"}]}, ["a", "b", "bb"]),
    ("set_of_ints_by_encoded_bytes", {"set": {"int": {}}}, [-1, 10, 0, 1000],
     {"set": [{"int": 1000}, {"int": -1}, {"int": 0}, {"int": 10}]}, [0, 10, 1000, -1]),
    ("map_text_keys", {"map": {"key": {"text": {}}, "value": {"nat": {}}}}, {"zz": 1, "b": 2},
     {"map": [{"key": {"text": "zz"}, "value": {"nat": 1}}, {"key": {"text": "b"}, "value": {"nat": 2}}]},
     {"b": 2, "zz": 1}),
    ("map_nat_keys", {"map": {"key": {"nat": {}}, "value": {"text": {}}}}, {"300": "c", "2": "a", "25": "b"},
     {"map": [{"key": {"nat": 25}, "value": {"text": "b"}}, {"key": {"nat": 2}, "value": {"text": "a"}},
              {"key": {"nat": 300}, "value": {"text": "c"}}]},
     {2: "a", 25: "b", 300: "c"}),
    ("map_int_keys_bytewise_not_length_first", {"map": {"key": {"int": {}}, "value": {"text": {}}}}, {"-1": "a", "25": "b"},
     {"map": [{"key": {"int": -1}, "value": {"text": "a"}}, {"key": {"int": 25}, "value": {"text": "b"}}]},
     {-1: "a", 25: "b"}),
    ("nested_record", {"record": {"p": {"ref": "demo/Point@1"}, "tags": {"set": {"text": {}}}, "note": {"option": {"text": {}}}}},
     {"p": {"x": -1, "y": 2}, "tags": ["z", "a"], "note": None},
     {"record": {"p": {"record": {"x": {"int": -1}, "y": {"int": 2}}}, "tags": {"set": [{"text": "a"}, {"text": "z"}]},
                 "note": {"null": {}}}},
     {"p": {"x": -1, "y": 2}, "note": None, "tags": ["a", "z"]}),
]


def encode(model):
    """Core deterministic encoding (RFC 8949 §4.2.1): maps sorted by the bytes of their encoded
    keys. cbor2's own `canonical` mode sorts length-first (RFC 7049), which differs for keys
    such as 25 and -1, so maps are assembled here; cbor2 encodes every head and scalar."""
    if isinstance(model, dict):
        entries = sorted((encode(k), encode(v)) for k, v in model.items())
        out = bytearray(_head(5, len(entries)))
        for key, value in entries:
            out += key + value
        return bytes(out)
    if isinstance(model, list):
        out = bytearray(_head(4, len(model)))
        for item in model:
            out += encode(item)
        return bytes(out)
    return cbor2.dumps(model, canonical=True)


def _head(major, length):
    # A byte string of `length` bytes has the head we need with major type 2; swap the major type.
    head = cbor2.dumps(b"\0" * length)[: -length or None]
    return bytes([(major << 5) | (head[0] & 0x1F)]) + head[1:]


def main():
    out = {"schemas": SCHEMAS, "vectors": []}
    for label, ty, plain, tagged, model in VECTORS:
        body = encode(model)
        encoded = SELF_DESCRIBE + body
        out["vectors"].append({
            "label": label,
            "type": ty,
            "plain": plain,
            "tagged": tagged,
            "cbor_hex": encoded.hex(),
            "hash": "sha256:" + hashlib.sha256(encoded).hexdigest(),
        })
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
