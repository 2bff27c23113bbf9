//! Linux: the distribution from os-release, a pending reboot from the distribution's flag file.

use super::OsFacts;
use crate::platform::sys_path;

pub fn fill(f: &mut OsFacts) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(sys_path("/etc/os-release"))
        .or_else(|_| std::fs::read_to_string(sys_path("/usr/lib/os-release")))
        .unwrap_or_default();
    let rel = parse_os_release(&text);
    f.distro_id = rel.get("ID").cloned();
    f.version = rel
        .get("VERSION_ID")
        .cloned()
        .unwrap_or_else(|| f.kernel.clone());
    f.name = rel
        .get("PRETTY_NAME")
        .or(rel.get("NAME"))
        .cloned()
        .unwrap_or_else(|| "Linux".into());
    // Debian and Ubuntu (update-notifier) and Fedora/RHEL (dnf needs-restarting writes none,
    // so there we cannot tell) use this flag.
    f.pending_reboot = Some(
        sys_path("/run/reboot-required").exists() || sys_path("/var/run/reboot-required").exists(),
    );
    Ok(())
}

/// Parses os-release(5): `KEY=value` lines, values optionally quoted.
pub fn parse_os_release(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.replace("\\\"", "\"")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn os_release_quotes_are_stripped() {
        let m = super::parse_os_release(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID='12'\n# c\n",
        );
        assert_eq!(m["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(m["ID"], "debian");
        assert_eq!(m["VERSION_ID"], "12");
    }
}
