//! libFuzzer entry of `worldline_fuzz::targets::bundle_verify`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| worldline_fuzz::targets::bundle_verify(data));
