//! The host side of the ABI: the `worldline` imports and the code behind the exports.
//!
//! Everything that touches wasm imports or raw memory is compiled for `wasm32` only; native
//! builds (unit tests) get no-op stand-ins, and reach a reducer through
//! [`run_step`](crate::run_step).

/// At most this many bytes of a `worldline.log` message are kept (ABI: 4 KiB a call).
const LOG_LIMIT: usize = 4 * 1024;

/// At most this many bytes of a `worldline.fail` message are kept (ABI: 1 KiB).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
const FAIL_LIMIT: usize = 1024;

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Writes debug text to the host's log through `worldline.log` (at most 4 KiB a call is kept,
/// 64 KiB a step). Logs never affect state or the journal. A no-op in native builds.
pub fn log(message: &str) {
    let message = clip(message, LOG_LIMIT);
    #[cfg(target_arch = "wasm32")]
    wasm::log(message);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = message;
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
pub(crate) mod wasm {
    use std::alloc::Layout;

    use super::{FAIL_LIMIT, clip};
    use crate::{Reducer, run_step};

    #[link(wasm_import_module = "worldline")]
    unsafe extern "C" {
        #[link_name = "log"]
        fn worldline_log(ptr: *const u8, len: usize);
        #[link_name = "fail"]
        fn worldline_fail(ptr: *const u8, len: usize);
    }

    pub(crate) fn log(message: &str) {
        // SAFETY: the host reads `len` bytes at `ptr`, which is a live &str.
        unsafe { worldline_log(message.as_ptr(), message.len()) }
    }

    pub(crate) fn fail(message: &str) {
        let message = clip(message, FAIL_LIMIT);
        // SAFETY: as for `log`.
        unsafe { worldline_fail(message.as_ptr(), message.len()) }
    }

    /// The `alloc` export: `len` writable bytes (8-aligned), never freed (the host discards
    /// the instance after the step). Null if the allocation fails.
    pub fn alloc(len: usize) -> *mut u8 {
        match Layout::from_size_align(len.max(1), 8) {
            // SAFETY: the layout has a non-zero size.
            Ok(layout) => unsafe { std::alloc::alloc(layout) },
            Err(_) => core::ptr::null_mut(),
        }
    }

    /// The `step` export, return-slot form: runs the step and writes the output's pointer and
    /// length at `ret` as two little-endian i32. On failure it calls `worldline.fail` with the
    /// message, which does not return (spec/abi.md); should a host return anyway, the output
    /// is empty (0, 0).
    ///
    /// # Safety
    ///
    /// `ret` must point to 8 writable bytes and `ptr..ptr+len` must be readable, as the ABI's
    /// call sequence guarantees (both come from `alloc`).
    pub unsafe fn step<R: Reducer>(ret: *mut u8, ptr: *const u8, len: usize) {
        std::panic::set_hook(Box::new(|info| fail(&format!("reducer panicked: {info}"))));
        let input: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: the host wrote `len` bytes at `ptr` (see the function's contract).
            unsafe { core::slice::from_raw_parts(ptr, len) }
        };
        let (out_ptr, out_len) = match run_step::<R>(input) {
            Ok(bytes) => {
                let bytes: &'static mut [u8] = Box::leak(bytes.into_boxed_slice());
                (bytes.as_ptr() as usize as u32, bytes.len() as u32)
            }
            Err(error) => {
                fail(error.message());
                (0, 0)
            }
        };
        // SAFETY: `ret` points to 8 writable bytes; wasm is little-endian.
        unsafe { ret.cast::<[u32; 2]>().write_unaligned([out_ptr, out_len]) }
    }
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn clip_keeps_char_boundaries() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 3), "abc");
        // "é" is two bytes: cutting inside it backs off to before it.
        assert_eq!(clip("aé", 2), "a");
        assert_eq!(clip("aé", 3), "aé");
    }
}
