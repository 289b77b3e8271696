//! Dataset layer: folder formats, the skip report, the split, batches, the feature cache and
//! augmentation. All data is written here into temporary folders (hound tones and text files).

use std::f32::consts::PI;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use hark::ctc::Alphabet;
use hark::train::augment::{
    AugmentOptions, Augmenter, Mask, NoiseKind, add_noise, apply_freq_mask, apply_time_mask, rms,
    spec_augment, speed_perturb,
};
use hark::train::data::{
    BatchBuilder, BatchOptions, BatchPlan, DatasetFormat, FeatureCache, SkipReason, Utterance,
    ValidationSplit, is_validation, load_dataset, load_train_validation, scan_dataset,
    split_by_hash,
};
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Model output frames per second used by the tests (a 10 ms shift with stride-2 stacking).
const FPS: f64 = 50.0;

fn tone(seconds: f64, freq_hz: f32) -> Vec<f32> {
    let n = (seconds * 16000.0).round() as usize;
    (0..n).map(|i| 0.5 * (2.0 * PI * freq_hz * i as f32 / 16000.0).sin()).collect()
}

fn write_wav(path: &Path, samples: &[f32]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample((s * 32767.0).round() as i16).unwrap();
    }
    w.finalize().unwrap();
}

fn write_text(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn texts(utts: &[Utterance]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> =
        utts.iter().map(|u| (u.id.clone(), u.text.clone())).collect();
    v.sort();
    v
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> =
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    v.sort();
    v
}

#[test]
fn paired_folder_is_found_recursively() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write_wav(&r.join("spk1/a.wav"), &tone(1.0, 300.0));
    write_text(&r.join("spk1/a.txt"), "Hello, World!\n");
    write_wav(&r.join("spk2/deep/b.WAV"), &tone(1.5, 400.0));
    write_text(&r.join("spk2/deep/b.txt"), "it's  a\u{2019}test-case");
    let ds = load_dataset(r, &Alphabet::default(), FPS).unwrap();
    assert_eq!(
        texts(&ds.utterances),
        pairs(&[("spk1/a.wav", "hello world"), ("spk2/deep/b.WAV", "it's a'test case")])
    );
    assert!(ds.report.skipped.is_empty(), "{}", ds.report);
    assert_eq!(ds.report.utterances, 2);
    assert!((ds.report.total_hours - 2.5 / 3600.0).abs() < 1e-9);
    assert_eq!(ds.report.formats.len(), 1);
    assert_eq!(ds.report.formats[0].format, DatasetFormat::Paired);
    let a = ds.utterances.iter().find(|u| u.id == "spk1/a.wav").unwrap();
    assert_eq!(a.labels, Alphabet::default().encode("hello world").unwrap());
    assert!((a.duration_s - 1.0).abs() < 1e-9);
}

#[test]
fn librispeech_layout() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    let ch = r.join("train-clean/19/198");
    write_text(
        &ch.join("19-198.trans.txt"),
        "19-198-0000 NORTHANGER ABBEY\n19-198-0001 THIS LITTLE WORK\n19-198-0002 NO AUDIO HERE\n",
    );
    write_wav(&ch.join("19-198-0000.wav"), &tone(1.2, 200.0));
    write_wav(&ch.join("19-198-0001.wav"), &tone(1.0, 250.0));
    // Top-level LibriSpeech files use upper-case .TXT and are not transcripts.
    write_text(&r.join("README.TXT"), "LibriSpeech ASR corpus");
    let ds = load_dataset(r, &Alphabet::default(), FPS).unwrap();
    assert_eq!(
        texts(&ds.utterances),
        pairs(&[
            ("train-clean/19/198/19-198-0000.wav", "northanger abbey"),
            ("train-clean/19/198/19-198-0001.wav", "this little work"),
        ])
    );
    assert_eq!(ds.report.skipped.len(), 1, "{}", ds.report);
    let s = &ds.report.skipped[0];
    assert_eq!(s.line, Some(3));
    assert!(
        matches!(&s.reason, SkipReason::MissingAudio { expected } if expected.ends_with("19-198-0002.flac"))
    );
    assert!(ds.utterances.iter().all(|u| u.format == DatasetFormat::LibriSpeech));
    // The transcript file itself is accepted as the path.
    let one = load_dataset(&ch.join("19-198.trans.txt"), &Alphabet::default(), FPS).unwrap();
    assert_eq!(one.utterances.len(), 2);
}

