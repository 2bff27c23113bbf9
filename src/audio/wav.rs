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

/// Reads a WAV file, at most `max_seconds` of it when given, mixed to mono.
pub fn read(path: &Path, max_seconds: Option<f64>) -> Result<Mono, WavError> {
    let p = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| WavError::Open {
        path: p.clone(),
        source,
    })?;
    if file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
        return Err(WavError::Empty { path: p });
    }
    let reader = hound::WavReader::new(std::io::BufReader::with_capacity(1 << 16, file)).map_err(
        |e| match e {
            hound::Error::IoError(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                WavError::Format {
                    path: p.clone(),
                    reason: "the header is incomplete".into(),
                }
            }
            hound::Error::Unsupported => WavError::Unsupported {
                path: p.clone(),
                what: "this encoding".into(),
                supported: "PCM integer 8–32 bit or 32-bit float",
            },
            other => WavError::Format {
                path: p.clone(),
                reason: other.to_string(),
            },
        },
    )?;
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
    let samples = match (spec.sample_format, spec.bits_per_sample) {
        // The common case, decoded straight from the data chunk's bytes (hound's per-sample
        // iterator costs more than the whole analysis).
        (hound::SampleFormat::Int, 16) => {
            let mut raw = vec![0u8; frames * channels * 2];
            let mut inner = reader.into_inner();
            std::io::Read::read_exact(&mut inner, &mut raw)
                .map_err(|_| WavError::Truncated { path: p.clone() })?;
            Ok(mix_i16(&raw, channels))
        }
        (hound::SampleFormat::Float, 32) => {
            mix(reader.into_samples::<f32>(), channels, frames, 1.0)
        }
        (hound::SampleFormat::Int, b @ 8..=32) => {
            let scale = 1.0 / (1u64 << (b - 1)) as f64;
            mix(reader.into_samples::<i32>(), channels, frames, scale as f32)
        }
        (fmt, b) => {
            return Err(WavError::Unsupported {
                path: p,
                what: format!("{b}-bit {fmt:?} samples"),
                supported: "PCM integer 8–32 bit or 32-bit float",
            });
        }
    }
    .map_err(|e| match e {
        hound::Error::IoError(_) => WavError::Truncated { path: p.clone() },
        other => WavError::Format {
            path: p.clone(),
            reason: other.to_string(),
        },
    })?;
    Ok(Mono {
        samples,
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        source: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(p),
    })
}

/// Averages interleaved channels into mono, scaling integer samples to ±1.0.
fn mix<S: IntoF32>(
    samples: impl Iterator<Item = Result<S, hound::Error>>,
    channels: usize,
    frames: usize,
    scale: f32,
) -> Result<Vec<f32>, hound::Error> {
    let mut out = Vec::with_capacity(frames);
    let mut acc = 0f32;
    let mut ch = 0;
    let k = scale / channels as f32;
    for s in samples.take(frames * channels) {
        acc += s?.into_f32();
        ch += 1;
        if ch == channels {
            out.push(acc * k);
            acc = 0.0;
            ch = 0;
        }
    }
    Ok(out)
}

/// Interleaved 16-bit little-endian PCM to mono ±1.0.
fn mix_i16(raw: &[u8], channels: usize) -> Vec<f32> {
    let k = 1.0 / (32768.0 * channels as f32);
    if channels == 1 {
        return raw
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 * k)
            .collect();
    }
    raw.chunks_exact(2 * channels)
        .map(|fr| {
            fr.chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32)
                .sum::<f32>()
                * k
        })
        .collect()
}

/// The sample types hound yields, as f32.
trait IntoF32 {
    fn into_f32(self) -> f32;
}

impl IntoF32 for f32 {
    fn into_f32(self) -> f32 {
        self
    }
}

impl IntoF32 for i32 {
    fn into_f32(self) -> f32 {
        self as f32
    }
}
