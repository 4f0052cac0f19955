//! libFuzzer entry of `worldline_fuzz::targets::air_load`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| worldline_fuzz::targets::air_load(data));
