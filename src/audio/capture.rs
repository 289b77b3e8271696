//! Microphone capture: cpal → lock-free ring → worker (downmix, resample) → 16 kHz mono events.
//!
//! Shape legend: `C` device channels, `F` frames (one sample per channel) at the device rate,
//! `N` mono samples at 16 kHz. Interleaved buffers are `(F, C)` row-major.
//!
//! Threads and hand-offs (design habits 13, 14):
//! - cpal's audio thread runs the data callback, which only converts the device's samples to f32
//!   and copies whole frames into a single-producer/single-consumer ring (`RingWriter`). When the
//!   ring is full the rest of the buffer is dropped and counted (an overrun); the callback never
//!   locks, allocates, prints or touches the stream. Stream errors (device unplugged, server gone)
//!   go through a second lock-free ring to the worker.
//! - The worker thread owns the cpal stream. Every few milliseconds it drains the ring, downmixes
//!   to mono, resamples to 16 kHz and sends `CaptureEvent`s over an `mpsc` channel. When the
//!   device goes away it reports `DeviceLost`, drops the stream and tries to reopen the same
//!   device about once a second, reporting `Resumed` when it is back.
//! - `Capture::stop` (or drop) sends `Control::Stop` and joins the worker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample};
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use crate::audio::convert::{StreamResampler, downmix_into};
pub use crate::audio::devices::{
    DeviceConfig, DeviceInfo, is_monitor, is_user_facing, list_input_devices, select_device,
};
use crate::audio::devices::{host, open_device, open_error, quiet_alsa, stream_config};
use crate::{Error, Result};

/// What the worker tells the consumer, in stream order.
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureEvent {
    /// The next chunk of the 16 kHz mono stream (`(N,)`, samples in [-1, 1]).
    Audio(Vec<f32>),
    /// Input level over the last `level_interval_ms` of device audio (after downmix, before
    /// resampling), for a level meter. dBFS = 20·log10(x) with full scale 1.0, so a full-scale
    /// sine has rms −3.01 dBFS and peak 0 dBFS; silence is clamped to `SILENCE_DBFS`.
    Level { rms_dbfs: f32, peak_dbfs: f32 },
    /// The device stopped delivering audio (the message says why); the worker retries.
    DeviceLost(String),
    /// The device is open again after `DeviceLost`.
    Resumed,
    /// This many device samples (all channels) were dropped because the ring was full.
    Overrun(u64),
}

/// Level reported for digital silence (dBFS).
pub const SILENCE_DBFS: f32 = -120.0;

/// Tuning of the capture pipeline. `Default` suits speech.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureOptions {
    /// Capacity of the callback → worker ring, in milliseconds of device audio.
    pub ring_ms: u32,
    /// How often the worker wakes to drain the ring.
    pub poll_ms: u32,
    /// How much device audio one `Level` event summarizes.
    pub level_interval_ms: u32,
    /// Delay between attempts to reopen a lost device.
    pub retry_ms: u32,
    /// A stream that delivered audio and then none for this long is treated as lost (some
    /// backends stall silently instead of reporting an error when their server goes away).
    pub stall_ms: u32,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            ring_ms: 2000,
            poll_ms: 5,
            level_interval_ms: 50,
            retry_ms: 1000,
            stall_ms: 3000,
        }
    }
}

/// Counters shared with the audio callback (relaxed atomics: only totals matter).
#[derive(Debug, Default)]
pub struct RingStats {
    /// Device samples (all channels) written into the ring.
    pub written: AtomicU64,
    /// Device samples dropped because the ring was full.
    pub dropped: AtomicU64,
    /// Data callbacks run.
    pub callbacks: AtomicU64,
    /// Time of the last write, in ns since `epoch()`; lets the worker measure hand-off latency.
    pub last_write_ns: AtomicU64,
}

/// A process-wide time origin so the callback can store `Instant`s in an `AtomicU64`.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// Producer half of the callback → worker ring. Used only by the audio callback.
pub struct RingWriter {
    prod: HeapProd<f32>,
    channels: usize,
    stats: Arc<RingStats>,
}

/// Consumer half of the callback → worker ring.
pub struct RingReader {
    cons: HeapCons<f32>,
    stats: Arc<RingStats>,
}

