//! Live recognition: latency and CPU while listening, with the default model
//! (`hark::model::default_model_dir()`; `HARK_MODEL` overrides). Not a criterion bench: latency
//! needs audio at real-time pace, so this binary (`harness = false`) runs whole listening
//! sessions and prints a table. Results: `benches/RESULTS.md` (Live section).
//!
//! ```text
//! cargo bench --bench live                 # paced feed (feed_realtime), 8 sentences
//! cargo bench --bench live -- --mic        # also through cpal + the virtual microphone
//!                                          # (scripts/vmic.sh start; PULSE_SERVER exported)
//! cargo bench --bench live -- --repeat 3   # sessions per path (default 2)
//! ```
//!
//! Decoding is what `hark listen` and the app do with that model: partials greedy in one pass,
//! finals with its `decoder.json` (beam, word LM, and the warp ensemble when it names one).
//!
//! Input: sentences spoken by espeak-ng at run time (22.05 kHz, resampled by Hark), each
//! followed by 1.5 s of silence, with 1 s of silence in front. The same stream goes through:
//! - **feed**: `feed_realtime` in 10 ms chunks, the path `hark listen --input FILE` uses;
//! - **mic** (`--mic`): a 16 kHz WAV played with `paplay` into the PulseAudio virtual microphone
//!   and captured by `Capture` (cpal → ring → resampler), the path `hark listen` uses.
//!
//! Either way a relay thread stands between the audio source and the recognizer worker: it
//! stamps the wall time at which every sample reached the recognizer and keeps a copy of the
//! audio. The ground truth comes from that copy (so microphone and PulseAudio delays, which
//! are outside Hark, do not count): speech = 10 ms frames above −45 dBFS, regions separated by
//! more than 0.7 s of quiet. Per region:
//! - **onset → first partial**: wall time of the first `Partial` of the region's utterance
//!   minus the time its first speech sample arrived;
//! - **end → final**: wall time of the region's last `Final` minus the time its last speech
//!   sample arrived, minus the configured `trailing_silence_ms` (the endpointer must hear that
//!   much silence before it may end an utterance, by design);
//! - **CPU**: process CPU time (utime + stime of `/proc/self/stat`, all threads: capture,
//!   relay, recognizer) over wall time, from the first sample sent to the worker's `Stopped`.
//!   `paplay` and the PulseAudio server are other processes and are not counted.
//!
//! A last row runs the same sentences once as 27 s of speech without pauses (0.15 s between
//! sentences): the partial window commits text and the endpointer forces a split at 15 s, so
//! its refresh compute and CPU show that cost stays bounded on long speech.
//!
//! Also printed: the recognizer's own compute time per partial refresh and per final
//! (`decode_ms` of the events), and the cost of one refresh against utterance length.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use hark::audio::capture::{Capture, CaptureEvent};
use hark::ctc::LanguageModel;
use hark::model::Model;
use hark::runtime::decoder::DecoderSetup;
use hark::runtime::messages::RecognizerEvent;
use hark::runtime::recognizer::{
    AudioInput, Recognizer, RecognizerHandle, RecognizerOptions, feed_realtime,
};

const SR: f64 = 16_000.0;
const SPEECH_DBFS: f64 = -45.0;
const REGION_GAP_S: f64 = 0.7;

const SENTENCES: &[&str] = &[
    "the quick brown fox jumps over the lazy dog",
    "please call stella",
    "ask her to bring these things with her from the store",
    "hello world",
    "six spoons of fresh snow peas and five thick slabs of blue cheese",
    "we also need a small plastic snake and a big toy frog for the kids",
    "she can scoop these things into three red bags",
    "and we will go meet her wednesday at the train station",
];

/// Process CPU time (user + system, all threads) in seconds.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    // USER_HZ: 100 on every Linux target (the kernel ABI fixes it, whatever CONFIG_HZ is).
    ticks / 100.0
}

fn espeak(text: &str, dir: &std::path::Path) -> Vec<f32> {
    let p = dir.join("s.wav");
    let ok = Command::new("espeak-ng").arg("-w").arg(&p).arg(text).status();
    assert!(ok.is_ok_and(|s| s.success()), "espeak-ng is needed (apt-get install espeak-ng)");
    hark::audio::read_mono_16k(&p).expect("espeak-ng output")
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 0 => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        n => v[n / 2],
    }
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NAN, f64::max)
}

