//! libFuzzer entry of `worldline_fuzz::targets::value_normalize`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| worldline_fuzz::targets::value_normalize(data));
