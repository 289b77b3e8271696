//! Transcript export formats: plain text, JSON, SubRip (SRT) and WebVTT.
//!
//! - TXT: one line per segment.
//! - JSON: the whole [`Transcript`] (segments, words, per-character times and confidences).
//! - SRT / VTT: one cue per segment (segments already end at pauses); a segment longer than
//!   [`CueLimits::max_duration_s`] or [`CueLimits::max_chars`] is split recursively at the largest
//!   gap between its words (ties: the more balanced split) until every piece fits or is one word.
//!   Cue text longer than [`CueLimits::line_chars`] is wrapped onto two lines at the space nearest
//!   its middle. Times are rounded to the nearest millisecond: `00:00:01,234` (SRT),
//!   `00:00:01.234` (VTT, after a `WEBVTT` header).

use std::fmt::Write as _;
use std::str::FromStr;

use crate::runtime::transcribe::{Segment, Transcript, Word};
use crate::{Error, Result};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Txt,
    Json,
    Srt,
    Vtt,
}

impl Format {
    /// The file extension (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Txt => "txt",
            Format::Json => "json",
            Format::Srt => "srt",
            Format::Vtt => "vtt",
        }
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "txt" | "text" => Ok(Format::Txt),
            "json" => Ok(Format::Json),
            "srt" => Ok(Format::Srt),
            "vtt" | "webvtt" => Ok(Format::Vtt),
            _ => Err(Error::Options(format!("format {s:?}: expected txt, json, srt or vtt"))),
        }
    }
}

/// How long a subtitle cue may be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CueLimits {
    pub max_duration_s: f64,
    pub max_chars: usize,
    /// Longer cue text is wrapped onto two lines.
    pub line_chars: usize,
}

impl Default for CueLimits {
    fn default() -> Self {
        CueLimits { max_duration_s: 7.0, max_chars: 80, line_chars: 42 }
    }
}

/// One subtitle cue.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
}

/// Renders `t` in `format` with the default cue limits.
pub fn render(t: &Transcript, format: Format) -> Result<String> {
    Ok(match format {
        Format::Txt => to_txt(t),
        Format::Json => to_json(t)?,
        Format::Srt => to_srt(&cues(t, &CueLimits::default())),
        Format::Vtt => to_vtt(&cues(t, &CueLimits::default())),
    })
}

/// One line per segment.
pub fn to_txt(t: &Transcript) -> String {
    let mut out = String::new();
    for s in &t.segments {
        out.push_str(&s.text);
        out.push('\n');
    }
    out
}

/// The transcript as pretty-printed JSON, with a final newline.
pub fn to_json(t: &Transcript) -> Result<String> {
    let mut s = serde_json::to_string_pretty(t)
        .map_err(|e| Error::Options(format!("transcript to JSON: {e}")))?;
    s.push('\n');
    Ok(s)
}

/// The cues of a transcript: one per segment, long segments split at their largest word gaps.
pub fn cues(t: &Transcript, limits: &CueLimits) -> Vec<Cue> {
    let mut out = Vec::new();
    for s in &t.segments {
        segment_cues(s, limits, &mut out);
    }
    out
}

fn fits(words: &[Word], start_s: f64, end_s: f64, limits: &CueLimits) -> bool {
    words.len() <= 1
        || (end_s - start_s <= limits.max_duration_s && text_len(words) <= limits.max_chars)
}

fn text_len(words: &[Word]) -> usize {
    words.iter().map(|w| w.text.chars().count()).sum::<usize>() + words.len().saturating_sub(1)
}

fn join(words: &[Word]) -> String {
    words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ")
}

fn segment_cues(s: &Segment, limits: &CueLimits, out: &mut Vec<Cue>) {
    if s.words.is_empty() {
        if !s.text.is_empty() {
            out.push(Cue { start_s: s.start_s, end_s: s.end_s, text: s.text.clone() });
        }
        return;
    }
    split(&s.words, s.start_s, s.end_s, limits, out);
}

/// Emits `words` (spanning `start_s..end_s`) as one cue if it fits, else splits at the largest gap.
/// The first piece keeps `start_s`, the last keeps `end_s`; inner boundaries are the words' own
/// times, so the pause between two cues shows no text.
fn split(words: &[Word], start_s: f64, end_s: f64, limits: &CueLimits, out: &mut Vec<Cue>) {
    if fits(words, start_s, end_s, limits) {
        out.push(Cue { start_s, end_s, text: join(words) });
        return;
    }
    let total = text_len(words) as f64;
    let mut best = 1;
    let mut best_key = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for i in 1..words.len() {
        let gap = words[i].start_s - words[i - 1].end_s;
        let left = text_len(&words[..i]) as f64;
        // Gaps within a millisecond count as equal; then the split nearest the middle wins.
        let key = ((gap * 1000.0).round(), -(left - total / 2.0).abs());
        if key > best_key {
            best_key = key;
            best = i;
        }
    }
    let (a, b) = words.split_at(best);
    split(a, start_s, a[a.len() - 1].end_s, limits, out);
    split(b, b[0].start_s, end_s, limits, out);
}

