//! Microphone capture against the real audio stack.
//!
//! Without a microphone (no `PULSE_SERVER`, no /dev/snd — a headless machine) the library and
//! `hark devices` must say "no microphone found". With the virtual microphone
//! (`eval "$(scripts/vmic.sh start)"`, see shared/notes/headless.md §1) a known tone is played
//! into it with paplay and must come out of `Capture` at 16 kHz, in real time, with its level
//! and frequency intact; stopping and restarting the server must give `DeviceLost` then
//! `Resumed`. The two variants are selected by whether `PULSE_SERVER` is set.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hark::Error;
use hark::audio::capture::{Capture, CaptureEvent};

/// The live tests share one server; run them one at a time.
static LIVE: Mutex<()> = Mutex::new(());

fn vmic_running() -> bool {
    std::env::var_os("PULSE_SERVER").is_some()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vmic(args: &[&str]) -> std::process::Output {
    Command::new(repo().join("scripts/vmic.sh")).args(args).output().expect("run scripts/vmic.sh")
}

/// A 16 kHz mono 16-bit WAV of a sine: `secs` long, `freq_hz`, peak `amp`.
fn write_tone(path: &Path, freq_hz: f64, amp: f64, secs: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = (secs * 16_000.0) as usize;
    for i in 0..n {
        let x = amp * (2.0 * std::f64::consts::PI * freq_hz * i as f64 / 16_000.0).sin();
        w.write_sample((x * 32767.0).round() as i16).unwrap();
    }
    w.finalize().unwrap();
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len() as f64).sqrt()
}

/// Frequency from the mean spacing of upward zero crossings (interpolated), in Hz at 16 kHz.
fn zero_crossing_freq(x: &[f32]) -> f64 {
    let mut ups = Vec::new();
    for i in 1..x.len() {
        if x[i - 1] < 0.0 && x[i] >= 0.0 {
            let t = (i - 1) as f64 + (-x[i - 1] as f64) / (x[i] as f64 - x[i - 1] as f64);
            ups.push(t);
        }
    }
    assert!(ups.len() > 10, "too few zero crossings: {}", ups.len());
    let period = (ups[ups.len() - 1] - ups[0]) / (ups.len() - 1) as f64;
    16_000.0 / period
}

#[test]
fn without_a_microphone_start_and_devices_say_so() {
    // `hark devices` in a clean environment: no sound server reachable.
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .arg("devices")
        .env_remove("PULSE_SERVER")
        .env("XDG_RUNTIME_DIR", "/nonexistent-hark-test")
        .output()
        .unwrap();
    if Path::new("/dev/snd").exists() {
        eprintln!("skipped: this machine has a sound card");
        return;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("no microphone found:"), "stderr: {stderr}");
    assert!(!stderr.contains("ALSA lib"), "alsa-lib's own lines reach the user: {stderr}");
    assert!(out.stdout.is_empty());

    if vmic_running() {
        return; // the library half needs the process environment without PULSE_SERVER
    }
    match Capture::start(None) {
        Err(Error::Device(msg)) => assert!(msg.starts_with("no microphone found: "), "{msg}"),
        Err(e) => panic!("wrong error kind: {e}"),
        Ok(c) => panic!("opened {:?} on a machine without a microphone", c.device()),
    }
    match Capture::start(Some("no such microphone")) {
        Err(Error::Device(msg)) => assert!(msg.contains("no input device matches"), "{msg}"),
        Err(e) => panic!("wrong error kind: {e}"),
        Ok(c) => panic!("opened {:?}", c.device()),
    }
}

/// With a sound server, devices are the server's sources under the names it gives them (the
/// virtual microphone's `device.description` is "VirtualMic"), the default first and monitors
/// (what a sink plays) after the microphones; not ALSA's single "default" PCM.
#[test]
fn devices_are_the_sound_servers_sources_with_its_names() {
    if !vmic_running() {
        eprintln!("skipped: no virtual microphone");
        return;
    }
    let devices = hark::audio::capture::list_input_devices().unwrap();
    let ids: Vec<&str> = devices.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(devices[0].id, "pulseaudio:vmic", "{ids:?}");
    assert_eq!(devices[0].name, "VirtualMic");
    assert!(devices[0].is_default);
    let mic = devices[0].default_config.as_ref().expect("the virtual microphone opens");
    assert_eq!((mic.sample_rate_hz, mic.channels), (16_000, 1));
    let monitor = ids.iter().position(|i| *i == "pulseaudio:vmic_sink.monitor");
    assert!(monitor.is_some_and(|m| m > 0), "{ids:?}");
    assert!(devices[monitor.unwrap()].name.starts_with("Monitor of"), "{devices:?}");
    assert!(!ids.iter().any(|i| i.starts_with("alsa:")), "{ids:?}");

    let out = Command::new(env!("CARGO_BIN_EXE_hark")).arg("devices").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let first = stdout.lines().nth(1).unwrap_or_default();
    assert!(first.starts_with("* VirtualMic  [pulseaudio:vmic]  16000 Hz, 1 ch"), "{stdout}");
}

