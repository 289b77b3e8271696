//! The one probe of the host CPU's vector extensions, for every hand-written kernel: the matrix
//! products (`nn/matmul.rs`), the LSTM cell (`nn/act.rs`) and the MFCC front end
//! (`features/mfcc.rs`) all ask [`Simd::active`] which code path to take.
//!
//! A user's CPU may have fewer extensions than the machine the tests ran on, so tests must run
//! every path, not just the host's best: [`with_simd`] lowers the level for the calling thread
//! (never above what the host has), and the kernels' tests compare each available level with the
//! portable code.

use std::cell::Cell;
use std::sync::OnceLock;

/// A level of vector support; each level includes the ones below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Simd {
    /// Plain Rust (whatever the compiler's baseline target gives; SSE2 on x86-64).
    Portable,
    /// AVX2 and FMA (x86-64, most CPUs since 2013–2015).
    Avx2Fma,
    /// AVX-512F, with AVX2 and FMA.
    Avx512,
}

thread_local! {
    static FORCED: Cell<Option<Simd>> = const { Cell::new(None) };
}

impl Simd {
    /// Every level, lowest first.
    pub const ALL: [Simd; 3] = [Simd::Portable, Simd::Avx2Fma, Simd::Avx512];

    /// The best level this CPU supports (probed once per process).
    pub fn host() -> Simd {
        static HOST: OnceLock<Simd> = OnceLock::new();
        *HOST.get_or_init(probe)
    }

    /// The level the kernels use on this thread: the host's, unless [`with_simd`] lowered it.
    #[inline]
    pub fn active() -> Simd {
        FORCED.with(Cell::get).unwrap_or_else(Simd::host)
    }

    /// Levels this CPU can run, lowest first.
    pub fn available() -> Vec<Simd> {
        Simd::ALL.into_iter().filter(|&s| s <= Simd::host()).collect()
    }

    /// A short name for messages and reports ("portable", "avx2+fma", "avx512").
    pub fn name(self) -> &'static str {
        match self {
            Simd::Portable => "portable",
            Simd::Avx2Fma => "avx2+fma",
            Simd::Avx512 => "avx512",
        }
    }
}

fn probe() -> Simd {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2_fma = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        if avx2_fma && is_x86_feature_detected!("avx512f") {
            return Simd::Avx512;
        }
        if avx2_fma {
            return Simd::Avx2Fma;
        }
    }
    Simd::Portable
}

/// Runs `f` with the kernels of the calling thread limited to `level`, or returns None (without
/// running it) when the host does not support `level`. Work `f` hands to other threads (rayon)
/// still uses the host's level. Nests; the previous level is restored even if `f` panics.
pub fn with_simd<R>(level: Simd, f: impl FnOnce() -> R) -> Option<R> {
    if level > Simd::host() {
        return None;
    }
    struct Restore(Option<Simd>);
    impl Drop for Restore {
        fn drop(&mut self) {
            FORCED.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(FORCED.with(|c| c.replace(Some(level))));
    Some(f())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forcing_lowers_the_level_for_this_thread_only_and_restores_it() {
        let host = Simd::host();
        assert_eq!(Simd::active(), host);
        assert_eq!(Simd::available().last(), Some(&host));
        let inner = with_simd(Simd::Portable, || {
            let other = std::thread::spawn(Simd::active).join().unwrap();
            (Simd::active(), other)
        });
        assert_eq!(inner, Some((Simd::Portable, host)));
        assert_eq!(Simd::active(), host);
        let _ = std::panic::catch_unwind(|| with_simd(Simd::Portable, || panic!("inside")));
        assert_eq!(Simd::active(), host, "restored after a panic");
        for s in Simd::ALL {
            assert_eq!(with_simd(s, Simd::active).is_some(), s <= host);
        }
    }
}
