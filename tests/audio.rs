//! Audio input: WAV round trips through hound, hostile files, resampling quality and streaming
//! equivalence, compressed fixtures against their WAV source, and the `hark info`/`convert` CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

use hark::Error;
use hark::audio::{self, AudioSource, StreamResampler, downmix_into};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use realfft::RealFftPlanner;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/audio").join(name)
}

// -------------------------------------------------------------------------------------------
// WAV round trips
// -------------------------------------------------------------------------------------------

/// Writes random samples with hound in every supported sample format and channel count at 16 kHz
/// (so the resampler is the identity) and checks that we read back exactly the downmix of what
/// was written, scaled by 1/2^(bits-1).
#[test]
fn wav_round_trip_every_sample_format_and_channel_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let formats: [(u16, hound::SampleFormat, &str); 5] = [
        (8, hound::SampleFormat::Int, "8-bit int"),
        (16, hound::SampleFormat::Int, "16-bit int"),
        (24, hound::SampleFormat::Int, "24-bit int"),
        (32, hound::SampleFormat::Int, "32-bit int"),
        (32, hound::SampleFormat::Float, "32-bit float"),
    ];
    for &(bits, fmt, name) in &formats {
        for &channels in &[1u16, 2, 3, 6, 8] {
            let path = dir.path().join(format!("rt_{bits}_{name}_{channels}.wav"));
            let frames = 5000usize;
            let spec = hound::WavSpec {
                channels,
                sample_rate: 16_000,
                bits_per_sample: bits,
                sample_format: fmt,
            };
            let mut w = hound::WavWriter::create(&path, spec).unwrap();
            let mut values = Vec::with_capacity(frames * channels as usize);
            let full = (1i64 << (bits - 1)) as f64;
            for _ in 0..frames * channels as usize {
                if fmt == hound::SampleFormat::Float {
                    let v: f32 = rng.random_range(-1.0..1.0);
                    w.write_sample(v).unwrap();
                    values.push(v);
                } else {
                    let v: i64 = rng.random_range(-(1i64 << (bits - 1))..(1i64 << (bits - 1)));
                    match bits {
                        8 => w.write_sample(v as i8).unwrap(),
                        16 => w.write_sample(v as i16).unwrap(),
                        _ => w.write_sample(v as i32).unwrap(),
                    }
                    values.push((v as f64 / full) as f32);
                }
            }
            w.finalize().unwrap();

            let info = audio::probe(&path).unwrap();
            assert_eq!(info.format, "WAV");
            assert_eq!(info.sample_format, name, "{path:?}");
            assert_eq!(info.channels, channels);
            assert_eq!(info.sample_rate_hz, 16_000);
            assert_eq!(info.frames, Some(frames as u64));

            let got = audio::read_mono_16k(&path).unwrap();
            assert_eq!(got.len(), frames, "{path:?}");
            for (f, &g) in got.iter().enumerate() {
                let frame = &values[f * channels as usize..(f + 1) * channels as usize];
                let want = frame.iter().map(|&x| x as f64).sum::<f64>() / channels as f64;
                assert!((g as f64 - want).abs() < 1e-6, "{path:?} frame {f}: got {g}, want {want}");
                assert!((-1.0..=1.0).contains(&g));
            }
        }
    }
}

#[test]
fn wav_at_other_rates_has_the_expected_length() {
    let dir = tempfile::tempdir().unwrap();
    for &(rate, frames) in
        &[(8_000u32, 7_999usize), (11_025, 12_345), (96_000, 100_001), (192_000, 9_600)]
    {
        let path = dir.path().join(format!("len_{rate}.wav"));
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..frames * 2 {
            w.write_sample(((i % 200) as i16 - 100) * 50).unwrap();
        }
        w.finalize().unwrap();
        let got = audio::read_mono_16k(&path).unwrap();
        let want = (frames as f64 * 16_000.0 / rate as f64).round() as i64;
        assert!((got.len() as i64 - want).abs() <= 1, "rate {rate}: {} vs {want}", got.len());
    }
}

