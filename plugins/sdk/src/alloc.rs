//! The plugin's memory allocator (feature `small-alloc`, on by default): size classes for small blocks in
//! front of the standard allocator.
//!
//! A rule decision allocates a handful of small blocks (a stage name, a list of actions, their template ids)
//! and frees them a moment later, once per invoice in a batch. The standard allocator of
//! `wasm32-unknown-unknown` (dlmalloc) does that correctly but slowly under fuel metering: every `malloc` and
//! `free` is a few hundred metered instructions of bin search, splitting and coalescing. Here a block of up
//! to [`MAX_SMALL`] bytes comes from a free list per size class (16, 32, 64, 128, 256 bytes) — one pop, and
//! one push when it is freed — and the lists are refilled from 64 KiB slabs taken from dlmalloc. Larger
//! blocks go to dlmalloc unchanged.
//!
//! Small blocks are reused, never returned to dlmalloc: the memory a plugin instance holds is the peak of its
//! small blocks plus its large ones. A plugin instance lives for one session and its linear memory is capped
//! by the host (`Limits::memory_bytes`); an allocation the cap refuses fails here as it would in dlmalloc
//! (null → the guest traps → the host answers with the default rules).
//!
//! Single-threaded by construction: a `wasm32-unknown-unknown` component instance has one thread (the
//! contract has no threads and the host enables no threads proposal), which is what makes the unsynchronised
//! free lists sound. A plugin that wants its own allocator turns the feature off
//! (`default-features = false`) and sets its own `#[global_allocator]`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// The size classes (bytes); every one a multiple of 16, so every block is 16-byte aligned.
const CLASSES: [usize; 5] = [16, 32, 64, 128, 256];
/// The largest block served from a size class.
pub const MAX_SMALL: usize = 256;
/// Bytes taken from the standard allocator at a time to carve small blocks from.
const SLAB: usize = 64 << 10;
const ALIGN: usize = 16;

struct State {
    /// Head of each class's free list (the first word of a free block points to the next one).
    free: [*mut u8; CLASSES.len()],
    /// The unused rest of the current slab.
    bump: *mut u8,
    bump_end: *mut u8,
}

/// Size-class allocator for small blocks over [`System`] (dlmalloc on `wasm32-unknown-unknown`).
pub struct SmallAlloc {
    state: UnsafeCell<State>,
}

// SAFETY: used only as the global allocator of a single-threaded wasm32 guest (see the module docs); no two
// threads can ever reach `state`.
unsafe impl Sync for SmallAlloc {}

impl SmallAlloc {
    pub const fn new() -> Self {
        SmallAlloc {
            state: UnsafeCell::new(State {
                free: [ptr::null_mut(); CLASSES.len()],
                bump: ptr::null_mut(),
                bump_end: ptr::null_mut(),
            }),
        }
    }
}

impl Default for SmallAlloc {
    fn default() -> Self {
        Self::new()
    }
}

/// The size class serving `size` bytes at `align`, if any.
fn class_of(size: usize, align: usize) -> Option<usize> {
    if align > ALIGN || size > MAX_SMALL {
        return None;
    }
    CLASSES.iter().position(|&c| size <= c)
}

