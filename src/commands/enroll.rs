//! `shiftready enroll --hq URL --token-file PATH` (or `--token SECRET`, or the secret in
//! `SHIFTREADY_ENROLL_TOKEN`): trades the site's enrollment secret for this device's key and
//! keeps it in the state directory, readable by the user alone. With IT's one-time
//! re-enrollment code (`--code-file PATH` or `SHIFTREADY_REENROLL_CODE`) it takes over the
//! device IT asked to enroll again, keeping its id and history.

use crate::cli::EnrollArgs;
use crate::config::Loaded;
use crate::enroll::{CODE_ENV, TOKEN_ENV, code_from, secret_from, store};
use crate::exit::{self, ExitError};
use crate::hq_client::{DeviceFile, HqClient, HqError, enroll_request};
use crate::i18n::{tr, trm};
use proto::Msg;

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
    let from_stdin = args
        .token_file
        .as_deref()
        .is_some_and(|p| p.as_os_str() == "-");
    let code = code_from(
        args.code_file.as_deref(),
        from_stdin,
        std::env::var(CODE_ENV).ok(),
        &mut std::io::stdin().lock(),
    )
    .map_err(|(unreadable, message)| {
        let code = if unreadable {
            exit::NO_INPUT
        } else {
            exit::USAGE
        };
        ExitError::new(code, message)
    })?;
    // Said in words here, before the URL parser's own ("relative URL without a base").
    let full = reqwest::Url::parse(args.hq.trim())
        .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
    if !full {
        return Err(ExitError::new(
            exit::USAGE,
            trm(&Msg::new("enroll-bad-hq").text("hq", args.hq.trim())),
        ));
    }
    let client = HqClient::configured(&args.hq, &loaded.config.hq, None)
        .map_err(|e| ExitError::new(exit::USAGE, format!("--hq: {e}")))?;
    let mut req = enroll_request(secret);
    req.reenroll_code = code.clone();
    let resp = match client.enroll(&req).await {
        Ok(r) => r,
        // A re-enrollment code or a hostname HQ cannot take: the person can fix it (65).
        Err(HqError::Rejected {
            status: 422,
            message,
        }) => {
            return Err(ExitError::new(
                exit::DATA,
                trm(&Msg::new("enroll-refused").text("message", message)),
            ));
        }
        Err(e) => return Err(anyhow::Error::new(e).context(tr("enroll-failed"))),
    };
    if code.is_some() && !resp.reenrolled {
        // An HQ older than re-enrollment codes ignores the code.
        eprintln!("shiftready: {}", tr("enroll-code-ignored"));
    }
    let dev = DeviceFile {
        device_id: resp.device_id,
        device_key: resp.device_key,
        hq_url: client.url().to_string(),
    };
    let path = DeviceFile::path(loaded);
    store(&path, &dev).map_err(|e| {
        ExitError::new(
            exit::CANT_CREATE,
            trm(&Msg::new("enroll-not-saved")
                .text("path", path.display().to_string())
                .text("error", e.to_string())),
        )
    })?;
    let done = if resp.reenrolled {
        "enroll-done-again"
    } else {
        "enroll-done"
    };
    println!(
        "{}",
        trm(&Msg::new(done)
            .text("hq", dev.hq_url.clone())
            .text("device", dev.device_id.to_string()))
    );
    if let Some(n) = &resp.notice {
        println!("{}", trm(&Msg::new("enroll-note").text("note", n.clone())));
    }
    println!(
        "{}",
        trm(&Msg::new("enroll-key-file").text("path", path.display().to_string()))
    );
    Ok(0)
}
