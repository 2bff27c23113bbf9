//! Enrollment's local half: the site's secret from exactly one place (`--token-file PATH`,
//! `SHIFTREADY_ENROLL_TOKEN`, or `--token SECRET`), IT's one-time re-enrollment code from a
//! file or standard input (`--code-file`) or `SHIFTREADY_REENROLL_CODE` (never the command
//! line, which every user of the computer can read), and the device file, readable by the
//! user alone. `shiftready enroll` itself is `crate::commands::enroll`.

use crate::hq_client::DeviceFile;
use std::io::{Read, Write};
use std::path::Path;

/// The environment variable that can carry the enrollment secret (not visible in `ps`).
pub const TOKEN_ENV: &str = "SHIFTREADY_ENROLL_TOKEN";

/// The environment variable that can carry the re-enrollment code.
pub const CODE_ENV: &str = "SHIFTREADY_REENROLL_CODE";

/// The longest secret file read; HQ's secrets are about 50 characters.
pub const MAX_SECRET_BYTES: u64 = 4096;

const HOW: &str = "give the site's enrollment secret exactly one way: --token-file PATH (`-` for \
                   standard input), the SHIFTREADY_ENROLL_TOKEN environment variable, or --token SECRET";

/// Why no usable enrollment secret was given. `Unreadable` is a missing input (exit 66), the
/// others a usage error (64): see `crate::exit::code_of`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("no enrollment secret: {HOW}")]
    Missing,
    #[error("the enrollment secret was given {} ways ({}): {HOW}", .0.len(), .0.join(", "))]
    SeveralWays(Vec<&'static str>),
    #[error("--token-file: cannot read the enrollment secret from {what}: {detail}")]
    Unreadable { what: String, detail: String },
    #[error(
        "--token-file: {0} is longer than {MAX_SECRET_BYTES} bytes; it must hold only the enrollment secret"
    )]
    TooLong(String),
    #[error("--token-file: {0} is not text; it must hold only the enrollment secret")]
    NotText(String),
    #[error("{0}: the enrollment secret is empty")]
    Empty(String),
    #[error("{0}: the enrollment secret must be one word (it has spaces or several lines)")]
    NotOneWord(String),
}

/// The enrollment secret from exactly one of `--token`, `--token-file` and the environment
/// (`env` is the value of [`TOKEN_ENV`], if set).
pub fn secret_from(
    token: Option<&str>,
    token_file: Option<&Path>,
    env: Option<String>,
    stdin: &mut dyn Read,
) -> Result<String, SecretError> {
    let env = env.filter(|v| !v.is_empty());
    let given: Vec<&'static str> = [
        token.is_some().then_some("--token"),
        token_file.is_some().then_some("--token-file"),
        env.is_some().then_some(TOKEN_ENV),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.is_empty() {
        return Err(SecretError::Missing);
    }
    if given.len() > 1 {
        return Err(SecretError::SeveralWays(given));
    }
    let (source, raw) = if let Some(t) = token {
        ("--token".to_string(), t.to_string())
    } else if let Some(path) = token_file {
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
        if let Err(e) = read {
            return Err(SecretError::Unreadable {
                what,
                detail: e.to_string(),
            });
        }
        if buf.len() as u64 > MAX_SECRET_BYTES {
            return Err(SecretError::TooLong(what));
        }
        let Ok(text) = String::from_utf8(buf) else {
            return Err(SecretError::NotText(what));
        };
        (format!("--token-file {what}"), text)
    } else {
        (TOKEN_ENV.to_string(), env.unwrap_or_default())
    };
    let secret = raw.trim();
    if secret.is_empty() {
        return Err(SecretError::Empty(source));
    }
    if secret.contains(char::is_whitespace) {
        return Err(SecretError::NotOneWord(source));
    }
    Ok(secret.to_string())
}

/// Why the re-enrollment code could not be used: `(unreadable, message)`; `unreadable` is a
/// file that cannot be read (exit 66), the rest a usage error (64).
pub type CodeError = (bool, String);