#[test]
fn deepspeech_csv_with_quotes_relative_and_absolute_paths() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    let outside = tempfile::tempdir().unwrap();
    let abs = outside.path().join("far.wav");
    write_wav(&r.join("audio/one.wav"), &tone(1.0, 300.0));
    write_wav(&abs, &tone(1.0, 350.0));
    let csv = format!(
        "\u{feff}wav_filename,wav_filesize,transcript\n\
         audio/one.wav,32044,\"well, he said \"\"yes\"\"\"\n\
         {},32044,far away\n\
         audio/missing.wav,100,never recorded\n",
        abs.display()
    );
    write_text(&r.join("train.csv"), &csv);
    for path in [r.to_path_buf(), r.join("train.csv")] {
        let ds = load_dataset(&path, &Alphabet::default(), FPS).unwrap();
        let mut got: Vec<(PathBuf, String)> =
            ds.utterances.iter().map(|u| (u.audio.clone(), u.text.clone())).collect();
        got.sort();
        let mut want = vec![
            (r.join("audio/one.wav"), "well he said yes".to_string()),
            (abs.clone(), "far away".into()),
        ];
        want.sort();
        assert_eq!(got, want);
        assert_eq!(ds.report.skipped.len(), 1);
        let s = &ds.report.skipped[0];
        assert_eq!(s.file, r.join("train.csv"));
        assert_eq!(s.line, Some(4));
        assert!(
            matches!(&s.reason, SkipReason::MissingAudio { expected } if *expected == r.join("audio/missing.wav"))
        );
        assert_eq!(ds.report.formats[0].format, DatasetFormat::DeepSpeechCsv);
        assert_eq!(ds.report.formats[0].utterances, 2);
        assert_eq!(ds.report.formats[0].skipped, 1);
    }
}

#[test]
fn common_voice_tsv_with_clips_folder_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write_wav(&r.join("clips/c1.wav"), &tone(1.0, 300.0));
    write_wav(&r.join("clips/c2.wav"), &tone(1.0, 320.0));
    write_wav(&r.join("rel/c3.wav"), &tone(1.0, 340.0));
    let header = "client_id\tpath\tsentence\tup_votes\tdown_votes\n";
    // Common Voice is unquoted: a lone `"` is part of the sentence.
    write_text(
        &r.join("train.tsv"),
        &format!("{header}x\tc1.wav\tHe said \"hi, there\t2\t0\nx\trel/c3.wav\tThird one\t2\t0\n"),
    );
    write_text(
        &r.join("validated.tsv"),
        &format!("{header}x\tc1.wav\tHe said hi there\t2\t0\nx\tc2.wav\tSecond clip\t3\t0\n"),
    );
    write_text(&r.join("invalidated.tsv"), &format!("{header}x\tbad.wav\tnever used\t0\t3\n"));
    let ds = load_dataset(r, &Alphabet::default(), FPS).unwrap();
    assert_eq!(
        texts(&ds.utterances),
        pairs(&[
            ("clips/c1.wav", "he said hi there"),
            ("clips/c2.wav", "second clip"),
            ("rel/c3.wav", "third one"),
        ])
    );
    // c1 is in both train.tsv and validated.tsv: kept once, the repeat reported.
    assert_eq!(ds.report.skipped.len(), 1, "{}", ds.report);
    assert!(
        matches!(&ds.report.skipped[0].reason, SkipReason::Duplicate { first_source } if first_source.ends_with("train.tsv"))
    );
    assert_eq!(ds.report.formats.len(), 2);
    assert!(ds.report.formats.iter().all(|f| f.format == DatasetFormat::CommonVoiceTsv));
    let one = load_dataset(&r.join("validated.tsv"), &Alphabet::default(), FPS).unwrap();
    assert_eq!(one.utterances.len(), 2);
}

#[test]
fn ljspeech_uses_the_normalized_column() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write_wav(&r.join("wavs/LJ001-0001.wav"), &tone(2.0, 300.0));
    write_wav(&r.join("wavs/LJ001-0002.wav"), &tone(1.0, 300.0));
    write_text(
        &r.join("metadata.csv"),
        "LJ001-0001|Printing, in 1869, \"the art|Printing, in eighteen sixty-nine, \"the art\n\
         LJ001-0002|in being comparatively modern.|\n",
    );
    for path in [r.to_path_buf(), r.join("metadata.csv")] {
        let ds = load_dataset(&path, &Alphabet::default(), FPS).unwrap();
        assert_eq!(
            texts(&ds.utterances),
            pairs(&[
                ("wavs/LJ001-0001.wav", "printing in eighteen sixty nine the art"),
                ("wavs/LJ001-0002.wav", "in being comparatively modern"),
            ])
        );
        assert!(ds.report.skipped.is_empty());
        assert_eq!(ds.report.formats[0].format, DatasetFormat::LjSpeech);
    }
}

