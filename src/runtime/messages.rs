//! Typed messages between the live recognizer worker and its owner (CLI or GUI), design habit 14:
//! the worker sends [`RecognizerEvent`]s (then calls the owner's `notify` callback, e.g. egui's
//! `request_repaint`), the owner sends [`RecognizerCommand`]s.
//!
//! Times (`*_s`) are seconds of the audio stream since the recognizer started (its sample 0), so
//! they line up with a recording made with `--save`.

/// One word of a final transcript with its time span and confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct WordTiming {
    pub word: String,
    /// Start of the frame emitting the word's first character.
    pub start_s: f32,
    /// End of the frame emitting its last character.
    pub end_s: f32,
    /// Mean of its characters' posteriors (0..1).
    pub confidence: f32,
}

/// What the recognizer reports, in stream order.
#[derive(Debug, Clone, PartialEq)]
pub enum RecognizerEvent {
    /// Provisional text of the utterance being spoken (greedy decoding); replaced by later
    /// partials and finally by the `Final` with the same `utterance` number. Sent only when the
    /// text changed.
    Partial {
        utterance: u64,
        text: String,
        start_s: f32,
        /// Wall time spent computing it (features + network + decoding).
        decode_ms: f32,
    },
    /// The utterance's final transcript (prefix beam search, with the LM if one was given).
    Final {
        utterance: u64,
        text: String,
        start_s: f32,
        end_s: f32,
        /// Per-frame geometric mean of the acoustic probability (see `ctc::decode`), 0..1.
        confidence: f32,
        words: Vec<WordTiming>,
        /// One per character of `text`: stream time (s) of the frame emitting it.
        char_times_s: Vec<f32>,
        /// Wall time from detecting the endpoint to this transcript being ready.
        decode_ms: f32,
    },
    /// Input level over the last few tens of milliseconds (dBFS, full-scale sine rms = −3).
    Level { rms_dbfs: f32, peak_dbfs: f32 },
    /// The input device stopped delivering audio (the open utterance was finalized); the
    /// capture keeps trying to reopen it.
    DeviceLost(String),
    /// The device is back after `DeviceLost`.
    Resumed,
    /// Something failed (decoding, writing the recording); listening goes on when it can.
    Error(String),
    /// The worker has ended (after `Stop`, or when its input ended); nothing follows.
    Stopped,
}

/// What the owner can ask of the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecognizerCommand {
    /// Finalize the open utterance (if any), send `Stopped` and end.
    Stop,
    /// Drop the open utterance without a final and start endpointing afresh.
    Reset,
}
