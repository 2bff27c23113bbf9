//! Test-signal generators for the noise engine: deterministic (seeded), made in memory, so
//! no audio files are committed. The integration tests use them as `shiftready_testkit::signals`;
//! the DSP's and the noise check's unit tests and the noise benchmark include this file with
//! `#[path]` (it needs nothing but `std`), so the pure core crate needs no dev-dependency.
#![allow(dead_code)]

use std::f64::consts::PI;

/// SplitMix64: small, seeded, good enough for noise.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [-1, 1).
    pub fn white(&mut self) -> f64 {
        2.0 * self.uniform() - 1.0
    }

    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
}

fn len(sr: u32, seconds: f64) -> usize {
    (sr as f64 * seconds).round() as usize
}

/// A sine of the given level in dBFS (AES17: amplitude 1 is 0 dBFS).
pub fn sine(sr: u32, seconds: f64, hz: f64, dbfs: f64) -> Vec<f32> {
    let amp = 10f64.powf(dbfs / 20.0);
    (0..len(sr, seconds))
        .map(|i| (amp * (2.0 * PI * hz * i as f64 / sr as f64).sin()) as f32)
        .collect()
}

/// Level in dBFS per AES17 (10·log10 of twice the mean square).
pub fn level_dbfs(x: &[f32]) -> f64 {
    let ms = x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64;
    10.0 * (2.0 * ms).log10()
}

/// Scales `x` so its unweighted AES17 level is `dbfs`.
pub fn set_level(mut x: Vec<f32>, dbfs: f64) -> Vec<f32> {
    let now = level_dbfs(&x);
    if now.is_finite() {
        let g = 10f64.powf((dbfs - now) / 20.0) as f32;
        x.iter_mut().for_each(|v| *v *= g);
    }
    x
}