#[test]
fn empty_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_dataset(dir.path(), &Alphabet::default(), FPS).unwrap_err().to_string();
    assert!(err.contains("no labeled audio found"), "{err}");
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
    let missing = dir.path().join("nope");
    assert!(load_dataset(&missing, &Alphabet::default(), FPS).is_err());

    // Something found but nothing usable: training gets an error carrying the report, the scan
    // still returns the report for display.
    write_text(&dir.path().join("fake.wav"), "not audio");
    write_text(&dir.path().join("fake.txt"), "hello");
    let err = load_dataset(dir.path(), &Alphabet::default(), FPS).unwrap_err().to_string();
    assert!(err.contains("no usable utterances"), "{err}");
    assert!(err.contains("fake.wav: unreadable audio"), "{err}");
    let scan = scan_dataset(dir.path(), &Alphabet::default(), FPS).unwrap();
    assert_eq!((scan.utterances.len(), scan.report.skipped.len()), (0, 1));
}

#[test]
fn bad_data_is_reported_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write_wav(&r.join("good.wav"), &tone(1.0, 300.0));
    write_text(&r.join("good.txt"), "good");
    write_text(&r.join("fake.wav"), "this is not audio at all");
    write_text(&r.join("fake.txt"), "fake");
    write_wav(&r.join("foreign.wav"), &tone(1.0, 300.0));
    write_text(&r.join("foreign.txt"), "naïve café");
    write_wav(&r.join("blank.wav"), &tone(1.0, 300.0));
    write_text(&r.join("blank.txt"), "  ... \n");
    // 0.2 s at 50 frames/s = 10 frames; "aabbcc" needs 6 + 3 repeats = 9, "hello there friend" 18 + 1 (ll) = 19.
    write_wav(&r.join("short.wav"), &tone(0.2, 300.0));
    write_text(&r.join("short.txt"), "hello there friend");
    write_wav(&r.join("fits.wav"), &tone(0.2, 300.0));
    write_text(&r.join("fits.txt"), "aabbcc");
    write_wav(&r.join("untranscribed.wav"), &tone(1.0, 300.0));
    write_text(&r.join("lonely.txt"), "no audio for me");

    let ds = load_dataset(r, &Alphabet::default(), FPS).unwrap();
    assert_eq!(texts(&ds.utterances), pairs(&[("fits.wav", "aabbcc"), ("good.wav", "good")]));
    let reason = |name: &str| {
        ds.report
            .skipped
            .iter()
            .find(|s| s.file.file_name().unwrap() == name)
            .unwrap_or_else(|| panic!("{name} not reported:\n{}", ds.report))
            .reason
            .clone()
    };
    assert!(matches!(reason("fake.wav"), SkipReason::UnreadableAudio { .. }));
    assert_eq!(
        reason("foreign.txt"),
        SkipReason::CharactersOutsideAlphabet {
            chars: vec!['ï', 'é'], text: "naïve café".into()
        }
    );
    assert_eq!(reason("blank.txt"), SkipReason::EmptyTranscript);
    match reason("short.wav") {
        SkipReason::TooShort { frames_available, frames_needed, .. } => {
            assert_eq!((frames_available, frames_needed), (10, 19));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        reason("untranscribed.wav"),
        SkipReason::MissingTranscript { expected: r.join("untranscribed.txt") }
    );
    assert!(matches!(reason("lonely.txt"), SkipReason::MissingAudio { .. }));
    assert_eq!(ds.report.skipped.len(), 6, "{}", ds.report);

    // The human-readable report lists every skipped file with its reason.
    let shown = ds.report.to_string();
    assert!(shown.contains("2 utterances"), "{shown}");
    for needle in [
        "fake.wav: unreadable audio",
        "'ï' (U+00EF)",
        "empty transcript",
        "too short",
        "missing transcript",
        "lonely.txt: missing audio",
    ] {
        assert!(shown.contains(needle), "{needle:?} not in\n{shown}");
    }
    // And it survives JSON for the GUI.
    let json = serde_json::to_string(&ds.report).unwrap();
    let back: hark::train::data::DatasetReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, ds.report);
}