#[test]
fn write_wav_16k_round_trips_and_is_16_bit_mono() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.wav");
    let x: Vec<f32> = (0..4000).map(|i| 0.9 * (i as f32 * 0.01).sin()).chain([2.0, -2.0]).collect();
    audio::write_wav_16k(&path, &x).unwrap();
    let r = hound::WavReader::open(&path).unwrap();
    let spec = r.spec();
    assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (1, 16_000, 16));
    let back = audio::read_mono_16k(&path).unwrap();
    assert_eq!(back.len(), x.len());
    for (a, b) in x.iter().zip(&back) {
        assert!((a.clamp(-1.0, 1.0) - b).abs() <= 1.0 / 32767.0, "{a} vs {b}");
    }
    // Only the target remains: the temporary file was renamed, not left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

// -------------------------------------------------------------------------------------------
// Hostile and broken files
// -------------------------------------------------------------------------------------------

/// A canonical 44-byte-header WAV whose every field can be set, including a false data length.
fn wav_bytes(
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    block_align: u16,
    data_len: u32,
    data: &[u8],
) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&tag.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate.wrapping_mul(block_align as u32)).to_le_bytes());
    b.extend_from_slice(&block_align.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    b.extend_from_slice(data);
    b
}

fn good_pcm(frames: usize, channels: u16) -> Vec<u8> {
    (0..frames * channels as usize)
        .flat_map(|i| ((i as i16).wrapping_mul(97)).to_le_bytes())
        .collect()
}

/// Every entry point must return `Error::Audio` naming the file, with `needle` in the reason.
fn assert_audio_error(path: &Path, needle: &str) {
    assert_error_from(path, needle, true)
}

/// Like `assert_audio_error`, for damage only decoding can see (the header-only probe succeeds).
fn assert_decode_error(path: &Path, needle: &str) {
    assert_error_from(path, needle, false)
}

fn assert_error_from(path: &Path, needle: &str, probe_sees_it: bool) {
    let checks: [(&str, hark::Result<()>); 3] = [
        ("probe", audio::probe(path).map(|_| ())),
        (
            "open+read",
            AudioSource::open(path).and_then(|mut s| {
                let mut v = Vec::new();
                while s.read_chunk(&mut v)? > 0 {}
                Ok(())
            }),
        ),
        ("read_mono_16k", audio::read_mono_16k(path).map(|_| ())),
    ];
    for (what, r) in checks {
        if what == "probe" && !probe_sees_it {
            continue;
        }
        match r {
            Err(Error::Audio { path: p, reason }) => {
                assert_eq!(p, path, "{what}");
                assert!(
                    reason.to_lowercase().contains(needle),
                    "{what} on {path:?}: reason {reason:?} lacks {needle:?}"
                );
                // The Display form names the file too.
                let shown = Error::Audio { path: p, reason }.to_string();
                assert!(shown.contains(&path.file_name().unwrap().to_string_lossy().to_string()));
            }
            Err(other) => panic!("{what} on {path:?}: expected Error::Audio, got {other:?}"),
            Ok(()) => panic!("{what} on {path:?}: expected an error, got Ok"),
        }
    }
}