/// `HH:MM:SS<sep>mmm`, rounded to the nearest millisecond (negative times clamp to 0).
pub fn timestamp(seconds: f64, sep: char) -> String {
    let ms =
        if seconds.is_finite() && seconds > 0.0 { (seconds * 1000.0).round() as u64 } else { 0 };
    let (h, m, s, f) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{h:02}:{m:02}:{s:02}{sep}{f:03}")
}

/// Cue text wrapped onto two lines at the space nearest the middle when longer than `line_chars`.
pub fn wrap(text: &str, line_chars: usize) -> String {
    let n = text.chars().count();
    if n <= line_chars {
        return text.to_string();
    }
    let mid = n as f64 / 2.0;
    let best = text
        .char_indices()
        .enumerate()
        .filter(|(_, (_, c))| *c == ' ')
        .min_by(|a, b| {
            let da = (a.0 as f64 - mid).abs();
            let db = (b.0 as f64 - mid).abs();
            da.total_cmp(&db)
        })
        .map(|(_, (byte, _))| byte);
    match best {
        Some(b) => format!("{}\n{}", &text[..b], &text[b + 1..]),
        None => text.to_string(),
    }
}

/// Millisecond-rounded (start, end) of a cue, the end at least 1 ms after the start.
fn cue_ms_times(c: &Cue, sep: char) -> (String, String) {
    let start = timestamp(c.start_s, sep);
    let mut end_s = c.end_s;
    if (end_s * 1000.0).round() <= (c.start_s.max(0.0) * 1000.0).round() {
        end_s = (c.start_s.max(0.0) * 1000.0).round() / 1000.0 + 0.001;
    }
    (start, timestamp(end_s, sep))
}

/// SubRip: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, a blank line after each.
pub fn to_srt(cues: &[Cue]) -> String {
    let limits = CueLimits::default();
    let mut out = String::new();
    for (i, c) in cues.iter().enumerate() {
        let (a, b) = cue_ms_times(c, ',');
        let _ = write!(out, "{}\n{a} --> {b}\n{}\n\n", i + 1, wrap(&c.text, limits.line_chars));
    }
    out
}