unsafe impl GlobalAlloc for SmallAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(k) = class_of(layout.size(), layout.align()) else {
            // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
            return unsafe { System.alloc(layout) };
        };
        // SAFETY: single-threaded (module docs), and no reference to the state outlives this call.
        let st = unsafe { &mut *self.state.get() };
        let head = st.free[k];
        if !head.is_null() {
            // SAFETY: a free block's first word holds the next free block of its class (written by `dealloc`).
            st.free[k] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        let size = CLASSES[k];
        if (st.bump_end as usize) - (st.bump as usize) < size {
            // The slab's remainder (< 256 bytes) is left unused.
            // SAFETY: a valid non-zero layout.
            let slab = unsafe { System.alloc(Layout::from_size_align_unchecked(SLAB, ALIGN)) };
            if slab.is_null() {
                return slab;
            }
            st.bump = slab;
            // SAFETY: within the slab just allocated.
            st.bump_end = unsafe { slab.add(SLAB) };
        }
        let block = st.bump;
        // SAFETY: `size` bytes remain in the slab (checked above).
        st.bump = unsafe { block.add(size) };
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(k) = class_of(layout.size(), layout.align()) else {
            // SAFETY: a large block came from `System` with this layout.
            return unsafe { System.dealloc(block, layout) };
        };
        // SAFETY: single-threaded; `block` is a block of class `k` (same layout as its allocation) that nobody
        // uses any more, at least 16 bytes and 16-aligned, so its first word can hold the list link.
        unsafe {
            let st = &mut *self.state.get();
            block.cast::<*mut u8>().write(st.free[k]);
            st.free[k] = block;
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = class_of(layout.size(), layout.align());
        let new = class_of(new_size, layout.align());
        match (old, new) {
            // Still fits its block.
            (Some(a), Some(b)) if a == b => block,
            // SAFETY: both large: `System` owns the block; the caller upholds `realloc`'s contract.
            (None, None) => unsafe { System.realloc(block, layout, new_size) },
            _ => {
                // SAFETY: `new_size` is non-zero and, with the old alignment, a valid layout (`realloc`'s contract).
                let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
                // SAFETY: as in `alloc` / `dealloc`; the copy stays within both blocks.
                unsafe {
                    let moved = self.alloc(new_layout);
                    if !moved.is_null() {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    moved
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_small_layouts_only() {
        assert_eq!(class_of(1, 1), Some(0));
        assert_eq!(class_of(16, 16), Some(0));
        assert_eq!(class_of(17, 8), Some(1));
        assert_eq!(class_of(256, 8), Some(4));
        assert_eq!(class_of(257, 8), None);
        assert_eq!(class_of(8, 32), None, "over-aligned blocks go to the system allocator");
    }

    /// Blocks of every class (and large ones) are distinct, aligned, keep their contents through realloc across
    /// classes, and a freed block is handed out again.
    #[test]
    fn blocks_are_reused_aligned_and_keep_their_bytes() {
        let a = SmallAlloc::new();
        let mut live = Vec::new();
        unsafe {
            for (i, size) in [1usize, 15, 16, 17, 40, 64, 100, 200, 256, 300, 5000].into_iter().enumerate() {
                let l = Layout::from_size_align(size, 8).unwrap();
                let p = a.alloc(l);
                assert!(!p.is_null());
                assert_eq!(p as usize % 8, 0);
                ptr::write_bytes(p, i as u8, size);
                live.push((p, l, i as u8));
            }
            for &(p, l, v) in &live {
                assert!((0..l.size()).all(|j| *p.add(j) == v), "block of {} bytes intact", l.size());
            }
            // Grow 40 → 200 → 4000 → 10 bytes: the prefix survives each move.
            let (p, l, v) = live.remove(4);
            let p = a.realloc(p, l, 200);
            assert!((0..40).all(|j| *p.add(j) == v));
            let p = a.realloc(p, Layout::from_size_align(200, 8).unwrap(), 4000);
            assert!((0..40).all(|j| *p.add(j) == v));
            let p = a.realloc(p, Layout::from_size_align(4000, 8).unwrap(), 10);
            assert!((0..10).all(|j| *p.add(j) == v));
            a.dealloc(p, Layout::from_size_align(10, 8).unwrap());
            // The 16-byte class's last freed block is the next one handed out.
            let again = a.alloc(Layout::from_size_align(12, 4).unwrap());
            assert_eq!(again, p);
            a.dealloc(again, Layout::from_size_align(12, 4).unwrap());
            for (p, l, _) in live {
                a.dealloc(p, l);
            }
        }
    }
}