#[test]
fn bad_wav_files_are_errors_naming_the_file_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let put = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let pcm = good_pcm(100, 1);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.wav", vec![], "empty file"),
        (
            "text.wav",
            b"this is just some text, not audio\n".to_vec(),
            "not a recognized audio file",
        ),
        ("zero_samples.wav", wav_bytes(1, 1, 16_000, 16, 2, 0, &[]), "no audio samples"),
        ("truncated.wav", wav_bytes(1, 1, 16_000, 16, 2, 200, &pcm[..120]), "truncated"),
        (
            "absurd_len.wav",
            wav_bytes(1, 2, 44_100, 16, 4, 0xFFFF_FFF0, &good_pcm(10, 2)),
            "claims 4294967280 bytes",
        ),
        ("zero_channels.wav", wav_bytes(1, 0, 16_000, 16, 0, 200, &pcm), "0 channels"),
        ("zero_rate.wav", wav_bytes(1, 1, 0, 16, 2, 200, &pcm), "0 hz"),
        ("rate_low.wav", wav_bytes(1, 1, 7_999, 16, 2, 200, &pcm), "7999 hz"),
        ("rate_high.wav", wav_bytes(1, 1, 192_001, 16, 2, 200, &pcm), "192001 hz"),
        ("nine_channels.wav", wav_bytes(1, 9, 16_000, 16, 18, 180, &good_pcm(10, 9)), "9 channels"),
        ("zero_align.wav", wav_bytes(1, 1, 16_000, 16, 0, 200, &pcm), "block align"),
        ("odd_bits.wav", wav_bytes(1, 1, 16_000, 12, 2, 200, &pcm), "unsupported sample format"),
        ("zero_bits.wav", wav_bytes(1, 1, 16_000, 0, 2, 200, &pcm), "unsupported sample format"),
        ("float64.wav", wav_bytes(3, 1, 16_000, 64, 8, 200, &pcm), "unsupported sample format"),
        ("adpcm.wav", wav_bytes(2, 1, 16_000, 4, 1, 200, &pcm), "format tag 0x0002"),
        ("partial_frame.wav", wav_bytes(1, 2, 16_000, 16, 4, 198, &pcm), "whole number"),
        ("header_only.wav", wav_bytes(1, 1, 16_000, 16, 2, 200, &[])[..30].to_vec(), "truncated"),
        ("riff_only.wav", b"RIFF\x04\x00\x00\x00WAVE".to_vec(), "truncated"),
        ("rifx.wav", b"RIFX\x04\x00\x00\x00WAVE".to_vec(), "not supported"),
    ];
    for (name, bytes, needle) in &cases {
        let p = put(name, bytes);
        assert_audio_error(&p, needle);
    }

    // A chunk before `data` that claims to be gigabytes long.
    let mut b = wav_bytes(1, 1, 16_000, 16, 2, 200, &pcm);
    let list = [b"LIST".as_slice(), &0x7FFF_FFFFu32.to_le_bytes(), b"junk"].concat();
    b.splice(36..36, list);
    assert_audio_error(&put("huge_chunk.wav", &b), "claims 2147483647 bytes");

    // A `fmt ` chunk claiming an absurd length.
    let mut b = wav_bytes(1, 1, 16_000, 16, 2, 200, &pcm);
    b[16..20].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
    assert_audio_error(&put("huge_fmt.wav", &b), "'fmt ' chunk length");

    // A missing file is an I/O error naming it.
    match audio::probe(&dir.path().join("missing.wav")) {
        Err(Error::Io { path, .. }) => assert!(path.ends_with("missing.wav")),
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

/// A text file, a FLAC cut in half, and garbage behind a valid magic must all be errors from the
/// compressed path too; random byte corruption of every fixture must never panic.
#[test]
fn bad_compressed_files_are_errors_and_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let flac = std::fs::read(data("speech_22k.flac")).unwrap();
    let half = dir.path().join("half.flac");
    std::fs::write(&half, &flac[..flac.len() / 2]).unwrap();
    assert_decode_error(&half, "truncated");
    // After the error the source stays failed rather than decoding on from a broken state.
    let mut src = AudioSource::open(&half).unwrap();
    let mut v = Vec::new();
    let err = loop {
        match src.read_chunk(&mut v) {
            Ok(0) => panic!("half a FLAC decoded to the end without error"),
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert!(err.to_string().contains("half.flac"));
    assert!(src.read_chunk(&mut v).is_err());

    let junk = dir.path().join("junk.ogg");
    std::fs::write(&junk, [b"OggS".as_slice(), &[0u8; 60]].concat()).unwrap();
    assert!(matches!(audio::read_mono_16k(&junk), Err(Error::Audio { .. })));

    let text = dir.path().join("song.mp3");
    std::fs::write(&text, "ID3? no, plain text").unwrap();
    assert!(matches!(audio::read_mono_16k(&text), Err(Error::Audio { .. })));

    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for name in ["speech_22k.flac", "speech_22k.mp3", "speech_44k_stereo.ogg", "speech_22k.wav"] {
        let orig = std::fs::read(data(name)).unwrap();
        // HARK_FUZZ_TRIALS raises the count for a longer hunt outside CI.
        let trials: usize =
            std::env::var("HARK_FUZZ_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
        for trial in 0..trials {
            let mut b = orig.clone();
            // Keep the magic so the real decoder is reached; damage headers and payload alike.
            let hits = rng.random_range(1..20);
            for _ in 0..hits {
                let i =
                    rng.random_range(4..b.len().min(if trial % 2 == 0 { 200 } else { usize::MAX }));
                b[i] = rng.random();
            }
            if trial % 5 == 4 {
                b.truncate(rng.random_range(4..b.len()));
            }
            let p = dir.path().join(format!("fuzz_{trial}_{name}"));
            std::fs::write(&p, &b).unwrap();
            // Either outcome is fine; what matters is returning (no panic, no abort) with
            // samples inside [-1, 1].
            let _ = audio::probe(&p);
            if let Ok(x) = audio::read_mono_16k(&p) {
                assert!(x.iter().all(|v| (-1.0..=1.0).contains(v)), "{p:?}");
            }
        }
    }
}

// -------------------------------------------------------------------------------------------
// Resampling
// -------------------------------------------------------------------------------------------

fn resample_whole(rate: u32, x: &[f32]) -> Vec<f32> {
    let mut r = StreamResampler::new(rate).unwrap();
    let mut out = Vec::new();
    r.push(x, &mut out).unwrap();
    r.flush(&mut out).unwrap();
    out
}

/// A 1 kHz tone at amplitude 0.5 comes out at 1 kHz (within one FFT bin) and within 0.5 dB of its
/// level, measured on a Hann-windowed FFT of the middle of the output. 8192 points at 16 kHz put
/// 1 kHz exactly on bin 512, so the peak bin carries the full amplitude (no scalloping).
#[test]
fn tone_keeps_frequency_and_level_across_rates() {
    let n_fft = 8192usize;
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(n_fft);
    for &rate in &[8_000u32, 11_025, 22_050, 44_100, 48_000, 96_000, 192_000] {
        let n = rate as usize * 2;
        let x: Vec<f32> = (0..n)
            .map(|i| {
                0.5 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / rate as f64).sin() as f32
            })
            .collect();
        let y = resample_whole(rate, &x);
        assert_eq!(y.len(), 32_000);
        let start = (y.len() - n_fft) / 2;
        let w: Vec<f64> = (0..n_fft)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n_fft as f64).cos())
            .collect();
        let mut buf: Vec<f64> = (0..n_fft).map(|i| y[start + i] as f64 * w[i]).collect();
        let mut spec = fft.make_output_vec();
        fft.process(&mut buf, &mut spec).unwrap();
        let (peak, mag) = spec
            .iter()
            .enumerate()
            .map(|(k, c)| (k, c.norm()))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        let bin_hz = 16_000.0 / n_fft as f64;
        assert!(
            (peak as f64 * bin_hz - 1000.0).abs() <= bin_hz,
            "rate {rate}: peak at {} Hz",
            peak as f64 * bin_hz
        );
        let amp = 2.0 * mag / w.iter().sum::<f64>();
        let db = 20.0 * (amp / 0.5).log10();
        assert!(db.abs() < 0.5, "rate {rate}: level off by {db:.3} dB (amplitude {amp})");
    }
}

