//! An optional bump allocator for wasm32 (cargo feature `bump-alloc`).
//!
//! The host instantiates the module afresh for every step and throws the instance away after,
//! so memory never needs to be given back: this allocator only moves a pointer forward,
//! growing linear memory as needed. It reuses the last block (freeing it, or growing it in place,
//! which is what a growing `Vec` does), so typical reducers use little more than the default
//! allocator, with about 7 KiB less code. A reducer that churns through much more memory than
//! it keeps (large states rebuilt many times in one step) should stay with the default
//! allocator: here everything freed before the last block stays used until the step ends, and
//! the world's memory limit (64 MiB by default) ends the step with a trap.

#![allow(unsafe_code)]

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

const PAGE: usize = 64 * 1024;

/// The global allocator when the feature is on.
#[global_allocator]
static ALLOCATOR: Bump = Bump;

/// The next free byte (0 before the first allocation) and the end of linear memory.
static NEXT: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);

struct Bump;

/// The first byte after the module's stack and data, as placed by the linker.
fn heap_base() -> usize {
    unsafe extern "C" {
        static __heap_base: u8;
    }
    // Only the linker-defined symbol's address is taken, never its value.
    core::ptr::addr_of!(__heap_base) as usize
}

/// Makes sure linear memory reaches `end`; false if it cannot grow that far.
fn reserve(end: usize) -> bool {
    let have = END.load(Relaxed);
    if end <= have {
        return true;
    }
    let pages = (end - have).div_ceil(PAGE);
    if wasm32::memory_grow(0, pages) == usize::MAX {
        return false;
    }
    END.store(have + pages * PAGE, Relaxed);
    true
}

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut next = NEXT.load(Relaxed);
        if next == 0 {
            // Start where the linker says the heap begins (after the stack and the data): the
            // rest of the initial pages is free. Growing memory costs the host page-protection
            // changes on every step, so a step that fits in the initial pages never grows.
            next = heap_base();
            END.store(wasm32::memory_size(0) * PAGE, Relaxed);
        }
        let start = match next.checked_next_multiple_of(layout.align()) {
            Some(start) => start,
            None => return core::ptr::null_mut(),
        };
        match start.checked_add(layout.size()) {
            Some(end) if reserve(end) => {
                NEXT.store(end, Relaxed);
                start as *mut u8
            }
            _ => core::ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Only the last block can be given back.
        if ptr as usize + layout.size() == NEXT.load(Relaxed) {
            NEXT.store(ptr as usize, Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let start = ptr as usize;
        if start + layout.size() == NEXT.load(Relaxed) {
            // The last block grows or shrinks in place.
            return match start.checked_add(new_size) {
                Some(end) if reserve(end) => {
                    NEXT.store(end, Relaxed);
                    ptr
                }
                _ => core::ptr::null_mut(),
            };
        }
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: the layout is valid (same align, non-zero size); the blocks do not overlap.
        unsafe {
            let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size());
            }
            new
        }
    }
}
