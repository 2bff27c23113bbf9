//! `shiftready enroll --hq URL --token-file PATH` (or `--token SECRET`, or the secret in
//! `SHIFTREADY_ENROLL_TOKEN`): trades the site's enrollment secret for this device's key and
//! keeps it in the state directory, readable by the user alone.

use crate::cli::EnrollArgs;
use crate::config::Loaded;
use crate::exit::{self, ExitError};
use crate::hq_client::{DeviceFile, HqClient, enroll_request};
use std::io::{Read, Write};
use std::path::Path;

/// The environment variable that can carry the enrollment secret (not visible in `ps`).
pub const TOKEN_ENV: &str = "SHIFTREADY_ENROLL_TOKEN";

/// The longest secret file read; HQ's secrets are about 50 characters.
const MAX_SECRET_BYTES: u64 = 4096;

const HOW: &str = "give the site's enrollment secret exactly one way: --token-file PATH (`-` for \
                   standard input), the SHIFTREADY_ENROLL_TOKEN environment variable, or --token SECRET";

/// The enrollment secret from exactly one of `--token`, `--token-file` and the environment
/// (`env` is the value of [`TOKEN_ENV`], if set). Exit 64 when none or several are given, or
/// the secret is empty; 66 when the file cannot be read.
pub fn secret_from(
    args: &EnrollArgs,
    env: Option<String>,
    stdin: &mut dyn Read,
) -> anyhow::Result<String> {
    let env = env.filter(|v| !v.is_empty());
    let given: Vec<&str> = [
        args.token.is_some().then_some("--token"),
        args.token_file.is_some().then_some("--token-file"),
        env.is_some().then_some(TOKEN_ENV),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.is_empty() {
        return Err(ExitError::new(
            exit::USAGE,
            format!("no enrollment secret: {HOW}"),
        ));
    }
    if given.len() > 1 {
        return Err(ExitError::new(
            exit::USAGE,
            format!(
                "the enrollment secret was given {} ways ({}): {HOW}",
                given.len(),
                given.join(", ")
            ),
        ));
    }
    let (source, raw) = if let Some(t) = &args.token {
        ("--token".to_string(), t.clone())
    } else if let Some(path) = &args.token_file {
        let mut buf = Vec::new();
        let (what, read) = if path.as_os_str() == "-" {
            (
                "standard input".to_string(),
                stdin.take(MAX_SECRET_BYTES + 1).read_to_end(&mut buf),
            )
        } else {
            let what = path.display().to_string();
            let read = std::fs::File::open(path)
                .and_then(|f| f.take(MAX_SECRET_BYTES + 1).read_to_end(&mut buf));
            (what, read)
        };
        read.map_err(|e| {
            ExitError::new(
                exit::NO_INPUT,
                format!("--token-file: cannot read the enrollment secret from {what}: {e}"),
            )
        })?;
        if buf.len() as u64 > MAX_SECRET_BYTES {
            return Err(ExitError::new(
                exit::USAGE,
                format!(
                    "--token-file: {what} is longer than {MAX_SECRET_BYTES} bytes; it must hold only the enrollment secret"
                ),
            ));
        }
        let text = String::from_utf8(buf).map_err(|_| {
            ExitError::new(
                exit::USAGE,
                format!(
                    "--token-file: {what} is not text; it must hold only the enrollment secret"
                ),
            )
        })?;
        (format!("--token-file {what}"), text)
    } else {
        (TOKEN_ENV.to_string(), env.unwrap_or_default())
    };
    let secret = raw.trim();
    if secret.is_empty() {
        return Err(ExitError::new(
            exit::USAGE,
            format!("{source}: the enrollment secret is empty"),
        ));
    }
    if secret.contains(char::is_whitespace) {
        return Err(ExitError::new(
            exit::USAGE,
            format!(
                "{source}: the enrollment secret must be one word (it has spaces or several lines)"
            ),
        ));
    }
    Ok(secret.to_string())
}

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
    let secret = secret_from(
        args,
        std::env::var(TOKEN_ENV).ok(),
        &mut std::io::stdin().lock(),
    )?;
    let secret = secret.as_str();
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

    fn args(token: Option<&str>, file: Option<&Path>) -> EnrollArgs {
        EnrollArgs {
            hq: "http://127.0.0.1:1".into(),
            token: token.map(str::to_string),
            token_file: file.map(Path::to_path_buf),
        }
    }

    #[test]
    fn secret_comes_from_exactly_one_place() {
        let none: &mut dyn Read = &mut std::io::empty();
        assert_eq!(
            secret_from(&args(Some(" s1 "), None), None, none).unwrap(),
            "s1"
        );
        assert_eq!(
            secret_from(&args(None, None), Some("s2\n".into()), none).unwrap(),
            "s2"
        );
        let mut stdin = "s3\n".as_bytes();
        assert_eq!(
            secret_from(&args(None, Some(Path::new("-"))), None, &mut stdin).unwrap(),
            "s3"
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("secret");
        std::fs::write(&f, "s4\r\n").unwrap();
        assert_eq!(
            secret_from(&args(None, Some(&f)), None, none).unwrap(),
            "s4"
        );
        // An empty variable counts as not set.
        assert_eq!(
            secret_from(&args(Some("s5"), None), Some(String::new()), none).unwrap(),
            "s5"
        );

        let code = |r: anyhow::Result<String>| exit::code_of(&r.unwrap_err());
        assert_eq!(
            code(secret_from(&args(None, None), None, none)),
            exit::USAGE
        );
        assert_eq!(
            code(secret_from(&args(Some("a"), Some(&f)), None, none)),
            exit::USAGE
        );
        assert_eq!(
            code(secret_from(&args(Some("a"), None), Some("b".into()), none)),
            exit::USAGE
        );
        assert_eq!(
            code(secret_from(&args(Some("  "), None), None, none)),
            exit::USAGE
        );
        std::fs::write(&f, "two\nlines\n").unwrap();
        assert_eq!(
            code(secret_from(&args(None, Some(&f)), None, none)),
            exit::USAGE
        );
        std::fs::write(&f, vec![b'x'; 5000]).unwrap();
        assert_eq!(
            code(secret_from(&args(None, Some(&f)), None, none)),
            exit::USAGE
        );
        assert_eq!(
            code(secret_from(
                &args(None, Some(&dir.path().join("missing"))),
                None,
                none
            )),
            exit::NO_INPUT
        );
    }

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
