//! "Show last report": a plain, semantic HTML page of every check and its hint, readable with
//! a screen reader (headings, a table with a caption and header cells, no script, no colour
//! as the only signal).
//!
//! The daemon also serves it on loopback ([`serve`]): at a secret path (written to
//! `report-page.url` in the state directory, readable by this user only), with a "Fix it"
//! button when the headset check fails for a reason `shiftready fix` mends. The button posts a
//! one-time token of the page it is on, so another site open in the browser cannot press it
//! (it cannot read the page, nor guess the path or the token); the answer says what changed
//! and the headset check after it, in the agent's language.

use crate::i18n::{self, Lang};
use proto::Msg;

/// One message without arguments in `lang`.
fn tr(lang: Lang, id: &'static str) -> String {
    i18n::text(lang, &Msg::new(id))
}
use askama::Template;
use proto::{Report, Status};

/// The page's own words, in the agent's language.
struct Words {
    lang: &'static str,
    fix_intro: String,
    fix_button: String,
    fix_changed: String,
    fix_after: String,
    title: String,
    state: String,
    checked_at: String,
    caption: String,
    check: String,
    result: String,
    what_to_do: String,
    no_check: String,
}

impl Words {
    fn new(lang: Lang) -> Words {
        Words {
            lang: lang.code(),
            fix_intro: tr(lang, "page-fix-intro"),
            fix_button: tr(lang, "page-fix-button"),
            fix_changed: tr(lang, "page-fix-changed"),
            fix_after: tr(lang, "page-fix-after"),
            title: tr(lang, "page-title"),
            state: tr(lang, "page-state"),
            checked_at: tr(lang, "page-checked-at"),
            caption: tr(lang, "page-caption"),
            check: tr(lang, "page-check"),
            result: tr(lang, "page-result"),
            what_to_do: tr(lang, "page-what-to-do"),
            no_check: tr(lang, "page-no-check"),
        }
    }
}

/// `templates/report.html`: askama escapes every value it prints.
#[derive(Template)]
#[template(path = "report.html")]
struct Page {
    t: Words,
    state: String,
    /// RFC 3339 and the local time, for `<time datetime>`.
    checked_at: Option<(String, String)>,
    report: Option<Body>,
    /// The "Fix it" form: where it posts and its one-time token.
    fix: Option<(String, String)>,
    /// What pressing it did: the sentences, in the agent's language.
    fixed: Option<Vec<String>>,
    /// A page that only says one thing (a refused or stale request).
    note: Option<String>,
}

struct Body {
    sentence: String,
    rows: Vec<Row>,
}

struct Row {
    name: String,
    result: String,
    hint: String,
}

fn status_word(lang: Lang, s: Status) -> String {
    tr(
        lang,
        match s {
            Status::Pass => "page-pass",
            Status::Warn => "page-warn",
            Status::Fail => "page-fail",
            Status::Error => "page-error",
        },
    )
}

fn readiness_sentence(lang: Lang, r: proto::Readiness) -> String {
    tr(
        lang,
        match r {
            proto::Readiness::Ready => "page-ready",
            proto::Readiness::Degraded => "page-degraded",
            proto::Readiness::NotReady => "page-not-ready",
            proto::Readiness::Unknown => "page-unknown",
        },
    )
}

/// The daemon's state in words ("not ready"; "inte redo").
fn state_words(lang: Lang, state: &str) -> String {
    let id = match state {
        "ready" => "readiness-ready",
        "degraded" => "readiness-degraded",
        "not_ready" => "readiness-not-ready",
        "unknown" => "readiness-unknown",
        "signed_out" => "state-signed-out",
        "offline" => "page-state-offline",
        other => return other.replace('_', " "),
    };
    tr(lang, id)
}

/// The page for a report (or a page saying there is none yet), in the agent's language.
pub fn render(report: Option<&Report>, state: &str) -> String {
    render_in(i18n::current(), report, state)
}

/// The page in `lang`.
pub fn render_in(lang: Lang, report: Option<&Report>, state: &str) -> String {
    render_full(lang, report, state, None, None)
}

