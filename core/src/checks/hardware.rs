//! The `hardware` check's verdict: CPU load, memory, free disk, cores and power source
//! against the policy. Measuring them is the agent's (`checks::hardware`).

use proto::metric;
use proto::policy::HardwarePolicy;
use proto::{CheckResult, Msg, MsgArg, Status};

/// Power source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    Ac,
    Battery,
    Unknown,
}

impl Power {
    pub fn as_str(self) -> &'static str {
        match self {
            Power::Ac => "ac",
            Power::Battery => "battery",
            Power::Unknown => "unknown",
        }
    }
}

/// What was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct HardwareFacts {
    pub cpu_model: String,
    pub cpu_cores: usize,
    /// Percent of all cores busy over the sample.
    pub cpu_load_pct: f64,
    pub memory_total_gb: f64,
    pub memory_available_gb: f64,
    /// Free space on the volume holding the home directory, GB; `None` if not found.
    pub disk_free_gb: Option<f64>,
    pub disk_mount: Option<String>,
    pub power: Power,
    pub battery_pct: Option<f64>,
}

impl HardwareFacts {
    pub fn memory_used_pct(&self) -> f64 {
        if self.memory_total_gb <= 0.0 {
            return f64::NAN;
        }
        100.0 * (1.0 - self.memory_available_gb / self.memory_total_gb)
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Judges the facts against the policy (pure). The worst finding decides the status and
/// the hint.
pub fn evaluate(f: &HardwareFacts, p: &HardwarePolicy) -> CheckResult {
    let mem_pct = f.memory_used_pct();
    let mut r = CheckResult::new(Status::Pass, "")
        .with(metric::CPU_MODEL, &f.cpu_model)
        .with(metric::CPU_CORES, f.cpu_cores)
        .with(metric::CPU_LOAD_PCT, round1(f.cpu_load_pct))
        .with(metric::MEMORY_TOTAL_GB, round1(f.memory_total_gb))
        .with(metric::MEMORY_AVAILABLE_GB, round1(f.memory_available_gb))
        .with(metric::MEMORY_USED_PCT, round1(mem_pct))
        .with(metric::DISK_FREE_GB, f.disk_free_gb.map(round1))
        .with("disk_mount", &f.disk_mount)
        .with(metric::POWER, f.power.as_str())
        .with("battery_pct", f.battery_pct);

    let mut findings: Vec<(Status, Msg)> = Vec::new();
    let cpu = p.cpu_pct.status(f.cpu_load_pct);
    if cpu != Status::Pass {
        findings.push((
            cpu,
            Msg::new("hw-cpu-busy").arg("pct", MsgArg::Num(f.cpu_load_pct, 0)),
        ));
    }
    let mem = p.memory_pct.status(mem_pct);
    if mem != Status::Pass {
        findings.push((
            mem,
            Msg::new("hw-memory").arg("pct", MsgArg::Num(mem_pct, 0)),
        ));
    }
    match f.disk_free_gb {
        Some(free) => {
            let s = p.disk_free_gb.status(free);
            if s != Status::Pass {
                findings.push((s, Msg::new("hw-disk-low").arg("free", MsgArg::Num(free, 1))));
            }
        }
        None => findings.push((Status::Warn, Msg::new("hw-disk-unknown"))),
    }
    if (f.cpu_cores as u64) < u64::from(p.min_cores) {
        findings.push((
            Status::Warn,
            Msg::new("hw-cores")
                .arg("cores", MsgArg::Count(f.cpu_cores as i64))
                .arg("min", MsgArg::Count(i64::from(p.min_cores))),
        ));
    }
    if f.power == Power::Battery && p.battery_warns {
        findings.push((Status::Warn, Msg::new("hw-battery")));
    }
    // Worst first; among equals the order above (CPU, memory, disk, cores, power).
    if let Some((status, hint)) = findings
        .iter()
        .enumerate()
        .max_by_key(|(i, (s, _))| (*s, std::cmp::Reverse(*i)))
        .map(|(_, f)| f.clone())
    {
        r.status = status;
        crate::i18n::set_hint(&mut r, hint);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> HardwareFacts {
        HardwareFacts {
            cpu_model: "Test CPU".into(),
            cpu_cores: 8,
            cpu_load_pct: 12.0,
            memory_total_gb: 16.0,
            memory_available_gb: 10.0,
            disk_free_gb: Some(100.0),
            disk_mount: Some("/".into()),
            power: Power::Ac,
            battery_pct: None,
        }
    }

    #[test]
    fn healthy_machine_passes() {
        let r = evaluate(&healthy(), &HardwarePolicy::default());
        assert_eq!(r.status, Status::Pass, "{}", r.hint);
        assert_eq!(r.metrics["memory_used_pct"], 37.5);
    }

    #[test]
    fn cpu_bands_follow_operata_limits() {
        let p = HardwarePolicy::default();
        let mut f = healthy();
        f.cpu_load_pct = 80.0;
        assert_eq!(evaluate(&f, &p).status, Status::Pass);
        f.cpu_load_pct = 85.0;
        assert_eq!(evaluate(&f, &p).status, Status::Warn);
        f.cpu_load_pct = 95.0;
        let r = evaluate(&f, &p);
        assert_eq!(r.status, Status::Fail);
        assert!(r.hint.contains("95 %"), "{}", r.hint);
    }

    #[test]
    fn worst_finding_decides_the_hint() {
        let mut f = healthy();
        f.power = Power::Battery;
        f.memory_available_gb = 0.8; // 95 % used: fail beats the battery warning
        let r = evaluate(&f, &HardwarePolicy::default());
        assert_eq!(r.status, Status::Fail);
        assert!(r.hint.starts_with("Memory is 95 %"), "{}", r.hint);
    }

    #[test]
    fn battery_and_low_disk_warn() {
        let mut f = healthy();
        f.power = Power::Battery;
        let r = evaluate(&f, &HardwarePolicy::default());
        assert_eq!(r.status, Status::Warn);
        assert!(r.hint.contains("charger"));
        let mut f = healthy();
        f.disk_free_gb = Some(1.0);
        assert_eq!(
            evaluate(&f, &HardwarePolicy::default()).status,
            Status::Fail
        );
    }

    #[test]
    fn zero_memory_reading_is_not_a_pass() {
        let mut f = healthy();
        f.memory_total_gb = 0.0;
        assert_ne!(
            evaluate(&f, &HardwarePolicy::default()).status,
            Status::Pass
        );
    }
}
