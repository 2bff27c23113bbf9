//! WAV files (hound): 8 to 192 kHz, 8/16/24/32-bit integer or 32-bit float, any channel
//! count, mixed to mono f32 with full scale at ±1.0.

use super::Mono;
use std::path::Path;

/// Lowest and highest sample rate we analyse.
pub const MIN_RATE: u32 = 8000;
pub const MAX_RATE: u32 = 192_000;

/// Why a WAV file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("cannot read {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a WAV file we can read ({reason})")]
    Format { path: String, reason: String },
    #[error("{path} is cut short: the header promises more audio than the file holds")]
    Truncated { path: String },
    #[error("{path} holds no audio")]
    Empty { path: String },
    #[error("{path}: {what} is not supported (ShiftReady reads {supported})")]
    Unsupported {
        path: String,
        what: String,
        supported: &'static str,
    },
}

/// Reads a WAV file, at most `max_seconds` of it when given, mixed to mono, all in memory
/// (a long file is better streamed: [`open`] and [`WavFile::read_block`]).
pub fn read(path: &Path, max_seconds: Option<f64>) -> Result<Mono, WavError> {
    let mut file = open(path, max_seconds)?;
    let mut samples = Vec::with_capacity(file.frames);
    let mut raw = Vec::new();
    while file.read_block(&mut raw, BLOCK_FRAMES)? {
        file.decoder.decode(&raw, &mut samples);
    }
    Ok(Mono {
        samples,
        sample_rate: file.sample_rate,
        channels: file.channels,
        source: file.source,
    })
}

/// Frames per block read by [`read`] (and a good size for [`WavFile::read_block`]).
pub const BLOCK_FRAMES: usize = 128 * 1024;

/// A WAV file whose header has been read and checked, positioned at its audio.
pub struct WavFile {
    pub sample_rate: u32,
    /// Channels in the file (mixed to mono by the decoder).
    pub channels: u16,
    /// Frames (samples per channel) that will be read: the whole file or `max_seconds` of it.
    pub frames: usize,
    /// The file's name, shown as the report's device.
    pub source: String,
    /// Turns the raw blocks into mono samples.
    pub decoder: Decoder,
    path: String,
    data: Tap,
    left: usize,
}

impl std::fmt::Debug for WavFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavFile")
            .field("sample_rate", &self.sample_rate)
            .field("channels", &self.channels)
            .field("frames", &self.frames)
            .field("source", &self.source)
            .finish()
    }
}

/// Opens a WAV file and checks its header: the errors of a bad header (not a WAV, an
/// unsupported encoding or rate, no audio) come here, a file cut short from
/// [`WavFile::read_block`].
pub fn open(path: &Path, max_seconds: Option<f64>) -> Result<WavFile, WavError> {
    let p = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| WavError::Open {
        path: p.clone(),
        source,
    })?;
    if file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
        return Err(WavError::Empty { path: p });
    }
    let tap = Tap {
        inner: std::io::BufReader::with_capacity(1 << 16, file),
        last4: [0; 4],
    };
    let reader = hound::WavReader::new(tap).map_err(|e| match e {
        hound::Error::IoError(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            WavError::Format {
                path: p.clone(),
                reason: "the header is incomplete".into(),
            }
        }
        hound::Error::Unsupported => WavError::Unsupported {
            path: p.clone(),
            what: "this encoding".into(),
            supported: SUPPORTED,
        },
        other => WavError::Format {
            path: p.clone(),
            reason: other.to_string(),
        },
    })?;
    let spec = reader.spec();
    if !(MIN_RATE..=MAX_RATE).contains(&spec.sample_rate) {
        return Err(WavError::Unsupported {
            path: p,
            what: format!("a sample rate of {} Hz", spec.sample_rate),
            supported: "8 to 192 kHz",
        });
    }
    let channels = spec.channels as usize;
    if channels == 0 {
        return Err(WavError::Format {
            path: p,
            reason: "it declares no channels".into(),
        });
    }
    let frames_total = reader.duration() as usize;
    let frames = match max_seconds {
        Some(s) if s > 0.0 => frames_total.min((s * spec.sample_rate as f64) as usize),
        _ => frames_total,
    };
    if frames == 0 {
        return Err(WavError::Empty { path: p });
    }
    // The last field hound read is the data chunk's length; with the sample count it gives
    // the container size (24-bit samples come in 3 or 4 bytes).
    let samples = reader.len() as usize;
    let data = reader.into_inner();
    let bytes = u32::from_le_bytes(data.last4) as usize / samples.max(1);
    let unsupported = |what: String| WavError::Unsupported {
        path: p.clone(),
        what,
        supported: SUPPORTED,
    };
    let bits = spec.bits_per_sample;
    let kind = match (spec.sample_format, bytes, bits) {
        (hound::SampleFormat::Int, 1, 8) => Kind::U8,
        (hound::SampleFormat::Int, 2, 16) => Kind::I16,
        (hound::SampleFormat::Int, 3, 24) => Kind::I24,
        (hound::SampleFormat::Int, 4, 24) => Kind::I24In32,
        (hound::SampleFormat::Int, 4, 32) => Kind::I32,
        (hound::SampleFormat::Float, 4, 32) => Kind::F32,
        (hound::SampleFormat::Int, _, 8..=32) => {
            return Err(unsupported(format!(
                "{bits}-bit samples in {bytes}-byte containers"
            )));
        }
        (fmt, _, b) => return Err(unsupported(format!("{b}-bit {fmt:?} samples"))),
    };
    // Full scale at ±1.0 (as an f32, like every scale here, so the values are exactly those
    // of the whole-file reader this replaced).
    let scale = match kind {
        Kind::F32 => 1.0,
        _ => (1.0 / (1u64 << (bits - 1)) as f64) as f32,
    };
    Ok(WavFile {
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        frames,
        source: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.clone()),
        decoder: Decoder {
            kind,
            bytes,
            channels,
            scale,
        },
        path: p,
        data,
        left: frames,
    })
}