/// The page in `lang`, with the "Fix it" form (`fix`: its action and token) and what a fix
/// changed (`fixed`).
fn render_full(
    lang: Lang,
    report: Option<&Report>,
    state: &str,
    fix: Option<(String, String)>,
    fixed: Option<Vec<String>>,
) -> String {
    let checked_at = report.and_then(|r| r.taken_at).map(|t| {
        let local = t.with_timezone(&chrono::Local);
        (t.to_rfc3339(), local.format("%Y-%m-%d %H:%M").to_string())
    });
    let body = report.map(|r| {
        let mut names: Vec<&String> = r.checks.keys().collect();
        // The contract's order first; checks this build does not know (a newer policy) after.
        names.sort_by_key(|n| {
            proto::CheckName::parse(n)
                .and_then(|c| proto::CheckName::ALL.iter().position(|a| *a == c))
                .unwrap_or(usize::MAX)
        });
        Body {
            sentence: readiness_sentence(lang, r.readiness),
            rows: names
                .into_iter()
                .map(|name| {
                    let c = &r.checks[name];
                    Row {
                        name: i18n::check_title(lang, name),
                        result: status_word(lang, c.status),
                        // The hint in the agent's language, from its message id.
                        hint: if c.hint.is_empty() {
                            tr(lang, "page-nothing")
                        } else {
                            i18n::text_hint(lang, c)
                        },
                    }
                })
                .collect(),
        }
    });
    let page = Page {
        t: Words::new(lang),
        state: state_words(lang, state),
        checked_at,
        report: body,
        fix,
        fixed,
        note: None,
    };
    // Rendering into a String fails only if a Display impl fails; ours cannot.
    page.render()
        .unwrap_or_else(|e| format!("<p>The report page could not be made: {e}</p>"))
}

/// Whether the report's headset check fails (or warns) for a reason `shiftready fix` mends:
/// its hint offers the fix (the `fix` argument "yes" of the headset hints; in a report read
/// back from a file, the English hint naming the command).
pub fn fixable(report: &Report) -> bool {
    let Some(c) = report.checks.get(proto::CheckName::Headset.as_str()) else {
        return false;
    };
    if c.status == Status::Pass {
        return false;
    }
    match &c.hint_msg {
        Some(m) => m
            .args
            .iter()
            .any(|(n, v)| *n == "fix" && matches!(v, proto::MsgArg::Text(t) if t == "yes")),
        None => c.hint.contains("`shiftready fix`"),
    }
}

// ---- The page served on loopback ----

/// The last report the daemon made, with its messages (a report read from the state
/// directory's `last-report.json` has only the English hints).
static LAST: std::sync::Mutex<Option<Report>> = std::sync::Mutex::new(None);

/// Keeps `report` as the one the served page shows (the daemon calls it after each check).
pub fn remember(report: &Report) {
    if let Ok(mut l) = LAST.lock() {
        *l = Some(report.clone());
    }
}

/// The report the page shows: the daemon's last, else the state directory's file.
pub fn last(state_dir: &Path) -> Option<Report> {
    if let Some(r) = LAST.lock().ok().and_then(|l| l.clone()) {
        return Some(r);
    }
    std::fs::read(state_dir.join("last-report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The file in the state directory holding the page's address (secret path included).
pub const URL_FILE: &str = "report-page.url";

/// Pages' tokens still valid: each page gets its own, used once; the oldest are forgotten.
const TOKENS_KEPT: usize = 32;

/// What the page server needs: where the state is, how to run the headset check (the
/// daemon's current context: a policy HQ sent since start-up included), the state word the
/// page shows, and the daemon's request channel (after a fix the daemon checks again, so its
/// readiness, the tray, HQ and the sign-in gate learn of it, as after the tray's "Fix it").
pub struct Served {
    pub state_dir: PathBuf,
    pub ctx: tokio::sync::watch::Receiver<crate::checks::CheckContext>,
    pub state: tokio::sync::watch::Receiver<crate::ipc::StatusInfo>,
    pub requests: tokio::sync::mpsc::Sender<crate::ipc::Incoming>,
}

struct Server {
    served: Served,
    /// `127.0.0.1:PORT`, the only Host accepted (a page of another site reaching this port
    /// through a name of its own, DNS rebinding, is refused).
    host: String,
    /// The secret first segment of every path.
    key: String,
    tokens: std::sync::Mutex<std::collections::VecDeque<String>>,
    /// One fix at a time.
    fixing: tokio::sync::Mutex<()>,
}

fn secret() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The address this process serves the page at, once [`serve`] has started it (the tray,
/// in the same process, opens it).
static SERVED: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The live page's address (secret path included), if this process serves it.
pub fn served_url() -> Option<&'static str> {
    SERVED.get().map(String::as_str)
}

/// Writes `bytes` to `path` readable and writable by this user only (0600 on Unix; on
/// Windows the state directory's own access list), replacing what was there.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}

/// Serves the report page on 127.0.0.1 (a port of the OS's choosing) until the task is
/// dropped; writes its address to [`URL_FILE`] in the state directory and returns it.
pub async fn serve(served: Served) -> std::io::Result<String> {
    let file = served.state_dir.join(URL_FILE);
    // An address left by an earlier run would name a page nobody serves.
    let _ = std::fs::remove_file(&file);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let host = listener.local_addr()?.to_string();
    let key = secret();
    let url = format!("http://{host}/{key}/");
    write_private(&file, format!("{url}\n").as_bytes())?;
    let _ = SERVED.set(url.clone());
    let server = Arc::new(Server {
        served,
        host,
        key,
        tokens: Default::default(),
        fixing: Default::default(),
    });
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                // Out of descriptors, say: wait instead of spinning on the error.
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            };
            let server = server.clone();
            tokio::spawn(async move {
                // A slow or silent client is dropped, never held.
                let _ =
                    tokio::time::timeout(std::time::Duration::from_secs(30), server.answer(conn))
                        .await;
            });
        }
    });
    Ok(url)
}