fn fake_utterance(id: String, duration_s: f64) -> Utterance {
    Utterance {
        audio: PathBuf::from(&id),
        id,
        transcript_source: PathBuf::new(),
        format: DatasetFormat::Paired,
        text: "a".into(),
        labels: vec![2],
        duration_s,
    }
}

#[test]
fn split_is_deterministic_and_near_the_percentage() {
    let utts: Vec<Utterance> =
        (0..4000).map(|i| fake_utterance(format!("spk{}/utt{i:05}.wav", i % 17), 1.0)).collect();
    let (t1, v1) = split_by_hash(utts.clone(), 10.0).unwrap();
    let (t2, v2) = split_by_hash(utts.clone(), 10.0).unwrap();
    assert_eq!((t1.len(), v1.len()), (t2.len(), v2.len()));
    assert_eq!(v1, v2);
    assert_eq!(t1.len() + v1.len(), 4000);
    // Binomial(4000, 0.1): σ ≈ 19, so ±80 is > 4σ.
    assert!((v1.len() as i64 - 400).abs() < 80, "{}", v1.len());
    // Membership depends on the id only: a subset splits the same way.
    let (_, v_sub) = split_by_hash(utts[..1000].to_vec(), 10.0).unwrap();
    let want: Vec<&Utterance> = v1.iter().filter(|u| utts[..1000].contains(u)).collect();
    assert_eq!(v_sub.iter().collect::<Vec<_>>(), want);
    // Growing the percentage only adds utterances.
    assert!(v1.iter().all(|u| is_validation(&u.id, 20.0)));
    assert_eq!(split_by_hash(utts.clone(), 0.0).unwrap().1.len(), 0);
    assert_eq!(split_by_hash(utts, 100.0).unwrap().0.len(), 0);
}

#[test]
fn explicit_validation_folder() {
    let train = tempfile::tempdir().unwrap();
    let val = tempfile::tempdir().unwrap();
    for i in 0..3 {
        write_wav(&train.path().join(format!("t{i}.wav")), &tone(1.0, 300.0));
        write_text(&train.path().join(format!("t{i}.txt")), "train");
    }
    write_wav(&val.path().join("v.wav"), &tone(1.0, 300.0));
    write_text(&val.path().join("v.txt"), "valid");
    let split = ValidationSplit::Folder { path: val.path().to_path_buf() };
    let tv = load_train_validation(train.path(), &split, &Alphabet::default(), FPS).unwrap();
    assert_eq!(tv.train.len(), 3);
    assert_eq!(tv.validation.len(), 1);
    assert_eq!(tv.validation[0].text, "valid");
    assert!(tv.validation_report.is_some());
}

/// A stand-in feature function: 10 ms frames, D = 3, every value non-zero (no warping).
fn frame_features(samples: &[f32], _warp: f64) -> hark::Result<Array2<f32>> {
    let t = samples.len() / 160;
    Ok(Array2::from_shape_fn((t, 3), |(i, j)| {
        let frame = &samples[i * 160..(i + 1) * 160];
        match j {
            0 => 1.0 + rms(frame) as f32,
            1 => 1.0 + i as f32,
            _ => 2.0 + frame[0],
        }
    }))
}

/// A folder of `n` tones of different lengths, loaded.
fn tone_dataset(n: usize) -> (tempfile::TempDir, Vec<Utterance>) {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..n {
        let secs = 0.3 + 0.07 * ((i * 7) % n) as f64;
        write_wav(&dir.path().join(format!("u{i:02}.wav")), &tone(secs, 200.0 + 20.0 * i as f32));
        write_text(
            &dir.path().join(format!("u{i:02}.txt")),
            &format!("utterance {}", "x".repeat(i % 4 + 1)),
        );
    }
    let ds = load_dataset(dir.path(), &Alphabet::default(), FPS).unwrap();
    assert_eq!(ds.utterances.len(), n, "{}", ds.report);
    (dir, ds.utterances)
}