/// Content above the new Nyquist (8 kHz) must not fold back into the band: a full-scale 12 kHz tone
/// at 48 kHz would alias to 4 kHz; after resampling, everything left must be 60 dB below it.
/// (Measured: −241 dB at 48 kHz, −143 dB for 9 kHz at 44.1 kHz, −141 dB for 10 kHz at 22.05 kHz.)
#[test]
fn tones_above_8khz_are_filtered_not_aliased() {
    for &(rate, f) in &[(48_000u32, 12_000.0f64), (44_100, 9_000.0), (22_050, 10_000.0)] {
        let x: Vec<f32> = (0..rate as usize)
            .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / rate as f64).sin() as f32)
            .collect();
        let y = resample_whole(rate, &x);
        let mid = &y[2000..y.len() - 2000];
        let rms = (mid.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / mid.len() as f64).sqrt();
        let db = 20.0 * (rms / std::f64::consts::FRAC_1_SQRT_2).log10();
        assert!(db < -60.0, "{f} Hz at {rate} Hz leaks through at {db:.1} dB");
    }
}

/// Feeding the input in random chunk sizes gives the same output as one push, and the total
/// length is round(n · 16000 / rate) ± 1 for long and tiny inputs.
#[test]
fn chunked_resampling_equals_whole_and_length_is_exact() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for &rate in &[8_000u32, 11_025, 12_345, 16_000, 22_050, 44_100, 48_000, 96_000] {
        for &n in &[0usize, 1, 2, 17, 1000, 50_000] {
            let x: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let whole = resample_whole(rate, &x);
            let want = (n as f64 * 16_000.0 / rate as f64).round() as i64;
            assert!((whole.len() as i64 - want).abs() <= 1, "rate {rate} n {n}: {}", whole.len());

            let mut r = StreamResampler::new(rate).unwrap();
            let mut out = Vec::new();
            let mut i = 0;
            while i < n {
                let k = rng.random_range(0..=(n - i).min(3000));
                r.push(&x[i..i + k], &mut out).unwrap();
                i += k;
            }
            r.flush(&mut out).unwrap();
            assert_eq!(out.len(), whole.len(), "rate {rate} n {n}");
            for (j, (a, b)) in out.iter().zip(&whole).enumerate() {
                assert!((a - b).abs() <= 1e-6, "rate {rate} n {n} at {j}: {a} vs {b}");
            }

            // After flush the resampler starts a fresh stream: same input, same output.
            let mut again = Vec::new();
            r.push(&x, &mut again).unwrap();
            r.flush(&mut again).unwrap();
            assert_eq!(again, whole, "rate {rate} n {n}: state leaked across flush");
        }
    }
}

