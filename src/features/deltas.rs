//! Delta and delta-delta features (python_speech_features `delta`, HTK's regression formula):
//!
//! `Δ_t = Σ_{n=1..N} n (c_{t+n} - c_{t-n}) / (2 Σ_{n=1..N} n²)`, frame indices clamped to
//! `[0, T-1]` (psf pads by repeating the edge frames); `ΔΔ` is the same regression applied to `Δ`.
//!
//! Shapes: `T` frames, `C` cepstra, `D = C · (1 + order)` columns per row laid out
//! `[c | Δ | ΔΔ]`. The offline function and the streaming state share [`regress`] and the same
//! clamped indices, so a stream reproduces the offline result bit for bit.

/// One regression over `2N + 1` rows: `row(j)` returns the source of frame `t + j - N`
/// (already clamped). Accumulates `n` outermost in the same order for every caller.
#[inline]
fn regress<'a>(window: usize, row: impl Fn(usize) -> &'a [f32], out: &mut [f32]) {
    let denom = 2.0 * (1..=window).map(|n| (n * n) as f32).sum::<f32>();
    out.fill(0.0);
    for n in 1..=window {
        let (next, prev) = (row(window + n), row(window - n));
        let w = n as f32;
        for ((o, &a), &b) in out.iter_mut().zip(next).zip(prev) {
            *o += w * (a - b);
        }
    }
    for o in out.iter_mut() {
        *o /= denom;
    }
}

/// Source frame of offset `j` (0..=2N) around `t`, clamped to `[0, last]`.
#[inline]
fn clamped(t: usize, j: usize, window: usize, last: usize) -> usize {
    (t + j).saturating_sub(window).min(last)
}

/// Fills the delta columns of `feats` (T rows of `dim` values, row-major, cepstra in columns
/// `0..num_ceps`) for `order` 1 or 2; order 0 leaves it unchanged.
pub fn fill_deltas(feats: &mut [f32], dim: usize, num_ceps: usize, window: usize, order: usize) {
    let c = num_ceps;
    let frames = feats.len().checked_div(dim).unwrap_or(0);
    debug_assert!(dim >= c * (1 + order) && feats.len() == frames * dim);
    if frames == 0 {
        return;
    }
    let mut tmp = vec![0.0f32; c];
    let denom = 2.0 * (1..=window).map(|n| (n * n) as f32).sum::<f32>();
    for level in 1..=order {
        let (src, dst) = ((level - 1) * c, level * c);
        for t in 0..frames {
            if t >= window && t + window < frames {
                // Interior frame: no clamping. The same operations in the same order as
                // `regress` (so the stream still matches bit for bit), on direct row offsets.
                tmp.fill(0.0);
                for n in 1..=window {
                    let (a, b) = ((t + n) * dim + src, (t - n) * dim + src);
                    let w = n as f32;
                    for (j, o) in tmp.iter_mut().enumerate() {
                        *o += w * (feats[a + j] - feats[b + j]);
                    }
                }
                let row = &mut feats[t * dim + dst..t * dim + dst + c];
                for (r, &o) in row.iter_mut().zip(&tmp) {
                    *r = o / denom;
                }
                continue;
            }
            {
                let f: &[f32] = feats;
                let row = |j: usize| {
                    let s = clamped(t, j, window, frames - 1) * dim + src;
                    &f[s..s + c]
                };
                regress(window, row, &mut tmp);
            }
            feats[t * dim + dst..t * dim + dst + c].copy_from_slice(&tmp);
        }
    }
}

/// Streaming deltas: takes cepstra one frame at a time and releases complete `[c | Δ | ΔΔ]` rows
/// `N · order` frames later; [`finish`](DeltaStream::finish) releases the rest with the end
/// clamped. Keeps only a ring of `(order + 1) N + 2` rows; no allocation after construction.
#[derive(Debug, Clone)]
pub struct DeltaStream {
    num_ceps: usize,
    dim: usize,
    window: usize,
    order: usize,
    /// (R, D) ring of rows; frame `t` lives in slot `t % R`.
    ring: Vec<f32>,
    slots: usize,
    /// Frames pushed, and frames whose Δ / ΔΔ / row is done (`delta_done ≥ dd_done ≥ emitted`).
    pushed: usize,
    delta_done: usize,
    dd_done: usize,
    emitted: usize,
    tmp: Vec<f32>,
}

impl DeltaStream {
    pub fn new(num_ceps: usize, window: usize, order: usize) -> Self {
        let slots = (order + 1) * window + 2;
        let dim = num_ceps * (1 + order);
        DeltaStream {
            num_ceps,
            dim,
            window,
            order,
            ring: vec![0.0; slots * dim],
            slots,
            pushed: 0,
            delta_done: 0,
            dd_done: 0,
            emitted: 0,
            tmp: vec![0.0; num_ceps],
        }
    }

    /// Output row width `D`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Forgets everything pushed (start of a new utterance).
    pub fn reset(&mut self) {
        self.pushed = 0;
        self.delta_done = 0;
        self.dd_done = 0;
        self.emitted = 0;
    }

    /// Adds the cepstra of the next frame; calls `emit` with every row that became complete.
    pub fn push(&mut self, ceps: &[f32], emit: impl FnMut(&[f32])) {
        debug_assert_eq!(ceps.len(), self.num_ceps);
        let slot = self.pushed % self.slots;
        self.ring[slot * self.dim..slot * self.dim + self.num_ceps].copy_from_slice(ceps);
        self.pushed += 1;
        self.advance(false, emit);
    }

