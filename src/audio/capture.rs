//! Microphone capture with cpal: the configured, named or default input, in whatever sample
//! format and channel count the device offers, at its own rate, mixed to mono f32.
//!
//! The length is counted in frames, never in wall time (a device's clock, or ALSA's file
//! plugin with no clock at all, decides how fast frames come). A device that stops calling
//! back for [`STALL`] is reported as stalled (a known ALSA failure after overruns).

use super::Mono;
use cpal::SampleFormat;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

/// How long without a callback before the stream counts as stalled.
pub const STALL: Duration = Duration::from_secs(1);
/// Audio dropped at the start: the click of the converter waking up, the OS ramping gain.
pub const SKIP_SECONDS: f64 = 0.1;

/// Why capture failed.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("there is no audio input device on this computer")]
    NoDevice,
    #[error("no input device matches '{wanted}' (inputs found: {})", list(.available))]
    NotFound {
        wanted: String,
        available: Vec<String>,
    },
    #[error("the OS refused access to '{device}': {reason}")]
    PermissionDenied { device: String, reason: String },
    #[error("'{device}' could not be opened: {reason}")]
    Open { device: String, reason: String },
    #[error("'{device}' stopped delivering sound after {seconds:.2} s")]
    Stalled { device: String, seconds: f64 },
    #[error("'{device}' failed while recording: {reason}")]
    Stream { device: String, reason: String },
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// A device's name as people see it (ALSA: the hint description, else the PCM name).
fn name_of(d: &cpal::Device) -> String {
    d.description()
        .map(|x| x.name().to_string())
        .unwrap_or_else(|_| "unknown device".into())
}

/// Names a device answers to: its description and its driver-level id (ALSA's PCM name).
fn aliases(d: &cpal::Device) -> Vec<String> {
    let mut v = vec![name_of(d)];
    if let Some(drv) = d
        .description()
        .ok()
        .and_then(|x| x.driver().map(str::to_string))
    {
        v.push(drv);
    }
    v
}

/// The names of the input devices, as `--device` matches them.
pub fn input_device_names() -> Vec<String> {
    super::quiet_alsa();
    let host = cpal::default_host();
    host.input_devices()
        .map(|ds| ds.map(|d| name_of(&d)).collect())
        .unwrap_or_default()
}

/// Picks the device: an exact (case-insensitive) name first, then a part of a name;
/// `None` or an empty name is the system default input.
fn pick(host: &cpal::Host, wanted: Option<&str>) -> Result<cpal::Device, CaptureError> {
    let wanted = wanted.map(str::trim).filter(|w| !w.is_empty());
    let Some(w) = wanted else {
        return host.default_input_device().ok_or(CaptureError::NoDevice);
    };
    let devices: Vec<cpal::Device> = host
        .input_devices()
        .map(|d| d.collect())
        .unwrap_or_default();
    let lw = w.to_lowercase();
    let exact = devices
        .iter()
        .position(|d| aliases(d).iter().any(|a| a.to_lowercase() == lw));
    let part = || {
        devices
            .iter()
            .position(|d| aliases(d).iter().any(|a| a.to_lowercase().contains(&lw)))
    };
    match exact.or_else(part) {
        Some(i) => Ok(devices[i].clone()),
        None => Err(CaptureError::NotFound {
            wanted: w.to_string(),
            available: devices.iter().map(name_of).collect(),
        }),
    }
}

enum Msg {
    Data(Vec<f32>),
    Error(cpal::Error),
}

