//! `hark features FILE --out F.npy|F.csv`: MFCC (+Δ, ΔΔ) of an audio file, streamed from the
//! decoder through the online extractor into the output, so a long file never sits in memory.

use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::audio::AudioSource;
use crate::features::{FeatureOptions, Normalization, OnlineFeatures, Window};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WindowArg {
    Rectangular,
    Hamming,
    Hann,
    Povey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NormArg {
    /// Features as computed (python_speech_features compatible).
    None,
    /// Mean and variance normalization over the whole file.
    Utterance,
}

/// Arguments of `hark features`. The defaults are exactly python_speech_features' `mfcc` and
/// `delta(N=2)` twice: 25 ms window, 10 ms step, 13 cepstra, 26 filters, NFFT 512,
/// pre-emphasis 0.97, lifter 22, log-energy in place of c0, rectangular window.
#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// Input audio file (WAV, FLAC, MP3, Ogg Vorbis), resampled to 16 kHz mono.
    #[arg(value_name = "FILE")]
    pub input: PathBuf,
    /// Output file: `.npy` (float32, shape frames × dims) or `.csv` (one frame per row).
    #[arg(long, short, value_name = "F.npy|F.csv")]
    pub out: PathBuf,
    /// Cepstral coefficients per frame.
    #[arg(long, default_value_t = 13)]
    pub num_ceps: usize,
    /// Mel filters.
    #[arg(long, default_value_t = 26)]
    pub num_filters: usize,
    /// Frame length in milliseconds.
    #[arg(long, default_value_t = 25.0)]
    pub frame_length_ms: f64,
    /// Frame shift in milliseconds.
    #[arg(long, default_value_t = 10.0)]
    pub frame_shift_ms: f64,
    /// FFT size (power of two, at least the frame length in samples).
    #[arg(long, default_value_t = 512)]
    pub fft_size: usize,
    /// Pre-emphasis coefficient (0 = none).
    #[arg(long, default_value_t = 0.97)]
    pub preemphasis: f32,
    /// Cepstral lifter (0 = none).
    #[arg(long, default_value_t = 22.0)]
    pub lifter: f64,
    /// Keep c0 instead of replacing it with the frame's log energy.
    #[arg(long)]
    pub no_energy: bool,
    /// Analysis window.
    #[arg(long, value_enum, default_value_t = WindowArg::Rectangular)]
    pub window: WindowArg,
    /// 0 = cepstra only, 1 = + Δ, 2 = + Δ + ΔΔ.
    #[arg(long, default_value_t = 2)]
    pub delta_order: usize,
    /// Frames on each side for the delta regression.
    #[arg(long, default_value_t = 2)]
    pub delta_window: usize,
    /// Normalization of the output.
    #[arg(long, value_enum, default_value_t = NormArg::None)]
    pub normalize: NormArg,
}

impl FeaturesArgs {
    /// The feature options these flags describe (checked).
    pub fn options(&self) -> Result<FeatureOptions> {
        let opts = FeatureOptions {
            num_ceps: self.num_ceps,
            num_filters: self.num_filters,
            frame_length_ms: self.frame_length_ms,
            frame_shift_ms: self.frame_shift_ms,
            fft_size: self.fft_size,
            preemphasis: self.preemphasis,
            lifter: self.lifter,
            append_energy: !self.no_energy,
            window: match self.window {
                WindowArg::Rectangular => Window::Rectangular,
                WindowArg::Hamming => Window::Hamming,
                WindowArg::Hann => Window::Hann,
                WindowArg::Povey => Window::Povey,
            },
            delta_order: self.delta_order,
            delta_window: self.delta_window,
            normalization: match self.normalize {
                NormArg::None => Normalization::None,
                NormArg::Utterance => Normalization::Utterance,
            },
            ..FeatureOptions::default()
        };
        opts.validate()?;
        Ok(opts)
    }
}

enum Format {
    Npy,
    Csv,
}

/// Computes the features of `args.input` and writes them atomically to `args.out`.
/// Returns (frames, dims).
pub fn features(args: &FeaturesArgs) -> Result<(usize, usize)> {
    let format = match args.out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase) {
        Some(e) if e == "npy" => Format::Npy,
        Some(e) if e == "csv" => Format::Csv,
        _ => {
            return Err(Error::Options(format!(
                "--out {}: the file name must end in .npy or .csv",
                args.out.display()
            )));
        }
    };
    let opts = args.options()?;
    let mut source = AudioSource::open(&args.input)?;
    let mut online = OnlineFeatures::new(&opts, None)?;
    let dim = online.dim();
    let dir = match args.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = crate::util::partial_file_in(&dir)?;
    let mut w = BufWriter::new(tmp.as_file());
    let out_err = |e: std::io::Error| Error::io(&args.out, e);
    if let Format::Npy = format {
        w.write_all(&npy_header(0, dim)).map_err(out_err)?;
    }
    let mut chunk = Vec::new();
    let mut row = vec![0.0f32; dim];
    let mut frames = 0usize;
    let mut line = String::new();
    let mut write_ready =
        |online: &mut OnlineFeatures, w: &mut BufWriter<&std::fs::File>| -> Result<()> {
            while online.pop_frame(&mut row) {
                frames += 1;
                match format {
                    Format::Npy => {
                        for v in &row {
                            w.write_all(&v.to_le_bytes()).map_err(out_err)?;
                        }
                    }
                    Format::Csv => {
                        line.clear();
                        for (i, v) in row.iter().enumerate() {
                            if i > 0 {
                                line.push(',');
                            }
                            line.push_str(&v.to_string());
                        }
                        line.push('\n');
                        w.write_all(line.as_bytes()).map_err(out_err)?;
                    }
                }
            }
            Ok(())
        };
    loop {
        chunk.clear();
        if source.read_chunk(&mut chunk)? == 0 {
            break;
        }
        online.accept(&chunk);
        write_ready(&mut online, &mut w)?;
    }
    online.finish();
    write_ready(&mut online, &mut w)?;
    if let Format::Npy = format {
        // The frame count is known only now; the header was written with fixed-width room for it.
        w.seek(SeekFrom::Start(0)).map_err(out_err)?;
        w.write_all(&npy_header(frames, dim)).map_err(out_err)?;
    }
    w.flush().map_err(out_err)?;
    drop(w);
    tmp.as_file().sync_all().map_err(out_err)?;
    persist(tmp, &args.out)?;
    Ok((frames, dim))
}

fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    crate::util::ordinary_permissions(tmp.as_file(), path)?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// An NPY v1.0 header for a little-endian f32 C-order array of shape (rows, cols). The shape is
/// padded to a fixed width so the header can be rewritten in place once `rows` is known; the
/// whole header is a multiple of 64 bytes, as the format asks.
pub(crate) fn npy_header(rows: usize, cols: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let mut dict = format!("{dict:<100}");
    let unpadded = 10 + dict.len() + 1;
    let total = unpadded.div_ceil(64) * 64;
    dict.push_str(&" ".repeat(total - unpadded));
    dict.push('\n');
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_has_fixed_length_and_is_aligned() {
        let a = npy_header(0, 39);
        let b = npy_header(123_456_789, 39);
        assert_eq!(a.len(), b.len());
        assert_eq!(a.len() % 64, 0);
        assert_eq!(&a[..6], b"\x93NUMPY");
        let text = std::str::from_utf8(&b[10..]).unwrap();
        assert!(
            text.starts_with(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (123456789, 39), }"
            )
        );
        assert!(text.ends_with('\n'));
    }
}
