//! Secrets: device keys, API tokens, session ids and enrollment secrets are 256 random bits,
//! shown once and stored only as a SHA-256 hash (their entropy makes a slow hash pointless);
//! user passwords, which people choose, are hashed with argon2.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use sha2::{Digest, Sha256};

/// A new secret: `prefix` and 32 random bytes, base64url without padding (43 characters).
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The stored form of a password (argon2id, PHC string).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

/// Whether `password` matches the stored hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Makes HQ's SQLite database readable by its owner only (0600): it holds password hashes and
/// the hashes of every key and token. Creates the file so when it is missing (SQLite then keeps
/// its mode, and gives its `-wal` and `-shm` files the same), and tightens an existing database
/// and its `-wal`/`-shm` made by an older HQ with the default 0644.
pub fn restrict_to_owner(db_file: &std::path::Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use anyhow::Context;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if db_file.as_os_str().to_string_lossy().starts_with(':') {
            return Ok(()); // :memory:
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(db_file)
            .with_context(|| format!("creating {}", db_file.display()))?;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db_file.as_os_str().to_owned();
            name.push(suffix);
            let path = std::path::PathBuf::from(name);
            match std::fs::metadata(&path) {
                Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                        .with_context(|| format!("making {} private (0600)", path.display()))?;
                }
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    let _ = db_file;
    Ok(())
}

/// Password checks allowed to run at once: one per two cores (at least 1, at most 8), so
/// sign-ins never take every core from ingest and the pages (scripts/bench_abuse.sh on 2 busy
/// cores with the throttle lifted: with two checks at once the heartbeats' p99 went from about
/// 200 to 550 ms).
/// Each argon2 check takes about 19 MiB and a core's worth of work for tens of milliseconds. Run unbounded, 64 parallel
/// logins took HQ's memory from 740 MB to 1.5 GB and, on the async workers, stalled every other
/// request. The checks run on this many threads of their own, started once: on tokio's
/// blocking pool they would land on ever new threads, each keeping its own malloc arena with a
/// freed 19 MiB in it (measured: 30 → 414 MiB for 64 parallel wrong passwords with only two at
/// once), while a fixed set of threads reuses the same memory.
fn password_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).clamp(1, 8))
}

/// A password check for the password threads: the password, the stored hash (none: check the
/// dummy), and where to send the answer.
type PasswordJob = (String, Option<String>, tokio::sync::oneshot::Sender<bool>);

struct PasswordPool {
    slots: tokio::sync::Semaphore,
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<PasswordJob>>,
}

fn password_pool() -> &'static PasswordPool {
    static POOL: std::sync::OnceLock<PasswordPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let n = password_slots();
        let (tx, rx) = std::sync::mpsc::channel::<PasswordJob>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..n {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || {
                    // argon2's memory, allocated once per thread and reused by every check.
                    let mut blocks = Vec::new();
                    loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok((password, stored, answer)) = job else {
                            return;
                        };
                        let ok = check_or_dummy(&password, stored.as_deref(), &mut blocks);
                        let _ = answer.send(ok);
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start a password-check thread: {e}");
            }
        }
        PasswordPool {
            slots: tokio::sync::Semaphore::new(n),
            jobs: std::sync::Mutex::new(tx),
        }
    })
}

fn check_or_dummy(password: &str, stored: Option<&str>, blocks: &mut Vec<argon2::Block>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    match stored {
        Some(h) => verify_password_in(password, h, blocks),
        None => {
            let dummy = DUMMY.get_or_init(|| hash_password("dummy").unwrap_or_default());
            let _ = verify_password_in(password, dummy, blocks);
            false
        }
    }
}

/// The most argon2 memory a stored hash may ask for (256 MiB): a hash asking for more is
/// refused rather than allowed to exhaust HQ's memory.
const MAX_ARGON2_BLOCKS: usize = 256 * 1024;

