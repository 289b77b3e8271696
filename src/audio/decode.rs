//! File decoders: WAV through hound, FLAC / MP3 / Ogg Vorbis through symphonia. Each yields
//! interleaved f32 blocks in [-1, 1] at the file's own rate; `AudioSource` (mod.rs) downmixes and
//! resamples them.
//!
//! Shape legend: `C` channels, `F` frames; decoded blocks are interleaved `(F, C)`.
//!
//! Hostile input: the container is chosen from the first bytes (not the extension), and a WAV
//! header is walked chunk by chunk and checked against the file size before hound sees it, so
//! absurd claims (data longer than the file, 0 channels, 0 Hz, zero-sized frames — the last two
//! divide by zero inside hound) become errors before anything is allocated or decoded.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use symphonia::core::codecs::audio::well_known::{CODEC_ID_FLAC, CODEC_ID_MP3, CODEC_ID_VORBIS};
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

use super::AudioInfo;
use crate::{Error, Result};

/// Supported file sample rates (Hz).
pub const MIN_FILE_RATE_HZ: u32 = 8_000;
pub const MAX_FILE_RATE_HZ: u32 = 192_000;
/// Most channels a file may have (7.1).
pub const MAX_CHANNELS: u16 = 8;
/// Frames per WAV block handed to the resampler (~85 ms at 48 kHz).
const WAV_BLOCK_FRAMES: usize = 4096;

/// The container, decided from the file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Wav,
    Flac,
    Mp3,
    Ogg,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// Identifies the container by magic bytes. An empty or unrecognized file is an error that shows
/// what the file starts with.
pub fn sniff(path: &Path, file: &mut File) -> Result<Container> {
    let mut head = [0u8; 12];
    let mut n = 0;
    while n < head.len() {
        let k = file.read(&mut head[n..]).map_err(io_err(path))?;
        if k == 0 {
            break;
        }
        n += k;
    }
    file.seek(SeekFrom::Start(0)).map_err(io_err(path))?;
    let head = &head[..n];
    if head.is_empty() {
        return Err(Error::audio(path, "empty file (0 bytes)"));
    }
    if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WAVE" {
        return Ok(Container::Wav);
    }
    if head.starts_with(b"RIFX") || head.starts_with(b"RF64") {
        return Err(Error::audio(path, "big-endian (RIFX) and RF64 WAV files are not supported"));
    }
    if head.starts_with(b"fLaC") {
        return Ok(Container::Flac);
    }
    if head.starts_with(b"OggS") {
        return Ok(Container::Ogg);
    }
    // An ID3v2 tag, or an MPEG audio frame header: 11 sync bits, then layer bits == 01 (layer III).
    if head.starts_with(b"ID3")
        || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0 && (head[1] >> 1) & 3 == 1)
    {
        return Ok(Container::Mp3);
    }
    let shown: String = head
        .iter()
        .map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' })
        .collect();
    Err(Error::audio(
        path,
        format!(
            "not a recognized audio file (expected WAV, FLAC, MP3 or Ogg Vorbis; it starts with \"{shown}\")"
        ),
    ))
}

