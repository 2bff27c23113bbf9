//! One connection to the daemon (Unix socket or named pipe): one request line in, one answer
//! line out.

use super::{Incoming, Request};

/// The longest request line read: a `report_drop` with a note of
/// `proto::sample::CALL_DROP_MAX_NOTE` characters, each escaped as JSON at its longest
/// (`\uXXXX\uXXXX`, 12 bytes), with room to spare.
const MAX_REQUEST: u64 = 16 * 1024;

/// Serves one connection: one request line in, one answer line out.
pub async fn handle<S>(
    stream: S,
    to_daemon: tokio::sync::mpsc::Sender<Incoming>,
) -> anyhow::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let (r, mut w) = tokio::io::split(stream);
    let mut line = String::new();
    // Requests are small (the largest, a dropped call's note of 1000 characters, is at most
    // a few KiB); a client that sends more is cut off.
    let n = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        BufReader::new(r.take(MAX_REQUEST)).read_line(&mut line),
    )
    .await??;
    if n == 0 {
        return Ok(());
    }
    let req: Request = match serde_json::from_str(line.trim()) {
        Ok(r) => r,
        Err(e) => {
            let msg = serde_json::json!({"ok": false, "message": format!("bad request: {e}")});
            w.write_all(format!("{msg}\n").as_bytes()).await?;
            return Ok(());
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    to_daemon.send((req, tx)).await?;
    let resp = rx.await?;
    let mut out = serde_json::to_string(&resp)?;
    out.push('\n');
    w.write_all(out.as_bytes()).await?;
    w.flush().await?;
    Ok(())
}