#[test]
fn batches_pad_correctly_and_cover_every_utterance_once_per_epoch() {
    let (_dir, utts) = tone_dataset(13);
    let durations: Vec<f64> = utts.iter().map(|u| u.duration_s).collect();
    let opts =
        BatchOptions { max_batch_frames: 300, max_batch_size: 4, feature_frames_per_second: 100.0 };
    let plan = BatchPlan::new(&durations, &opts).unwrap();
    let cache = FeatureCache::new(1 << 30);
    let builder = BatchBuilder {
        utterances: &utts,
        cache: &cache,
        features: &frame_features,
        augmenter: None,
    };
    let mut orders = Vec::new();
    for epoch in 0..3 {
        let order = plan.epoch(42, epoch);
        assert_eq!(order, plan.epoch(42, epoch), "same seed, same order");
        let mut seen = Vec::new();
        for idx in &order {
            let batch = builder.build(idx, epoch).unwrap();
            let (t, b, d) = batch.features.dim();
            assert_eq!((b, d), (idx.len(), 3));
            assert!(b <= 4 && (b == 1 || b * t <= 300), "{b} × {t}");
            for (j, &u) in batch.utterances.iter().enumerate() {
                let samples = hark::audio::read_mono_16k(&utts[u].audio).unwrap();
                let want = frame_features(&samples, 1.0).unwrap();
                assert_eq!(batch.lengths[j], want.nrows());
                assert_eq!(batch.targets[j], utts[u].labels);
                for ti in 0..t {
                    for k in 0..d {
                        let got = batch.features[[ti, j, k]];
                        let expect = if ti < want.nrows() { want[[ti, k]] } else { 0.0 };
                        assert_eq!(got, expect, "utt {u} frame {ti} coef {k}");
                    }
                }
            }
            seen.extend(batch.utterances);
        }
        seen.sort();
        assert_eq!(seen, (0..utts.len()).collect::<Vec<_>>());
        orders.push(order.iter().map(|b| b.to_vec()).collect::<Vec<_>>());
    }
    assert!(orders[0] != orders[1] || orders[1] != orders[2], "epochs are shuffled");
    assert!(plan.batches().len() >= 4);
}

#[test]
fn cache_computes_each_file_once_and_returns_identical_features() {
    let (_dir, utts) = tone_dataset(6);
    let calls = AtomicUsize::new(0);
    let counting = |s: &[f32], warp: f64| {
        calls.fetch_add(1, Ordering::SeqCst);
        frame_features(s, warp)
    };
    let cache = FeatureCache::new(1 << 30);
    let builder =
        BatchBuilder { utterances: &utts, cache: &cache, features: &counting, augmenter: None };
    let all: Vec<usize> = (0..utts.len()).collect();
    let first = builder.build(&all, 0).unwrap();
    let second = builder.build(&all, 1).unwrap();
    let third = builder.build(&all[2..4], 2).unwrap();
    assert_eq!(first, second);
    assert_eq!(calls.load(Ordering::SeqCst), utts.len());
    let stats = cache.stats();
    assert_eq!((stats.entries, stats.computed, stats.hits), (6, 6, 8));
    assert_eq!(
        third.features.slice(ndarray::s![..third.lengths[0], 0, ..]),
        first.features.slice(ndarray::s![..third.lengths[0], 2, ..])
    );

    // A budget that holds nothing: every request recomputes, results unchanged.
    let calls_before = calls.load(Ordering::SeqCst);
    let tiny = FeatureCache::new(16);
    let builder =
        BatchBuilder { utterances: &utts, cache: &tiny, features: &counting, augmenter: None };
    assert_eq!(builder.build(&all, 0).unwrap(), first);
    assert_eq!(builder.build(&all, 1).unwrap(), first);
    assert_eq!(calls.load(Ordering::SeqCst) - calls_before, 12);
    assert_eq!(tiny.stats().entries, 0);
}

fn snr_db(clean: &[f32], noisy: &[f32]) -> f64 {
    let noise: Vec<f32> = noisy.iter().zip(clean).map(|(n, c)| n - c).collect();
    20.0 * (rms(clean) / rms(&noise)).log10()
}

#[test]
fn noise_lands_at_the_requested_snr() {
    let clean = tone(1.0, 440.0);
    for kind in [NoiseKind::White, NoiseKind::Pink] {
        for snr in [0.0, 7.5, 20.0, 35.0] {
            let mut noisy = clean.clone();
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            assert!(add_noise(&mut noisy, snr, kind, &mut rng));
            let measured = snr_db(&clean, &noisy);
            assert!((measured - snr).abs() < 0.5, "{kind:?} {snr} dB measured {measured}");
        }
    }
}

