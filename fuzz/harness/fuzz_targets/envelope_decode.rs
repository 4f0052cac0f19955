//! libFuzzer entry of `worldline_fuzz::targets::envelope_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| worldline_fuzz::targets::envelope_decode(data));