#[test]
fn virtual_microphone_tone_arrives_at_16k_in_real_time() {
    if !vmic_running() {
        eprintln!("skipped: no virtual microphone (eval \"$(scripts/vmic.sh start)\")");
        return;
    }
    let _guard = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    // 1 kHz at peak 0.25: rms 0.25/√2 = −15.05 dBFS.
    let (freq, amp, secs) = (1000.0, 0.25, 2.0);
    write_tone(&wav, freq, amp, secs);

    let cap = Capture::start(None).expect("open the virtual microphone");
    let t0 = Instant::now();
    let player = {
        let wav = wav.clone();
        std::thread::spawn(move || vmic(&["play", wav.to_str().unwrap()]))
    };
    let mut audio: Vec<f32> = Vec::new();
    let mut loud_level_at = None;
    let deadline = t0 + Duration::from_secs_f64(secs + 2.0);
    while Instant::now() < deadline {
        match cap.events().recv_timeout(Duration::from_millis(50)) {
            Ok(CaptureEvent::Audio(a)) => audio.extend_from_slice(&a),
            Ok(CaptureEvent::Level { rms_dbfs, .. }) => {
                if rms_dbfs > -30.0 && loud_level_at.is_none() {
                    loud_level_at = Some(t0.elapsed());
                }
            }
            Ok(other) => panic!("unexpected event {other:?}"),
            Err(_) => {}
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let stats = cap.stop();
    let played = player.join().unwrap();
    assert!(played.status.success(), "paplay: {}", String::from_utf8_lossy(&played.stderr));

    // Real time: the stream delivered about as many 16 kHz samples as wall-clock time allows
    // (minus the start-up of the stream and the resampler's block delay).
    let rate = audio.len() as f64 / elapsed;
    assert!((13_000.0..=16_500.0).contains(&rate), "{} samples in {elapsed:.2} s", audio.len());
    assert_eq!(stats.dropped_samples, 0);

    let onset = audio.iter().position(|x| x.abs() > 0.05).expect("the tone was not heard");
    let start = onset + 1600; // skip 100 ms of fade-in through the resamplers
    let body = &audio[start..start + 16_000];
    let level_db = 20.0 * rms(body).log10();
    let want_db = 20.0 * (amp / 2f64.sqrt()).log10();
    assert!((level_db - want_db).abs() < 1.0, "level {level_db:.2} dBFS, want {want_db:.2}");
    let f = zero_crossing_freq(body);
    assert!((f - freq).abs() < 2.0, "frequency {f:.2} Hz, want {freq}");
    // The tone lasts `secs`: count samples above half amplitude's envelope.
    let heard = audio[onset..].iter().filter(|x| x.abs() > 0.05).count() as f64;
    let loud_fraction = 1.0 - (0.05 / amp).asin() / std::f64::consts::FRAC_PI_2; // of a sine
    let dur = heard / loud_fraction / 16_000.0;
    assert!((dur - secs).abs() < 0.1, "tone lasted {dur:.3} s, want {secs}");
    eprintln!(
        "tone: level {level_db:.2} dBFS (want {want_db:.2}), {f:.2} Hz, {dur:.3} s; \
         {:.0} samples/s; first loud Level event {:?} after play; hand-off mean {:.2} ms max {:.2} ms",
        rate, loud_level_at, stats.handoff_mean_ms, stats.handoff_max_ms
    );
}

#[test]
fn virtual_microphone_loss_is_reported_and_recovered() {
    if !vmic_running() {
        eprintln!("skipped: no virtual microphone");
        return;
    }
    let _guard = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    // By the sound server's own name for it (scripts/vmic.sh's device.description).
    let cap = Capture::start(Some("VirtualMic")).expect("open the virtual microphone by name");
    assert_eq!(cap.device().id, "pulseaudio:vmic", "{:?}", cap.device());
    let wait_for = |what: &str, pred: &dyn Fn(&CaptureEvent) -> bool, secs: u64| {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Ok(ev) = cap.events().recv_timeout(Duration::from_millis(50))
                && pred(&ev)
            {
                return;
            }
        }
        panic!("no {what} within {secs} s");
    };
    wait_for("audio", &|e| matches!(e, CaptureEvent::Audio(_)), 5);
    let stopped = vmic(&["stop"]);
    assert!(stopped.status.success());
    let lost_at = Instant::now();
    wait_for("DeviceLost", &|e| matches!(e, CaptureEvent::DeviceLost(_)), 6);
    let lost_after = lost_at.elapsed();
    let started = vmic(&["start"]);
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    wait_for("Resumed", &|e| matches!(e, CaptureEvent::Resumed), 6);
    wait_for("audio after resuming", &|e| matches!(e, CaptureEvent::Audio(_)), 6);
    cap.stop();
    eprintln!("loss reported {lost_after:?} after the server stopped");
}
