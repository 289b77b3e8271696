//! Audio input: file decoding (WAV via hound; FLAC, MP3, Ogg Vorbis via symphonia), downmixing and
//! resampling to the 16 kHz mono f32 stream every later stage works on.
//!
//! Files are streamed: `AudioSource` decodes one block (a few thousand frames) at a time, downmixes
//! and resamples it, so memory does not grow with the file's length at its source rate.

pub mod capture;
pub mod convert;
pub mod decode;
pub mod devices;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

pub use convert::{StreamResampler, downmix_into};

use crate::{Error, Result, SAMPLE_RATE_HZ};

/// What a file's header says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    /// "WAV", "FLAC", "MP3" or "Ogg Vorbis".
    pub format: String,
    /// e.g. "16-bit int", "32-bit float", "lossy (decoded as 32-bit float)".
    pub sample_format: String,
    pub sample_rate_hz: u32,
    pub channels: u16,
    /// Frames (samples per channel) when the header tells; some MP3 and Ogg files do not.
    pub frames: Option<u64>,
    pub duration_s: Option<f64>,
}

/// Reads the header only (cheap): format, sample format, rate, channels and length if known.
pub fn probe(path: &Path) -> Result<AudioInfo> {
    decode::probe(path)
}

/// A streaming decoder from any supported file to 16 kHz mono f32 samples in [-1, 1].
pub struct AudioSource {
    path: PathBuf,
    info: AudioInfo,
    decoder: decode::Decoder,
    resampler: StreamResampler,
    /// One decoded block, interleaved `(F, C)` at the source rate.
    interleaved: Vec<f32>,
    /// The same block downmixed, `(F,)`.
    mono: Vec<f32>,
    frames_in: u64,
    finished: bool,
    /// Set after an error: the decoder may be mid-packet or (after a caught panic) inconsistent,
    /// so later calls report the failure again instead of decoding on.
    failed: bool,
}

impl AudioSource {
    pub fn open(path: &Path) -> Result<Self> {
        let (decoder, info) = decode::Decoder::open(path)?;
        let resampler = StreamResampler::new(info.sample_rate_hz)?;
        Ok(AudioSource {
            path: path.to_path_buf(),
            info,
            decoder,
            resampler,
            interleaved: Vec::new(),
            mono: Vec::new(),
            frames_in: 0,
            finished: false,
            failed: false,
        })
    }

    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Source frames decoded so far (for progress reporting).
    pub fn frames_decoded(&self) -> u64 {
        self.frames_in
    }

    /// Appends the next chunk of 16 kHz mono samples to `out`; returns how many were appended;
    /// 0 = end. A file that turns out to hold no samples at all is an error.
    pub fn read_chunk(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        if self.failed {
            return Err(Error::audio(&self.path, "decoding already failed on an earlier chunk"));
        }
        let start = out.len();
        let r = self.read_chunk_inner(out);
        if r.is_err() {
            self.failed = true;
            out.truncate(start);
        }
        r
    }

    fn read_chunk_inner(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        let start = out.len();
        while !self.finished {
            self.interleaved.clear();
            if self.decoder.read_block(&self.path, &mut self.interleaved)? {
                let channels = self.info.channels as usize;
                self.frames_in += (self.interleaved.len() / channels) as u64;
                self.mono.clear();
                downmix_into(&self.interleaved, channels, &mut self.mono);
                self.resampler.push(&self.mono, out)?;
            } else {
                self.finished = true;
                if self.frames_in == 0 {
                    return Err(Error::audio(&self.path, "no audio samples"));
                }
                self.resampler.flush(out)?;
            }
            if out.len() > start {
                break;
            }
        }
        // The resampler's filter can ring a hair past full scale on clipped input.
        for v in &mut out[start..] {
            *v = v.clamp(-1.0, 1.0);
        }
        Ok(out.len() - start)
    }
}

/// The whole file at 16 kHz mono (convenience over `AudioSource`).
pub fn read_mono_16k(path: &Path) -> Result<Vec<f32>> {
    let mut src = AudioSource::open(path)?;
    let mut out = Vec::new();
    // Pre-size only from a WAV header, whose length was checked against the file size; a FLAC or
    // MP3 header's frame count is unverified until decoded, so it must not drive an allocation.
    if let (Some(frames), "WAV") = (src.info().frames, src.info().format.as_str()) {
        let n = frames as u128 * SAMPLE_RATE_HZ as u128 / src.info().sample_rate_hz as u128;
        out.reserve(usize::try_from(n).unwrap_or(0).saturating_add(1));
    }
    while src.read_chunk(&mut out)? > 0 {}
    Ok(out)
}

/// Writes 16-bit PCM mono 16 kHz WAV atomically.
pub fn write_wav_16k(path: &Path, samples: &[f32]) -> Result<()> {
    let mut w = Wav16kWriter::create(path)?;
    w.write(samples)?;
    w.finish()
}

/// A streaming, atomic writer of 16-bit PCM mono 16 kHz WAV: samples go to a temporary file in the
/// target's directory, which `finish` syncs and renames over `path`. Dropped without `finish`, the
/// temporary file is removed and `path` is untouched.
pub struct Wav16kWriter {
    path: PathBuf,
    writer: hound::WavWriter<BufWriter<File>>,
    /// Kept to fsync after hound's finalize (which consumes the writer).
    sync_handle: File,
    temp: tempfile::TempPath,
}

impl Wav16kWriter {
    pub fn create(path: &Path) -> Result<Self> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let tmp = crate::util::partial_file_in(dir)?;
        crate::util::ordinary_permissions(tmp.as_file(), tmp.path())?;
        let (file, temp) = tmp.into_parts();
        let sync_handle = file.try_clone().map_err(|e| Error::io(&temp, e))?;
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: SAMPLE_RATE_HZ,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::new(BufWriter::with_capacity(1 << 16, file), spec)
            .map_err(|e| Error::audio(path, format!("writing WAV header: {e}")))?;
        Ok(Wav16kWriter { path: path.to_path_buf(), writer, sync_handle, temp })
    }

    /// Appends samples; values outside [-1, 1] are clipped.
    pub fn write(&mut self, samples: &[f32]) -> Result<()> {
        for &x in samples {
            // The reader maps i16 to f32 by 1/32768, so write by the same scale: a round trip
            // is then exact to half a step (only +1.0 clips, to 32767).
            let v = if x.is_finite() {
                (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
            } else {
                0
            };
            self.writer
                .write_sample(v)
                .map_err(|e| Error::audio(&self.path, format!("writing WAV: {e}")))?;
        }
        Ok(())
    }

    pub fn finish(self) -> Result<()> {
        let Wav16kWriter { path, writer, sync_handle, temp } = self;
        writer.finalize().map_err(|e| Error::audio(&path, format!("writing WAV: {e}")))?;
        sync_handle.sync_all().map_err(|e| Error::io(&temp, e))?;
        drop(sync_handle);
        temp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
        Ok(())
    }
}
