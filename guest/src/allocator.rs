//! The component's allocator: free lists by size class in front of the
//! system allocator (wasi-libc's dlmalloc).
//!
//! The core makes many small, short-lived allocations (strings and vectors of
//! a few dozen bytes per event field). dlmalloc pays for splitting,
//! coalescing and bin search on each of them: with it, allocation was ~14% of
//! the time of a page in the component. Here a small allocation is a pop from
//! its class's list and a free a push; blocks of a class are carved from
//! 64 KiB chunks taken from dlmalloc and never given back, so a class's memory
//! is bounded by its peak use (linear memory never shrinks anyway).
//!
//! Only in the component: a library does not choose its host's allocator, and
//! natively the system's is the host's business. The component is
//! single-threaded (WASI 0.2 has no threads), which is what makes the state
//! below sound without locks.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// Blocks of a class are multiples of 16 bytes and 16-aligned, like dlmalloc's.
const GRANULE: usize = 16;
/// Larger requests go straight to the system allocator.
const LARGEST: usize = 2048;
/// Class sizes: four per doubling, so a block wastes at most 25%.
const CLASS_SIZES: [usize; 24] = [
    16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024,
    1280, 1536, 1792, 2048,
];
/// What the classes are carved from.
const CHUNK: usize = 64 << 10;

/// The class of a request of `size` bytes (`size <= LARGEST`), by granules.
const CLASS_OF_GRANULES: [u8; LARGEST / GRANULE + 1] = {
    let mut table = [0u8; LARGEST / GRANULE + 1];
    let mut granules = 0;
    let mut class = 0;
    while granules <= LARGEST / GRANULE {
        while CLASS_SIZES[class] < granules * GRANULE {
            class += 1;
        }
        table[granules] = class as u8;
        granules += 1;
    }
    table
};

#[inline]
fn class_of(layout: Layout) -> Option<usize> {
    if layout.size() > LARGEST || layout.align() > GRANULE {
        return None;
    }
    let granules = layout.size().div_ceil(GRANULE);
    Some(CLASS_OF_GRANULES[granules] as usize)
}

struct State {
    /// Per class, the first free block; each free block holds the next.
    free: [*mut u8; CLASS_SIZES.len()],
    /// The unused rest of the current chunk.
    bump: *mut u8,
    bump_end: *mut u8,
}

pub struct SizeClasses {
    state: UnsafeCell<State>,
}

// SAFETY: the component is single-threaded (wasm32 without the atomics
// feature has no threads), so the state is never reached from two threads.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl Sync for SizeClasses {}

impl SizeClasses {
    pub const fn new() -> SizeClasses {
        SizeClasses {
            state: UnsafeCell::new(State {
                free: [ptr::null_mut(); CLASS_SIZES.len()],
                bump: ptr::null_mut(),
                bump_end: ptr::null_mut(),
            }),
        }
    }
}

impl Default for SizeClasses {
    fn default() -> Self {
        SizeClasses::new()
    }
}

unsafe impl GlobalAlloc for SizeClasses {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(layout) else {
            return unsafe { System.alloc(layout) };
        };
        // SAFETY: single-threaded, and no reference to the state outlives this call.
        let state = unsafe { &mut *self.state.get() };
        let head = state.free[class];
        if !head.is_null() {
            // SAFETY: a free block's first word is the next free block.
            state.free[class] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        let size = CLASS_SIZES[class];
        if (state.bump_end as usize) - (state.bump as usize) < size {
            // The rest of the old chunk (less than one block) is left unused.
            // SAFETY: a valid, non-zero layout.
            let chunk = unsafe { System.alloc(Layout::from_size_align_unchecked(CHUNK, GRANULE)) };
            if chunk.is_null() {
                return chunk;
            }
            state.bump = chunk;
            // SAFETY: within the chunk just allocated.
            state.bump_end = unsafe { chunk.add(CHUNK) };
        }
        let block = state.bump;
        // SAFETY: `size` bytes remain in the chunk (checked above).
        state.bump = unsafe { block.add(size) };
        block
    }

