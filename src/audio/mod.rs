//! Audio input, I/O only: microphone capture (cpal) and WAV files (hound), both delivered
//! as mono f32 at the source's own rate. Samples stay in memory for the analysis and are
//! never written, logged or sent.

pub mod capture;
pub mod quiet;
pub mod wav;

pub use quiet::quiet_alsa;

/// Mono audio with full scale at ±1.0.
pub struct Mono {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    /// Channels in the source before mixing.
    pub channels: u16,
    /// The device name, or the file name.
    pub source: String,
}

impl std::fmt::Debug for Mono {
    /// Never prints the samples (they are the agent's room).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mono")
            .field("frames", &self.samples.len())
            .field("sample_rate", &self.sample_rate)
            .field("channels", &self.channels)
            .field("source", &self.source)
            .finish()
    }
}
