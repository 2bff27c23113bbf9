//! Reference values computed straight from the published definitions, independently of the
//! production code they check (a formula bug there cannot hide behind the same formula here).

/// The interarrival jitter of RFC 3550 (RTP), section 6.4.1, in the unit of its input, over
/// packets given in the order they arrived, each as (when it was sent, when it arrived).
///
/// From the RFC: the transit time of packet i is `R_i - S_i`; the difference between two
/// packets is `D(i,j) = (R_j - R_i) - (S_j - S_i) = (R_j - S_j) - (R_i - S_i)`, and the jitter
/// is updated for each packet i, with i-1 the one that arrived before it, as
/// `J(i) = J(i-1) + (|D(i-1,i)| - J(i-1)) / 16`, from `J = 0`.
/// <https://www.rfc-editor.org/rfc/rfc3550#section-6.4.1>
///
/// `None` with fewer than two packets (no difference to take).
pub fn rfc3550_jitter(sent_arrived: &[(f64, f64)]) -> Option<f64> {
    if sent_arrived.len() < 2 {
        return None;
    }
    let transit: Vec<f64> = sent_arrived.iter().map(|&(s, r)| r - s).collect();
    let mut j = 0.0;
    for w in transit.windows(2) {
        let d = w[1] - w[0];
        j += (d.abs() - j) / 16.0;
    }
    Some(j)
}

#[cfg(test)]
mod tests {
    use super::rfc3550_jitter;

    #[test]
    fn constant_transit_has_no_jitter() {
        let p: Vec<(f64, f64)> = (0..50)
            .map(|i| (20.0 * i as f64, 20.0 * i as f64 + 7.0))
            .collect();
        assert_eq!(rfc3550_jitter(&p), Some(0.0));
        assert_eq!(rfc3550_jitter(&p[..1]), None);
    }

    #[test]
    fn one_step_by_hand() {
        // Transit 10 then 26: |D| = 16, so J = 0 + (16 - 0)/16 = 1; then transit 26 again:
        // |D| = 0, J = 1 + (0 - 1)/16 = 0.9375.
        let p = [(0.0, 10.0), (20.0, 46.0), (40.0, 66.0)];
        assert_eq!(rfc3550_jitter(&p[..2]), Some(1.0));
        assert_eq!(rfc3550_jitter(&p), Some(0.9375));
    }

    #[test]
    fn alternating_transit_converges_to_the_step() {
        // |D| is always 8: J approaches 8 as 8·(1 − (15/16)^n).
        let p: Vec<(f64, f64)> = (0..200)
            .map(|i| {
                (
                    20.0 * i as f64,
                    20.0 * i as f64 + if i % 2 == 0 { 0.0 } else { 8.0 },
                )
            })
            .collect();
        let n = 199;
        let expect = 8.0 * (1.0 - (15.0f64 / 16.0).powi(n));
        assert!((rfc3550_jitter(&p).unwrap() - expect).abs() < 1e-9);
    }
}