/// Frequency from upward zero crossings, interpolated, away from the edges.
fn tone_frequency(x: &[f32]) -> f64 {
    let (a, b) = (x.len() / 10, x.len() * 9 / 10);
    let mut crossings = Vec::new();
    for i in a..b {
        if x[i] <= 0.0 && x[i + 1] > 0.0 {
            crossings.push(i as f64 + f64::from(x[i] / (x[i] - x[i + 1])));
        }
    }
    let n = crossings.len() as f64 - 1.0;
    n / ((crossings.last().unwrap() - crossings[0]) / 16000.0)
}

#[test]
fn speed_perturbation_changes_length_and_pitch_together() {
    let x = tone(1.0, 440.0);
    assert!((tone_frequency(&x) - 440.0).abs() < 0.5);
    for factor in [1.1, 0.9] {
        let y = speed_perturb(&x, factor).unwrap();
        let want_len = x.len() as f64 / factor;
        assert!((y.len() as f64 - want_len).abs() <= 2.0, "{factor}: {} vs {want_len}", y.len());
        let f = tone_frequency(&y);
        assert!((f - 440.0 * factor).abs() < 0.5, "{factor}: {f} Hz");
        // Amplitude is kept (band-limited resampling of an in-band tone).
        let mid = &y[y.len() / 4..y.len() * 3 / 4];
        assert!((rms(mid) - 0.5 / 2f64.sqrt()).abs() < 0.01, "{}", rms(mid));
    }
    assert!(speed_perturb(&x, 5.0).is_err());
}

/// A voiced-vowel stand-in: harmonics of 125 Hz up to 3.5 kHz shaped by two formant bumps.
fn vowel(seconds: f64, formants_hz: [f32; 2]) -> Vec<f32> {
    let n = (seconds * 16000.0).round() as usize;
    let bump = |f: f32, c: f32| (-((f - c) / 250.0).powi(2)).exp();
    let harmonics: Vec<(f32, f32)> = (1..=28)
        .map(|k| {
            let f = 125.0 * k as f32;
            (f, 0.02 + bump(f, formants_hz[0]) + 0.6 * bump(f, formants_hz[1]))
        })
        .collect();
    (0..n)
        .map(|i| {
            let t = i as f32 / 16000.0;
            0.1 * harmonics.iter().map(|&(f, a)| a * (2.0 * PI * f * t).sin()).sum::<f32>()
        })
        .collect()
}

/// Mean of the cepstra c1..c12 (no energy, no deltas) over the middle half of the frames.
fn mean_cepstra(samples: &[f32], warp: f64) -> Vec<f64> {
    let f = hark::features::compute_warped(
        &hark::features::FeatureOptions::default(),
        None,
        samples,
        warp,
    )
    .unwrap();
    let (t0, t1) = (f.nrows() / 4, f.nrows() * 3 / 4);
    (1..13)
        .map(|k| (t0..t1).map(|t| f64::from(f[[t, k]])).sum::<f64>() / (t1 - t0) as f64)
        .collect()
}

#[test]
fn vtlp_warp_matches_a_frequency_scaling_of_the_audio() {
    // The filterbank warped by w reads the audio's spectrum as if every frequency were divided
    // by w; rubato's speed perturbation by 1/w divides every frequency of the audio itself. The
    // two cepstra must agree far better than the plain cepstra of the two signals do.
    let dist =
        |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
    let x = vowel(1.0, [700.0, 1800.0]);
    let plain = mean_cepstra(&x, 1.0);
    assert_eq!(
        hark::features::compute_warped(&hark::features::FeatureOptions::default(), None, &x, 1.0)
            .unwrap(),
        hark::features::compute(&hark::features::FeatureOptions::default(), &x).unwrap(),
        "warp 1 is the plain front end"
    );
    for warp in [0.9, 1.1] {
        let scaled = speed_perturb(&x, 1.0 / warp).unwrap();
        let want = mean_cepstra(&scaled, 1.0);
        let got = mean_cepstra(&x, warp);
        let (d_warp, d_plain) = (dist(&got, &want), dist(&plain, &want));
        assert!(d_warp < 0.3 * d_plain, "warp {warp}: {d_warp:.3} vs unwarped {d_plain:.3}");
    }
}