/// A ring holding `capacity_frames` frames of `channels` interleaved f32 samples.
pub fn sample_ring(capacity_frames: usize, channels: usize) -> (RingWriter, RingReader) {
    let channels = channels.max(1);
    let rb = HeapRb::<f32>::new(capacity_frames.max(1) * channels);
    let (prod, cons) = rb.split();
    let stats = Arc::new(RingStats::default());
    (RingWriter { prod, channels, stats: stats.clone() }, RingReader { cons, stats })
}

impl RingWriter {
    /// The callback body: converts `data` (interleaved `(F, C)`) to f32 and pushes as many whole
    /// frames as fit; the rest is counted as dropped. Pushing whole frames keeps the channels
    /// aligned for the downmix after an overrun. No locks, no allocation, no I/O.
    pub fn write<T>(&mut self, data: &[T])
    where
        T: Sample,
        f32: FromSample<T>,
    {
        let fit = self.prod.vacant_len() / self.channels * self.channels;
        let n = data.len().min(fit);
        let pushed = self.prod.push_iter(data[..n].iter().map(|s| s.to_sample::<f32>()));
        let st = &self.stats;
        st.written.fetch_add(pushed as u64, Ordering::Relaxed);
        if pushed < data.len() {
            st.dropped.fetch_add((data.len() - pushed) as u64, Ordering::Relaxed);
        }
        st.callbacks.fetch_add(1, Ordering::Relaxed);
        st.last_write_ns.store(now_ns(), Ordering::Relaxed);
    }

    pub fn stats(&self) -> &Arc<RingStats> {
        &self.stats
    }
}

impl RingReader {
    /// Moves everything in the ring to the end of `out`; returns how many samples moved.
    pub fn drain_into(&mut self, out: &mut Vec<f32>) -> usize {
        let n = self.cons.occupied_len();
        let start = out.len();
        out.resize(start + n, 0.0);
        let got = self.cons.pop_slice(&mut out[start..]);
        out.truncate(start + got);
        got
    }

    pub fn stats(&self) -> &Arc<RingStats> {
        &self.stats
    }
}

/// Running RMS and peak over blocks of `interval` samples.
#[derive(Debug, Clone)]
pub struct LevelMeter {
    interval: usize,
    count: usize,
    sum_sq: f64,
    peak: f32,
}

impl LevelMeter {
    pub fn new(interval_samples: usize) -> Self {
        LevelMeter { interval: interval_samples.max(1), count: 0, sum_sq: 0.0, peak: 0.0 }
    }

    /// Feeds mono samples; calls `emit(rms_dbfs, peak_dbfs)` once per completed block.
    pub fn push(&mut self, mono: &[f32], mut emit: impl FnMut(f32, f32)) {
        for &x in mono {
            self.sum_sq += (x as f64) * (x as f64);
            self.peak = self.peak.max(x.abs());
            self.count += 1;
            if self.count == self.interval {
                let rms = (self.sum_sq / self.count as f64).sqrt() as f32;
                emit(to_dbfs(rms), to_dbfs(self.peak));
                self.count = 0;
                self.sum_sq = 0.0;
                self.peak = 0.0;
            }
        }
    }
}

/// 20·log10(amplitude), clamped below at `SILENCE_DBFS`.
pub fn to_dbfs(amplitude: f32) -> f32 {
    if amplitude <= 0.0 { SILENCE_DBFS } else { (20.0 * amplitude.log10()).max(SILENCE_DBFS) }
}

/// The worker's conversion path: interleaved device f32 `(F, C)` → mono `(F,)` → 16 kHz `(N,)`,
/// with a level meter on the mono signal. Scratch buffers are reused across calls.
pub struct Converter {
    channels: usize,
    resampler: StreamResampler,
    mono: Vec<f32>,
    meter: LevelMeter,
}

impl Converter {
    pub fn new(sample_rate_hz: u32, channels: u16, level_interval_ms: u32) -> Result<Self> {
        if channels == 0 {
            return Err(Error::Device("device reports 0 input channels".into()));
        }
        let interval = (sample_rate_hz as u64 * level_interval_ms as u64 / 1000) as usize;
        Ok(Converter {
            channels: channels as usize,
            resampler: StreamResampler::new(sample_rate_hz)?,
            mono: Vec::new(),
            meter: LevelMeter::new(interval),
        })
    }

