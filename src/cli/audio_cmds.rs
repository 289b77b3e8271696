//! `hark info` and `hark convert`: thin layers over `crate::audio`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::audio::{self, AudioInfo, AudioSource, Wav16kWriter};

/// Arguments of `hark info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Audio files to describe (WAV, FLAC, MP3, Ogg Vorbis).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Arguments of `hark convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Input audio file (WAV, FLAC, MP3, Ogg Vorbis; any rate 8–192 kHz, 1–8 channels).
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Output WAV file: 16 kHz, mono, 16-bit PCM (written atomically).
    #[arg(long, short, value_name = "OUT.wav")]
    pub out: PathBuf,
}

fn format_duration(s: f64) -> String {
    let total_ms = (s * 1000.0).round() as u64;
    let (h, m, sec, ms) =
        (total_ms / 3_600_000, total_ms / 60_000 % 60, total_ms / 1000 % 60, total_ms % 1000);
    if h > 0 {
        format!("{h}:{m:02}:{sec:02}.{ms:03} ({s:.3} s)")
    } else {
        format!("{m}:{sec:02}.{ms:03} ({s:.3} s)")
    }
}

/// One block per file, e.g.
/// ```text
/// speech.flac
///   format:        FLAC
///   sample format: 16-bit int
///   sample rate:   22050 Hz
///   channels:      1
///   duration:      0:01.234 (1.234 s)
/// ```
pub fn describe(path: &std::path::Path, info: &AudioInfo) -> String {
    let duration = match info.duration_s {
        Some(d) => format_duration(d),
        None => "unknown (not in the header)".to_string(),
    };
    format!(
        "{}\n  format:        {}\n  sample format: {}\n  sample rate:   {} Hz\n  channels:      {}\n  duration:      {}\n",
        path.display(),
        info.format,
        info.sample_format,
        info.sample_rate_hz,
        info.channels,
        duration
    )
}

/// Prints one block per file; a bad file's error goes to stderr and the rest still run.
/// Returns the number of files that failed.
pub fn info(args: &InfoArgs) -> usize {
    let mut failed = 0;
    for path in &args.files {
        match audio::probe(path) {
            Ok(info) => print!("{}", describe(path, &info)),
            Err(e) => {
                eprintln!("hark info: {e}");
                failed += 1;
            }
        }
    }
    failed
}

/// Streams IN → 16 kHz mono 16-bit WAV at OUT.
pub fn convert(args: &ConvertArgs) -> crate::Result<()> {
    let mut src = AudioSource::open(&args.input)?;
    let mut writer = Wav16kWriter::create(&args.out)?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = match src.info().frames {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template(
                    "{spinner} converting [{bar:40}] {percent:>3}% eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner(),
        };
        Some(bar)
    } else {
        None
    };
    let mut chunk = Vec::new();
    loop {
        chunk.clear();
        if src.read_chunk(&mut chunk)? == 0 {
            break;
        }
        writer.write(&chunk)?;
        if let Some(b) = &bar {
            b.set_position(src.frames_decoded());
        }
    }
    writer.finish()?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(())
}