#[test]
fn vtlp_draws_a_warp_per_utterance_and_skips_the_cache() {
    let opts = AugmentOptions {
        speed_enabled: false,
        noise_enabled: false,
        spec_augment_enabled: false,
        vtlp_enabled: true,
        vtlp_warp_min: 0.9,
        vtlp_warp_max: 1.1,
        ..AugmentOptions::default()
    };
    let aug = Augmenter::new(opts.clone(), 3).unwrap();
    let warps: Vec<f64> =
        (0..200).map(|e| aug.frequency_warp(&mut aug.rng_for(e, "spk/u1.wav"))).collect();
    assert!(warps.iter().all(|w| (0.9..=1.1).contains(w)));
    let (lo, hi) = warps.iter().fold((2.0f64, 0.0f64), |(l, h), &w| (l.min(w), h.max(w)));
    assert!(lo < 0.92 && hi > 1.08, "uniform over the range: {lo}..{hi}");
    // VTLP off draws nothing: the random stream of runs without it is unchanged.
    let off = Augmenter::new(AugmentOptions::default(), 3).unwrap();
    let mut rng = off.rng_for(0, "u");
    assert_eq!(off.frequency_warp(&mut rng), 1.0);
    assert_eq!(rng, off.rng_for(0, "u"));

    // The batch builder hands each utterance its own warp and caches nothing.
    let (_dir, utts) = tone_dataset(4);
    let cache = FeatureCache::new(1 << 30);
    let seen = std::sync::Mutex::new(Vec::new());
    let recording = |s: &[f32], warp: f64| {
        seen.lock().unwrap().push(warp);
        frame_features(s, warp)
    };
    let builder = BatchBuilder {
        utterances: &utts,
        cache: &cache,
        features: &recording,
        augmenter: Some(&aug),
    };
    builder.build(&[0, 1, 2, 3], 0).unwrap();
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|w| (0.9..=1.1).contains(w) && *w != 1.0), "{seen:?}");
    assert_eq!(cache.stats().entries, 0);

    // Out-of-range settings are refused, naming the field.
    for (min, max) in [(0.7, 1.1), (1.1, 0.9), (0.9, 1.3)] {
        let bad = AugmentOptions { vtlp_warp_min: min, vtlp_warp_max: max, ..opts.clone() };
        let e = Augmenter::new(bad, 1).unwrap_err().to_string();
        assert!(e.contains("vtlp_warp"), "{e}");
    }
}

