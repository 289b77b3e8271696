//! Fused LSTM cell kernels: the gate nonlinearities and the cell update of one batch row in one
//! pass, forward and backward side by side.
//!
//! Shapes (one batch row of one time step): `a` (4H) gate pre-activations in PyTorch's gate order
//! i, f, g, o; `c_prev`, `c`, `tc` = tanh(c), `h` (H).
//!
//! f32 runs a vectorizable rational tanh (the Eigen/XLA approximation, a few ulp), compiled twice —
//! for AVX2+FMA, chosen at run time, and for the baseline target. f64 (gradient checks) uses the
//! exact libm functions, so finite differences see the true function.

use std::any::TypeId;

use super::Float;

/// `tanh` for f32 as a rational function p(x)/q(x) on [-7.905, 7.905] (beyond that tanh rounds to
/// ±1 in f32). Odd numerator of degree 13, even denominator of degree 6 (Eigen's
/// `generic_fast_tanh_float`). No branches, so loops over it vectorize.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    const A1: f32 = 4.893_524_5e-3;
    const A3: f32 = 6.372_619_3e-4;
    const A5: f32 = 1.485_722_4e-5;
    const A7: f32 = 5.122_297e-8;
    const A9: f32 = -8.604_672e-11;
    const A11: f32 = 2.000_188e-13;
    const A13: f32 = -2.760_768_5e-16;
    const B0: f32 = 4.893_525e-3;
    const B2: f32 = 2.268_434_6e-3;
    const B4: f32 = 1.185_347_1e-4;
    const B6: f32 = 1.198_258_4e-6;
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let p = x2.mul_add(A13, A11);
    let p = x2.mul_add(p, A9);
    let p = x2.mul_add(p, A7);
    let p = x2.mul_add(p, A5);
    let p = x2.mul_add(p, A3);
    let p = x2.mul_add(p, A1);
    let p = p * x;
    let q = x2.mul_add(B6, B4);
    let q = x2.mul_add(q, B2);
    let q = x2.mul_add(q, B0);
    p / q
}

/// σ(x) = (1 + tanh(x/2)) / 2 — reuses the vectorizable tanh.
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    0.5f32.mul_add(tanh_f32(0.5 * x), 0.5)
}

#[inline(always)]
fn sigmoid_exact<F: Float>(x: F) -> F {
    F::one() / (F::one() + (-x).exp())
}

/// Forward cell update, generic body. `a` is overwritten with the activated gates (i, f, g, o),
/// which the backward pass needs:
/// i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o); c = f⊙c_prev + i⊙g; h = o⊙tanh(c).
#[inline(always)]
fn cell_forward_body<F: Float>(
    a: &mut [F],
    c_prev: &[F],
    c: &mut [F],
    tc: &mut [F],
    h: &mut [F],
    sig: impl Fn(F) -> F,
    tanh: impl Fn(F) -> F,
) {
    let n = c.len();
    let (ai, rest) = a.split_at_mut(n);
    let (af, rest) = rest.split_at_mut(n);
    let (ag, ao) = rest.split_at_mut(n);
    let ao = &mut ao[..n];
    let (c_prev, tc, h) = (&c_prev[..n], &mut tc[..n], &mut h[..n]);
    for j in 0..n {
        let i = sig(ai[j]);
        let f = sig(af[j]);
        let g = tanh(ag[j]);
        let o = sig(ao[j]);
        let cj = f * c_prev[j] + i * g;
        let t = tanh(cj);
        ai[j] = i;
        af[j] = f;
        ag[j] = g;
        ao[j] = o;
        c[j] = cj;
        tc[j] = t;
        h[j] = o * t;
    }
}