const SUPPORTED: &str = "PCM integer 8–32 bit or 32-bit float";

impl WavFile {
    /// Reads the next `max_frames` frames (fewer at the end) of raw audio into `raw`, which
    /// is resized to them; false once every frame has been read. A file that ends before
    /// its header says is [`WavError::Truncated`].
    pub fn read_block(&mut self, raw: &mut Vec<u8>, max_frames: usize) -> Result<bool, WavError> {
        let frames = self.left.min(max_frames.max(1));
        if frames == 0 {
            return Ok(false);
        }
        raw.resize(frames * self.decoder.frame_bytes(), 0);
        std::io::Read::read_exact(&mut self.data.inner, raw).map_err(|_| WavError::Truncated {
            path: self.path.clone(),
        })?;
        self.left -= frames;
        Ok(true)
    }
}

/// Turns raw interleaved frames of one encoding into mono samples, full scale ±1.0.
#[derive(Debug, Clone, Copy)]
pub struct Decoder {
    kind: Kind,
    bytes: usize,
    channels: usize,
    scale: f32,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Unsigned 8-bit (offset 128).
    U8,
    I16,
    I24,
    /// 24 bits in 4-byte containers (the top byte ignored).
    I24In32,
    I32,
    F32,
}

impl Decoder {
    /// Bytes per frame (all channels).
    pub fn frame_bytes(&self) -> usize {
        self.bytes * self.channels
    }

    /// Appends the mono samples of `raw` (whole frames) to `out`.
    pub fn decode(&self, raw: &[u8], out: &mut Vec<f32>) {
        match self.kind {
            Kind::I16 => mix_i16(raw, self.channels, out),
            Kind::U8 => self.mix(raw, out, |s| (s[0] as i16 - 128) as f32),
            Kind::I24 => self.mix(raw, out, |s| {
                // Sign-extended from bit 23.
                (i32::from_le_bytes([0, s[0], s[1], s[2]]) >> 8) as f32
            }),
            Kind::I24In32 => self.mix(raw, out, |s| {
                (i32::from_le_bytes([0, s[0], s[1], s[2]]) >> 8) as f32
            }),
            Kind::I32 => self.mix(raw, out, |s| {
                i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as f32
            }),
            Kind::F32 => self.mix(raw, out, |s| f32::from_le_bytes([s[0], s[1], s[2], s[3]])),
        }
        debug_assert_eq!(raw.len() % self.frame_bytes(), 0);
    }

    /// Averages the channels of each frame, scaled to ±1.0.
    fn mix(&self, raw: &[u8], out: &mut Vec<f32>, sample: impl Fn(&[u8]) -> f32) {
        let k = self.scale / self.channels as f32;
        let b = self.bytes;
        if self.channels == 1 {
            out.extend(raw.chunks_exact(b).map(|s| (0.0 + sample(s)) * k));
            return;
        }
        out.extend(raw.chunks_exact(b * self.channels).map(|fr| {
            let mut acc = 0f32;
            for s in fr.chunks_exact(b) {
                acc += sample(s);
            }
            acc * k
        }));
    }
}

/// Interleaved 16-bit little-endian PCM to mono ±1.0.
fn mix_i16(raw: &[u8], channels: usize, out: &mut Vec<f32>) {
    let k = 1.0 / (32768.0 * channels as f32);
    if channels == 1 {
        out.extend(
            raw.chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 * k),
        );
        return;
    }
    out.extend(raw.chunks_exact(2 * channels).map(|fr| {
        fr.chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32)
            .sum::<f32>()
            * k
    }));
}

/// The file under hound's header parser, remembering the last four bytes read: the data
/// chunk's length, when the parser stops at the audio.
struct Tap {
    inner: std::io::BufReader<std::fs::File>,
    last4: [u8; 4],
}

impl std::io::Read for Tap {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[n.saturating_sub(4)..n] {
            self.last4 = [self.last4[1], self.last4[2], self.last4[3], b];
        }
        Ok(n)
    }
}