/// [`verify_password`] with argon2's memory in `blocks`, grown to what the hash needs and kept
/// for the next check (argon2's own verifier allocates and frees its 19 MiB on every check,
/// which glibc's allocator did not give back: a thread's memory grew by 19 MiB a check up to
/// about 180 MiB). The same steps as `PasswordVerifier::verify_password`: the hash's
/// algorithm, version, parameters and salt, then the outputs compared in constant time.
fn verify_password_in(password: &str, stored: &str, blocks: &mut Vec<argon2::Block>) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let Ok(version) = hash.version.map(argon2::Version::try_from).transpose() else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(&hash) else {
        return false;
    };
    if params.block_count() > MAX_ARGON2_BLOCKS {
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    if blocks.len() < params.block_count() {
        blocks.resize(params.block_count(), argon2::Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let computed = argon2::Argon2::new(algorithm, version.unwrap_or_default(), params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut blocks[..]);
    let expected = expected.as_bytes();
    computed.is_ok()
        && out.len() == expected.len()
        && out
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// How long a login waits for a free password slot before HQ answers "busy".
pub const PASSWORD_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Every password slot stayed taken for [`PASSWORD_QUEUE_WAIT`]: HQ answers 503.
#[derive(Debug, thiserror::Error)]
#[error("HQ is busy checking other sign-ins; try again in a few seconds")]
pub struct PasswordBusy;

/// [`verify_password`] off the async workers, on the password threads, at most
/// [`password_slots`] at once. With no stored hash (an unknown user) it checks against a
/// dummy hash all the same, so an unknown name takes as long as a wrong password and names
/// cannot be probed by timing.
pub async fn verify_password_bounded(
    password: &str,
    stored: Option<String>,
) -> anyhow::Result<bool> {
    let pool = password_pool();
    let _slot = tokio::time::timeout(PASSWORD_QUEUE_WAIT, pool.slots.acquire())
        .await
        .map_err(|_| PasswordBusy)?
        .map_err(|_| PasswordBusy)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool.jobs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((password.to_string(), stored, tx))
        .map_err(|_| anyhow::anyhow!("the password-check threads are gone"))?;
    rx.await
        .map_err(|_| anyhow::anyhow!("a password-check thread stopped"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_256_bits_and_differ() {
        let a = new_secret("sr_dev_");
        let b = new_secret("sr_dev_");
        assert_ne!(a, b);
        // 32 bytes = 256 bits, base64url without padding = 43 characters.
        assert_eq!(a.len(), "sr_dev_".len() + 43);
        assert_eq!(hash_secret(&a).len(), 64);
        assert_ne!(hash_secret(&a), a);
    }

    #[test]
    fn sha256_known_answer() {
        // FIPS 180-2, appendix B.1: SHA-256("abc").
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn reused_memory_verifies_as_argon2_does() {
        let mut blocks = Vec::new();
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password_in("correct horse", &h, &mut blocks));
        assert_eq!(blocks.len(), argon2::Params::default().block_count());
        assert!(!verify_password_in("correct hors", &h, &mut blocks));
        assert!(verify_password_in("correct horse", &h, &mut blocks));
        assert!(!verify_password_in("x", "not a hash", &mut blocks));
        // Other parameters, algorithms and versions are read from the hash, as argon2's own
        // verifier reads them: both agree on each.
        for (alg, version, m) in [
            (argon2::Algorithm::Argon2id, argon2::Version::V0x13, 64),
            (argon2::Algorithm::Argon2i, argon2::Version::V0x10, 32),
            (argon2::Algorithm::Argon2d, argon2::Version::V0x13, 8),
        ] {
            let params = argon2::Params::new(m, 2, 1, Some(24)).unwrap();
            let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
            let h = argon2::Argon2::new(alg, version, params)
                .hash_password(b"pw", &salt)
                .unwrap()
                .to_string();
            assert!(verify_password("pw", &h), "{h}");
            assert!(verify_password_in("pw", &h, &mut blocks), "{h}");
            assert!(!verify_password_in("pW", &h, &mut blocks), "{h}");
        }
        // Known answer: the reference implementation's CLI (phc-winner-argon2),
        // `echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1 -e` (m = 2^16 KiB).
        let reference = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        assert!(verify_password("password", reference));
        assert!(verify_password_in("password", reference, &mut blocks));
        assert!(!verify_password_in("Password", reference, &mut blocks));
    }

    #[test]
    fn password_round_trip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}