/// A request, as much of it as the page needs.
struct Request {
    method: String,
    path: String,
    host: String,
    origin: Option<String>,
    body: String,
}

/// The largest request body read (a form with one token).
const MAX_BODY: usize = 4096;

/// The most a request line and its headers may take together: a line without an end, or
/// endless headers, from any local account stops there instead of growing the daemon.
const MAX_HEAD: u64 = 16 * 1024;

async fn read_request(conn: &mut tokio::net::TcpStream) -> Option<Request> {
    let mut r = BufReader::new(conn).take(MAX_HEAD);
    let mut line = String::new();
    if r.read_line(&mut line).await.ok()? == 0 || !line.ends_with('\n') {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let (mut host, mut origin, mut length) = (String::new(), None, 0usize);
    for _ in 0..64 {
        let mut h = String::new();
        if r.read_line(&mut h).await.ok()? == 0 || !h.ends_with('\n') {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        let value = value.trim().to_string();
        match name.to_ascii_lowercase().as_str() {
            "host" => host = value,
            "origin" => origin = Some(value),
            "content-length" => length = value.parse().ok()?,
            _ => {}
        }
    }
    if length > MAX_BODY {
        return None;
    }
    // The body has a limit of its own.
    r.set_limit(length as u64);
    let mut body = vec![0; length];
    r.read_exact(&mut body).await.ok()?;
    Some(Request {
        method,
        path,
        host,
        origin,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

impl Server {
    async fn answer(&self, mut conn: tokio::net::TcpStream) {
        let (status, body) = match read_request(&mut conn).await {
            Some(req) => self.route(req).await,
            None => (400, String::new()),
        };
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            _ => "Error",
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
             X-Frame-Options: DENY\r\nX-Content-Type-Options: nosniff\r\n\
             Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; \
             form-action 'self'; frame-ancestors 'none'\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = conn.write_all(head.as_bytes()).await;
        let _ = conn.write_all(body.as_bytes()).await;
        let _ = conn.shutdown().await;
    }

    async fn route(&self, req: Request) -> (u16, String) {
        let lang = i18n::current();
        let base = format!("/{}/", self.key);
        // Only this address, as the browser reached it (no other name, no other site).
        let same_origin = req
            .origin
            .as_deref()
            .is_none_or(|o| o == format!("http://{}", self.host));
        if req.host != self.host || !same_origin {
            return (403, self.message(lang, "page-refused"));
        }
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", p) if p == base => (200, self.page(lang, None)),
            ("POST", p) if p.strip_prefix(base.as_str()) == Some("fix") => {
                let token = form_value(&req.body, "token").unwrap_or_default();
                if !self.take_token(&token) {
                    return (403, self.message(lang, "page-fix-stale"));
                }
                (200, self.fix(lang).await)
            }
            _ => (404, String::new()),
        }
    }

    /// A short page saying one message, with a way back.
    fn message(&self, lang: Lang, id: &'static str) -> String {
        let page = Page {
            t: Words::new(lang),
            state: state_words(lang, self.served.state.borrow().state.as_str()),
            checked_at: None,
            report: None,
            fix: None,
            fixed: None,
            note: Some(tr(lang, id)),
        };
        page.render().unwrap_or_default()
    }

    fn page(&self, lang: Lang, fixed: Option<Vec<String>>) -> String {
        let report = last(&self.served.state_dir);
        let state = self.served.state.borrow().state.as_str().to_string();
        let fix = report.as_ref().filter(|r| fixable(r)).map(|_| {
            let token = secret();
            if let Ok(mut t) = self.tokens.lock() {
                t.push_back(token.clone());
                while t.len() > TOKENS_KEPT {
                    t.pop_front();
                }
            }
            (format!("/{}/fix", self.key), token)
        });
        render_full(lang, report.as_ref(), &state, fix, fixed)
    }

    /// Whether `token` is one of the pages' tokens (in constant time), forgetting it.
    fn take_token(&self, token: &str) -> bool {
        let Ok(mut t) = self.tokens.lock() else {
            return false;
        };
        let mut found = None;
        for (i, k) in t.iter().enumerate() {
            let same = k.len() == token.len()
                && k.bytes()
                    .zip(token.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0;
            if same {
                found = Some(i);
            }
        }
        found.and_then(|i| t.remove(i)).is_some()
    }

    /// Runs the fix (`crate::fix::fix`, as `shiftready fix`), then the headset check, and
    /// answers with what changed above the report with the new headset row.
    async fn fix(&self, lang: Lang) -> String {
        let _one = self.fixing.lock().await;
        let outcome = tokio::task::spawn_blocking(|| crate::fix::fix(false)).await;
        let said: Vec<String> = match outcome {
            Ok(Ok(c)) if c.is_empty() => vec![tr(lang, "fix-nothing")],
            Ok(Ok(c)) => c.iter().map(|c| i18n::text(lang, &c.msg)).collect(),
            Ok(Err(e)) => vec![e.text_in(lang)],
            Err(e) => vec![e.to_string()],
        };
        tracing::info!(changes = ?said, "report page: fix");
        let name = proto::CheckName::Headset.as_str();
        let ctx = self.served.ctx.borrow().clone();
        let headset = crate::checks::run_one(name, ctx).await;
        let mut report =
            last(&self.served.state_dir).unwrap_or_else(|| Report::new(Default::default()));
        report.checks.insert(name.to_string(), headset);
        report.readiness =
            proto::Readiness::from_statuses(report.checks.values().map(|c| c.status));
        remember(&report);
        if let Ok(text) = serde_json::to_vec_pretty(&report) {
            let _ = std::fs::write(self.served.state_dir.join("last-report.json"), text);
        }
        // The daemon's own check, whose answer is not awaited (the page has its own).
        let (reply, _answer) = tokio::sync::oneshot::channel();
        if self
            .served
            .requests
            .try_send((crate::ipc::Request::Check, reply))
            .is_err()
        {
            tracing::warn!("report page: the daemon is busy; it checks again at its next recheck");
        }
        self.page(lang, Some(said))
    }
}

/// A value of an `application/x-www-form-urlencoded` body (tokens are hex: no decoding).
fn form_value(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::CheckResult;
    use std::collections::BTreeMap;

    #[test]
    fn page_has_a_row_per_check_with_its_hint_escaped() {
        let mut checks = BTreeMap::new();
        checks.insert("os".into(), CheckResult::new(Status::Pass, ""));
        checks.insert(
            "headset".into(),
            CheckResult::new(
                Status::Fail,
                "Plug in your headset <now> & make it default.",
            ),
        );
        let page = render(Some(&Report::new(checks)), "not_ready");
        // askama writes numeric entities: &#60; is "<", &#62; ">", &#38; "&".
        assert!(page.contains("<th scope=\"row\">headset</th><td>Fail</td><td>Plug in your headset &#60;now&#62; &#38; make it default.</td>"), "{page}");
        assert!(!page.contains("<now>"));
        assert!(page.contains("<th scope=\"row\">os</th><td>Pass</td><td>Nothing.</td>"));
        assert!(page.find(">os<").unwrap() < page.find(">headset<").unwrap());
        assert!(page.contains("<html lang=\"en\">") && page.contains("<caption>"));
    }

    #[test]
    fn the_page_speaks_swedish_with_the_hint_from_its_message() {
        let mut checks = BTreeMap::new();
        checks.insert("os".into(), CheckResult::new(Status::Pass, ""));
        checks.insert(
            "network".into(),
            shiftready_core::i18n::hinted(Status::Warn, Msg::new("net-home-wifi")),
        );
        let page = render_in(Lang::Sv, Some(&Report::new(checks)), "degraded");
        assert!(page.contains("<html lang=\"sv\">"), "{page}");
        assert!(
            page.contains("<td>Varning</td><td>Felet ligger i ditt hemnätverk"),
            "{page}"
        );
        assert!(
            page.contains("<th scope=\"row\">system</th><td>Godkänd</td><td>Inget.</td>"),
            "{page}"
        );
        assert!(
            page.contains("Läge: <strong>redo med varningar</strong>"),
            "{page}"
        );
        assert!(!page.contains("Your home network"), "{page}");
    }

    #[test]
    fn page_without_a_report_says_how_to_get_one() {
        let page = render(None, "signed_out");
        assert!(
            page.contains("State: <strong>signed out</strong>"),
            "{page}"
        );
        assert!(page.contains("No check has run yet"));
        assert!(!page.contains("<table>"));
    }
}
