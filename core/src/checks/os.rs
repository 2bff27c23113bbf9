//! The `os` check's verdict: the facts the OS gives about itself against the policy's
//! minimum version per family. Gathering them is the agent's (`checks::os`).

use proto::metric;
use proto::policy::{OsPolicy, parse_version, version_at_least};
use proto::{CheckResult, Msg, MsgArg, Status};

/// What the OS says about itself.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OsFacts {
    /// `windows`, `macos`, `linux` or the name of another system.
    pub family: String,
    /// Human name, e.g. "Debian GNU/Linux 12 (bookworm)", "Windows 11 Pro", "macOS 14.2".
    pub name: String,
    /// The version compared with the policy: Windows `major.minor.build`, macOS product
    /// version, Linux distribution VERSION_ID.
    pub version: String,
    /// Windows build number, when known.
    pub build: Option<String>,
    /// Linux distribution id (os-release `ID`), e.g. `debian`, `ubuntu`.
    pub distro_id: Option<String>,
    /// Kernel version.
    pub kernel: String,
    pub arch: String,
    pub uptime_s: Option<u64>,
    /// `Some(true)` when the OS says updates wait for a reboot; `None` when it does not tell.
    pub pending_reboot: Option<bool>,
}

/// `r` with this status and hint.
fn hinted(status: Status, msg: Msg, mut r: CheckResult) -> CheckResult {
    r.status = status;
    crate::i18n::set_hint(&mut r, msg);
    r
}

/// What is compared, as a message argument: the kernel in the agent's language, a system's
/// name as it is.
fn what_arg(what: &str) -> MsgArg {
    if what == crate::i18n::english_id("os-linux-kernel") {
        MsgArg::Id("os-linux-kernel")
    } else {
        MsgArg::Text(what.to_string())
    }
}

/// Judges the facts against the policy (pure).
pub fn evaluate(f: &OsFacts, policy: &OsPolicy) -> CheckResult {
    let mut r = CheckResult::new(Status::Pass, "")
        .with(metric::FAMILY, &f.family)
        .with("name", &f.name)
        .with(metric::VERSION, &f.version)
        .with(metric::BUILD, &f.build)
        .with("distro_id", &f.distro_id)
        .with("kernel", &f.kernel)
        .with(metric::ARCH, &f.arch)
        .with(metric::UPTIME_S, f.uptime_s)
        .with(metric::PENDING_REBOOT, f.pending_reboot);

    // (what is compared, version found, minimum) per family.
    let mut compare: Vec<(String, String, String)> = Vec::new();
    match f.family.as_str() {
        "windows" => compare.push((
            "Windows".into(),
            f.version.clone(),
            policy.min_windows.clone(),
        )),
        "macos" => compare.push(("macOS".into(), f.version.clone(), policy.min_macos.clone())),
        "linux" => {
            if let Some(id) = &f.distro_id {
                if let Some(min) = policy.min_linux_distro.get(id) {
                    compare.push((f.name.clone(), f.version.clone(), min.clone()));
                }
            }
            compare.push((
                crate::i18n::english_id("os-linux-kernel"),
                f.kernel.clone(),
                policy.min_linux_kernel.clone(),
            ));
        }
        other => {
            r.set("min_version", Option::<String>::None);
            let msg = Msg::new("os-unknown-min").text("other", other);
            return hinted(Status::Error, msg, r);
        }
    }
    r.set("min_version", &compare[0].2);
    for (what, found, min) in &compare {
        let (Some(fv), Some(mv)) = (parse_version(found), parse_version(min)) else {
            let msg = Msg::new("os-version-unreadable")
                .arg("what", what_arg(what))
                .text("found", found);
            return hinted(Status::Error, msg, r);
        };
        if !version_at_least(&fv, &mv) {
            let msg = Msg::new("os-too-old")
                .arg("what", what_arg(what))
                .text("found", found)
                .text("min", min);
            return hinted(Status::Fail, msg, r);
        }
    }
    if f.pending_reboot == Some(true) && policy.pending_reboot_warns {
        return hinted(Status::Warn, Msg::new("os-restart-pending"), r);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(distro: &str, version: &str, kernel: &str) -> OsFacts {
        OsFacts {
            family: "linux".into(),
            name: format!("{distro} {version}"),
            version: version.into(),
            distro_id: Some(distro.into()),
            kernel: kernel.into(),
            arch: "x86_64".into(),
            pending_reboot: Some(false),
            ..OsFacts::default()
        }
    }

    #[test]
    fn current_debian_passes() {
        let r = evaluate(
            &linux("debian", "12", "6.1.0-13-amd64"),
            &OsPolicy::default(),
        );
        assert_eq!(r.status, Status::Pass, "{}", r.hint);
        assert_eq!(r.metrics["min_version"], "12");
    }

    #[test]
    fn old_ubuntu_fails_naming_both_versions() {
        let r = evaluate(&linux("ubuntu", "20.04", "5.15.0"), &OsPolicy::default());
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.hint.contains("20.04") && r.hint.contains("22.04"),
            "{}",
            r.hint
        );
    }

    #[test]
    fn old_kernel_fails_on_unlisted_distro() {
        let r = evaluate(&linux("arch", "rolling", "4.19.0"), &OsPolicy::default());
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.hint.contains("4.19.0") && r.hint.contains("5.10"),
            "{}",
            r.hint
        );
    }

    #[test]
    fn windows_build_is_compared() {
        let mut f = OsFacts {
            family: "windows".into(),
            name: "Windows 10 Pro".into(),
            version: "10.0.19044".into(),
            build: Some("19044".into()),
            ..OsFacts::default()
        };
        assert_eq!(evaluate(&f, &OsPolicy::default()).status, Status::Fail);
        f.version = "10.0.22631".into();
        assert_eq!(evaluate(&f, &OsPolicy::default()).status, Status::Pass);
    }

    #[test]
    fn pending_reboot_warns() {
        let mut f = linux("debian", "12", "6.1.0");
        f.pending_reboot = Some(true);
        let r = evaluate(&f, &OsPolicy::default());
        assert_eq!(r.status, Status::Warn);
        assert!(r.hint.contains("restart"));
    }

    #[test]
    fn unknown_os_is_an_error_not_a_panic() {
        let f = OsFacts {
            family: "haiku".into(),
            ..OsFacts::default()
        };
        let r = evaluate(&f, &OsPolicy::default());
        assert_eq!(r.status, Status::Error);
        assert!(r.hint.contains("haiku"));
    }

    #[test]
    fn unreadable_version_is_an_error() {
        let f = OsFacts {
            family: "macos".into(),
            version: "".into(),
            ..OsFacts::default()
        };
        assert_eq!(evaluate(&f, &OsPolicy::default()).status, Status::Error);
    }
}