/// Backward cell update, generic body. Reads the activated gates from `a` and overwrites them with
/// the gradient w.r.t. the pre-activations. `dh` is the total gradient reaching h (from the layer
/// above and from step t+1); `dc` comes in as the gradient from step t+1 through c and leaves as
/// the gradient to c_prev.
///   h = o⊙tanh(c)            ⇒ do = dh⊙tanh(c),  dc += dh⊙o⊙(1 − tanh²c)
///   c = f⊙c_prev + i⊙g       ⇒ di = dc⊙g, df = dc⊙c_prev, dg = dc⊙i, dc_prev = dc⊙f
///   σ' = σ(1−σ), tanh' = 1 − tanh²
#[inline(always)]
fn cell_backward_body<F: Float>(a: &mut [F], c_prev: &[F], tc: &[F], dh: &[F], dc: &mut [F]) {
    let n = dc.len();
    let one = F::one();
    let (ai, rest) = a.split_at_mut(n);
    let (af, rest) = rest.split_at_mut(n);
    let (ag, ao) = rest.split_at_mut(n);
    let ao = &mut ao[..n];
    let (c_prev, tc, dh) = (&c_prev[..n], &tc[..n], &dh[..n]);
    for j in 0..n {
        let (i, f, g, o) = (ai[j], af[j], ag[j], ao[j]);
        let t = tc[j];
        let d_o = dh[j] * t;
        let dcj = dc[j] + dh[j] * o * (one - t * t);
        ai[j] = dcj * g * i * (one - i);
        af[j] = dcj * c_prev[j] * f * (one - f);
        ag[j] = dcj * i * (one - g * g);
        ao[j] = d_o * o * (one - o);
        dc[j] = dcj * f;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn cell_forward_f32_avx2(
    a: &mut [f32],
    c_prev: &[f32],
    c: &mut [f32],
    tc: &mut [f32],
    h: &mut [f32],
) {
    cell_forward_body(a, c_prev, c, tc, h, sigmoid_f32, tanh_f32)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn cell_backward_avx2<F: Float>(
    a: &mut [F],
    c_prev: &[F],
    tc: &[F],
    dh: &[F],
    dc: &mut [F],
) {
    cell_backward_body(a, c_prev, tc, dh, dc)
}

fn has_avx2_fma() -> bool {
    crate::cpu::Simd::active() >= crate::cpu::Simd::Avx2Fma
}

/// Reinterprets a slice of `F` as f32 when `F` is f32.
fn as_f32<F: 'static>(s: &[F]) -> Option<&[f32]> {
    // SAFETY: F is f32 (same type, same layout), checked by TypeId.
    (TypeId::of::<F>() == TypeId::of::<f32>())
        .then(|| unsafe { &*(s as *const [F] as *const [f32]) })
}

fn as_f32_mut<F: 'static>(s: &mut [F]) -> Option<&mut [f32]> {
    // SAFETY: as in `as_f32`.
    (TypeId::of::<F>() == TypeId::of::<f32>())
        .then(|| unsafe { &mut *(s as *mut [F] as *mut [f32]) })
}

/// Forward LSTM cell for one batch row (see `cell_forward_body`).
pub fn cell_forward<F: Float>(a: &mut [F], c_prev: &[F], c: &mut [F], tc: &mut [F], h: &mut [F]) {
    let n = c.len();
    debug_assert!(a.len() == 4 * n && c_prev.len() == n && tc.len() == n && h.len() == n);
    if TypeId::of::<F>() == TypeId::of::<f32>() {
        let (Some(a), Some(c_prev), Some(c), Some(tc), Some(h)) =
            (as_f32_mut(a), as_f32(c_prev), as_f32_mut(c), as_f32_mut(tc), as_f32_mut(h))
        else {
            unreachable!("F is f32")
        };
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            unsafe { cell_forward_f32_avx2(a, c_prev, c, tc, h) };
            return;
        }
        cell_forward_body(a, c_prev, c, tc, h, sigmoid_f32, tanh_f32);
    } else {
        cell_forward_body(a, c_prev, c, tc, h, sigmoid_exact, |x: F| x.tanh());
    }
}

