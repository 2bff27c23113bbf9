//! `shiftready enroll --hq URL --token-file PATH` (or `--token SECRET`, or the secret in
//! `SHIFTREADY_ENROLL_TOKEN`): trades the site's enrollment secret for this device's key and
//! keeps it in the state directory, readable by the user alone.

use crate::cli::EnrollArgs;
use crate::config::Loaded;
use crate::enroll::{TOKEN_ENV, secret_from, store};
use crate::exit::{self, ExitError};
use crate::hq_client::{DeviceFile, HqClient, enroll_request};
use anyhow::Context;

/// `shiftready enroll`. Exit 64 when the secret is given no way or several ways, or is empty;
/// 66 when its file cannot be read; HQ's refusals as [`crate::hq_client::HqError`] says.
pub async fn enroll(loaded: &Loaded, args: &EnrollArgs) -> anyhow::Result<i32> {
    let secret = secret_from(
        args.token.as_deref(),
        args.token_file.as_deref(),
        std::env::var(TOKEN_ENV).ok(),
        &mut std::io::stdin().lock(),
    )?;
    let secret = secret.as_str();
    // Said in words here, before the URL parser's own ("relative URL without a base").
    let full = reqwest::Url::parse(args.hq.trim())
        .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
    if !full {
        return Err(ExitError::new(
            exit::USAGE,
            format!(
                "--hq '{}': must be a full address like https://hq.example.com",
                args.hq.trim()
            ),
        ));
    }
    let client = HqClient::configured(&args.hq, &loaded.config.hq, None)
        .map_err(|e| ExitError::new(exit::USAGE, format!("--hq: {e}")))?;
    let resp = client
        .enroll(&enroll_request(secret))
        .await
        .context("enrollment failed")?;
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
