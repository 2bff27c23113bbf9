//! The tray icons, drawn in code as RGBA. They differ in shape as well as colour (a check
//! mark, an exclamation mark, a cross, a pause, a broken link), so colour-blind agents read
//! them too; a dark rim and a white glyph keep them legible on light and dark panels.

/// What the icon shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Look {
    Ready,
    Degraded,
    NotReady,
    SignedOut,
    Offline,
}

impl Look {
    pub const ALL: [Look; 5] = [
        Look::Ready,
        Look::Degraded,
        Look::NotReady,
        Look::SignedOut,
        Look::Offline,
    ];

    /// The look for the daemon's `state` (`ipc::StatusInfo::state`).
    pub fn for_state(state: proto::DaemonState) -> Look {
        use proto::DaemonState as S;
        match state {
            S::Ready => Look::Ready,
            S::Degraded | S::Unknown => Look::Degraded,
            S::NotReady => Look::NotReady,
            S::Offline => Look::Offline,
            S::SignedOut => Look::SignedOut,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Look::Ready => "ready",
            Look::Degraded => "degraded",
            Look::NotReady => "not_ready",
            Look::SignedOut => "signed_out",
            Look::Offline => "offline",
        }
    }

    fn fill(self) -> [u8; 3] {
        match self {
            Look::Ready => [0x1b, 0x8a, 0x3a],     // green
            Look::Degraded => [0xd9, 0x8c, 0x00],  // amber
            Look::NotReady => [0xc6, 0x28, 0x28],  // red
            Look::SignedOut => [0x6b, 0x6b, 0x6b], // grey
            Look::Offline => [0x2f, 0x5d, 0xa8],   // blue
        }
    }
}

type P = (f32, f32);

fn seg_dist(p: P, a: P, b: P) -> f32 {
    let (vx, vy) = (b.0 - a.0, b.1 - a.1);
    let (wx, wy) = (p.0 - a.0, p.1 - a.1);
    let len2 = vx * vx + vy * vy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        ((wx * vx + wy * vy) / len2).clamp(0.0, 1.0)
    };
    let (dx, dy) = (p.0 - (a.0 + t * vx), p.1 - (a.1 + t * vy));
    (dx * dx + dy * dy).sqrt()
}

/// The glyph as strokes in a unit square (0..1), with the stroke width.
fn strokes(look: Look) -> (Vec<(P, P)>, f32) {
    match look {
        Look::Ready => (
            vec![((0.27, 0.52), (0.43, 0.68)), ((0.43, 0.68), (0.73, 0.34))],
            0.12,
        ),
        Look::Degraded => (
            vec![((0.5, 0.22), (0.5, 0.56)), ((0.5, 0.74), (0.5, 0.75))],
            0.13,
        ),
        Look::NotReady => (
            vec![((0.32, 0.32), (0.68, 0.68)), ((0.68, 0.32), (0.32, 0.68))],
            0.12,
        ),
        Look::SignedOut => (
            vec![((0.39, 0.3), (0.39, 0.7)), ((0.61, 0.3), (0.61, 0.7))],
            0.12,
        ),
        // Two chain links with a gap between them: a broken link.
        Look::Offline => (
            vec![
                ((0.22, 0.46), (0.22, 0.62)),
                ((0.22, 0.62), (0.32, 0.70)),
                ((0.32, 0.70), (0.42, 0.62)),
                ((0.22, 0.46), (0.32, 0.38)),
                ((0.32, 0.38), (0.42, 0.46)),
                ((0.78, 0.54), (0.78, 0.38)),
                ((0.78, 0.38), (0.68, 0.30)),
                ((0.68, 0.30), (0.58, 0.38)),
                ((0.78, 0.54), (0.68, 0.62)),
                ((0.68, 0.62), (0.58, 0.54)),
                // The break: two short ticks in the gap.
                ((0.50, 0.16), (0.50, 0.27)),
                ((0.50, 0.73), (0.50, 0.84)),
            ],
            0.08,
        ),
    }
}

/// Whether `p` (unit square) is inside the badge: a disc, or a triangle for "degraded".
fn badge_dist(look: Look, p: P) -> f32 {
    // Signed distance: negative inside.
    match look {
        Look::Degraded => {
            // Rounded triangle pointing up.
            let tri = [(0.5, 0.08), (0.95, 0.88), (0.05, 0.88)];
            let mut inside = true;
            let mut d = f32::MAX;
            for i in 0..3 {
                let (a, b) = (tri[i], tri[(i + 1) % 3]);
                let cross = (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0);
                if cross < 0.0 {
                    inside = false;
                }
                d = d.min(seg_dist(p, a, b));
            }
            if inside { -d } else { d }
        }
        _ => {
            let (dx, dy) = (p.0 - 0.5, p.1 - 0.5);
            (dx * dx + dy * dy).sqrt() - 0.46
        }
    }
}