/// Speech regions `[first, last]` (stream samples) of the received audio.
fn regions(audio: &[f32]) -> Vec<(usize, usize)> {
    let frame = (SR / 100.0) as usize;
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, c) in audio.chunks(frame).enumerate() {
        let ms = c.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / c.len() as f64;
        if 10.0 * ms.max(1e-20).log10() < SPEECH_DBFS {
            continue;
        }
        let first = i * frame + c.iter().position(|x| x.abs() > 1e-3).unwrap_or(0);
        let last = i * frame + c.iter().rposition(|x| x.abs() > 1e-3).unwrap_or(c.len() - 1);
        match out.last_mut() {
            Some(r) if (first - r.1) as f64 / SR <= REGION_GAP_S => r.1 = last,
            _ => out.push((first, last)),
        }
    }
    out
}

/// What one listening session recorded.
struct Session {
    /// (wall time, stream samples received so far) after each audio chunk.
    arrivals: Vec<(Instant, usize)>,
    audio: Vec<f32>,
    events: Vec<(Instant, RecognizerEvent)>,
    cpu_pct: f64,
}

impl Session {
    /// Wall time at which stream sample `s` reached the recognizer.
    fn arrival(&self, s: usize) -> Instant {
        let i = self.arrivals.partition_point(|&(_, n)| n <= s);
        self.arrivals[i.min(self.arrivals.len() - 1)].0
    }
}

/// Runs the recognizer over the audio that `source` delivers until it ends.
/// Recognizer options and the LM its finals use.
type Opts = (RecognizerOptions, Option<Arc<dyn LanguageModel>>);