    /// The utterance ended: completes the remaining rows with the end clamped, emits them and
    /// resets for the next utterance.
    pub fn finish(&mut self, emit: impl FnMut(&[f32])) {
        self.advance(true, emit);
        self.reset();
    }

    /// Computes every Δ whose right context is known (all of them at the end), then every ΔΔ,
    /// then emits finished rows. The upper clamp is always `pushed - 1`: before the end it never
    /// triggers (only frames with `t + N < pushed` are computed), at the end it is the true edge,
    /// exactly as [`fill_deltas`] clamps.
    fn advance(&mut self, at_end: bool, mut emit: impl FnMut(&[f32])) {
        if self.pushed == 0 {
            return;
        }
        let (n, c, dim, slots, last) =
            (self.window, self.num_ceps, self.dim, self.slots, self.pushed - 1);
        for level in 1..=self.order {
            let (src, dst) = ((level - 1) * c, level * c);
            let (done, avail) = if level == 1 {
                (self.delta_done, self.pushed)
            } else {
                (self.dd_done, self.delta_done)
            };
            // Frame t needs sources up to t + N; at the end every frame can be done.
            let target = if at_end { avail } else { avail.saturating_sub(n) };
            for t in done..target {
                {
                    let ring: &[f32] = &self.ring;
                    let row = |j: usize| {
                        let s = (clamped(t, j, n, last) % slots) * dim + src;
                        &ring[s..s + c]
                    };
                    regress(n, row, &mut self.tmp);
                }
                let s = (t % slots) * dim + dst;
                self.ring[s..s + c].copy_from_slice(&self.tmp);
            }
            if level == 1 {
                self.delta_done = self.delta_done.max(target);
            } else {
                self.dd_done = self.dd_done.max(target);
            }
        }
        let ready = match self.order {
            0 => self.pushed,
            1 => self.delta_done,
            _ => self.dd_done,
        };
        for t in self.emitted..ready {
            let s = (t % slots) * dim;
            emit(&self.ring[s..s + dim]);
        }
        self.emitted = ready;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// psf.delta written out directly from its definition: dot(arange(-N, N+1), padded rows).
    fn psf_delta(x: &[Vec<f64>], n: usize) -> Vec<Vec<f64>> {
        let t = x.len();
        let denom = 2.0 * (1..=n).map(|i| (i * i) as f64).sum::<f64>();
        (0..t)
            .map(|i| {
                (0..x[0].len())
                    .map(|k| {
                        (0..=2 * n)
                            .map(|j| {
                                let s = (i + j).saturating_sub(n).min(t - 1);
                                (j as f64 - n as f64) * x[s][k]
                            })
                            .sum::<f64>()
                            / denom
                    })
                    .collect()
            })
            .collect()
    }

    fn signal(t: usize, c: usize) -> Vec<f32> {
        (0..t * c).map(|i| ((i * 7919 % 113) as f32 - 56.0) / 9.0).collect()
    }

    #[test]
    fn offline_matches_the_psf_formula() {
        for (t, n) in [(1, 2), (2, 2), (5, 2), (30, 2), (9, 3), (4, 1)] {
            let c = 3;
            let stat = signal(t, c);
            let mut feats = vec![0.0; t * 3 * c];
            for i in 0..t {
                feats[i * 3 * c..i * 3 * c + c].copy_from_slice(&stat[i * c..(i + 1) * c]);
            }
            fill_deltas(&mut feats, 3 * c, c, n, 2);
            let x: Vec<Vec<f64>> = (0..t)
                .map(|i| stat[i * c..(i + 1) * c].iter().map(|&v| v as f64).collect())
                .collect();
            let d = psf_delta(&x, n);
            let dd = psf_delta(&d, n);
            for i in 0..t {
                for k in 0..c {
                    let (gd, gdd) =
                        (feats[i * 3 * c + c + k] as f64, feats[i * 3 * c + 2 * c + k] as f64);
                    assert!(
                        (gd - d[i][k]).abs() < 1e-5,
                        "T={t} N={n} Δ[{i}][{k}] {gd} vs {}",
                        d[i][k]
                    );
                    assert!(
                        (gdd - dd[i][k]).abs() < 1e-5,
                        "T={t} N={n} ΔΔ[{i}][{k}] {gdd} vs {}",
                        dd[i][k]
                    );
                }
            }
        }
    }

    #[test]
    fn stream_equals_offline_bitwise_for_every_length_and_order() {
        let c = 4;
        for order in 0..=2 {
            for n in 1..=3 {
                for t in 0..25 {
                    let dim = c * (1 + order);
                    let stat = signal(t, c);
                    let mut off = vec![0.0; t * dim];
                    for i in 0..t {
                        off[i * dim..i * dim + c].copy_from_slice(&stat[i * c..(i + 1) * c]);
                    }
                    fill_deltas(&mut off, dim, c, n, order);
                    let mut s = DeltaStream::new(c, n, order);
                    let mut got: Vec<f32> = Vec::new();
                    let mut emitted_before_end = 0;
                    for i in 0..t {
                        s.push(&stat[i * c..(i + 1) * c], |r| got.extend_from_slice(r));
                        // Row i - lag is released as soon as frame i arrives.
                        assert_eq!(got.len() / dim, (i + 1).saturating_sub(n * order));
                        emitted_before_end = got.len();
                    }
                    s.finish(|r| got.extend_from_slice(r));
                    assert!(emitted_before_end <= got.len());
                    assert_eq!(got, off, "order {order} N {n} T {t}");
                }
            }
        }
    }
}
