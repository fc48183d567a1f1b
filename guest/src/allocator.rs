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
//!
//! The free blocks of a class are kept in an array, not in a list threaded
//! through the blocks: popping from a list reads the block's first word, and
//! the blocks a page's output freed are long out of cache when the next page
//! allocates them, so every small allocation waited for memory (~90% of the
//! allocator's time). The array is read in order and stays in cache.

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

/// The free blocks of one class.
#[derive(Clone, Copy)]
struct Stack {
    blocks: *mut *mut u8,
    len: usize,
    capacity: usize,
}

impl Stack {
    const EMPTY: Stack = Stack {
        blocks: ptr::null_mut(),
        len: 0,
        capacity: 0,
    };

    #[inline]
    fn pop(&mut self) -> Option<*mut u8> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: entries below `len` are initialised.
        Some(unsafe { self.blocks.add(self.len).read() })
    }

    /// Push a free block; false when the stack could not grow (the block is
    /// then left unused rather than lost track of twice).
    #[inline]
    fn push(&mut self, block: *mut u8) -> bool {
        if self.len == self.capacity && !self.grow() {
            return false;
        }
        // SAFETY: `len < capacity` after growing.
        unsafe { self.blocks.add(self.len).write(block) };
        self.len += 1;
        true
    }

    #[cold]
    fn grow(&mut self) -> bool {
        let word = std::mem::size_of::<*mut u8>();
        let capacity = (self.capacity * 2).max(256);
        // SAFETY: valid layouts; the old array came from the system allocator
        // with the old capacity.
        let grown = unsafe {
            if self.blocks.is_null() {
                System.alloc(Layout::from_size_align_unchecked(capacity * word, word))
            } else {
                System.realloc(
                    self.blocks.cast(),
                    Layout::from_size_align_unchecked(self.capacity * word, word),
                    capacity * word,
                )
            }
        };
        if grown.is_null() {
            return false;
        }
        self.blocks = grown.cast();
        self.capacity = capacity;
        true
    }
}

struct State {
    /// Per class, the free blocks.
    free: [Stack; CLASS_SIZES.len()],
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
                free: [Stack::EMPTY; CLASS_SIZES.len()],
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
        if let Some(block) = state.free[class].pop() {
            return block;
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
        // A block that finds no room in the stack stays unused: only when
        // memory has run out.
        state.free[class].push(block);
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