fn check_rate_channels(path: &Path, rate: u32, channels: u16) -> Result<()> {
    if channels == 0 {
        return Err(Error::audio(path, "header says 0 channels"));
    }
    if channels > MAX_CHANNELS {
        return Err(Error::audio(
            path,
            format!("{channels} channels; at most {MAX_CHANNELS} are supported"),
        ));
    }
    if rate == 0 {
        return Err(Error::audio(path, "header says a sample rate of 0 Hz"));
    }
    if !(MIN_FILE_RATE_HZ..=MAX_FILE_RATE_HZ).contains(&rate) {
        return Err(Error::audio(
            path,
            format!(
                "sample rate {rate} Hz is outside the supported {MIN_FILE_RATE_HZ}–{MAX_FILE_RATE_HZ} Hz"
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// WAV
// ---------------------------------------------------------------------------------------------

/// What a WAV header claims, after checking it against the file.
#[derive(Debug, Clone)]
pub struct WavHeader {
    pub channels: u16,
    pub sample_rate_hz: u32,
    /// Significant bits per sample (the valid bits of WAVE_FORMAT_EXTENSIBLE when given).
    pub bits: u16,
    pub is_float: bool,
    pub block_align: u16,
    pub data_len: u64,
}

impl WavHeader {
    pub fn frames(&self) -> u64 {
        self.data_len / self.block_align as u64
    }
    pub fn info(&self) -> AudioInfo {
        let frames = self.frames();
        AudioInfo {
            format: "WAV".into(),
            sample_format: if self.is_float {
                format!("{}-bit float", self.bits)
            } else {
                format!("{}-bit int", self.bits)
            },
            sample_rate_hz: self.sample_rate_hz,
            channels: self.channels,
            frames: Some(frames),
            duration_s: Some(frames as f64 / self.sample_rate_hz as f64),
        }
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Walks the RIFF chunks up to `data`, reading only chunk headers and the small `fmt ` body, and
/// checks every claim against the file size.
pub fn read_wav_header(path: &Path, file: &mut File) -> Result<WavHeader> {
    let file_len = file.metadata().map_err(io_err(path))?.len();
    file.seek(SeekFrom::Start(12)).map_err(io_err(path))?;
    let mut pos = 12u64;
    let mut fmt: Option<WavHeader> = None;
    loop {
        let mut ch = [0u8; 8];
        if pos + 8 > file_len {
            return Err(Error::audio(
                path,
                if fmt.is_none() {
                    "WAV header ends before a 'fmt ' chunk (truncated file)"
                } else {
                    "WAV file has no 'data' chunk (truncated file)"
                },
            ));
        }
        file.read_exact(&mut ch).map_err(io_err(path))?;
        pos += 8;
        let id = [ch[0], ch[1], ch[2], ch[3]];
        let len = le32(&ch, 4) as u64;
        let remaining = file_len - pos;
        let id_str = String::from_utf8_lossy(&id).into_owned();
        match &id {
            b"fmt " => {
                // 16 (PCMWAVEFORMAT), 18 (WAVEFORMATEX) or 40 (EXTENSIBLE); allow a little slack.
                if !(16..=256).contains(&len) {
                    return Err(Error::audio(
                        path,
                        format!(
                            "'fmt ' chunk length {len} is not a WAV format header (16–40 bytes)"
                        ),
                    ));
                }
                if len > remaining {
                    return Err(Error::audio(
                        path,
                        "'fmt ' chunk runs past the end of the file (truncated)",
                    ));
                }
                let mut b = vec![0u8; len as usize];
                file.read_exact(&mut b).map_err(io_err(path))?;
                fmt = Some(parse_fmt(path, &b)?);
                pos += len;
                if len & 1 == 1 && pos < file_len {
                    file.seek(SeekFrom::Current(1)).map_err(io_err(path))?;
                    pos += 1;
                }
            }
            b"data" => {
                let Some(mut h) = fmt else {
                    return Err(Error::audio(path, "'data' chunk comes before the 'fmt ' chunk"));
                };
                if len > remaining {
                    return Err(Error::audio(
                        path,
                        format!(
                            "data chunk claims {len} bytes but only {remaining} bytes follow \
                             (truncated file or corrupt header)"
                        ),
                    ));
                }
                if len == 0 {
                    return Err(Error::audio(path, "no audio samples (empty data chunk)"));
                }
                if !len.is_multiple_of(h.block_align as u64) {
                    return Err(Error::audio(
                        path,
                        format!(
                            "data chunk length {len} is not a whole number of {}-byte frames \
                             (truncated or corrupt)",
                            h.block_align
                        ),
                    ));
                }
                h.data_len = len;
                return Ok(h);
            }
            _ => {
                // RIFF chunks are padded to an even length.
                let skip = len + (len & 1);
                if skip > remaining {
                    return Err(Error::audio(
                        path,
                        format!(
                            "chunk '{id_str}' claims {len} bytes but only {remaining} bytes follow \
                             (truncated or corrupt)"
                        ),
                    ));
                }
                file.seek(SeekFrom::Current(skip as i64)).map_err(io_err(path))?;
                pos += skip;
            }
        }
    }
}

fn parse_fmt(path: &Path, b: &[u8]) -> Result<WavHeader> {
    const PCM: u16 = 1;
    const FLOAT: u16 = 3;
    const EXTENSIBLE: u16 = 0xFFFE;
    let mut tag = le16(b, 0);
    let channels = le16(b, 2);
    let rate = le32(b, 4);
    let block_align = le16(b, 12);
    let container_bits = le16(b, 14);
    let mut bits = container_bits;
    if tag == EXTENSIBLE {
        if b.len() < 40 {
            return Err(Error::audio(path, "WAVE_FORMAT_EXTENSIBLE header shorter than 40 bytes"));
        }
        let valid = le16(b, 18);
        if valid != 0 {
            bits = valid;
        }
        // The sub-format GUID starts with the plain format tag.
        tag = le16(b, 24);
    }
    let is_float = match tag {
        PCM => false,
        FLOAT => true,
        other => {
            return Err(Error::audio(
                path,
                format!(
                    "unsupported WAV encoding (format tag 0x{other:04X}); only integer PCM and 32-bit float are read"
                ),
            ));
        }
    };
    check_rate_channels(path, rate, channels)?;
    let ok_bits = if is_float {
        bits == 32 && container_bits == 32
    } else {
        matches!(bits, 8 | 16 | 24 | 32)
            && bits <= container_bits
            && container_bits.is_multiple_of(8)
    };
    if !ok_bits {
        return Err(Error::audio(
            path,
            format!(
                "unsupported sample format: {bits}-bit {} in {container_bits}-bit containers \
                 (supported: 8/16/24/32-bit int, 32-bit float)",
                if is_float { "float" } else { "int" }
            ),
        ));
    }
    let want_align = channels as u32 * (container_bits as u32 / 8);
    if block_align as u32 != want_align {
        return Err(Error::audio(
            path,
            format!(
                "block align {block_align} does not match {channels} channels × {container_bits} bits (expected {want_align})"
            ),
        ));
    }
    Ok(WavHeader { channels, sample_rate_hz: rate, bits, is_float, block_align, data_len: 0 })
}

pub struct WavDecoder {
    reader: hound::WavReader<BufReader<File>>,
    channels: usize,
    is_float: bool,
    /// 1 / 2^(bits − 1): maps the integer range onto [-1, 1).
    scale: f32,
    frames_left: u64,
}

impl WavDecoder {
    fn open(path: &Path, file: File, header: &WavHeader) -> Result<Self> {
        let reader = hound::WavReader::new(BufReader::with_capacity(1 << 16, file))
            .map_err(|e| Error::audio(path, format!("WAV: {e}")))?;
        let spec = reader.spec();
        // hound read the same header; if it disagrees with our walk, trust neither.
        if spec.channels != header.channels
            || spec.sample_rate != header.sample_rate_hz
            || spec.bits_per_sample != header.bits
            || reader.duration() as u64 != header.frames()
        {
            return Err(Error::audio(path, "inconsistent WAV header"));
        }
        Ok(WavDecoder {
            reader,
            channels: header.channels as usize,
            is_float: header.is_float,
            scale: 1.0 / (1u64 << (header.bits - 1)) as f32,
            frames_left: header.frames(),
        })
    }

    fn read_block(&mut self, path: &Path, out: &mut Vec<f32>) -> Result<bool> {
        let frames = (WAV_BLOCK_FRAMES as u64).min(self.frames_left) as usize;
        if frames == 0 {
            return Ok(false);
        }
        let n = frames * self.channels;
        let start = out.len();
        out.reserve(n);
        let bad = |e: hound::Error| Error::audio(path, format!("WAV data: {e}"));
        if self.is_float {
            for s in self.reader.samples::<f32>().take(n) {
                let v = s.map_err(bad)?;
                // NaN and ±inf in a float file are corruption; NaN.clamp would stay NaN.
                out.push(if v.is_finite() { v.clamp(-1.0, 1.0) } else { 0.0 });
            }
        } else {
            let scale = self.scale;
            for s in self.reader.samples::<i32>().take(n) {
                out.push(s.map_err(bad)? as f32 * scale);
            }
        }
        if out.len() - start != n {
            return Err(Error::audio(path, "WAV data ends early (truncated file)"));
        }
        self.frames_left -= frames as u64;
        Ok(true)
    }
}

// ---------------------------------------------------------------------------------------------
// FLAC, MP3, Ogg Vorbis
// ---------------------------------------------------------------------------------------------

pub struct SymDecoder {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    channels: usize,
    rate: u32,
    scratch: Vec<f32>,
    /// FLAC's STREAMINFO gives the exact frame count, so a stream that ends short is truncated.
    /// (MP3 and Ogg lengths in headers are estimates or come from the last page, so no check.)
    exact_frames: Option<u64>,
    frames_decoded: u64,
}

/// Runs a symphonia call, turning a panic inside the third-party decoder into an error: corrupt
/// compressed streams reach code paths we cannot audit, and a bad file must not take the
/// program down.
fn guarded<T>(path: &Path, what: &str, f: impl FnOnce() -> T) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|_| Error::audio(path, format!("{what}: decoder failed on corrupt data")))
}

fn sym_err(path: &Path, ctx: &str, e: SymError) -> Error {
    match e {
        SymError::IoError(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::audio(path, format!("{ctx}: stream ends unexpectedly (truncated file)"))
        }
        SymError::IoError(io) => Error::io(path, io),
        SymError::DecodeError(m) => Error::audio(path, format!("{ctx}: corrupt data ({m})")),
        SymError::Unsupported(m) => Error::audio(path, format!("{ctx}: unsupported ({m})")),
        other => Error::audio(path, format!("{ctx}: {other}")),
    }
}

fn open_symphonia(
    path: &Path,
    file: File,
    container: Container,
) -> Result<(Box<dyn FormatReader>, AudioInfo, u32)> {
    let mss = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    hint.with_extension(match container {
        Container::Flac => "flac",
        Container::Mp3 => "mp3",
        Container::Ogg => "ogg",
        Container::Wav => "wav",
    });
    let format = guarded(path, "reading the header", || {
        symphonia::default::get_probe().probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
    })?
    .map_err(|e| sym_err(path, "reading the header", e))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| Error::audio(path, "no audio track"))?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| Error::audio(path, "audio track without codec parameters"))?;
    let (name, sample_format) = match params.codec {
        c if c == CODEC_ID_FLAC => (
            "FLAC",
            match params.bits_per_sample {
                Some(b) => format!("{b}-bit int"),
                None => "int".to_string(),
            },
        ),
        c if c == CODEC_ID_MP3 => ("MP3", "lossy (decoded as 32-bit float)".to_string()),
        c if c == CODEC_ID_VORBIS => ("Ogg Vorbis", "lossy (decoded as 32-bit float)".to_string()),
        _ => {
            return Err(Error::audio(
                path,
                "unsupported codec in this container (supported: FLAC, MP3, Ogg Vorbis)",
            ));
        }
    };
    let rate = params.sample_rate.ok_or_else(|| Error::audio(path, "sample rate not given"))?;
    let channels = params
        .channels
        .as_ref()
        .map(|c| c.count())
        .ok_or_else(|| Error::audio(path, "channel count not given"))?;
    let channels = u16::try_from(channels).unwrap_or(u16::MAX);
    check_rate_channels(path, rate, channels)?;
    let frames = track.num_frames.filter(|&n| n > 0);
    let info = AudioInfo {
        format: name.to_string(),
        sample_format,
        sample_rate_hz: rate,
        channels,
        frames,
        duration_s: frames.map(|n| n as f64 / rate as f64),
    };
    let id = track.id;
    Ok((format, info, id))
}

impl SymDecoder {
    fn open(path: &Path, file: File, container: Container) -> Result<(Self, AudioInfo)> {
        let (format, info, track_id) = open_symphonia(path, file, container)?;
        let params = format
            .tracks()
            .iter()
            .find(|t| t.id == track_id)
            .and_then(|t| t.codec_params.as_ref())
            .and_then(|p| p.audio())
            .ok_or_else(|| Error::audio(path, "audio track vanished"))?
            .clone();
        let decoder = guarded(path, "creating the decoder", || {
            symphonia::default::get_codecs()
                .make_audio_decoder(&params, &AudioDecoderOptions::default())
        })?
        .map_err(|e| sym_err(path, "creating the decoder", e))?;
        Ok((
            SymDecoder {
                format,
                decoder,
                track_id,
                channels: info.channels as usize,
                rate: info.sample_rate_hz,
                scratch: Vec::new(),
                exact_frames: if container == Container::Flac { info.frames } else { None },
                frames_decoded: 0,
            },
            info,
        ))
    }

    fn read_block(&mut self, path: &Path, out: &mut Vec<f32>) -> Result<bool> {
        loop {
            let packet = guarded(path, "reading", || self.format.next_packet())?
                .map_err(|e| sym_err(path, "reading", e))?;
            let Some(packet) = packet else {
                if let Some(n) = self.exact_frames
                    && self.frames_decoded < n
                {
                    return Err(Error::audio(
                        path,
                        format!(
                            "stream ends after {} of the {n} frames its header promises (truncated file)",
                            self.frames_decoded
                        ),
                    ));
                }
                return Ok(false);
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let (channels, rate) = (self.channels, self.rate);
            let decoder = &mut self.decoder;
            let scratch = &mut self.scratch;
            let res = guarded(path, "decoding", || -> std::result::Result<(), SymError> {
                let buf = decoder.decode(&packet)?;
                let spec = buf.spec();
                if spec.channels().count() != channels || spec.rate() != rate {
                    return Err(SymError::DecodeError(
                        "channel count or sample rate changes mid-stream",
                    ));
                }
                buf.copy_to_vec_interleaved(scratch);
                Ok(())
            })?;
            res.map_err(|e| sym_err(path, "decoding", e))?;
            if self.scratch.is_empty() {
                continue;
            }
            self.frames_decoded += (self.scratch.len() / self.channels) as u64;
            // Lossy decoders can overshoot full scale slightly; keep the [-1, 1] contract.
            out.extend(
                self.scratch.iter().map(|&v| if v.is_finite() { v.clamp(-1.0, 1.0) } else { 0.0 }),
            );
            return Ok(true);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------------------------

pub enum Decoder {
    Wav(Box<WavDecoder>),
    Sym(Box<SymDecoder>),
}

impl Decoder {
    pub fn open(path: &Path) -> Result<(Self, AudioInfo)> {
        let mut file = File::open(path).map_err(io_err(path))?;
        match sniff(path, &mut file)? {
            Container::Wav => {
                let header = read_wav_header(path, &mut file)?;
                file.seek(SeekFrom::Start(0)).map_err(io_err(path))?;
                let dec = WavDecoder::open(path, file, &header)?;
                Ok((Decoder::Wav(Box::new(dec)), header.info()))
            }
            c => {
                let (dec, info) = SymDecoder::open(path, file, c)?;
                Ok((Decoder::Sym(Box::new(dec)), info))
            }
        }
    }

    /// Appends the next block of interleaved samples; `false` at the end of the stream.
    pub fn read_block(&mut self, path: &Path, out: &mut Vec<f32>) -> Result<bool> {
        match self {
            Decoder::Wav(d) => d.read_block(path, out),
            Decoder::Sym(d) => d.read_block(path, out),
        }
    }
}

/// Header-only inspection.
pub fn probe(path: &Path) -> Result<AudioInfo> {
    let mut file = File::open(path).map_err(io_err(path))?;
    match sniff(path, &mut file)? {
        Container::Wav => Ok(read_wav_header(path, &mut file)?.info()),
        c => Ok(open_symphonia(path, file, c)?.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt_chunk(tag: u16, channels: u16, rate: u32, block_align: u16, bits: u16) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&tag.to_le_bytes());
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * block_align as u32).to_le_bytes());
        b.extend_from_slice(&block_align.to_le_bytes());
        b.extend_from_slice(&bits.to_le_bytes());
        b
    }

    fn extensible(container: u16, valid: u16, sub_tag: u16, channels: u16) -> Vec<u8> {
        let mut b = fmt_chunk(0xFFFE, channels, 48_000, channels * container / 8, container);
        b.extend_from_slice(&22u16.to_le_bytes()); // cbSize
        b.extend_from_slice(&valid.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes()); // channel mask
        b.extend_from_slice(&sub_tag.to_le_bytes());
        b.extend_from_slice(&[0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71]);
        assert_eq!(b.len(), 40);
        b
    }

    #[test]
    fn parses_extensible_headers() {
        let p = Path::new("x.wav");
        let h = parse_fmt(p, &extensible(32, 24, 1, 6)).unwrap();
        assert_eq!((h.bits, h.is_float, h.channels, h.block_align), (24, false, 6, 24));
        let h = parse_fmt(p, &extensible(32, 32, 3, 2)).unwrap();
        assert!(h.is_float);
        // 20 valid bits is not a format we read.
        assert!(parse_fmt(p, &extensible(24, 20, 1, 2)).is_err());
        // A-law inside EXTENSIBLE.
        let e = parse_fmt(p, &extensible(8, 8, 6, 1)).unwrap_err().to_string();
        assert!(e.contains("0x0006"), "{e}");
    }

    #[test]
    fn plain_headers_check_align_against_channels_and_bits() {
        let p = Path::new("x.wav");
        assert!(parse_fmt(p, &fmt_chunk(1, 2, 44_100, 4, 16)).is_ok());
        assert!(parse_fmt(p, &fmt_chunk(1, 2, 44_100, 3, 16)).is_err());
        assert!(parse_fmt(p, &fmt_chunk(1, 1, 44_100, 3, 24)).is_ok());
        assert!(parse_fmt(p, &fmt_chunk(3, 1, 44_100, 2, 16)).is_err(), "16-bit float");
    }

    #[test]
    fn sniff_reads_magic_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&[u8], Option<Container>); 7] = [
            (b"RIFF\0\0\0\0WAVEfmt ", Some(Container::Wav)),
            (b"fLaC\0\0\0\x22", Some(Container::Flac)),
            (b"OggS\0\x02", Some(Container::Ogg)),
            (b"ID3\x04\0\0", Some(Container::Mp3)),
            (&[0xFF, 0xFB, 0x90, 0x64], Some(Container::Mp3)),
            (&[0xFF, 0xFD, 0x90, 0x64], None), // layer II sync
            (b"RIFF\0\0\0\0AVI LIST", None),
        ];
        for (i, (bytes, want)) in cases.iter().enumerate() {
            let p = dir.path().join(format!("f{i}.wav"));
            std::fs::write(&p, bytes).unwrap();
            let mut f = File::open(&p).unwrap();
            assert_eq!(sniff(&p, &mut f).ok(), *want, "case {i}");
        }
    }
}