    #[inline]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(class) = class_of(layout) else {
            return unsafe { System.dealloc(block, layout) };
        };
        // SAFETY: as in `alloc`.
        let state = unsafe { &mut *self.state.get() };
        // SAFETY: the block is at least 16 bytes and 16-aligned, ours, and free now.
        unsafe { block.cast::<*mut u8>().write(state.free[class]) };
        state.free[class] = block;
    }

    #[inline]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` is valid for the alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class_of(layout), class_of(new_layout)) {
            (Some(old), Some(new)) if old == new => block,
            (None, None) => unsafe { System.realloc(block, layout, new_size) },
            _ => {
                let moved = unsafe { self.alloc(new_layout) };
                if !moved.is_null() {
                    let keep = layout.size().min(new_size);
                    // SAFETY: both blocks hold at least `keep` bytes and are distinct.
                    unsafe {
                        ptr::copy_nonoverlapping(block, moved, keep);
                        self.dealloc(block, layout);
                    }
                }
                moved
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_has_a_class_that_holds_it() {
        for size in 0..=LARGEST {
            let layout = Layout::from_size_align(size, 1).unwrap();
            let class = class_of(layout).unwrap();
            assert!(CLASS_SIZES[class] >= size, "{size}");
            assert!(class == 0 || CLASS_SIZES[class - 1] < size.max(1), "{size}");
        }
        assert_eq!(
            class_of(Layout::from_size_align(LARGEST + 1, 1).unwrap()),
            None
        );
        assert_eq!(class_of(Layout::from_size_align(64, 32).unwrap()), None);
    }

    #[test]
    fn blocks_are_reused_and_never_overlap() {
        let heap = SizeClasses::new();
        let layouts: Vec<Layout> = [1, 16, 17, 100, 2048, 2049, 5000, 33]
            .iter()
            .map(|&s| Layout::from_size_align(s, 8).unwrap())
            .collect();
        let mut live: Vec<(*mut u8, Layout)> = Vec::new();
        for round in 0..200u32 {
            let layout = layouts[round as usize % layouts.len()];
            let block = unsafe { heap.alloc(layout) };
            assert!(!block.is_null());
            assert_eq!(block as usize % 8, 0);
            unsafe { ptr::write_bytes(block, round as u8, layout.size()) };
            live.push((block, layout));
            if round % 3 == 0 {
                let (block, layout) = live.remove(live.len() / 2);
                unsafe { heap.dealloc(block, layout) };
            }
            if round % 7 == 0
                && let Some((block, layout)) = live.pop()
            {
                let grown = unsafe { heap.realloc(block, layout, layout.size() * 2 + 1) };
                let layout = Layout::from_size_align(layout.size() * 2 + 1, 8).unwrap();
                live.push((grown, layout));
            }
        }
        // No two live blocks overlap.
        let mut spans: Vec<(usize, usize)> = live
            .iter()
            .map(|&(b, l)| (b as usize, b as usize + l.size()))
            .collect();
        spans.sort();
        for pair in spans.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "{pair:?}");
        }
        for (block, layout) in live {
            unsafe { heap.dealloc(block, layout) };
        }
    }

    #[test]
    fn realloc_keeps_the_contents() {
        let heap = SizeClasses::new();
        let mut layout = Layout::from_size_align(10, 1).unwrap();
        let mut block = unsafe { heap.alloc(layout) };
        unsafe { ptr::copy_nonoverlapping(b"0123456789".as_ptr(), block, 10) };
        for new_size in [12, 40, 3000, 9000, 20] {
            block = unsafe { heap.realloc(block, layout, new_size) };
            layout = Layout::from_size_align(new_size, 1).unwrap();
            let kept = unsafe { std::slice::from_raw_parts(block, 10.min(new_size)) };
            assert_eq!(kept, &b"0123456789"[..10.min(new_size)]);
        }
        unsafe { heap.dealloc(block, layout) };
    }
}
