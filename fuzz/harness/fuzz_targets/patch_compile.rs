//! libFuzzer entry of `worldline_fuzz::targets::patch_compile`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| worldline_fuzz::targets::patch_compile(data));