/// Records `seconds` of audio (plus [`SKIP_SECONDS`] dropped at the start) from the named
/// input or the default one. Blocking; call it from a blocking thread.
pub fn capture(device: Option<&str>, seconds: f64) -> Result<Mono, CaptureError> {
    super::quiet_alsa();
    let host = cpal::default_host();
    let dev = pick(&host, device)?;
    let name = name_of(&dev);
    let open_err = |e: cpal::Error| {
        if e.kind() == cpal::ErrorKind::PermissionDenied {
            CaptureError::PermissionDenied {
                device: name.clone(),
                reason: e.to_string(),
            }
        } else {
            CaptureError::Open {
                device: name.clone(),
                reason: e.to_string(),
            }
        }
    };
    let cfg = dev.default_input_config().map_err(open_err)?;
    let rate = cfg.sample_rate();
    let channels = cfg.channels().max(1) as usize;
    let format = cfg.sample_format();
    let (tx, rx) = mpsc::channel::<Msg>();
    let done = Arc::new(AtomicBool::new(false));
    let (tx_err, done_cb) = (tx.clone(), done.clone());
    let stream = dev
        .build_input_stream_raw(
            cfg.config(),
            format,
            move |data: &cpal::Data, _: &cpal::InputCallbackInfo| {
                if done_cb.load(Ordering::Relaxed) {
                    return;
                }
                if let Some(mono) = to_mono(data, channels) {
                    let _ = tx.send(Msg::Data(mono));
                }
            },
            move |e| {
                let _ = tx_err.send(Msg::Error(e));
            },
            Some(Duration::from_secs(5)),
        )
        .map_err(open_err)?;
    if !is_supported(format) {
        return Err(CaptureError::Open {
            device: name,
            reason: format!("its sample format {format} is not one ShiftReady can read"),
        });
    }
    stream.play().map_err(open_err)?;
    let skip = (SKIP_SECONDS * rate as f64) as usize;
    let wanted = (seconds.max(0.0) * rate as f64).ceil() as usize;
    let got = collect(&rx, skip, wanted, rate, STALL);
    done.store(true, Ordering::Relaxed);
    drop(stream);
    let samples = got.map_err(|e| match e {
        Collect::Stalled(frames) => CaptureError::Stalled {
            device: name.clone(),
            seconds: frames as f64 / rate as f64,
        },
        Collect::Failed(reason) => CaptureError::Stream {
            device: name.clone(),
            reason,
        },
    })?;
    Ok(Mono {
        samples,
        sample_rate: rate,
        channels: channels as u16,
        source: name,
    })
}

/// Why [`collect`] stopped short.
#[derive(Debug, PartialEq)]
pub enum Collect {
    /// No data for the stall time, after this many frames.
    Stalled(usize),
    /// The stream reported a fatal error.
    Failed(String),
}

/// Gathers `skip + wanted` frames from the callback's channel, dropping the first `skip`.
/// Glitches (xruns, a rerouted default device) are tolerated; other stream errors end it.
fn collect(
    rx: &Receiver<Msg>,
    skip: usize,
    wanted: usize,
    _rate: u32,
    stall: Duration,
) -> Result<Vec<f32>, Collect> {
    let mut out = Vec::with_capacity(wanted);
    let mut seen = 0usize;
    while out.len() < wanted {
        match rx.recv_timeout(stall) {
            Ok(Msg::Data(chunk)) => {
                let start = skip.saturating_sub(seen).min(chunk.len());
                seen += chunk.len();
                let need = wanted - out.len();
                out.extend_from_slice(&chunk[start..chunk.len().min(start + need)]);
            }
            Ok(Msg::Error(e)) => match e.kind() {
                cpal::ErrorKind::Xrun
                | cpal::ErrorKind::RealtimeDenied
                | cpal::ErrorKind::DeviceChanged => {
                    tracing::debug!("audio glitch while recording: {e}");
                }
                _ => return Err(Collect::Failed(e.to_string())),
            },
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                return Err(Collect::Stalled(seen));
            }
        }
    }
    Ok(out)
}

fn is_supported(f: SampleFormat) -> bool {
    !matches!(
        f,
        SampleFormat::DsdU8 | SampleFormat::DsdU16 | SampleFormat::DsdU32
    )
}

fn mono_of<T: cpal::SizedSample>(data: &cpal::Data, channels: usize) -> Option<Vec<f32>>
where
    f32: cpal::FromSample<T>,
{
    Some(mix_slice(data.as_slice::<T>()?, channels))
}