#[test]
fn augment_settings_file_keeps_defaults_and_rejects_typos() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("aug.json");
    std::fs::write(&good, r#"{"vtlp_enabled": true, "speed_factors": [0.85, 1.0, 1.15]}"#).unwrap();
    let o = AugmentOptions::from_file(&good).unwrap();
    assert!(o.vtlp_enabled);
    assert_eq!(o.speed_factors, vec![0.85, 1.0, 1.15]);
    assert_eq!(o.noise_probability, AugmentOptions::default().noise_probability);
    let typo = dir.path().join("typo.json");
    std::fs::write(&typo, r#"{"vtlp": true}"#).unwrap();
    let e = AugmentOptions::from_file(&typo).unwrap_err().to_string();
    assert!(e.contains("typo.json") && e.contains("unknown field `vtlp`"), "{e}");
    let range = dir.path().join("range.json");
    std::fs::write(&range, r#"{"noise_probability": 2}"#).unwrap();
    let e = AugmentOptions::from_file(&range).unwrap_err().to_string();
    assert!(e.contains("range.json") && e.contains("noise_probability"), "{e}");
}

#[test]
fn masks_zero_exactly_their_widths() {
    let base = Array2::from_shape_fn((50, 13), |(t, d)| 1.0 + (t * 13 + d) as f32);
    let mut m = base.clone();
    apply_time_mask(&mut m, Mask { start: 10, width: 7 });
    let zero_rows: Vec<usize> = (0..50).filter(|&t| m.row(t).iter().all(|&v| v == 0.0)).collect();
    assert_eq!(zero_rows, (10..17).collect::<Vec<_>>());
    assert_eq!(m.iter().filter(|&&v| v == 0.0).count(), 7 * 13);
    let mut m = base.clone();
    apply_freq_mask(&mut m, Mask { start: 11, width: 5 }); // clipped at D = 13
    assert_eq!(m.iter().filter(|&&v| v == 0.0).count(), 2 * 50);

    // Random masks with fixed widths: exactly the configured widths, the rest untouched.
    let opts = AugmentOptions {
        time_mask_count: 1,
        time_mask_min_frames: 6,
        time_mask_max_frames: 6,
        freq_mask_count: 1,
        freq_mask_min_bins: 3,
        freq_mask_max_bins: 3,
        ..AugmentOptions::default()
    };
    for seed in 0..20 {
        let mut m = base.clone();
        let applied = spec_augment(&mut m, &opts, &mut ChaCha8Rng::seed_from_u64(seed));
        assert_eq!(applied.time.len(), 1);
        assert_eq!(applied.freq.len(), 1);
        let (tm, fm) = (applied.time[0], applied.freq[0]);
        assert_eq!((tm.width, fm.width), (6, 3));
        for ((t, d), &v) in m.indexed_iter() {
            let masked =
                (tm.start..tm.start + 6).contains(&t) || (fm.start..fm.start + 3).contains(&d);
            assert_eq!(v, if masked { 0.0 } else { base[[t, d]] });
        }
        assert_eq!(m.iter().filter(|&&v| v == 0.0).count(), 6 * 13 + 3 * 50 - 6 * 3);
    }

    // Default options: widths within [0, max], zeros exactly the union of the masks.
    let opts = AugmentOptions::default();
    let mut m = base.clone();
    let applied = spec_augment(&mut m, &opts, &mut ChaCha8Rng::seed_from_u64(9));
    for ((t, d), &v) in m.indexed_iter() {
        let masked = applied.time.iter().any(|k| (k.start..k.start + k.width).contains(&t))
            || applied.freq.iter().any(|k| (k.start..k.start + k.width).contains(&d));
        assert_eq!(v == 0.0, masked);
    }
    assert!(applied.time.iter().all(|k| k.width <= opts.time_mask_max_frames));
    assert!(applied.freq.iter().all(|k| k.width <= opts.freq_mask_max_bins));

    // A short utterance: no time mask covers more than time_mask_max_fraction of it.
    let wide = AugmentOptions {
        time_mask_count: 3,
        time_mask_min_frames: 20,
        time_mask_max_frames: 20,
        time_mask_max_fraction: 0.2,
        ..AugmentOptions::default()
    };
    for seed in 0..10 {
        let mut m = Array2::<f32>::ones((30, 13));
        let applied = spec_augment(&mut m, &wide, &mut ChaCha8Rng::seed_from_u64(seed));
        assert!(applied.time.iter().all(|k| k.width == 6), "{:?}", applied.time);
    }
}

#[test]
fn augmentation_is_reproducible_with_the_same_seed() {
    let x = tone(0.8, 300.0);
    let opts = AugmentOptions { noise_probability: 1.0, ..AugmentOptions::default() };
    let a = Augmenter::new(opts.clone(), 11).unwrap();
    let b = Augmenter::new(opts.clone(), 11).unwrap();
    let c = Augmenter::new(opts, 12).unwrap();
    let run = |aug: &Augmenter, epoch: u64| {
        let mut rng = aug.rng_for(epoch, "spk/u1.wav");
        let (wave, info) = aug.waveform(&x, &mut rng).unwrap();
        let mut f = frame_features(&wave, 1.0).unwrap();
        let masks = aug.features(&mut f, &mut rng);
        (wave, info, f, masks)
    };
    let ra = run(&a, 0);
    assert_eq!(ra, run(&b, 0));
    assert_ne!(ra.0, run(&c, 0).0);
    assert_ne!(ra.0, run(&a, 1).0);
    let info = &ra.1;
    assert!(info.noise_snr_db.is_some_and(|s| (10.0..=30.0).contains(&s)));
    assert!([0.9, 1.0, 1.1].contains(&info.speed_factor));

    // Through the batch builder: same (seed, epoch) → same batch; augmented features are not cached.
    let (_dir, utts) = tone_dataset(5);
    let cache = FeatureCache::new(1 << 30);
    let builder = BatchBuilder {
        utterances: &utts,
        cache: &cache,
        features: &frame_features,
        augmenter: Some(&a),
    };
    let idx = [0, 1, 2, 3, 4];
    assert_eq!(builder.build(&idx, 3).unwrap(), builder.build(&idx, 3).unwrap());
    assert_ne!(builder.build(&idx, 3).unwrap(), builder.build(&idx, 4).unwrap());
    assert_eq!(cache.stats().entries, 0);
    // SpecAugment alone reuses the cached, un-augmented features.
    let spec_only = Augmenter::new(
        AugmentOptions {
            speed_enabled: false,
            noise_enabled: false,
            bandlimit_enabled: false,
            ..AugmentOptions::default()
        },
        1,
    )
    .unwrap();
    let builder = BatchBuilder {
        utterances: &utts,
        cache: &cache,
        features: &frame_features,
        augmenter: Some(&spec_only),
    };
    builder.build(&idx, 0).unwrap();
    builder.build(&idx, 1).unwrap();
    assert_eq!(cache.stats().computed, 5);
}