/// The icon as `size`×`size` RGBA, 4×4 supersampled.
pub fn rgba(look: Look, size: u32) -> Vec<u8> {
    let n = size as usize;
    let mut out = vec![0u8; n * n * 4];
    let (glyph, width) = strokes(look);
    let fill = look.fill();
    let rim = 1.5 / size as f32 + 0.03;
    const SS: usize = 4;
    for y in 0..n {
        for x in 0..n {
            let (mut a, mut r, mut g, mut b) = (0f32, 0f32, 0f32, 0f32);
            for sy in 0..SS {
                for sx in 0..SS {
                    let p = (
                        (x as f32 + (sx as f32 + 0.5) / SS as f32) / size as f32,
                        (y as f32 + (sy as f32 + 0.5) / SS as f32) / size as f32,
                    );
                    let d = badge_dist(look, p);
                    if d > 0.0 {
                        continue;
                    }
                    let on_glyph = glyph
                        .iter()
                        .any(|(s, e)| seg_dist(p, *s, *e) <= width / 2.0);
                    let c = if d > -rim {
                        [0x1a, 0x1a, 0x1a]
                    } else if on_glyph {
                        if look == Look::Degraded {
                            [0x10, 0x10, 0x10]
                        } else {
                            [0xff, 0xff, 0xff]
                        }
                    } else {
                        fill
                    };
                    a += 1.0;
                    r += f32::from(c[0]);
                    g += f32::from(c[1]);
                    b += f32::from(c[2]);
                }
            }
            if a > 0.0 {
                let i = (y * n + x) * 4;
                out[i] = (r / a).round() as u8;
                out[i + 1] = (g / a).round() as u8;
                out[i + 2] = (b / a).round() as u8;
                out[i + 3] = (a / (SS * SS) as f32 * 255.0).round() as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape alone, as a colour-blind agent (or a greyscale screen) sees it: which pixels
    /// are opaque and which of those are light or dark.
    fn shape(look: Look) -> Vec<u8> {
        shape_at(look, 32)
    }

    fn shape_at(look: Look, size: u32) -> Vec<u8> {
        rgba(look, size)
            .chunks(4)
            .map(|p| {
                if p[3] < 128 {
                    0
                } else {
                    let lum = 0.2126 * f32::from(p[0])
                        + 0.7152 * f32::from(p[1])
                        + 0.0722 * f32::from(p[2]);
                    if (40.0..=200.0).contains(&lum) { 1 } else { 2 }
                }
            })
            .collect()
    }

    #[test]
    fn every_pair_of_icons_differs_in_shape_not_only_colour() {
        for (i, a) in Look::ALL.iter().enumerate() {
            for b in &Look::ALL[i + 1..] {
                let (sa, sb) = (shape(*a), shape(*b));
                let differ = sa.iter().zip(&sb).filter(|(x, y)| x != y).count();
                assert!(
                    differ >= 40,
                    "{a:?} and {b:?} differ in only {differ} pixels"
                );
            }
        }
    }

    #[test]
    fn icons_are_opaque_in_the_middle_and_transparent_in_the_corners() {
        for look in Look::ALL {
            let px = rgba(look, 32);
            assert_eq!(px.len(), 32 * 32 * 4);
            assert_eq!(px[3], 0, "{look:?} corner");
            let mid = (16 * 32 + 16) * 4;
            assert_eq!(px[mid + 3], 255, "{look:?} middle");
        }
    }

    /// Writes every icon at 64 px to `target/tray-icons/*.pam` for people to look at
    /// (`convert target/tray-icons/offline.pam offline.png`), and reads each file back: a PAM
    /// of 64 x 64 RGBA pixels that are the icon's, and at that size too every pair of icons
    /// differs in shape.
    #[test]
    fn icons_are_written_for_review() {
        const HEADER: &[u8] =
            b"P7\nWIDTH 64\nHEIGHT 64\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n";
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tray-icons");
        std::fs::create_dir_all(&dir).unwrap();
        let mut shapes = Vec::new();
        for look in Look::ALL {
            let mut f = HEADER.to_vec();
            f.extend(rgba(look, 64));
            let path = dir.join(format!("{}.pam", look.name()));
            std::fs::write(&path, f).unwrap();
            let back = std::fs::read(&path).unwrap();
            let pixels = back.strip_prefix(HEADER).expect("a PAM header");
            assert_eq!(pixels.len(), 64 * 64 * 4, "{look:?}: 64 x 64 RGBA");
            assert_eq!(pixels[3], 0, "{look:?}: transparent corner at 64 px");
            assert_eq!(
                pixels[(32 * 64 + 32) * 4 + 3],
                255,
                "{look:?}: opaque middle"
            );
            shapes.push((look, shape_at(look, 64)));
        }
        for (i, (a, sa)) in shapes.iter().enumerate() {
            for (b, sb) in &shapes[i + 1..] {
                let differ = sa.iter().zip(sb).filter(|(x, y)| x != y).count();
                assert!(
                    differ >= 160,
                    "{a:?} and {b:?} differ in only {differ} pixels at 64 px"
                );
            }
        }
    }

    #[test]
    fn state_maps_to_look() {
        use proto::DaemonState as S;
        assert_eq!(Look::for_state(S::Ready), Look::Ready);
        assert_eq!(Look::for_state(S::Degraded), Look::Degraded);
        assert_eq!(Look::for_state(S::Unknown), Look::Degraded);
        assert_eq!(Look::for_state(S::NotReady), Look::NotReady);
        assert_eq!(Look::for_state(S::SignedOut), Look::SignedOut);
        assert_eq!(Look::for_state(S::Offline), Look::Offline);
    }
}