fn mix_slice<T: cpal::SizedSample>(s: &[T], channels: usize) -> Vec<f32>
where
    f32: cpal::FromSample<T>,
{
    let k = 1.0 / channels as f32;
    s.chunks_exact(channels)
        .map(|fr| fr.iter().map(|&v| v.to_sample::<f32>()).sum::<f32>() * k)
        .collect()
}

/// Any integer or float sample format cpal delivers, interleaved, averaged to mono.
fn to_mono(data: &cpal::Data, channels: usize) -> Option<Vec<f32>> {
    use SampleFormat as F;
    match data.sample_format() {
        F::I8 => mono_of::<i8>(data, channels),
        F::I16 => mono_of::<i16>(data, channels),
        F::I24 => mono_of::<cpal::I24>(data, channels),
        F::I32 => mono_of::<i32>(data, channels),
        F::I64 => mono_of::<i64>(data, channels),
        F::U8 => mono_of::<u8>(data, channels),
        F::U16 => mono_of::<u16>(data, channels),
        F::U24 => mono_of::<cpal::U24>(data, channels),
        F::U32 => mono_of::<u32>(data, channels),
        F::U64 => mono_of::<u64>(data, channels),
        F::F32 => mono_of::<f32>(data, channels),
        F::F64 => mono_of::<f64>(data, channels),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collect_counts_frames_and_drops_the_start() {
        let (tx, rx) = mpsc::channel();
        for i in 0..10 {
            tx.send(Msg::Data(vec![i as f32; 100])).unwrap();
        }
        let got = collect(&rx, 150, 500, 48000, STALL).unwrap();
        assert_eq!(got.len(), 500);
        assert_eq!(got[0], 1.0);
        assert_eq!(got[49], 1.0);
        assert_eq!(got[50], 2.0);
        assert_eq!(got[499], 6.0);
    }

    #[test]
    fn a_stream_that_stops_calling_back_is_stalled() {
        let (tx, rx) = mpsc::channel();
        tx.send(Msg::Data(vec![0.1; 480])).unwrap();
        // The sender stays alive but silent, as a stuck ALSA stream does.
        let t = std::time::Instant::now();
        let r = collect(&rx, 0, 48000, 48000, Duration::from_millis(200));
        assert_eq!(r, Err(Collect::Stalled(480)));
        assert!(t.elapsed() >= Duration::from_millis(200));
        drop(tx);
    }

    #[test]
    fn glitches_are_tolerated_and_failures_are_not() {
        let (tx, rx) = mpsc::channel();
        tx.send(Msg::Error(cpal::Error::new(cpal::ErrorKind::Xrun)))
            .unwrap();
        tx.send(Msg::Data(vec![0.0; 10])).unwrap();
        assert_eq!(collect(&rx, 0, 10, 48000, STALL).unwrap().len(), 10);
        tx.send(Msg::Error(cpal::Error::new(
            cpal::ErrorKind::DeviceNotAvailable,
        )))
        .unwrap();
        assert!(matches!(
            collect(&rx, 0, 10, 48000, STALL),
            Err(Collect::Failed(_))
        ));
    }

    #[test]
    fn formats_mix_to_the_same_mono() {
        let want = vec![0.5f32, -0.5];
        assert_eq!(mix_slice(&[16384i16, 16384, -16384, -16384], 2), want);
        assert_eq!(mix_slice(&[0.25f32, 0.75, -0.5, -0.5], 2), want);
        assert_eq!(mix_slice(&[49152u16, 49152, 16384, 16384], 2), want);
        assert_eq!(
            mix_slice(&[1i32 << 30, 1 << 30, -(1 << 30), -(1 << 30)], 2),
            want
        );
        assert_eq!(mix_slice(&[0.5f64, -0.5], 1), want);
        assert_eq!(mix_slice(&[64i8, 64, 64, -64, -64, -64], 3), want);
    }
}
