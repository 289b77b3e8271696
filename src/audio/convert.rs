//! Sample conversions shared by file decoding and live capture: interleaved multi-channel audio →
//! mono (`downmix_into`) and any sample rate → 16 kHz (`StreamResampler`).
//!
//! Shape legend: `C` channels, `F` frames (one sample per channel), `N` mono samples.
//! Interleaved buffers are `(F, C)` row-major: frame `f`, channel `c` sits at `f * C + c`.
//!
//! Resampler choice: rubato's synchronous `Fft` resampler. Every rate Hark meets (file headers,
//! device configs) is fixed for the life of a stream, so the asynchronous (drift-tracking) sinc
//! resampler would only cost CPU for the same quality; `Fft` uses an exact rational ratio
//! (no rounding drift over an hour), a steep Blackman–Harris² anti-aliasing filter applied in the
//! frequency domain, and is several times faster than sinc interpolation of equal quality.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

use crate::{Error, Result, SAMPLE_RATE_HZ};

/// Averages the `C` channels of each interleaved frame into one mono sample and appends the
/// `F = interleaved.len() / C` results to `out`. Averaging (not summing) keeps a full-scale
/// signal within [-1, 1]. A trailing partial frame is ignored.
pub fn downmix_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    match channels {
        0 => {}
        1 => out.extend_from_slice(interleaved),
        2 => out.extend(interleaved.chunks_exact(2).map(|f| 0.5 * (f[0] + f[1]))),
        c => {
            let inv = 1.0 / c as f32;
            out.extend(interleaved.chunks_exact(c).map(|f| f.iter().sum::<f32>() * inv));
        }
    }
}

/// Output frames per FFT block. The anti-aliasing filter's transition band narrows as the block
/// grows (rubato's cutoff ≈ 1 − 13.7/n for n points with Blackman–Harris²: about 0.987 of
/// Nyquist at 1024), while the delay (half a block, here 32 ms) and the latency for live audio
/// grow with it. 1024 keeps speech content up to ~7.9 kHz intact.
const TARGET_BLOCK_OUT: usize = 1024;

/// Rates the resampler accepts (Hz). Files are limited further (8–192 kHz) by the decoders.
const MIN_RATE_HZ: u32 = 1_000;
const MAX_RATE_HZ: u32 = 768_000;

/// Streaming resampler from any fixed input rate to 16 kHz mono.
///
/// Input may arrive in chunks of any size: it is collected into whole FFT blocks internally, so the
/// output does not depend on how the input was split. rubato's delay (half a block) is trimmed from
/// the front and the tail is drained by `flush`, so output sample `k` is aligned with input time
/// `k / 16 kHz` and a stream of `n` input samples yields exactly `round(n · 16000 / rate)` outputs.
pub struct StreamResampler {
    input_rate_hz: u32,
    /// `None` when the input is already at 16 kHz (identity).
    fft: Option<Box<Fft<f32>>>,
    /// Input samples not yet processed (fewer than one block between calls).
    pending: Vec<f32>,
    /// Output of one block, before trimming the delay.
    block_out: Vec<f32>,
    /// Input samples received since the last flush.
    n_in: u64,
    /// Output samples appended since the last flush (after delay trimming).
    n_out: u64,
    /// Output samples still to drop from the front (rubato's delay).
    to_skip: usize,
}

impl StreamResampler {
    /// A resampler from `input_rate_hz` to 16 kHz; identity when the input is already 16 kHz.
    pub fn new(input_rate_hz: u32) -> Result<Self> {
        if !(MIN_RATE_HZ..=MAX_RATE_HZ).contains(&input_rate_hz) {
            return Err(Error::Options(format!(
                "resampler input rate {input_rate_hz} Hz is outside {MIN_RATE_HZ}..={MAX_RATE_HZ} Hz"
            )));
        }
        let mut s = StreamResampler {
            input_rate_hz,
            fft: None,
            pending: Vec::new(),
            block_out: Vec::new(),
            n_in: 0,
            n_out: 0,
            to_skip: 0,
        };
        if input_rate_hz != SAMPLE_RATE_HZ {
            let block_in = (TARGET_BLOCK_OUT as u64 * input_rate_hz as u64 / SAMPLE_RATE_HZ as u64)
                .max(1) as usize;
            // FixedSync::Both: each call takes one whole block and returns one whole block, so the
            // block boundaries (and thus the output) depend only on the sample count.
            let fft = Fft::<f32>::new(
                input_rate_hz as usize,
                SAMPLE_RATE_HZ as usize,
                block_in,
                1,
                FixedSync::Both,
            )
            .map_err(|e| {
                Error::Options(format!("cannot build a resampler from {input_rate_hz} Hz: {e}"))
            })?;
            s.pending.reserve(fft.input_frames_max());
            s.block_out = vec![0.0; fft.output_frames_max()];
            s.to_skip = fft.output_delay();
            s.fft = Some(Box::new(fft));
        }
        Ok(s)
    }

    pub fn input_rate_hz(&self) -> u32 {
        self.input_rate_hz
    }

    /// Output samples the stream so far will have produced after `flush`:
    /// `round(n_in · 16000 / rate)`, in exact integer arithmetic.
    fn expected_out(&self) -> u64 {
        let r = self.input_rate_hz as u128;
        ((self.n_in as u128 * SAMPLE_RATE_HZ as u128 + r / 2) / r) as u64
    }