/// Sums signals of equal length (the shortest wins).
pub fn mix(a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

pub fn silence(sr: u32, seconds: f64) -> Vec<f32> {
    vec![0.0; len(sr, seconds)]
}

pub fn white_noise(sr: u32, seconds: f64, dbfs: f64, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    set_level(
        (0..len(sr, seconds)).map(|_| r.white() as f32).collect(),
        dbfs,
    )
}

/// Pink noise (−3 dB/octave), Paul Kellet's refined filter on white noise.
pub fn pink_noise(sr: u32, seconds: f64, dbfs: f64, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    let mut b = [0f64; 7];
    let x = (0..len(sr, seconds))
        .map(|_| {
            let w = r.white();
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.1538520;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let out = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
            b[6] = w * 0.115926;
            out as f32
        })
        .collect();
    set_level(x, dbfs)
}

/// Brown noise (−6 dB/octave): leaky integral of white noise, corner near 20 Hz so it does
/// not wander off at DC.
pub fn brown_noise(sr: u32, seconds: f64, dbfs: f64, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    let leak = 1.0 - 2.0 * PI * 20.0 / sr as f64;
    let mut y = 0f64;
    let x = (0..len(sr, seconds))
        .map(|_| {
            y = leak * y + r.white();
            y as f32
        })
        .collect();
    set_level(x, dbfs)
}

/// Fan noise: pink noise with a little low-frequency rumble from the blade rate.
pub fn fan_noise(sr: u32, seconds: f64, dbfs: f64, seed: u64) -> Vec<f32> {
    let p = pink_noise(sr, seconds, 0.0, seed);
    let b = brown_noise(sr, seconds, -6.0, seed ^ 0xF00D);
    set_level(mix(&p, &b), dbfs)
}

/// Mains hum at `f0` (50 or 60 Hz) with falling odd and even harmonics, as picked up by an
/// unshielded cable.
pub fn hum(sr: u32, seconds: f64, f0: f64, dbfs: f64) -> Vec<f32> {
    let amps = [1.0, 0.5, 0.6, 0.25, 0.3, 0.12, 0.15, 0.08];
    let x = (0..len(sr, seconds))
        .map(|i| {
            let t = i as f64 / sr as f64;
            amps.iter()
                .enumerate()
                .map(|(k, a)| a * (2.0 * PI * f0 * (k + 1) as f64 * t + k as f64).sin())
                .sum::<f64>() as f32
        })
        .collect();
    set_level(x, dbfs)
}

/// Two-pole resonator (formant filter) coefficients for centre `f` and bandwidth `bw`.
fn resonator(sr: f64, f: f64, bw: f64) -> (f64, f64, f64) {
    let r = (-PI * bw / sr).exp();
    let a1 = 2.0 * r * (2.0 * PI * f / sr).cos();
    let a2 = -r * r;
    let g = 1.0 - r;
    (g, a1, a2)
}

/// Speech-like signal: a glottal pulse train (about 120 Hz, with intonation) through three
/// formant resonators that change per syllable, syllables of 120–280 ms at about 4 per
/// second grouped into words with short pauses. Not intelligible, but it has what the
/// classifier looks for: speech-band energy modulated at syllable rate.
pub fn speech_like(sr: u32, seconds: f64, dbfs: f64, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    let n = len(sr, seconds);
    let srf = sr as f64;
    let vowels = [
        (730.0, 1090.0, 2440.0),
        (270.0, 2290.0, 3010.0),
        (530.0, 1840.0, 2480.0),
        (570.0, 840.0, 2410.0),
        (300.0, 870.0, 2240.0),
        (660.0, 1720.0, 2410.0),
    ];
    // The syllable schedule: (start, length, vowel).
    let mut sched = Vec::new();
    let mut t = r.range(0.0, 0.15);
    while t < seconds {
        let syllables = 1 + (r.uniform() * 4.0) as usize;
        for _ in 0..syllables {
            let d = r.range(0.12, 0.28);
            sched.push((t, d, (r.uniform() * vowels.len() as f64) as usize));
            t += d + r.range(0.02, 0.06);
        }
        t += r.range(0.12, 0.35);
    }
    let mut out = vec![0f32; n];
    let mut phase = 0.0;
    for &(start, d, v) in &sched {
        let i0 = (start * srf) as usize;
        let i1 = (((start + d) * srf) as usize).min(n);
        if i0 >= n {
            break;
        }
        let (f1, f2, f3) = vowels[v];
        let filters = [
            resonator(srf, f1, 90.0),
            resonator(srf, f2, 110.0),
            resonator(srf, f3, 170.0),
        ];
        let mut state = [[0f64; 2]; 3];
        let f0 = r.range(100.0, 150.0);
        for (i, o) in out.iter_mut().enumerate().take(i1).skip(i0) {
            let u = (i - i0) as f64 / (i1 - i0) as f64;
            let pitch = f0 * (1.0 + 0.15 * (PI * u).sin());
            phase += pitch / srf;
            let pulse = if phase >= 1.0 {
                phase -= 1.0;
                1.0
            } else {
                0.0
            } + 0.02 * r.white();
            let mut y = 0.0;
            for (k, &(g, a1, a2)) in filters.iter().enumerate() {
                let s = &mut state[k];
                let v = g * pulse + a1 * s[0] + a2 * s[1];
                s[1] = s[0];
                s[0] = v;
                y += v / (k + 1) as f64;
            }
            let env = (PI * u).sin().powf(0.6);
            *o = (y * env) as f32;
        }
    }
    set_level(out, dbfs)
}

/// Dog-bark-like bursts: 120–220 ms harmonic barks (fundamental 350–600 Hz falling, plus
/// noise), sharp attack, 1.5 ± 0.5 barks per second, over a floor of pink noise.
pub fn barks(sr: u32, seconds: f64, bark_dbfs: f64, floor_dbfs: f64, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    let n = len(sr, seconds);
    let srf = sr as f64;
    let mut x = vec![0f32; n];
    let amp = 10f64.powf(bark_dbfs / 20.0);
    let mut t = r.range(0.2, 0.6);
    while t < seconds - 0.3 {
        let d = r.range(0.12, 0.22);
        let f0 = r.range(350.0, 600.0);
        let i0 = (t * srf) as usize;
        let i1 = (((t + d) * srf) as usize).min(n);
        for (i, o) in x.iter_mut().enumerate().take(i1).skip(i0) {
            let tt = (i - i0) as f64 / srf;
            let env = (1.0 - (-tt / 0.004).exp()) * (-tt / (d / 3.0)).exp();
            let f = f0 * (1.0 - 0.3 * tt / d);
            let mut s = 0.0;
            for k in 1..=6 {
                s += (2.0 * PI * f * k as f64 * tt).sin() / k as f64;
            }
            *o = (amp * env * (0.8 * s + 0.4 * r.white())) as f32;
        }
        t += d + r.range(0.35, 1.0);
    }
    mix(&x, &pink_noise(sr, seconds, floor_dbfs, seed ^ 0xBA4C))
}

/// Knocks on a door: groups of three knocks 0.25 s apart, each a click plus damped
/// resonances at 180 and 850 Hz decaying in about 25 ms, one group every 1.5 s or so, over
/// a floor of pink noise.
pub fn knocks(sr: u32, seconds: f64, knock_dbfs: f64, floor_dbfs: f64, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    let n = len(sr, seconds);
    let srf = sr as f64;
    let mut x = vec![0f32; n];
    let amp = 10f64.powf(knock_dbfs / 20.0);
    let mut t = r.range(0.2, 0.5);
    while t < seconds - 0.8 {
        for k in 0..3 {
            let i0 = ((t + 0.25 * k as f64) * srf) as usize;
            let i1 = (i0 + (0.12 * srf) as usize).min(n);
            for (i, o) in x.iter_mut().enumerate().take(i1).skip(i0) {
                let tt = (i - i0) as f64 / srf;
                let decay = (-tt / 0.008).exp();
                let s = 0.6 * (2.0 * PI * 180.0 * tt).sin()
                    + 0.5 * (2.0 * PI * 850.0 * tt).sin()
                    + 0.6 * r.white() * (-tt / 0.002).exp();
                *o = (amp * decay * s) as f32;
            }
        }
        t += 0.75 + r.range(0.8, 1.6);
    }
    mix(&x, &pink_noise(sr, seconds, floor_dbfs, seed ^ 0x4A0C))
}

/// A 1 kHz sine whose level steps between `hi` and `lo` dBFS every `step_s` seconds,
/// starting high.
pub fn stepped_sine(sr: u32, seconds: f64, step_s: f64, hi: f64, lo: f64) -> Vec<f32> {
    let (ah, al) = (10f64.powf(hi / 20.0), 10f64.powf(lo / 20.0));
    (0..len(sr, seconds))
        .map(|i| {
            let t = i as f64 / sr as f64;
            let a = if ((t / step_s) as usize) % 2 == 0 {
                ah
            } else {
                al
            };
            (a * (2.0 * PI * 1000.0 * t).sin()) as f32
        })
        .collect()
}

/// 16-bit little-endian PCM bytes of a mono signal (for ALSA's file plugin).
pub fn to_s16le(x: &[f32]) -> Vec<u8> {
    x.iter()
        .flat_map(|&v| ((v.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes())
        .collect()
}