/// IT's re-enrollment code, if one was given: from `--code-file PATH` (`-`: standard input,
/// unless the secret already comes from there) or the [`CODE_ENV`] variable (`env`), not both.
pub fn code_from(
    code_file: Option<&Path>,
    secret_from_stdin: bool,
    env: Option<String>,
    stdin: &mut dyn Read,
) -> Result<Option<String>, CodeError> {
    const UNREADABLE: bool = true;
    const MALFORMED: bool = false;
    let env = env.filter(|v| !v.trim().is_empty());
    let (source, raw) = match (code_file, env) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err((
                MALFORMED,
                format!(
                    "the re-enrollment code was given two ways (--code-file, {CODE_ENV}): give it one way"
                ),
            ));
        }
        (None, Some(v)) => (CODE_ENV.to_string(), v),
        (Some(path), None) => {
            let mut buf = Vec::new();
            let (what, read) = if path.as_os_str() == "-" {
                if secret_from_stdin {
                    return Err((
                        MALFORMED,
                        "--code-file - and --token-file - cannot both read standard input: put \
                         one of them in a file"
                            .into(),
                    ));
                }
                (
                    "standard input".to_string(),
                    stdin.take(MAX_SECRET_BYTES + 1).read_to_end(&mut buf),
                )
            } else {
                let read = std::fs::File::open(path)
                    .and_then(|f| f.take(MAX_SECRET_BYTES + 1).read_to_end(&mut buf));
                (path.display().to_string(), read)
            };
            if let Err(e) = read {
                return Err((
                    UNREADABLE,
                    format!("--code-file: cannot read the re-enrollment code from {what}: {e}"),
                ));
            }
            let text = String::from_utf8(buf)
                .ok()
                .filter(|t| t.len() as u64 <= MAX_SECRET_BYTES)
                .ok_or_else(|| {
                    (
                        MALFORMED,
                        format!(
                            "--code-file: {what} must hold only the re-enrollment code IT gave you"
                        ),
                    )
                })?;
            (format!("--code-file {what}"), text)
        }
    };
    let code = raw.trim();
    if code.is_empty() {
        return Err((
            MALFORMED,
            format!("{source}: the re-enrollment code is empty"),
        ));
    }
    if code.contains(char::is_whitespace) {
        return Err((
            MALFORMED,
            format!(
                "{source}: the re-enrollment code must be one word (it has spaces or several lines)"
            ),
        ));
    }
    Ok(Some(code.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args<'a>(
        token: Option<&'a str>,
        file: Option<&'a Path>,
    ) -> (Option<&'a str>, Option<&'a Path>) {
        (token, file)
    }

    fn secret_from(
        &(token, file): &(Option<&str>, Option<&Path>),
        env: Option<String>,
        stdin: &mut dyn Read,
    ) -> Result<String, SecretError> {
        super::secret_from(token, file, env, stdin)
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

        let err = |r: Result<String, SecretError>| r.unwrap_err();
        assert_eq!(
            err(secret_from(&args(None, None), None, none)),
            SecretError::Missing
        );
        assert_eq!(
            err(secret_from(&args(Some("a"), Some(&f)), None, none)),
            SecretError::SeveralWays(vec!["--token", "--token-file"])
        );
        assert_eq!(
            err(secret_from(&args(Some("a"), None), Some("b".into()), none)),
            SecretError::SeveralWays(vec!["--token", TOKEN_ENV])
        );
        assert_eq!(
            err(secret_from(&args(Some("  "), None), None, none)),
            SecretError::Empty("--token".into())
        );
        std::fs::write(&f, "two\nlines\n").unwrap();
        assert!(matches!(
            err(secret_from(&args(None, Some(&f)), None, none)),
            SecretError::NotOneWord(_)
        ));
        std::fs::write(&f, vec![b'x'; 5000]).unwrap();
        assert!(matches!(
            err(secret_from(&args(None, Some(&f)), None, none)),
            SecretError::TooLong(_)
        ));
        assert!(matches!(
            err(secret_from(
                &args(None, Some(&dir.path().join("missing"))),
                None,
                none
            )),
            SecretError::Unreadable { .. }
        ));
    }

    #[test]
    fn code_comes_from_a_file_stdin_or_the_environment() {
        let none: &mut dyn Read = &mut std::io::empty();
        assert_eq!(code_from(None, false, None, none), Ok(None));
        assert_eq!(
            code_from(None, false, Some("sr_re_1\n".into()), none),
            Ok(Some("sr_re_1".into()))
        );
        let mut stdin = "sr_re_2\n".as_bytes();
        assert_eq!(
            code_from(Some(Path::new("-")), false, None, &mut stdin),
            Ok(Some("sr_re_2".into()))
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("code");
        std::fs::write(&f, "sr_re_3\r\n").unwrap();
        assert_eq!(
            code_from(Some(&f), false, None, none),
            Ok(Some("sr_re_3".into()))
        );
        let unreadable = |r: Result<Option<String>, CodeError>| r.unwrap_err().0;
        assert!(!unreadable(code_from(
            Some(&f),
            false,
            Some("x".into()),
            none
        )));
        assert!(!unreadable(code_from(
            Some(Path::new("-")),
            true,
            None,
            none
        )));
        let missing = dir.path().join("missing");
        assert!(unreadable(code_from(Some(&missing), false, None, none)));
        std::fs::write(&f, "two words").unwrap();
        assert!(!unreadable(code_from(Some(&f), false, None, none)));
        std::fs::write(&f, "\n").unwrap();
        assert!(!unreadable(code_from(Some(&f), false, None, none)));
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
