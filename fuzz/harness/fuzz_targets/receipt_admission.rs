//! libFuzzer entry of `worldline_fuzz::targets::receipt_admission`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| worldline_fuzz::targets::receipt_admission(data));
