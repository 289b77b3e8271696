//! TEMPORARY stand-in; replaced by the audio branch at merge.
//!
//! Only the two items live capture calls, with the audio branch's signatures: `downmix_into` and
//! `StreamResampler { new, push, flush }`. This version uses rubato's synchronous FFT resampler
//! with fixed 20 ms input blocks and does not compensate the resampler's delay.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

use crate::{Error, Result, SAMPLE_RATE_HZ};

/// Averages the channels of each interleaved frame into one mono sample appended to `out`.
pub fn downmix_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels == 0 {
        return;
    }
    let inv = 1.0 / channels as f32;
    out.extend(interleaved.chunks_exact(channels).map(|f| f.iter().sum::<f32>() * inv));
}

/// Streaming resampler from a fixed input rate to 16 kHz mono (identity at 16 kHz).
pub struct StreamResampler {
    fft: Option<Fft<f32>>,
    pending: Vec<f32>,
    block_out: Vec<f32>,
    input_rate_hz: u32,
}

impl StreamResampler {
    pub fn new(input_rate_hz: u32) -> Result<Self> {
        if !(1_000..=768_000).contains(&input_rate_hz) {
            return Err(Error::Options(format!(
                "resampler input rate {input_rate_hz} Hz is outside 1000..=768000 Hz"
            )));
        }
        let fft = if input_rate_hz == SAMPLE_RATE_HZ {
            None
        } else {
            let block = (input_rate_hz / 50).max(1) as usize;
            Some(
                Fft::<f32>::new(
                    input_rate_hz as usize,
                    SAMPLE_RATE_HZ as usize,
                    block,
                    1,
                    FixedSync::Input,
                )
                .map_err(|e| Error::Options(format!("resampler from {input_rate_hz} Hz: {e}")))?,
            )
        };
        let block_out = vec![0.0; fft.as_ref().map_or(0, |f| f.output_frames_max())];
        Ok(StreamResampler { fft, pending: Vec::new(), block_out, input_rate_hz })
    }

    pub fn push(&mut self, mono: &[f32], out: &mut Vec<f32>) -> Result<()> {
        let Some(fft) = self.fft.as_mut() else {
            out.extend_from_slice(mono);
            return Ok(());
        };
        self.pending.extend_from_slice(mono);
        let block = fft.input_frames_next();
        let mut start = 0;
        while self.pending.len() - start >= block {
            run(
                fft,
                &self.pending[start..start + block],
                None,
                &mut self.block_out,
                out,
                self.input_rate_hz,
            )?;
            start += block;
        }
        self.pending.drain(..start);
        Ok(())
    }

    pub fn flush(&mut self, out: &mut Vec<f32>) -> Result<()> {
        let Some(fft) = self.fft.as_mut() else { return Ok(()) };
        let len = self.pending.len();
        let block = fft.input_frames_next();
        self.pending.resize(block, 0.0);
        run(fft, &self.pending, Some(len), &mut self.block_out, out, self.input_rate_hz)?;
        self.pending.clear();
        fft.reset();
        Ok(())
    }
}

fn run(
    fft: &mut Fft<f32>,
    input: &[f32],
    partial: Option<usize>,
    block_out: &mut [f32],
    out: &mut Vec<f32>,
    rate: u32,
) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| Error::Options(format!("resampling from {rate} Hz: {e}"));
    let inp = InterleavedSlice::new(input, 1, input.len()).map_err(|e| err(&e))?;
    let n = block_out.len();
    let mut outp = InterleavedSlice::new_mut(block_out, 1, n).map_err(|e| err(&e))?;
    let mut idx = Indexing::new();
    if let Some(p) = partial {
        idx = idx.partial_len(p);
    }
    let (_, produced) =
        fft.process_into_buffer(&inp, &mut outp, Some(&idx)).map_err(|e| err(&e))?;
    out.extend_from_slice(&block_out[..produced]);
    Ok(())
}