/// WebVTT: the `WEBVTT` header, then cues `HH:MM:SS.mmm --> HH:MM:SS.mmm`.
pub fn to_vtt(cues: &[Cue]) -> String {
    let limits = CueLimits::default();
    let mut out = String::from("WEBVTT\n\n");
    for c in cues {
        let (a, b) = cue_ms_times(c, '.');
        let _ = write!(out, "{a} --> {b}\n{}\n\n", wrap(&c.text, limits.line_chars));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::transcribe::CharTime;

    fn word(text: &str, start_s: f64, end_s: f64) -> Word {
        Word { text: text.into(), start_s, end_s, confidence: 0.5 }
    }

    fn segment(start_s: f64, end_s: f64, words: Vec<Word>) -> Segment {
        Segment { start_s, end_s, text: join(&words), confidence: 0.9, words, chars: vec![] }
    }

    fn two_segments() -> Transcript {
        Transcript {
            path: None,
            duration_s: 5.0,
            segments: vec![
                segment(0.5, 1.2346, vec![word("hello", 0.6, 0.9), word("world", 0.95, 1.2)]),
                segment(3661.0006, 3662.0, vec![word("again", 3661.1, 3661.9)]),
            ],
        }
    }

    #[test]
    fn timestamps_round_to_milliseconds() {
        assert_eq!(timestamp(0.0, ','), "00:00:00,000");
        assert_eq!(timestamp(1.2344, ','), "00:00:01,234");
        assert_eq!(timestamp(1.2346, '.'), "00:00:01.235");
        assert_eq!(timestamp(59.9996, ','), "00:01:00,000");
        assert_eq!(timestamp(3661.0006, '.'), "01:01:01.001");
        assert_eq!(timestamp(-0.5, ','), "00:00:00,000");
        assert_eq!(timestamp(f64::NAN, ','), "00:00:00,000");
        assert_eq!(timestamp(360_000.0, ','), "100:00:00,000");
    }

    #[test]
    fn txt_is_one_line_per_segment() {
        assert_eq!(to_txt(&two_segments()), "hello world\nagain\n");
    }

    #[test]
    fn srt_exact() {
        let t = two_segments();
        let expected = "1\n00:00:00,500 --> 00:00:01,235\nhello world\n\n\
                        2\n01:01:01,001 --> 01:01:02,000\nagain\n\n";
        assert_eq!(render(&t, Format::Srt).unwrap(), expected);
    }

    #[test]
    fn vtt_exact() {
        let t = two_segments();
        let expected = "WEBVTT\n\n00:00:00.500 --> 00:00:01.235\nhello world\n\n\
                        01:01:01.001 --> 01:01:02.000\nagain\n\n";
        assert_eq!(render(&t, Format::Vtt).unwrap(), expected);
    }

    #[test]
    fn json_times_are_milliseconds_and_confidences_four_places() {
        let mut t = two_segments();
        // What an f32 frame time looks like widened to f64.
        t.segments[0].start_s = 0.16f32 as f64;
        t.segments[0].confidence = 0.123_456_7;
        let text = to_json(&t).unwrap();
        assert!(text.contains("\"start_s\": 0.16,"), "{text}");
        assert!(text.contains("\"confidence\": 0.1235,"), "{text}");
        assert!(!text.contains("0.1599999"), "{text}");
    }

    #[test]
    fn json_round_trips_values() {
        let mut t = two_segments();
        t.segments[1].chars = vec![CharTime { ch: 'a', time_s: 3661.1, confidence: 0.75 }];
        let v: serde_json::Value = serde_json::from_str(&to_json(&t).unwrap()).unwrap();
        assert_eq!(v["duration_s"], 5.0);
        assert_eq!(v["path"], serde_json::Value::Null);
        assert_eq!(v["segments"][0]["text"], "hello world");
        assert_eq!(v["segments"][0]["words"][1]["end_s"], 1.2);
        assert_eq!(v["segments"][1]["chars"][0]["ch"], "a");
        assert_eq!(v["segments"][1]["chars"][0]["time_s"], 3661.1);
        assert_eq!(v["segments"][1]["chars"][0]["confidence"], 0.75);
    }

    #[test]
    fn long_segment_splits_at_largest_gap() {
        // 10 s: gaps of 0.1 s except a 1 s gap after "c".
        let words = vec![
            word("a", 0.0, 1.0),
            word("b", 1.1, 2.0),
            word("c", 2.1, 3.0),
            word("d", 4.0, 6.0),
            word("e", 6.1, 8.0),
            word("f", 8.1, 10.0),
        ];
        let t =
            Transcript { path: None, duration_s: 10.0, segments: vec![segment(0.0, 10.0, words)] };
        let c = cues(&t, &CueLimits::default());
        assert_eq!(
            c,
            vec![
                Cue { start_s: 0.0, end_s: 3.0, text: "a b c".into() },
                Cue { start_s: 4.0, end_s: 10.0, text: "d e f".into() },
            ]
        );
    }

    #[test]
    fn equal_gaps_split_in_the_middle_and_recurse_to_limits() {
        // 12 words of 10 chars, evenly spaced, 12 s: too long both in time and in characters.
        let words: Vec<Word> =
            (0..12).map(|i| word(&format!("{:0>10}", i), i as f64, i as f64 + 0.9)).collect();
        let t =
            Transcript { path: None, duration_s: 12.0, segments: vec![segment(0.0, 12.0, words)] };
        let limits = CueLimits::default();
        let c = cues(&t, &limits);
        // 12 → 6 + 6 (each 66 chars, 5.9 s: fits).
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].start_s, 0.0);
        assert_eq!(c[0].end_s, 5.9);
        assert_eq!(c[1].start_s, 6.0);
        assert_eq!(c[1].end_s, 12.0);
        for cue in &c {
            assert!(cue.text.chars().count() <= limits.max_chars);
            assert!(cue.end_s - cue.start_s <= limits.max_duration_s);
        }
        // A tighter limit splits further, down to single words at worst.
        let tight = CueLimits { max_duration_s: 1.5, max_chars: 80, line_chars: 42 };
        let c = cues(&t, &tight);
        assert!(c.len() >= 8, "{c:?}");
        let rejoined: Vec<&str> = c.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(rejoined.join(" "), t.segments[0].text);
    }

    #[test]
    fn single_long_word_is_one_cue() {
        let t = Transcript {
            path: None,
            duration_s: 9.0,
            segments: vec![segment(0.0, 9.0, vec![word("aaaaaa", 0.0, 9.0)])],
        };
        assert_eq!(cues(&t, &CueLimits::default()).len(), 1);
    }

    #[test]
    fn wrap_at_the_middle_space() {
        assert_eq!(wrap("short text", 42), "short text");
        let text = "the quick brown fox jumps over the lazy dog again";
        assert_eq!(wrap(text, 42), "the quick brown fox jumps\nover the lazy dog again");
        assert_eq!(wrap(&"x".repeat(50), 42), "x".repeat(50));
    }

    #[test]
    fn zero_length_cue_gets_one_millisecond() {
        let c = [Cue { start_s: 2.0, end_s: 2.0, text: "x".into() }];
        assert_eq!(to_srt(&c), "1\n00:00:02,000 --> 00:00:02,001\nx\n\n");
    }

    #[test]
    fn format_names() {
        assert_eq!("SRT".parse::<Format>().unwrap(), Format::Srt);
        assert_eq!("webvtt".parse::<Format>().unwrap(), Format::Vtt);
        assert!("doc".parse::<Format>().is_err());
        assert_eq!(Format::Json.extension(), "json");
    }
}