fn listen(model: &Arc<Model>, opts: &Opts, source: Receiver<CaptureEvent>) -> Session {
    let rec = Recognizer::new(model.clone(), opts.1.clone(), opts.0.clone()).expect("recognizer");
    let (tx, rx) = mpsc::channel();
    let relay = std::thread::spawn(move || {
        let mut arrivals = Vec::new();
        let mut audio = Vec::new();
        for ev in source {
            if let CaptureEvent::Audio(a) = &ev {
                audio.extend_from_slice(a);
                arrivals.push((Instant::now(), audio.len()));
            }
            if tx.send(ev).is_err() {
                break;
            }
        }
        (arrivals, audio)
    });
    let handle = RecognizerHandle::spawn(rec, AudioInput::Events(rx), None, Box::new(|| {}))
        .expect("recognizer thread");
    let (cpu0, t0) = (cpu_s(), Instant::now());
    let mut events = Vec::new();
    loop {
        let ev = handle.events().recv_timeout(Duration::from_secs(120)).expect("worker stalled");
        let now = Instant::now();
        if ev == RecognizerEvent::Stopped {
            break;
        }
        if let RecognizerEvent::Error(e) = &ev {
            eprintln!("recognizer error: {e}");
        }
        events.push((now, ev));
    }
    let cpu_pct = (cpu_s() - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
    handle.join();
    let (arrivals, audio) = relay.join().unwrap();
    Session { arrivals, audio, events, cpu_pct }
}

/// Per-region latencies (ms) and compute times of one session.
#[derive(Default)]
struct Stats {
    onset_ms: Vec<f64>,
    final_ms: Vec<f64>,
    refresh_ms: Vec<f64>,
    final_decode_ms: Vec<f64>,
    cpu_pct: Vec<f64>,
    missed: usize,
    texts: Vec<String>,
}

fn measure(s: &Session, trailing_ms: f64, stats: &mut Stats) {
    stats.cpu_pct.push(s.cpu_pct);
    let regs = regions(&s.audio);
    for &(first, last) in &regs {
        let (a, b) = (first as f64 / SR, last as f64 / SR);
        // Utterances of this region: started (pre-roll included) at most 0.6 s before its
        // first speech sample and before its end.
        let in_region = |start_s: f32| (start_s as f64) > a - 0.6 && (start_s as f64) <= b;
        let partial = s.events.iter().find(
            |(_, e)| matches!(e, RecognizerEvent::Partial { start_s, .. } if in_region(*start_s)),
        );
        let finals: Vec<_> = s
            .events
            .iter()
            .filter(
                |(_, e)| matches!(e, RecognizerEvent::Final { start_s, .. } if in_region(*start_s)),
            )
            .collect();
        let (Some((tp, _)), Some((tf, _))) = (partial, finals.last()) else {
            stats.missed += 1;
            continue;
        };
        let since = |t: &Instant, s0: Instant| t.saturating_duration_since(s0).as_secs_f64() * 1e3;
        stats.onset_ms.push(since(tp, s.arrival(first)));
        stats.final_ms.push(since(tf, s.arrival(last)) - trailing_ms);
        let text: Vec<String> = finals
            .iter()
            .filter_map(|(_, e)| match e {
                RecognizerEvent::Final { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect();
        stats.texts.push(text.join(" | "));
    }
    for (_, e) in &s.events {
        match e {
            RecognizerEvent::Partial { decode_ms, .. } => stats.refresh_ms.push(*decode_ms as f64),
            RecognizerEvent::Final { decode_ms, .. } => {
                stats.final_decode_ms.push(*decode_ms as f64)
            }
            _ => {}
        }
    }
}

fn feed_session(model: &Arc<Model>, opts: &Opts, stream: &[f32]) -> Session {
    let (tx, rx) = mpsc::channel();
    let stream = stream.to_vec();
    let feeder = std::thread::spawn(move || {
        feed_realtime(&stream, &tx, 10, 1.0);
    });
    let s = listen(model, opts, rx);
    feeder.join().unwrap();
    s
}

/// Through cpal: the capture runs on the default input (the virtual microphone) while `wav`
/// is played into it.
fn mic_session(model: &Arc<Model>, opts: &Opts, wav: &std::path::Path) -> Session {
    let (tx, rx): (Sender<CaptureEvent>, _) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let (ready_tx, ready_rx) = mpsc::channel();
    let capture = std::thread::spawn(move || {
        let cap = Capture::start(None).expect("microphone (is scripts/vmic.sh running?)");
        let _ = ready_tx.send(cap.device().name.clone());
        while !stop2.load(Ordering::Relaxed) {
            match cap.events().recv_timeout(Duration::from_millis(20)) {
                Ok(ev) => {
                    if tx.send(ev).is_err() {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        cap.stop();
    });
    let device = ready_rx.recv().expect("capture thread");
    eprintln!("  capturing from {device}");
    let wav = wav.to_path_buf();
    let player = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let ok = Command::new("paplay").args(["-d", "vmic_sink"]).arg(&wav).status();
        assert!(ok.is_ok_and(|s| s.success()), "paplay failed");
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
    });
    let s = listen(model, opts, rx);
    player.join().unwrap();
    capture.join().unwrap();
    s
}

fn row(path: &str, st: &Stats, n_regions: usize) {
    println!(
        "| {path} | {} | {:.0} / {:.0} | {:.0} / {:.0} | {:.0} / {:.0} | {:.0} / {:.0} | {:.1} / {:.1} % |",
        st.onset_ms.len(),
        median(&st.onset_ms),
        max(&st.onset_ms),
        median(&st.final_ms),
        max(&st.final_ms),
        median(&st.refresh_ms),
        max(&st.refresh_ms),
        median(&st.final_decode_ms),
        max(&st.final_decode_ms),
        median(&st.cpu_pct),
        max(&st.cpu_pct),
    );
    if st.missed > 0 || st.onset_ms.len() != n_regions {
        println!(
            "  ({} of {n_regions} utterances not matched to a partial and a final)",
            st.missed
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return; // `cargo bench` probes benches with --list
    }
    let mic = args.iter().any(|a| a == "--mic");
    let repeat: usize = args
        .iter()
        .position(|a| a == "--repeat")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(2);
    let Some(dir) = hark::model::default_model_dir() else {
        eprintln!("no default model installed: set HARK_MODEL=DIR (see README, Live)");
        std::process::exit(2);
    };
    let model = Arc::new(Model::load(&dir).expect("loading the default model"));
    let a = &model.config.arch;
    // Decode as `hark listen` and the app do: the model's decoder.json (LM, beam, final warps).
    let setup = DecoderSetup::for_model(&dir).expect("the default model's decoder.json");
    let rec_opts = RecognizerOptions {
        beam: setup.beam.clone(),
        final_warps: setup.warps.clone(),
        ..RecognizerOptions::default()
    };
    let trailing_ms = rec_opts.endpoint.trailing_silence_ms as f64;

    let tmp = tempfile::tempdir().unwrap();
    let gap = vec![0.0f32; (1.5 * SR) as usize];
    let mut stream = vec![0.0f32; SR as usize];
    // The same sentences as one run of speech without pauses (0.15 s between sentences),
    // for the bounded cost of long utterances (commits, forced split at 15 s).
    let mut long = vec![0.0f32; SR as usize];
    let mut lens = Vec::new();
    for s in SENTENCES {
        let x = espeak(s, tmp.path());
        lens.push(x.len() as f64 / SR);
        stream.extend(&x);
        stream.extend(&gap);
        long.extend(&x);
        long.extend(vec![0.0f32; (0.15 * SR) as usize]);
    }
    long.extend(&gap);
    let n_regions = regions(&stream).len();
    println!(
        "model {} ({}x{} BiLSTM, stack {}, {:.0} output frames/s); {} sentences of {:.1}–{:.1} s \
         ({n_regions} speech regions), {:.1} s of audio per session, {repeat} sessions per path",
        dir.display(),
        a.layers,
        a.hidden,
        a.stack_frames,
        model.config.output_frames_per_second(),
        SENTENCES.len(),
        lens.iter().copied().fold(f64::INFINITY, f64::min),
        max(&lens),
        stream.len() as f64 / SR,
    );
    println!(
        "options: partial every {} ms over at most {} ms, trailing silence {} ms; finals: {}",
        rec_opts.partial_interval_ms,
        rec_opts.partial_window_ms,
        trailing_ms,
        setup.describe()
    );
    let opts: Opts = (rec_opts, setup.lm.clone());

    // The cost of one refresh (features + network + greedy) against the audio it covers.
    let speech: Vec<f32> = stream.iter().copied().filter(|x| x.abs() > 0.0).collect();
    let mut costs = Vec::new();
    for secs in [1.0, 2.0, 4.0, 8.0] {
        let x: Vec<f32> = speech.iter().copied().cycle().take((secs * SR) as usize).collect();
        let (mut tf, mut tn) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let t0 = Instant::now();
            let f = model.features(&x).unwrap();
            tf.push(t0.elapsed().as_secs_f64() * 1e3);
            let t0 = Instant::now();
            let _ = model.log_probs(f.view()).unwrap();
            tn.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        costs.push(format!("{secs:.0} s: {:.1} + {:.0} ms", median(&tf), median(&tn)));
    }
    println!("one refresh = features + network over (median of 3): {}", costs.join(", "));
    println!();

    let wav = tmp.path().join("stream16k.wav");
    hark::audio::write_wav_16k(&wav, &stream).unwrap();
    println!(
        "| path | utterances | onset→first partial ms (median / worst) | end of speech→final ms, \
         excl. {trailing_ms:.0} ms trailing silence (median / worst) | refresh compute ms | final \
         compute ms | CPU of one core (median / worst session) |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut paths = vec!["feed_realtime"];
    if mic {
        paths.push("cpal + virtual mic");
    }
    paths.push("feed_realtime, no pauses");
    let mut texts = Vec::new();
    for path in paths {
        let mut st = Stats::default();
        let (runs, regs) = if path.ends_with("no pauses") { (1, 1) } else { (repeat, n_regions) };
        for _ in 0..runs {
            let s = match path {
                "feed_realtime" => feed_session(&model, &opts, &stream),
                "cpal + virtual mic" => mic_session(&model, &opts, &wav),
                _ => feed_session(&model, &opts, &long),
            };
            measure(&s, trailing_ms, &mut st);
        }
        row(path, &st, regs * runs);
        texts.push((path, st.texts));
    }
    println!();
    for (path, t) in texts {
        println!("finals ({path}, first session; finals of one region joined by \" | \"):");
        for line in t.iter().take(n_regions) {
            println!("  {line}");
        }
    }
}
