//! libFuzzer entry of `worldline_fuzz::targets::cbor_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| worldline_fuzz::targets::cbor_decode(data));