    /// Converts one drained block; appends 16 kHz samples to `out` and calls `level` per meter
    /// block.
    pub fn process(
        &mut self,
        interleaved: &[f32],
        out: &mut Vec<f32>,
        level: impl FnMut(f32, f32),
    ) -> Result<()> {
        self.mono.clear();
        downmix_into(interleaved, self.channels, &mut self.mono);
        self.meter.push(&self.mono, level);
        self.resampler.push(&self.mono, out)
    }

    /// Emits the resampler's tail (end of stream or device lost).
    pub fn flush(&mut self, out: &mut Vec<f32>) -> Result<()> {
        self.resampler.flush(out)
    }
}

/// Builds the cpal input stream whose callback only feeds `writer`; stream errors go to `errors`.
fn build_stream(
    device: &cpal::Device,
    config: &cpal::SupportedStreamConfig,
    writer: RingWriter,
    errors: HeapProd<cpal::Error>,
) -> std::result::Result<cpal::Stream, cpal::Error> {
    fn typed<T>(
        device: &cpal::Device,
        cfg: cpal::StreamConfig,
        mut writer: RingWriter,
        mut errors: HeapProd<cpal::Error>,
    ) -> std::result::Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample + Send + 'static,
        f32: FromSample<T>,
    {
        device.build_input_stream::<T, _, _>(
            cfg,
            move |data: &[T], _: &cpal::InputCallbackInfo| writer.write(data),
            move |e| {
                // Full queue: the worker already knows something is wrong.
                let _ = errors.try_push(e);
            },
            None,
        )
    }
    let cfg = stream_config(device, config);
    match config.sample_format() {
        SampleFormat::I8 => typed::<i8>(device, cfg, writer, errors),
        SampleFormat::I16 => typed::<i16>(device, cfg, writer, errors),
        SampleFormat::I24 => typed::<cpal::I24>(device, cfg, writer, errors),
        SampleFormat::I32 => typed::<i32>(device, cfg, writer, errors),
        SampleFormat::I64 => typed::<i64>(device, cfg, writer, errors),
        SampleFormat::U8 => typed::<u8>(device, cfg, writer, errors),
        SampleFormat::U16 => typed::<u16>(device, cfg, writer, errors),
        SampleFormat::U24 => typed::<cpal::U24>(device, cfg, writer, errors),
        SampleFormat::U32 => typed::<u32>(device, cfg, writer, errors),
        SampleFormat::U64 => typed::<u64>(device, cfg, writer, errors),
        SampleFormat::F32 => typed::<f32>(device, cfg, writer, errors),
        SampleFormat::F64 => typed::<f64>(device, cfg, writer, errors),
        other => Err(cpal::Error::with_message(
            cpal::ErrorKind::UnsupportedConfig,
            format!("sample format {other} is not PCM audio"),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Capture handle and worker

/// Messages from the handle to the worker.
enum Control {
    Stop,
}

/// Running totals since `Capture::start` (all streams, across reopenings).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaptureStats {
    /// Device samples (all channels) that reached the worker.
    pub device_samples: u64,
    /// Device samples dropped on ring overrun.
    pub dropped_samples: u64,
    /// 16 kHz samples delivered in `Audio` events.
    pub output_samples: u64,
    /// Hand-off latency: time from a callback's write to the worker draining it (mean, max).
    pub handoff_mean_ms: f64,
    pub handoff_max_ms: f64,
}

/// A running microphone capture. Events arrive on `events()`; stop with `stop()` or by dropping.
pub struct Capture {
    device: DeviceInfo,
    events: Receiver<CaptureEvent>,
    control: Sender<Control>,
    worker: Option<JoinHandle<CaptureStats>>,
}

/// One open stream with its ring and conversion state.
struct Active {
    /// `None` once retired (see `retire`).
    stream: Option<cpal::Stream>,
    reader: RingReader,
    errors: HeapCons<cpal::Error>,
    converter: Converter,
    last_data: Option<Instant>,
    dropped_seen: u64,
}

impl Capture {
    /// Opens `device` (a name or id, exact or unique case-insensitive substring; `None` = the
    /// default input) in its default configuration and starts capturing.
    pub fn start(device: Option<&str>) -> Result<Capture> {
        Capture::start_with(device, CaptureOptions::default())
    }

    pub fn start_with(device: Option<&str>, options: CaptureOptions) -> Result<Capture> {
        if options.ring_ms == 0 || options.poll_ms == 0 || options.retry_ms == 0 {
            return Err(Error::Options(
                "capture ring_ms, poll_ms and retry_ms must be positive".into(),
            ));
        }
        let query = device.map(str::to_string);
        let (ev_tx, events) = mpsc::channel();
        let (ctl_tx, ctl_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let worker = std::thread::Builder::new()
            .name("hark-capture".into())
            .spawn(move || worker_main(query, options, ev_tx, ctl_rx, ready_tx))
            .map_err(|e| Error::Device(format!("cannot start the capture thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(info)) => {
                Ok(Capture { device: info, events, control: ctl_tx, worker: Some(worker) })
            }
            Ok(Err(e)) => {
                let _ = worker.join();
                Err(e)
            }
            Err(_) => {
                let _ = worker.join();
                Err(Error::Device("the capture thread ended while opening the device".into()))
            }
        }
    }

    /// The device being captured (its default configuration is the one in use).
    pub fn device(&self) -> &DeviceInfo {
        &self.device
    }

    /// The event stream. Never blocks the worker; drain it regularly.
    pub fn events(&self) -> &Receiver<CaptureEvent> {
        &self.events
    }

    /// Stops the stream and joins the worker; returns the totals.
    pub fn stop(mut self) -> CaptureStats {
        self.shutdown()
    }

    fn shutdown(&mut self) -> CaptureStats {
        let _ = self.control.send(Control::Stop);
        self.worker.take().and_then(|w| w.join().ok()).unwrap_or_default()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Worker {
    host: cpal::Host,
    query: Option<String>,
    options: CaptureOptions,
    events: Sender<CaptureEvent>,
    stats: CaptureStats,
    handoff_sum_ms: f64,
    handoff_n: u64,
    scratch: Vec<f32>,
    out: Vec<f32>,
}

fn worker_main(
    query: Option<String>,
    options: CaptureOptions,
    events: Sender<CaptureEvent>,
    control: Receiver<Control>,
    ready: SyncSender<Result<DeviceInfo>>,
) -> CaptureStats {
    let mut w = Worker {
        host: host(),
        query,
        options,
        events,
        stats: CaptureStats::default(),
        handoff_sum_ms: 0.0,
        handoff_n: 0,
        scratch: Vec::new(),
        out: Vec::new(),
    };
    let mut active = match w.open() {
        Ok((a, info)) => {
            let _ = ready.send(Ok(info));
            Some(a)
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return w.stats;
        }
    };
    let poll = Duration::from_millis(w.options.poll_ms as u64);
    let retry = Duration::from_millis(w.options.retry_ms as u64);
    let mut next_retry = Instant::now();
    loop {
        match control.recv_timeout(poll) {
            Ok(Control::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if let Some(a) = active.as_mut() {
            if let Some(reason) = w.pump(a) {
                w.finish_stream(a);
                retire(a.stream.take(), Duration::ZERO);
                active = None;
                let _ = w.events.send(CaptureEvent::DeviceLost(reason));
                next_retry = Instant::now() + retry;
            }
        } else if Instant::now() >= next_retry {
            // A fresh host: a sound server that went away is a new connection when it is back
            // (or ALSA while it is not).
            w.host = host();
            match w.open() {
                Ok((a, _)) => {
                    active = Some(a);
                    let _ = w.events.send(CaptureEvent::Resumed);
                }
                Err(_) => next_retry = Instant::now() + retry,
            }
        }
    }
    if let Some(mut a) = active {
        w.pump(&mut a);
        w.finish_stream(&mut a);
        retire(a.stream.take(), Duration::from_secs(1));
    }
    if w.handoff_n > 0 {
        w.stats.handoff_mean_ms = w.handoff_sum_ms / w.handoff_n as f64;
    }
    w.stats
}

/// Drops a stream on a thread of its own and waits at most `wait` for it. Closing can block
/// forever in the backend: with ALSA's pulse plugin, when the server dies, the plugin's mainloop
/// and cpal's stream thread deadlock on a libpulse mutex, and cpal's `Drop` joins that thread.
/// A stuck close then costs one parked thread instead of hanging `Capture::stop`.
fn retire(stream: Option<cpal::Stream>, wait: Duration) {
    let Some(stream) = stream else { return };
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let spawned = std::thread::Builder::new().name("hark-capture-close".into()).spawn(move || {
        drop(stream);
        let _ = done_tx.send(());
    });
    if spawned.is_ok() && !wait.is_zero() {
        let _ = done_rx.recv_timeout(wait);
    }
}

impl Worker {
    fn open(&mut self) -> Result<(Active, DeviceInfo)> {
        quiet_alsa();
        let (device, info, config) = open_device(&self.host, self.query.as_deref())?;
        let rate = config.sample_rate();
        let channels = config.channels();
        let frames = (rate as u64 * self.options.ring_ms as u64 / 1000).max(1) as usize;
        // Fix the time origin now, so the callback's first `now_ns` does not initialize it.
        let _ = epoch();
        let (writer, reader) = sample_ring(frames, channels as usize);
        let (err_prod, err_cons) = HeapRb::<cpal::Error>::new(16).split();
        let stream = build_stream(&device, &config, writer, err_prod)
            .map_err(|e| open_error(&info.name, &info.id, &e))?;
        stream.play().map_err(|e| open_error(&info.name, &info.id, &e))?;
        let converter = Converter::new(rate, channels, self.options.level_interval_ms)?;
        self.scratch.reserve(frames * channels as usize);
        let active = Active {
            stream: Some(stream),
            reader,
            errors: err_cons,
            converter,
            last_data: None,
            dropped_seen: 0,
        };
        Ok((active, info))
    }

    /// Drains the ring and sends events; returns `Some(reason)` when the stream is lost.
    fn pump(&mut self, a: &mut Active) -> Option<String> {
        self.scratch.clear();
        let got = a.reader.drain_into(&mut self.scratch);
        let now = Instant::now();
        if got > 0 {
            let written_ns = a.reader.stats().last_write_ns.load(Ordering::Relaxed);
            let ms = now_ns().saturating_sub(written_ns) as f64 / 1e6;
            self.handoff_sum_ms += ms;
            self.handoff_n += 1;
            self.stats.handoff_max_ms = self.stats.handoff_max_ms.max(ms);
            self.stats.device_samples += got as u64;
            a.last_data = Some(now);
            self.out.clear();
            let events = &self.events;
            let res = a.converter.process(&self.scratch, &mut self.out, |rms, peak| {
                let _ = events.send(CaptureEvent::Level { rms_dbfs: rms, peak_dbfs: peak });
            });
            if let Err(e) = res {
                return Some(format!("converting device audio failed: {e}"));
            }
            self.send_audio();
        }
        let dropped = a.reader.stats().dropped.load(Ordering::Relaxed);
        if dropped > a.dropped_seen {
            let _ = self.events.send(CaptureEvent::Overrun(dropped - a.dropped_seen));
            self.stats.dropped_samples += dropped - a.dropped_seen;
            a.dropped_seen = dropped;
        }
        while let Some(e) = a.errors.try_pop() {
            use cpal::ErrorKind as K;
            match e.kind() {
                // Recoverable or informational: the stream keeps running.
                K::Xrun | K::DeviceChanged | K::RealtimeDenied => {}
                _ => return Some(e.to_string()),
            }
        }
        if let Some(t) = a.last_data
            && now.duration_since(t) > Duration::from_millis(self.options.stall_ms as u64)
        {
            return Some(format!("no audio from the device for {} ms", self.options.stall_ms));
        }
        None
    }

    /// Sends the resampler's tail so every heard sample reaches the consumer.
    fn finish_stream(&mut self, a: &mut Active) {
        self.out.clear();
        if a.converter.flush(&mut self.out).is_ok() {
            self.send_audio();
        }
    }

    fn send_audio(&mut self) {
        if !self.out.is_empty() {
            self.stats.output_samples += self.out.len() as u64;
            let _ = self.events.send(CaptureEvent::Audio(self.out.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn sample_formats_convert_to_f32_full_scale() {
        // Integer full scale maps to [-1, 1): x / 2^(bits-1); unsigned formats are offset binary.
        let (mut w, mut r) = sample_ring(32, 1);
        w.write(&[i16::MIN, -16384i16, 0, 16384, i16::MAX]);
        w.write(&[0u16, 32768, 49152]);
        w.write(&[i32::MIN, 1 << 30]);
        w.write(&[i8::MIN, 64i8]);
        w.write(&[0u8, 128, 192]);
        w.write(&[0.25f32, -1.0]);
        w.write(&[-0.5f64]);
        w.write(&[cpal::I24::new(-(1 << 23)).unwrap(), cpal::I24::new(1 << 22).unwrap()]);
        let mut got = Vec::new();
        r.drain_into(&mut got);
        let want = [
            -1.0,
            -0.5,
            0.0,
            0.5,
            32767.0 / 32768.0, // i16
            -1.0,
            0.0,
            0.5, // u16
            -1.0,
            0.5, // i32
            -1.0,
            0.5, // i8
            -1.0,
            0.0,
            0.5, // u8
            0.25,
            -1.0,
            -0.5, // f32, f64
            -1.0,
            0.5, // i24
        ];
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() < 1e-6, "sample {i}: {g} vs {w}");
        }
    }

    #[test]
    fn ring_hand_off_keeps_order_across_threads() {
        // Producer thread writes 200 000 stereo frames (a counter in both channels) in 256-frame
        // callbacks; the consumer drains concurrently. Everything arrives, in order.
        let (mut w, mut r) = sample_ring(4096, 2);
        let total = 200_000usize;
        let producer = std::thread::spawn(move || {
            let mut buf = vec![0i32; 512];
            let mut next = 0usize;
            while next < total {
                let n = 256.min(total - next);
                for f in 0..n {
                    let v = ((next + f) as i32) << 8;
                    buf[2 * f] = v;
                    buf[2 * f + 1] = v;
                }
                // Only write when it fits, so this test sees no drops (the overrun test does).
                while w.prod.vacant_len() < 2 * n {
                    std::thread::yield_now();
                }
                w.write(&buf[..2 * n]);
                next += n;
            }
            w.stats().clone()
        });
        let mut got = Vec::with_capacity(2 * total);
        while got.len() < 2 * total {
            if r.drain_into(&mut got) == 0 {
                std::thread::yield_now();
            }
        }
        let stats = producer.join().unwrap();
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 0);
        assert_eq!(stats.written.load(Ordering::Relaxed), 2 * total as u64);
        for (i, f) in got.chunks_exact(2).enumerate() {
            let want = ((i as i32) << 8) as f32 / 2f32.powi(31);
            assert!(f[0] == want && f[1] == want, "frame {i}: {f:?}");
        }
    }

    #[test]
    fn stalled_consumer_counts_overruns_and_keeps_frames_whole() {
        // Ring of 100 stereo frames; the consumer stalls while 3 callbacks of 60 frames arrive.
        let (mut w, mut r) = sample_ring(100, 2);
        let cb: Vec<f32> = (0..120).map(|i| if i % 2 == 0 { 0.5 } else { -0.5 }).collect();
        for _ in 0..3 {
            w.write(&cb);
        }
        let stats = r.stats().clone();
        assert_eq!(stats.written.load(Ordering::Relaxed), 200);
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 160);
        let mut got = Vec::new();
        assert_eq!(r.drain_into(&mut got), 200);
        // Channels still alternate: only whole frames were stored.
        assert!(got.chunks_exact(2).all(|f| f == [0.5, -0.5]));
        // After draining, writing works again.
        w.write(&cb);
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 160);
    }

    /// Tone through the worker's path; returns the 16 kHz output.
    fn convert(rate: u32, channels: u16, interleaved: &[f32], chunk: usize, peak: f32) -> Vec<f32> {
        let mut c = Converter::new(rate, channels, 50).unwrap();
        let mut out = Vec::new();
        let mut levels = Vec::new();
        for ch in interleaved.chunks(chunk * channels as usize) {
            c.process(ch, &mut out, |r, p| levels.push((r, p))).unwrap();
        }
        c.flush(&mut out).unwrap();
        // Level meter on the mono signal: a sine of peak a has rms a/√2.
        let (r, p) = levels[levels.len() / 2];
        assert!((p - to_dbfs(peak)).abs() < 0.1, "peak {p} dBFS");
        assert!((r - to_dbfs(peak / 2f32.sqrt())).abs() < 0.2, "rms {r} dBFS");
        out
    }

    fn tone(rate: u32, freq: f64, amp: f64, secs: f64) -> Vec<f64> {
        let n = (rate as f64 * secs) as usize;
        (0..n).map(|i| amp * (2.0 * PI * freq * i as f64 / rate as f64).sin()).collect()
    }

    /// Level (dBFS rms) and frequency (DFT peak refined by zero crossings) of the middle second.
    fn analyse(x: &[f32]) -> (f64, f64) {
        let mid = &x[x.len() / 2 - 8000..x.len() / 2 + 8000];
        let rms = (mid.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / mid.len() as f64).sqrt();
        let mut ups = Vec::new();
        for i in 1..mid.len() {
            if mid[i - 1] < 0.0 && mid[i] >= 0.0 {
                ups.push((i - 1) as f64 - mid[i - 1] as f64 / (mid[i] - mid[i - 1]) as f64);
            }
        }
        let period = (ups[ups.len() - 1] - ups[0]) / (ups.len() - 1) as f64;
        (20.0 * rms.log10(), 16_000.0 / period)
    }

    #[test]
    fn conversions_to_16k_mono_keep_length_frequency_and_level() {
        let secs = 2.0;
        // 48 kHz stereo f32, the two channels equal.
        let t = tone(48_000, 440.0, 0.5, secs);
        let st: Vec<f32> = t.iter().flat_map(|&v| [v as f32, v as f32]).collect();
        let a = convert(48_000, 2, &st, 480, 0.5);
        // 44.1 kHz stereo i16 through the ring's conversion; right channel silent → −6 dB mono.
        let t = tone(44_100, 1000.0, 0.5, secs);
        let (mut w, mut r) = sample_ring(200_000, 2);
        let pcm: Vec<i16> = t.iter().flat_map(|&v| [(v * 32767.0).round() as i16, 0]).collect();
        w.write(&pcm);
        let mut f = Vec::new();
        r.drain_into(&mut f);
        let b = convert(44_100, 2, &f, 441, 0.25);
        // 16 kHz mono: identity.
        let t: Vec<f32> = tone(16_000, 3000.0, 0.25, secs).iter().map(|&v| v as f32).collect();
        let c = convert(16_000, 1, &t, 160, 0.25);
        assert_eq!(c, t);

        for (name, out, freq, amp) in [
            ("48k stereo", &a, 440.0, 0.5),
            ("44.1k i16", &b, 1000.0, 0.25),
            ("16k", &c, 3000.0, 0.25),
        ] {
            let n = out.len() as f64;
            assert!((n - 32_000.0).abs() <= 2_000.0, "{name}: {n} samples for 2 s");
            let (db, f) = analyse(out);
            let want = 20.0 * (amp / 2f64.sqrt()).log10();
            assert!((db - want).abs() < 0.1, "{name}: {db:.3} dBFS, want {want:.3}");
            assert!((f - freq).abs() < 0.5, "{name}: {f:.3} Hz, want {freq}");
        }
    }

    #[test]
    fn level_meter_reports_dbfs() {
        let mut m = LevelMeter::new(1600);
        let mut got = Vec::new();
        let x: Vec<f32> = tone(16_000, 500.0, 1.0, 0.2).iter().map(|&v| v as f32).collect();
        m.push(&x, |r, p| got.push((r, p)));
        m.push(&[0.0; 1600], |r, p| got.push((r, p)));
        assert_eq!(got.len(), 3);
        assert!((got[0].0 + 3.0103).abs() < 0.01 && got[0].1.abs() < 0.01, "{got:?}");
        assert_eq!(got[2], (SILENCE_DBFS, SILENCE_DBFS));
    }
}