    /// Resamples `mono` (continuing the stream) and appends every output sample that is now
    /// complete to `out`.
    pub fn push(&mut self, mono: &[f32], out: &mut Vec<f32>) -> Result<()> {
        self.n_in += mono.len() as u64;
        if self.fft.is_none() {
            out.extend_from_slice(mono);
            self.n_out += mono.len() as u64;
            return Ok(());
        }
        self.pending.extend_from_slice(mono);
        let block_in = self.fft.as_ref().map_or(1, |f| f.input_frames_next());
        let mut start = 0;
        while self.pending.len() - start >= block_in {
            self.process_block(start, None, out)?;
            start += block_in;
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Ends the stream: processes the partial last block and pumps silence until every input sample
    /// has come out, appends the tail to `out`, then resets so the resampler can start a new stream.
    pub fn flush(&mut self, out: &mut Vec<f32>) -> Result<()> {
        if self.fft.is_some() {
            let expected = self.expected_out();
            let mut partial = Some(self.pending.len());
            // Each pass emits one block (minus any delay still to skip); the loop ends after
            // at most delay/block + 2 passes.
            while self.n_out < expected {
                let keep = (expected - self.n_out) as usize;
                self.process_block(0, partial.map(|p| (p, keep)), out)?;
                partial = Some(0);
                self.pending.clear();
            }
            self.pending.clear();
            if let Some(f) = self.fft.as_mut() {
                f.reset();
                self.to_skip = f.output_delay();
            }
        }
        self.n_in = 0;
        self.n_out = 0;
        Ok(())
    }

    /// Runs one block starting at `pending[start]`. With `partial = Some((len, keep))` only `len`
    /// input samples are real (rubato pads with zeros) and at most `keep` outputs are appended.
    fn process_block(
        &mut self,
        start: usize,
        partial: Option<(usize, usize)>,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let Some(fft) = self.fft.as_mut() else { return Ok(()) };
        let block_in = fft.input_frames_next();
        let avail = self.pending.len() - start;
        let in_frames = avail.min(block_in);
        let input = InterleavedSlice::new(&self.pending[start..start + in_frames], 1, in_frames)
            .map_err(|e| Error::Options(format!("resampler input buffer: {e}")))?;
        let out_len = self.block_out.len();
        let mut output = InterleavedSlice::new_mut(&mut self.block_out, 1, out_len)
            .map_err(|e| Error::Options(format!("resampler output buffer: {e}")))?;
        let mut indexing = Indexing::new();
        if let Some((len, _)) = partial {
            indexing = indexing.partial_len(len.min(in_frames));
        }
        let (_, produced) =
            fft.process_into_buffer(&input, &mut output, Some(&indexing)).map_err(|e| {
                Error::Options(format!("resampling from {} Hz: {e}", self.input_rate_hz))
            })?;
        let skip = self.to_skip.min(produced);
        self.to_skip -= skip;
        let mut emit = &self.block_out[skip..produced];
        if let Some((_, keep)) = partial {
            emit = &emit[..emit.len().min(keep)];
        }
        out.extend_from_slice(emit);
        self.n_out += emit.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downmix_averages_channels() {
        let mut out = vec![9.0];
        downmix_into(&[1.0, -1.0, 0.5, 0.25], 2, &mut out);
        assert_eq!(out, vec![9.0, 0.0, 0.375]);
        let mut out = Vec::new();
        downmix_into(&[0.3, 0.6, 0.9, 1.0, 1.0, 1.0, 0.5], 3, &mut out);
        assert_eq!(out.len(), 2);
        assert!((out[0] - 0.6).abs() < 1e-6 && (out[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn identity_at_16k() {
        let mut r = StreamResampler::new(16_000).unwrap();
        let x: Vec<f32> = (0..100).map(|i| (i as f32 * 0.1).sin()).collect();
        let mut out = Vec::new();
        r.push(&x[..33], &mut out).unwrap();
        r.push(&x[33..], &mut out).unwrap();
        r.flush(&mut out).unwrap();
        assert_eq!(out, x);
    }

    #[test]
    fn rejects_absurd_rates() {
        assert!(StreamResampler::new(0).is_err());
        assert!(StreamResampler::new(10_000_000).is_err());
    }

    /// An impulse at input time t must come out at output index round(t · 16000 / rate): the
    /// delay compensation is exact, not off by a block.
    #[test]
    fn impulse_is_aligned() {
        for &rate in &[8_000u32, 22_050, 44_100, 48_000] {
            let n = rate as usize; // one second
            let t = n / 3;
            let mut x = vec![0.0f32; n];
            x[t] = 1.0;
            let mut r = StreamResampler::new(rate).unwrap();
            let mut out = Vec::new();
            r.push(&x, &mut out).unwrap();
            r.flush(&mut out).unwrap();
            assert_eq!(out.len(), 16_000, "rate {rate}");
            let peak = out
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .map(|(i, _)| i)
                .unwrap();
            let want = (t as f64 * 16_000.0 / rate as f64).round() as i64;
            assert!((peak as i64 - want).abs() <= 1, "rate {rate}: peak at {peak}, want {want}");
        }
    }
}