/// Backward LSTM cell for one batch row (see `cell_backward_body`).
pub fn cell_backward<F: Float>(a: &mut [F], c_prev: &[F], tc: &[F], dh: &[F], dc: &mut [F]) {
    let n = dc.len();
    debug_assert!(a.len() == 4 * n && c_prev.len() == n && tc.len() == n && dh.len() == n);
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked above).
        unsafe { cell_backward_avx2(a, c_prev, tc, dh, dc) };
        return;
    }
    cell_backward_body(a, c_prev, tc, dh, dc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_tanh_and_sigmoid_match_libm() {
        let mut worst_t = 0f64;
        let mut worst_s = 0f64;
        let mut x = -20.0f32;
        while x <= 20.0 {
            let t = tanh_f32(x) as f64;
            let s = sigmoid_f32(x) as f64;
            worst_t = worst_t.max((t - (x as f64).tanh()).abs());
            worst_s = worst_s.max((s - 1.0 / (1.0 + (-(x as f64)).exp())).abs());
            assert!(t.abs() <= 1.0 && (0.0..=1.0).contains(&s), "x = {x}: tanh {t}, sigmoid {s}");
            x += 0.001;
        }
        assert!(worst_t < 2e-6, "worst tanh error {worst_t}");
        assert!(worst_s < 2e-6, "worst sigmoid error {worst_s}");
    }

    #[test]
    fn every_kernel_level_gives_the_portable_cells() {
        use crate::cpu::{Simd, with_simd};
        // Values across the fast tanh/sigmoid's range pieces, odd length (a vector tail).
        let h = 43;
        let a0: Vec<f32> = (0..4 * h).map(|k| ((k * 7919 % 211) as f32 - 105.0) / 11.0).collect();
        let cp: Vec<f32> = (0..h).map(|k| ((k * 31 % 17) as f32 - 8.0) / 4.0).collect();
        let dh: Vec<f32> = (0..h).map(|k| ((k * 13 % 11) as f32 - 5.0) / 3.0).collect();
        let run = || {
            let mut a = a0.clone();
            let (mut c, mut tc, mut hh) = (vec![0.0f32; h], vec![0.0f32; h], vec![0.0f32; h]);
            cell_forward(&mut a, &cp, &mut c, &mut tc, &mut hh);
            let mut dc: Vec<f32> = (0..h).map(|k| (k as f32 - 20.0) / 10.0).collect();
            cell_backward(&mut a, &cp, &tc, &dh, &mut dc);
            (c, tc, hh, a, dc)
        };
        let portable = with_simd(Simd::Portable, run).unwrap();
        for level in Simd::available() {
            let got = with_simd(level, run).unwrap();
            let pairs = [
                (&got.0, &portable.0, "c"),
                (&got.1, &portable.1, "tanh c"),
                (&got.2, &portable.2, "h"),
                (&got.3, &portable.3, "gate gradients"),
                (&got.4, &portable.4, "dc"),
            ];
            for (x, y, what) in pairs {
                for (j, (p, q)) in x.iter().zip(y.iter()).enumerate() {
                    let tol = 4e-6 * (1.0 + q.abs());
                    assert!((p - q).abs() <= tol, "{level:?} {what}[{j}]: {p} vs portable {q}");
                }
            }
        }
    }

    #[test]
    fn f32_cell_matches_f64_cell() {
        let h = 37;
        let a64: Vec<f64> = (0..4 * h).map(|k| ((k * 7919 % 101) as f64 - 50.0) / 9.0).collect();
        let cp64: Vec<f64> = (0..h).map(|k| ((k * 31 % 17) as f64 - 8.0) / 4.0).collect();
        let mut a32: Vec<f32> = a64.iter().map(|&v| v as f32).collect();
        let cp32: Vec<f32> = cp64.iter().map(|&v| v as f32).collect();
        let mut a64m = a64.clone();
        let (mut c64, mut t64, mut h64) = (vec![0.0; h], vec![0.0; h], vec![0.0; h]);
        let (mut c32, mut t32, mut h32) = (vec![0.0f32; h], vec![0.0f32; h], vec![0.0f32; h]);
        cell_forward(&mut a64m, &cp64, &mut c64, &mut t64, &mut h64);
        cell_forward(&mut a32, &cp32, &mut c32, &mut t32, &mut h32);
        for j in 0..h {
            assert!((h64[j] - h32[j] as f64).abs() < 1e-5, "h[{j}]: {} vs {}", h64[j], h32[j]);
            assert!((c64[j] - c32[j] as f64).abs() < 1e-5, "c[{j}]: {} vs {}", c64[j], c32[j]);
        }
    }
}