#[test]
fn downmix_matches_mean_of_channels() {
    let x: Vec<f32> = (0..8 * 5).map(|i| (i as f32 * 0.37).sin()).collect();
    for c in 1..=8usize {
        let mut out = Vec::new();
        downmix_into(&x, c, &mut out);
        assert_eq!(out.len(), x.len() / c);
        for (f, &v) in out.iter().enumerate() {
            let m: f32 = x[f * c..(f + 1) * c].iter().sum::<f32>() / c as f32;
            assert!((v - m).abs() < 1e-6);
        }
    }
}

/// The source streams: no chunk is more than a few blocks long, however long the file.
#[test]
fn audio_source_yields_bounded_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..48_000 * 2 * 10 {
        w.write_sample((i % 1000) as i16).unwrap();
    }
    w.finalize().unwrap();
    let mut src = AudioSource::open(&path).unwrap();
    let mut total = 0;
    let mut chunks = 0;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let k = src.read_chunk(&mut buf).unwrap();
        assert_eq!(k, buf.len());
        if k == 0 {
            break;
        }
        assert!(k <= 4096, "chunk of {k} samples");
        total += k;
        chunks += 1;
    }
    assert_eq!(total, 160_000);
    assert!(chunks > 30);
    assert_eq!(src.read_chunk(&mut buf).unwrap(), 0, "stays at end");
}

// -------------------------------------------------------------------------------------------
// Compressed fixtures against their WAV source
// -------------------------------------------------------------------------------------------

/// Best normalized cross-correlation of `b` against `a` over lags in ±`max_lag`, and that lag.
fn best_correlation(a: &[f32], b: &[f32], max_lag: i64) -> (f64, i64) {
    let mut best = (f64::MIN, 0);
    for lag in -max_lag..=max_lag {
        let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
        for (i, &x) in a.iter().enumerate() {
            let j = i as i64 + lag;
            if j < 0 || j >= b.len() as i64 {
                continue;
            }
            let y = b[j as usize] as f64;
            ab += x as f64 * y;
            aa += x as f64 * x as f64;
            bb += y * y;
        }
        let r = ab / (aa * bb).sqrt().max(1e-12);
        if r > best.0 {
            best = (r, lag);
        }
    }
    best
}

#[test]
fn compressed_fixtures_decode_like_their_source() {
    let reference = audio::read_mono_16k(&data("speech_22k.wav")).unwrap();
    assert_eq!(reference.len(), (35_280.0f64 * 16_000.0 / 22_050.0).round() as usize);

    // FLAC is lossless at the same rate: identical after the same resampling.
    let info = audio::probe(&data("speech_22k.flac")).unwrap();
    assert_eq!((info.format.as_str(), info.sample_format.as_str()), ("FLAC", "16-bit int"));
    assert_eq!((info.sample_rate_hz, info.channels, info.frames), (22_050, 1, Some(35_280)));
    let flac = audio::read_mono_16k(&data("speech_22k.flac")).unwrap();
    assert_eq!(flac.len(), reference.len());
    let worst = flac.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-6, "FLAC differs from WAV by up to {worst}");

    // MP3 (22.05 kHz mono, 64 kbit/s): the encoder adds up to ~1 frame of delay and padding.
    let info = audio::probe(&data("speech_22k.mp3")).unwrap();
    assert_eq!((info.format.as_str(), info.sample_rate_hz, info.channels), ("MP3", 22_050, 1));
    let mp3 = audio::read_mono_16k(&data("speech_22k.mp3")).unwrap();
    let dur = mp3.len() as f64 / 16_000.0;
    assert!((1.6..1.75).contains(&dur), "MP3 duration {dur}");
    let (r, lag) = best_correlation(&reference, &mp3, 1200);
    assert!(r > 0.9, "MP3 correlation {r} at lag {lag}");

    // Vorbis, resampled by sox to 44.1 kHz stereo: both channels equal the source.
    let info = audio::probe(&data("speech_44k_stereo.ogg")).unwrap();
    assert_eq!(
        (info.format.as_str(), info.sample_rate_hz, info.channels),
        ("Ogg Vorbis", 44_100, 2)
    );
    let ogg = audio::read_mono_16k(&data("speech_44k_stereo.ogg")).unwrap();
    assert!((ogg.len() as i64 - reference.len() as i64).abs() <= 2, "Ogg length {}", ogg.len());
    let (r, lag) = best_correlation(&reference, &ogg, 50);
    assert!(r > 0.95 && lag.abs() <= 2, "Vorbis correlation {r} at lag {lag}");
    let rms =
        |x: &[f32]| (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    let db = 20.0 * (rms(&ogg) / rms(&reference)).log10();
    assert!(db.abs() < 1.0, "Vorbis level differs by {db:.2} dB");
}

