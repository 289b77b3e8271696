//! The per-frame feature path allocates nothing: a counting global allocator (per thread, so the
//! test harness's own threads do not interfere) around `MfccComputer::compute_frame` and around
//! steady-state `OnlineFeatures::accept` + `pop_frame`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use hark::features::{FeatureOptions, MfccComputer, OnlineFeatures, Window};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCS.with(|c| c.get())
}

fn signal(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i as f32 * 0.05).sin() * 0.5 + (i % 7) as f32 * 1e-3).collect()
}

#[test]
fn compute_frame_allocates_nothing() {
    for window in [Window::Rectangular, Window::Povey] {
        let opts = FeatureOptions { window, ..Default::default() };
        let mut comp = MfccComputer::new(&opts).unwrap();
        let x = signal(16_000);
        let mut out = vec![0.0f32; opts.num_ceps];
        // Sanity: the allocator does count (this Vec must register).
        let before = allocations();
        let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(64));
        assert!(allocations() > before);
        drop(v);

        let before = allocations();
        for t in 0..97 {
            let start = t * 160;
            let end = (start + 400).min(x.len());
            comp.compute_frame(
                &x[start..end],
                if start > 0 { x[start - 1] } else { 0.0 },
                &mut out,
            );
        }
        // A short last frame (zero padding) too.
        comp.compute_frame(&x[..123], 0.0, &mut out);
        assert_eq!(allocations() - before, 0, "{window:?}");
        assert!(out.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn steady_state_online_accept_allocates_nothing() {
    let opts = FeatureOptions::default();
    let mut on = OnlineFeatures::new(&opts, None).unwrap();
    let x = signal(160_000);
    let mut row = vec![0.0f32; opts.dim()];
    let mut popped = 0usize;
    // Warm-up: the first second grows the buffers to the chunk size in use.
    for c in x[..16_000].chunks(320) {
        on.accept(c);
        while on.pop_frame(&mut row) {
            popped += 1;
        }
    }
    let before = allocations();
    for c in x[16_000..].chunks(320) {
        on.accept(c);
        while on.pop_frame(&mut row) {
            popped += 1;
        }
    }
    assert_eq!(allocations() - before, 0);
    // Complete frames: t·160 + 400 <= 160 000, i.e. 998; the last delta_lag() wait for context.
    assert_eq!(popped, (x.len() - 400) / 160 + 1 - opts.delta_lag(), "rows released so far");
}
