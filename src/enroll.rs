//! `shiftready enroll --hq URL --token SECRET`: trades the site's enrollment secret for this
//! device's key and keeps it in the state directory, readable by the user alone.

use crate::cli::EnrollArgs;
use crate::config::Loaded;
use crate::exit::{self, ExitError};
use crate::hq_client::{DeviceFile, HqClient, enroll_request};
use std::io::Write;
use std::path::Path;

/// Writes the device file atomically with mode 0600 (owner read/write only).
pub fn store(path: &Path, dev: &DeviceFile) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.tmp", crate::hq_client::DEVICE_FILE));
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(serde_json::to_string_pretty(dev)?.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// `shiftready enroll`.
pub async fn cmd_enroll(loaded: &Loaded, args: &EnrollArgs) -> anyhow::Result<i32> {
    let secret = args.token.trim();
    if secret.is_empty() {
        return Err(ExitError::new(
            exit::USAGE,
            "--token: the enrollment secret is empty",
        ));
    }
    let client = HqClient::new(&args.hq, &loaded.config.hq.ca_file, None)
        .map_err(|e| ExitError::new(exit::USAGE, format!("--hq: {e}")))?;
    let resp = client
        .enroll(&enroll_request(secret))
        .await
        .map_err(|e| ExitError::new(e.exit_code(), format!("enrollment failed: {e}")))?;
    let dev = DeviceFile {
        device_id: resp.device_id,
        device_key: resp.device_key,
        hq_url: client.url().to_string(),
    };
    let path = DeviceFile::path(loaded);
    store(&path, &dev).map_err(|e| {
        ExitError::new(
            exit::CANT_CREATE,
            format!(
                "HQ enrolled this device but its key could not be saved to {}: {e}",
                path.display()
            ),
        )
    })?;
    println!(
        "Enrolled with HQ at {} as device {}.",
        dev.hq_url, dev.device_id
    );
    println!(
        "The device key is in {} (readable by you alone).",
        path.display()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn device_file_is_private_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/device.json");
        let dev = DeviceFile {
            device_id: "d1".into(),
            device_key: "k1".into(),
            hq_url: "https://hq".into(),
        };
        store(&path, &dev).unwrap();
        store(
            &path,
            &DeviceFile {
                device_key: "k2".into(),
                ..dev.clone()
            },
        )
        .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = DeviceFile::load(&path).unwrap().unwrap();
        assert_eq!(back.device_key, "k2");
    }
}