/// The container comes from the bytes, not the name.
#[test]
fn format_is_detected_by_content_not_extension() {
    let dir = tempfile::tempdir().unwrap();
    for (src, fake, want) in [
        ("speech_22k.flac", "really_flac.wav", "FLAC"),
        ("speech_44k_stereo.ogg", "really_ogg.mp3", "Ogg Vorbis"),
        ("speech_22k.mp3", "really_mp3.ogg", "MP3"),
        ("speech_22k.wav", "really_wav", "WAV"),
    ] {
        let p = dir.path().join(fake);
        std::fs::copy(data(src), &p).unwrap();
        assert_eq!(audio::probe(&p).unwrap().format, want, "{fake}");
        let a = audio::read_mono_16k(&p).unwrap();
        let b = audio::read_mono_16k(&data(src)).unwrap();
        assert_eq!(a, b, "{fake}");
    }
}

// -------------------------------------------------------------------------------------------
// CLI
// -------------------------------------------------------------------------------------------

fn hark(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hark")).args(args).output().unwrap()
}

#[test]
fn cli_info_prints_each_file_and_exit_codes() {
    let wav = data("speech_22k.wav");
    let ogg = data("speech_44k_stereo.ogg");
    let out = hark(&["info".as_ref(), wav.as_os_str(), ogg.as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "speech_22k.wav",
        "format:        WAV",
        "sample format: 16-bit int",
        "sample rate:   22050 Hz",
        "channels:      1",
        "duration:      0:01.600 (1.600 s)",
        "speech_44k_stereo.ogg",
        "format:        Ogg Vorbis",
        "sample rate:   44100 Hz",
        "channels:      2",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }

    // A bad file in the middle: reported on stderr, the others still printed, exit 2.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("notes.wav");
    std::fs::write(&bad, "shopping list").unwrap();
    let out = hark(&["info".as_ref(), bad.as_os_str(), wav.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("notes.wav") && stderr.contains("not a recognized audio file"),
        "{stderr}"
    );
    assert!(String::from_utf8(out.stdout).unwrap().contains("speech_22k.wav"));

    // No files: usage error.
    assert_eq!(hark(&["info".as_ref()]).status.code(), Some(2));
}

#[test]
fn cli_convert_writes_16k_mono_and_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out.wav");
    let ogg = data("speech_44k_stereo.ogg");
    let out = hark(&["convert".as_ref(), ogg.as_os_str(), "--out".as_ref(), out_path.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r = hound::WavReader::open(&out_path).unwrap();
    let spec = r.spec();
    assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (1, 16_000, 16));
    let direct = audio::read_mono_16k(&ogg).unwrap();
    assert_eq!(r.duration() as usize, direct.len());
    // An ordinary file (rw-r--r--), not the owner-only mode of the temporary file it was written as.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "mode {mode:o}");
    }

    let bad = dir.path().join("bad.flac");
    std::fs::write(&bad, "fLaC but nothing else").unwrap();
    let out2 = dir.path().join("never.wav");
    let out = hark(&["convert".as_ref(), bad.as_os_str(), "--out".as_ref(), out2.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("bad.flac"));
    assert!(!out2.exists(), "no output is left behind on failure");

    // Missing --out: usage error.
    assert_eq!(hark(&["convert".as_ref(), ogg.as_os_str()]).status.code(), Some(2));
}
