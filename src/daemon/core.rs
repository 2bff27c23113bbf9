//! The daemon's main loop: owns the shift machine and the spool, and reacts to time, checks,
//! monitor samples, delivery outcomes, IPC and tray requests, and signals.

use super::DaemonConfig;
use super::delivery::{self, Attempt, FreshPolicy, Sink};
use super::lock::{self, InstanceLock};
use super::monitor::{self, Sample};
use super::os;
use super::pilot::{self, PilotEvent};
use super::presence::{self, Presence};
use super::ring::{RING_SECONDS, Ring, SharedRing};
use super::samples::{self, Extras, Minutes};
use crate::checks::CheckContext;
use crate::config::{CachedPolicy, Loaded};
use crate::i18n::{self, Said};
use crate::ipc::{DropReceipt, Incoming, Request, Response, StatusInfo};
use crate::spool::{Opened, Spool};
use chrono::{DateTime, Utc};
use proto::event::IncidentState;
use proto::{DaemonState, Event, EventBody, HqLink, IncidentName, Readiness, Report};
use shiftready_core::hysteresis::{Change, Hysteresis};
use shiftready_core::shift::{
    Action, CheckPurpose, Input, Notice, Params, Persisted, Schedule, ShiftMachine, ShiftWindow,
};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinSet;

/// A started daemon: lock held, spool open, IPC bound.
pub struct Daemon {
    loaded: Loaded,
    state_dir: PathBuf,
    _lock: InstanceLock,
    spool: Spool,
    ipc: crate::ipc::Server,
    sink: Option<Arc<dyn Sink>>,
}

impl Daemon {
    /// Takes the per-user lock, opens the spool (moving a corrupt one aside) and binds IPC.
    pub async fn start(loaded: Loaded) -> anyhow::Result<Daemon> {
        let state_dir = loaded.state_dir();
        std::fs::create_dir_all(&state_dir).map_err(|source| StateDirError {
            path: state_dir.clone(),
            source,
        })?;
        os::restrict_dir(&state_dir)?;
        let lock = lock::acquire(&state_dir)?;
        let (spool, opened) = Spool::open(
            &state_dir.join("spool.db"),
            loaded.config.daemon.spool_max_bytes,
        )
        .await?;
        if let Opened::MovedAside(p) = &opened {
            tracing::warn!(
                "continuing with a fresh spool; the corrupt one is {}",
                p.display()
            );
        }
        let ipc = crate::ipc::Server::bind(&state_dir)?;
        let sink = super::sink_for(&loaded)?;
        Ok(Daemon {
            loaded,
            state_dir,
            _lock: lock,
            spool,
            ipc,
            sink,
        })
    }

    pub fn state_dir(&self) -> &std::path::Path {
        &self.state_dir
    }

    /// HQ's URL when there is an HQ.
    pub fn hq_url(&self) -> Option<String> {
        self.sink.as_ref().map(|s| s.url())
    }
}

/// The state directory could not be made (exit code: `crate::exit::code_of`).
#[derive(Debug, thiserror::Error)]
#[error("cannot create the state directory {}: {source}", path.display())]
pub struct StateDirError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// The UI's ends of [`super::UiLink`].
pub struct UiEnds {
    pub requests: mpsc::Receiver<Incoming>,
    pub status: watch::Sender<StatusInfo>,
    pub quit: Arc<Notify>,
}

enum Control {
    Ipc(Request, oneshot::Sender<Response>),
    CheckDone(Box<Report>),
    Sample(Sample),
    Delivery(Attempt),
    Policy(Box<FreshPolicy>),
    Power(Input),
    /// From the OS's power events: handled, then `done` lets the machine sleep.
    OsPower(Input, oneshot::Sender<()>),
    /// The pilot stream raises or clears `network_degraded` (`super::pilot`).
    Pilot(PilotEvent),
}

struct Core {
    loaded: Loaded,
    cfg: DaemonConfig,
    ctx: CheckContext,
    state_dir: PathBuf,
    machine: ShiftMachine,
    local_schedule: Schedule,
    schedule: Schedule,
    spool: Spool,
    delivery_wake: Arc<Notify>,
    has_hq: bool,
    hq_ok: Option<bool>,
    /// Set while HQ refuses this device's key: what to do (see `ipc::enroll_again_said`).
    enroll_again: Option<Said>,
    last_report: Option<Report>,
    hysteresis: BTreeMap<&'static str, Hysteresis>,
    incidents: BTreeSet<String>,
    next_heartbeat: Option<DateTime<Utc>>,
    /// With an HQ: off shift, the presence heartbeats and the daily full check (issue 15).
    presence: Option<Presence>,
    /// While signed in: the whole minutes at which a `sample` is due (issue 15).
    minutes: Minutes,
    /// The per-second history the pilot fills; the samples and dropped calls read it.
    ring: SharedRing,
    /// The event kinds beyond the original five that HQ keeps (its policy answer's
    /// `event_kinds`): `sample` is recorded only when HQ lists it.
    hq_kinds: Vec<String>,
    /// The check context as the policy changes, for the pilot (its probe token).
    ctx_tx: watch::Sender<CheckContext>,
    /// Who holds `network_degraded` open: the monitor, the pilot (see [`Core::alert`]).
    net_holders: pilot::Holders,
    check_waiters: Vec<oneshot::Sender<Response>>,
    signed_in_tx: watch::Sender<bool>,
    status_tx: watch::Sender<StatusInfo>,
    ctl: mpsc::Sender<Control>,
}

fn fmt_local(t: DateTime<Utc>) -> String {
    i18n::local_time(t, "%a %H:%M")
}

fn empty_status() -> StatusInfo {
    StatusInfo {
        state: DaemonState::SignedOut,
        signed_in: false,
        readiness: Readiness::Unknown,
        shift: None,
        next_shift: None,
        last_check_at: None,
        spool_events: 0,
        hq: HqLink::None,
        incidents: Vec::new(),
        pid: std::process::id(),
        quarantined: 0,
        enroll_again: None,
        fix_first: None,
        fix_first_said: None,
        enroll_again_said: None,
    }
}

/// A status channel for a UI to watch before the daemon publishes its first state.
pub fn status_channel() -> (watch::Sender<StatusInfo>, watch::Receiver<StatusInfo>) {
    watch::channel(empty_status())
}

/// Runs the daemon until SIGTERM / Ctrl-C / the UI's quit; returns the exit code.
pub async fn run_daemon(d: Daemon, ui: Option<UiEnds>) -> anyhow::Result<i32> {
    let Daemon {
        mut loaded,
        state_dir,
        _lock,
        spool,
        ipc,
        sink,
    } = d;
    // Read once, by `config::load`; the daemon keeps only what it needs of it.
    let cached = loaded.cached.take();
    let (ctl_tx, ctl_rx) = mpsc::channel::<Control>(64);
    let mut tasks = JoinSet::new();
    let (status_tx, quit) = match ui {
        Some(ui) => {
            forward(&mut tasks, ui.requests, ctl_tx.clone(), |(req, reply)| {
                Control::Ipc(req, reply)
            });
            (ui.status, ui.quit)
        }
        None => (status_channel().0, Arc::new(Notify::new())),
    };
    {
        let (req_tx, req_rx) = mpsc::channel::<Incoming>(16);
        tasks.spawn(ipc.serve(req_tx));
        forward(&mut tasks, req_rx, ctl_tx.clone(), |(req, reply)| {
            Control::Ipc(req, reply)
        });
    }
    let etag = cached.as_ref().and_then(|c| c.etag.clone());
    let delivery_wake = Arc::new(Notify::new());
    let ctx = CheckContext::new(&loaded);
    let (ctx_tx, ctx_rx) = watch::channel(ctx.clone());
    // The report page with its "Fix it" button, on loopback (`report_page::serve`).
    let (page_tx, page_rx) = mpsc::channel::<Incoming>(4);
    forward(&mut tasks, page_rx, ctl_tx.clone(), |(req, reply)| {
        Control::Ipc(req, reply)
    });
    match super::report_page::serve(super::report_page::Served {
        state_dir: state_dir.clone(),
        ctx: ctx_rx.clone(),
        state: status_tx.subscribe(),
        requests: page_tx,
    })
    .await
    {
        Ok(url) => tracing::info!(
            port = url.split(':').nth(2).and_then(|p| p.split('/').next()),
            "report page served on loopback (its address in {})",
            super::report_page::URL_FILE
        ),
        Err(e) => tracing::warn!("the report page cannot be served: {e}"),
    }
    let (signed_in_tx, signed_in_rx) = watch::channel(false);
    let ring: SharedRing = Arc::new(std::sync::Mutex::new(Ring::new(RING_SECONDS)));
    wire(
        &mut tasks,
        &ctl_tx,
        Wiring {
            loaded: &loaded,
            spool: &spool,
            sink: sink.as_ref(),
            etag,
            quit,
            delivery_wake: delivery_wake.clone(),
            ctx: &ctx,
            signed_in: signed_in_rx,
            ring: &ring,
            ctx_rx,
        },
    );
    let mut core = Core::restore(
        Parts {
            loaded,
            ctx,
            state_dir,
            spool,
            delivery_wake,
            has_hq: sink.is_some(),
            ring,
            ctx_tx,
            signed_in_tx,
            status_tx,
            ctl: ctl_tx,
        },
        cached,
    )
    .await;
    tracing::info!(pid = std::process::id(), "ShiftReady daemon running");
    core.run(ctl_rx).await;
    tasks.abort_all();
    core.spool.close().await;
    tracing::info!("ShiftReady daemon stopped");
    Ok(0)
}

/// Passes every message from `rx` on to `to` as `wrap(message)`, until either end closes.
fn forward<T, U>(
    tasks: &mut JoinSet<()>,
    mut rx: mpsc::Receiver<T>,
    to: mpsc::Sender<U>,
    wrap: fn(T) -> U,
) where
    T: Send + 'static,
    U: Send + 'static,
{
    tasks.spawn(async move {
        while let Some(m) = rx.recv().await {
            if to.send(wrap(m)).await.is_err() {
                break;
            }
        }
    });
}

/// What the daemon's background tasks are started with.
struct Wiring<'a> {
    loaded: &'a Loaded,
    spool: &'a Spool,
    sink: Option<&'a Arc<dyn Sink>>,
    /// The ETag of the cached policy, sent with the first fetch.
    etag: Option<String>,
    quit: Arc<Notify>,
    delivery_wake: Arc<Notify>,
    ctx: &'a CheckContext,
    signed_in: watch::Receiver<bool>,
    ring: &'a SharedRing,
    ctx_rx: watch::Receiver<CheckContext>,
}

/// Starts the tasks that feed the main loop: signals, power events, the spool's watch,
/// delivery and the policy refresh (with an HQ), and the in-shift monitors.
fn wire(tasks: &mut JoinSet<()>, ctl: &mpsc::Sender<Control>, w: Wiring<'_>) {
    // Signals: SIGTERM / Ctrl-C stop with `shutdown`, SIGHUP (the session ended) with `logoff`.
    {
        let ctl = ctl.clone();
        let quit = w.quit;
        tasks.spawn(async move {
            let input = os::wait_for_stop(quit).await;
            let _ = ctl.send(Control::Power(input)).await;
        });
    }

    // Sleep and shutdown announced by the OS (logind on Linux, session and power messages on
    // Windows).
    {
        let (p_tx, p_rx) = mpsc::channel(4);
        tasks.spawn(os::power_events(p_tx));
        forward(tasks, p_rx, ctl.clone(), |(input, done)| {
            Control::OsPower(input, done)
        });
    }

    // The spool file looked at with fresh eyes now and then: a file damaged while we run is
    // replaced at once, not found at the next start.
    tasks.spawn(w.spool.clone().watch());

    // Delivery and policy refresh, when there is an HQ.
    if let Some(sink) = w.sink {
        let (att_tx, att_rx) = mpsc::channel(16);
        tasks.spawn(delivery::run(
            w.spool.clone(),
            sink.clone(),
            w.delivery_wake.clone(),
            att_tx,
        ));
        forward(tasks, att_rx, ctl.clone(), Control::Delivery);
        let every =
            Duration::from_secs(w.loaded.config.daemon.policy_refresh_seconds.max(10).into());
        let (pol_tx, pol_rx) = mpsc::channel(1);
        tasks.spawn(delivery::refresh_policy(
            sink.clone(),
            w.etag,
            every,
            pol_tx,
        ));
        forward(tasks, pol_rx, ctl.clone(), |p| Control::Policy(Box::new(p)));
    }

    // Monitors.
    let (s_tx, s_rx) = mpsc::channel(16);
    for spec in monitor::specs(&w.loaded.config.daemon) {
        tasks.spawn(monitor::run(
            spec,
            w.ctx.clone(),
            w.signed_in.clone(),
            s_tx.clone(),
        ));
    }
    forward(tasks, s_rx, ctl.clone(), Control::Sample);

    // The pilot stream while signed in (`[monitor] pilot`).
    if w.loaded.config.monitor.pilot {
        let (p_tx, p_rx) = mpsc::channel(4);
        tasks.spawn(pilot::run(
            w.ctx_rx,
            w.signed_in.clone(),
            w.ring.clone(),
            p_tx,
        ));
        forward(tasks, p_rx, ctl.clone(), Control::Pilot);
    } else {
        tracing::info!("the pilot stream is off ([monitor] pilot = false)");
    }
}

/// What [`Core::restore`] builds the core from, besides the persisted state.
struct Parts {
    loaded: Loaded,
    ctx: CheckContext,
    state_dir: PathBuf,
    spool: Spool,
    delivery_wake: Arc<Notify>,
    has_hq: bool,
    ring: SharedRing,
    ctx_tx: watch::Sender<CheckContext>,
    signed_in_tx: watch::Sender<bool>,
    status_tx: watch::Sender<StatusInfo>,
    ctl: mpsc::Sender<Control>,
}

impl Core {
    /// The core as the last run left it: the schedule (HQ's cached shifts when there is an
    /// HQ, else the config's), and the shift state persisted in the spool.
    async fn restore(p: Parts, cached: Option<CachedPolicy>) -> Core {
        let local_schedule = match Schedule::from_config(&p.loaded.config.schedule) {
            Ok(s) => s,
            Err(problems) => {
                // Validation at load time already refused these; never start without a schedule.
                for (k, m) in problems {
                    tracing::error!("{k}: {m}");
                }
                Schedule::default()
            }
        };
        let hq_kinds = match &cached {
            Some(c) if p.has_hq => c.response.event_kinds.clone(),
            _ => Vec::new(),
        };
        let cached_shifts = cached.map(|c| c.response.shifts).unwrap_or_default();
        let schedule = if p.has_hq && !cached_shifts.is_empty() {
            Schedule::Fixed(cached_shifts.iter().map(ShiftWindow::from).collect())
        } else {
            local_schedule.clone()
        };
        let params = Params::from_policy(&p.loaded.policy.shift);
        let persisted: Persisted = match p.spool.state().await {
            Ok(Some(s)) => serde_json::from_str(&s).unwrap_or_default(),
            _ => Persisted::default(),
        };
        if persisted.signed_in {
            tracing::info!("continuing a shift the previous run had signed in to");
        }
        let machine = ShiftMachine::restore(params, persisted);
        let now = Utc::now();
        let next_heartbeat = machine.signed_in().then_some(now);
        let presence = p.has_hq.then(|| {
            Presence::new(
                now,
                p.loaded.policy.shift.presence_seconds,
                presence::earlier_readiness(&p.state_dir, now),
            )
        });
        let mut minutes = Minutes::default();
        if machine.signed_in() {
            minutes.start(now);
        }
        let core = Core {
            cfg: p.loaded.config.daemon.clone(),
            loaded: p.loaded,
            ctx: p.ctx,
            state_dir: p.state_dir,
            machine,
            local_schedule,
            schedule,
            spool: p.spool,
            delivery_wake: p.delivery_wake,
            has_hq: p.has_hq,
            hq_ok: None,
            enroll_again: None,
            last_report: None,
            hysteresis: BTreeMap::new(),
            incidents: BTreeSet::new(),
            next_heartbeat,
            presence,
            minutes,
            ring: p.ring,
            hq_kinds,
            ctx_tx: p.ctx_tx,
            net_holders: pilot::Holders::default(),
            check_waiters: Vec::new(),
            signed_in_tx: p.signed_in_tx,
            status_tx: p.status_tx,
            ctl: p.ctl,
        };
        if core.machine.signed_in() {
            let _ = core.signed_in_tx.send(true);
        }
        core
    }

    /// The main loop: ticks the shift machine, heartbeats, and handles what the tasks send,
    /// until a stop (signal, logoff, the UI's quit) or every sender is gone.
    async fn run(&mut self, mut ctl_rx: mpsc::Receiver<Control>) {
        let mut last_wall = Utc::now();
        let mut last_mono = Instant::now();
        loop {
            let now = Utc::now();
            // Suspend without a D-Bus notice: the wall clock jumped further than the monotonic
            // clock (which stops while the machine sleeps).
            let wall = (now - last_wall).to_std().unwrap_or_default();
            if wall > last_mono.elapsed() + Duration::from_secs(90) {
                tracing::info!("the computer was asleep from {last_wall} to {now}");
                self.input(last_wall, Input::Suspend).await;
                self.input(now, Input::Resume).await;
            }
            last_wall = now;
            last_mono = Instant::now();
            self.input(now, Input::Tick).await;
            self.heartbeat(now).await;
            self.presence(now).await;
            self.per_minute(now).await;
            self.publish(now).await;
            let sleep = self.sleep_until_due(now);
            let msg = tokio::select! {
                _ = tokio::time::sleep(sleep) => continue,
                m = ctl_rx.recv() => m,
            };
            let Some(msg) = msg else { break };
            if self.handle(Utc::now(), msg).await.is_break() {
                break;
            }
        }
    }

    /// How long the loop may sleep: until the machine's next wake-up or heartbeat, at most a
    /// minute, at least 50 ms.
    fn sleep_until_due(&self, now: DateTime<Utc>) -> Duration {
        let windows = self.schedule.windows(now);
        let mut wake = now + chrono::Duration::seconds(60);
        if let Some(t) = self.machine.next_wakeup(now, &windows) {
            wake = wake.min(t);
        }
        if let Some(t) = self.next_heartbeat {
            wake = wake.min(t);
        }
        let presence = (!self.machine.signed_in())
            .then(|| self.presence.as_ref().map(Presence::due_at))
            .flatten();
        for t in [self.minutes.due_at(), presence].into_iter().flatten() {
            wake = wake.min(t);
        }
        (wake - now)
            .to_std()
            .unwrap_or_default()
            .max(Duration::from_millis(50))
    }

    /// One message from the tasks; `Break` when the daemon is to stop.
    async fn handle(&mut self, now: DateTime<Utc>, msg: Control) -> ControlFlow<()> {
        match msg {
            Control::Power(input @ (Input::Shutdown | Input::Logoff)) => {
                self.input(now, input).await;
                self.publish(now).await;
                self.flush(Duration::from_secs(3)).await;
                return ControlFlow::Break(());
            }
            Control::Power(input) => {
                self.input(now, input).await;
            }
            Control::OsPower(input @ (Input::Shutdown | Input::Logoff), done) => {
                self.input(now, input).await;
                self.publish(now).await;
                let _ = done.send(());
                self.flush(Duration::from_secs(3)).await;
                return ControlFlow::Break(());
            }
            Control::OsPower(input, done) => {
                self.input(now, input).await;
                self.publish(now).await;
                let _ = done.send(());
            }
            Control::Ipc(req, reply) => self.request(now, req, reply).await,
            Control::CheckDone(report) => self.check_done(now, *report).await,
            Control::Sample(s) => self.sample(now, s).await,
            Control::Delivery(a) => self.delivery(now, a).await,
            Control::Policy(p) => self.policy(*p),
            Control::Pilot(e) => self.pilot(now, e).await,
        }
        ControlFlow::Continue(())
    }
}

impl Core {
    async fn input(&mut self, now: DateTime<Utc>, input: Input) -> Vec<Action> {
        let windows = self.schedule.windows(now);
        let actions = self.machine.step(now, &windows, input);
        for a in &actions {
            self.execute(now, *a).await;
        }
        actions
    }

    /// Commits an event to the spool and wakes delivery; its id, or `None` when the spool
    /// could not be written (logged).
    async fn record(
        &mut self,
        at: DateTime<Utc>,
        body: EventBody,
        with_state: bool,
    ) -> Option<uuid::Uuid> {
        let event = Event {
            id: uuid::Uuid::new_v4(),
            at,
            sent_at: None,
            body,
        };
        let state = with_state
            .then(|| serde_json::to_string(&self.machine.persisted()).unwrap_or_default());
        // Said before the commit too, so every event that may reach HQ has a line even when
        // the process is killed between the commit and "event recorded": the tests check
        // both ways that HQ holds exactly what the daemon recorded.
        tracing::debug!(id = %event.id, kind = event.kind(), "event to record");
        let recorded = match self.spool.record(&event, state.as_deref()).await {
            Ok(_) => {
                tracing::debug!(id = %event.id, kind = event.kind(), "event recorded");
                Some(event.id)
            }
            Err(e) => {
                tracing::error!(
                    "could not write a {} event to the spool: {e:#}",
                    event.kind()
                );
                None
            }
        };
        self.delivery_wake.notify_one();
        recorded
    }

    async fn execute(&mut self, now: DateTime<Utc>, action: Action) {
        match action {
            Action::RunCheck(purpose) => self.spawn_check(Some(purpose)),
            Action::SignIn { reason, readiness } => {
                tracing::info!(
                    reason = reason.as_str(),
                    readiness = readiness.as_str(),
                    "signed in"
                );
                self.record(now, EventBody::SignIn { reason, readiness }, true)
                    .await;
                self.next_heartbeat = Some(now + self.heartbeat_every());
                self.minutes.start(now);
                let _ = self.signed_in_tx.send(true);
                self.notify(
                    &i18n::tr("note-signed-in"),
                    &i18n::tr("note-signed-in-body"),
                );
            }
            Action::SignOut { reason, readiness } => {
                tracing::info!(
                    reason = reason.as_str(),
                    readiness = readiness.as_str(),
                    "signed out"
                );
                self.record(now, EventBody::SignOut { reason, readiness }, true)
                    .await;
                self.next_heartbeat = None;
                let last = {
                    let ring = samples::lock(&self.ring);
                    self.minutes.finish(now, |s| ring.minute(s).seconds > 0)
                };
                self.record_samples(last).await;
                if let Some(p) = self.presence.as_mut() {
                    p.signed_out(now);
                }
                let _ = self.signed_in_tx.send(false);
                // Incidents end with the shift.
                let open: Vec<String> = std::mem::take(&mut self.incidents).into_iter().collect();
                for name in open {
                    self.record(
                        now,
                        incident(&name, IncidentState::Ended, "signed out"),
                        false,
                    )
                    .await;
                }
                self.hysteresis.clear();
                self.net_holders = pilot::Holders::default();
            }
            Action::Notify(n) => match n {
                Notice::PreShiftNotReady { readiness, shift } => {
                    let body = |lang| {
                        i18n::text(
                            lang,
                            &proto::Msg::new("note-shift-starts")
                                .text("start", fmt_local(shift.start))
                                .text("fix", self.hints(lang)),
                        )
                    };
                    tracing::warn!(readiness = readiness.as_str(), "{}", body(i18n::Lang::En));
                    self.notify(
                        &i18n::tr("note-not-ready-for-shift"),
                        &body(i18n::current()),
                    );
                }
                Notice::BarNotMet {
                    readiness,
                    recheck_at,
                } => {
                    let at = recheck_at.with_timezone(&chrono::Local).format("%H:%M:%S");
                    let body = |lang| {
                        i18n::text(
                            lang,
                            &proto::Msg::new("note-bar-not-met")
                                .text("fix", self.hints(lang))
                                .text("at", at.to_string()),
                        )
                    };
                    tracing::warn!(readiness = readiness.as_str(), "{}", body(i18n::Lang::En));
                    self.notify(&i18n::tr("note-not-signed-in"), &body(i18n::current()));
                }
            },
        }
    }

    /// Off shift with an HQ (issue 15): the presence heartbeat every `presence_seconds`, and
    /// the full check soon after the start and once a day, sent as a `report` like any check.
    /// Nothing on screen.
    async fn presence(&mut self, now: DateTime<Utc>) {
        if self.machine.signed_in() {
            return;
        }
        let Some(p) = self.presence.as_mut() else {
            return;
        };
        let beat = p.beat(now);
        let check = !self.machine.check_running() && p.check(now);
        let readiness = p.readiness(self.machine.readiness());
        if beat {
            let body = EventBody::Heartbeat {
                readiness,
                signed_in: false,
            };
            self.record(now, body, false).await;
        }
        if check {
            tracing::info!("the full check off shift (at the start, then daily)");
            self.spawn_check(None);
        }
    }

    /// Signed in: a `sample` for each whole minute that ended (issue 15).
    async fn per_minute(&mut self, now: DateTime<Utc>) {
        let due = {
            let ring = samples::lock(&self.ring);
            self.minutes.due(now, |s| ring.minute(s).seconds > 0)
        };
        self.record_samples(due).await;
    }

    /// Records the `sample`s of the minutes starting at `starts`, when HQ keeps the kind (an
    /// older HQ would refuse them all).
    async fn record_samples(&mut self, starts: Vec<DateTime<Utc>>) {
        if starts.is_empty() || !self.hq_kinds.iter().any(|k| k == "sample") {
            return;
        }
        let x = Extras::from_report(self.last_report.as_ref());
        let bodies: Vec<_> = {
            let ring = samples::lock(&self.ring);
            starts
                .into_iter()
                .map(|s| (s, samples::minute(&ring, s, &x)))
                .collect()
        };
        for (at, sample) in bodies {
            self.record(at, EventBody::Sample { sample }, false).await;
        }
    }

    /// The agent reported a dropped call: a `call_drop` with the ring's last 15 minutes.
    /// Recorded whatever HQ's `event_kinds` say: the agent asked for it, and an HQ that does
    /// not know the kind sets it aside in the spool's quarantine, where it is kept, not lost.
    async fn report_drop(
        &mut self,
        now: DateTime<Utc>,
        note: &str,
    ) -> (bool, Vec<Said>, Option<DropReceipt>) {
        if let Some(n) = samples::note_problem(note) {
            return (false, vec![samples::note_too_long(n)], None);
        }
        let x = Extras::from_report(self.last_report.as_ref());
        let call_drop = Box::new(samples::call_drop(
            &samples::lock(&self.ring),
            now,
            note,
            &x,
        ));
        let seconds = call_drop.seconds.len();
        match self
            .record(now, EventBody::CallDrop { call_drop }, false)
            .await
        {
            Some(id) => {
                tracing::info!(%id, seconds, "dropped call reported");
                let said = samples::drop_recorded(id, seconds);
                (true, vec![said], Some(DropReceipt { id, seconds }))
            }
            None => (false, vec![Said::new("drop-not-recorded")], None),
        }
    }

    fn heartbeat_every(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.loaded.policy.shift.heartbeat_seconds.max(1).into())
    }

    async fn heartbeat(&mut self, now: DateTime<Utc>) {
        let Some(due) = self.next_heartbeat else {
            return;
        };
        if now < due || !self.machine.signed_in() {
            return;
        }
        let body = EventBody::Heartbeat {
            readiness: self.machine.readiness(),
            signed_in: true,
        };
        self.record(now, body, false).await;
        self.next_heartbeat = Some(now + self.heartbeat_every());
    }

    /// The last check's hints in `lang`, one after another.
    fn hints(&self, lang: i18n::Lang) -> String {
        let say = |id| i18n::text(lang, &proto::Msg::new(id));
        let Some(r) = &self.last_report else {
            return say("note-run-check");
        };
        let hints: Vec<String> = r
            .checks
            .values()
            .filter(|c| c.status != proto::Status::Pass && !c.hint.is_empty())
            .map(|c| i18n::text_hint(lang, c))
            .collect();
        if hints.is_empty() {
            say("note-see-report")
        } else {
            hints.join(" ")
        }
    }

    /// An incident's detail as the agent reads it: the hint of the last check that gave it,
    /// in the agent's language, else the detail as it is.
    fn shown(&self, detail: &str) -> String {
        self.last_report
            .iter()
            .flat_map(|r| r.checks.values())
            .find(|c| c.hint == detail && c.hint_msg.is_some())
            .map_or_else(|| detail.to_string(), i18n::hint)
    }

    /// A desktop notification for what the agent must act on (with or without the tray icon:
    /// `--headless` means no icon, not no desktop): [`os::notify`].
    fn notify(&self, summary: &str, body: &str) {
        if self.cfg.notifications {
            os::notify(summary, body);
        }
    }

    /// The shift machine is the one record of a check in flight: it marked the check it asks
    /// for (`Action::RunCheck`) and clears the mark on `Input::CheckDone`; a check asked for
    /// by hand (`purpose` None) is marked here, and joins the one already running if any.
    fn spawn_check(&mut self, purpose: Option<CheckPurpose>) {
        if purpose.is_none() {
            let running = self.machine.check_running();
            self.machine.check_started(Utc::now());
            if running {
                return;
            }
        }
        tracing::info!(?purpose, "running the check");
        let mut ctx = self.ctx.clone();
        // Latency under load fills the line: only in the check before a shift (the agent is
        // in no call then), when the policy's `network.load_test` allows it; never in a
        // check during the shift or one asked for by hand.
        ctx.load_phase = purpose == Some(CheckPurpose::PreShift);
        let ctl = self.ctl.clone();
        tokio::spawn(async move {
            let report = monitor::full_check(ctx).await;
            let _ = ctl.send(Control::CheckDone(Box::new(report))).await;
        });
    }

    async fn check_done(&mut self, now: DateTime<Utc>, report: Report) {
        let readiness = report.readiness;
        tracing::info!(readiness = readiness.as_str(), "check finished");
        let path = self.state_dir.join("last-report.json");
        if let Ok(text) = serde_json::to_vec_pretty(&report) {
            let _ = std::fs::write(path, text);
        }
        self.last_report = Some(report.clone());
        super::report_page::remember(&report);
        if let Some(p) = self.presence.as_mut() {
            p.checked(now);
        }
        self.record(now, EventBody::Report { report }, false).await;
        self.input(now, Input::CheckDone(readiness)).await;
        let msg = Said::new("ipc-check-finished").said("readiness", readiness_said(readiness));
        self.publish(now).await;
        let status = self.status(now).await;
        for w in self.check_waiters.drain(..) {
            let _ = w.send(Response::saying(true, vec![msg.clone()], status.clone()));
        }
    }

    async fn sample(&mut self, now: DateTime<Utc>, s: Sample) {
        if !self.machine.signed_in() {
            return;
        }
        if s.spec.check == proto::CheckName::Headset.as_str() {
            let mut one = Report::new(BTreeMap::new());
            one.checks
                .insert(s.spec.check.to_string(), s.result.clone());
            if let Some(h) = Extras::from_report(Some(&one)).headset {
                samples::lock(&self.ring).set_headset(h);
            }
        }
        let crossed = monitor::crossed(&s.result);
        let report = self
            .last_report
            .get_or_insert_with(|| Report::new(BTreeMap::new()));
        report
            .checks
            .insert(s.spec.check.to_string(), s.result.clone());
        report.readiness = Readiness::from_statuses(report.checks.values().map(|c| c.status));
        super::report_page::remember(report);
        let readiness = report.readiness;
        if readiness != self.machine.readiness() {
            tracing::info!(
                readiness = readiness.as_str(),
                check = s.spec.check,
                "readiness changed"
            );
        }
        self.machine.set_readiness(readiness, now);
        self.alert(now, s.spec.incident, crossed, &s.result.hint)
            .await;
        self.publish(now).await;
    }

    /// One incident per name. `network_degraded` has two sources: the once-a-minute monitor
    /// (3 of 5 samples, this hysteresis) and the pilot stream (`super::pilot`, in seconds).
    /// It starts when the first of them raises and ends when both have cleared: a raise while
    /// the other holds it open records nothing, nor does a clear while the other still does.
    async fn alert(&mut self, now: DateTime<Utc>, name: &'static str, crossed: bool, detail: &str) {
        let mut change = self.hysteresis.entry(name).or_default().push(crossed);
        if let Some(c) = change.filter(|_| name == IncidentName::NetworkDegraded.as_str()) {
            let opened = self
                .net_holders
                .set(pilot::Holder::Monitor, c == Change::Raised);
            if opened.is_none() {
                tracing::info!(incident = name, ?c, "monitor: the pilot holds it open");
            }
            change = opened.map(|open| {
                if open {
                    Change::Raised
                } else {
                    Change::Cleared
                }
            });
        }
        match change {
            Some(Change::Raised) => {
                tracing::warn!(incident = name, "{detail}");
                self.incidents.insert(name.to_string());
                self.record(now, incident(name, IncidentState::Started, detail), false)
                    .await;
                if name != IncidentName::HqUnreachable.as_str() {
                    self.notify(&i18n::tr("note-action-needed"), &self.shown(detail));
                }
            }
            Some(Change::Cleared) => {
                tracing::info!(incident = name, "ended");
                self.incidents.remove(name);
                self.record(now, incident(name, IncidentState::Ended, ""), false)
                    .await;
            }
            None => {}
        }
    }

    /// The pilot raised or cleared `network_degraded` (see [`Core::alert`] for how it and
    /// the monitor share the incident). Only while signed in.
    async fn pilot(&mut self, now: DateTime<Utc>, e: PilotEvent) {
        if !self.machine.signed_in() {
            return;
        }
        let name = IncidentName::NetworkDegraded.as_str();
        let raise = matches!(e, PilotEvent::Raise { .. });
        let opened = self.net_holders.set(pilot::Holder::Pilot, raise);
        match e {
            PilotEvent::Raise { detail, scope } => {
                let scope_s = scope.map_or("unknown", |s| s.as_str());
                if opened != Some(true) {
                    tracing::info!(
                        incident = name,
                        scope = scope_s,
                        "pilot: {detail} (already open)"
                    );
                    return;
                }
                tracing::warn!(incident = name, scope = scope_s, "pilot: {detail}");
                self.incidents.insert(name.to_string());
                let body = EventBody::Incident {
                    name: name.to_string(),
                    state: IncidentState::Started,
                    detail: detail.clone(),
                    scope,
                };
                self.record(now, body, false).await;
                self.notify(&i18n::tr("note-action-needed"), &detail);
            }
            PilotEvent::Clear => {
                if opened != Some(false) {
                    tracing::info!(incident = name, "pilot: clean again; still held open");
                    return;
                }
                tracing::info!(incident = name, "pilot: clean again; ended");
                self.incidents.remove(name);
                self.record(now, incident(name, IncidentState::Ended, ""), false)
                    .await;
            }
        }
        self.publish(now).await;
    }

    async fn delivery(&mut self, now: DateTime<Utc>, a: Attempt) {
        let ok = match a {
            Attempt::Delivered(_) => true,
            Attempt::Failed(_) => false,
            Attempt::Quarantined {
                count,
                reason,
                only_own_incidents,
            } => {
                self.events_rejected(now, count, &reason, only_own_incidents)
                    .await;
                self.publish(now).await;
                return;
            }
            Attempt::CheckRequested(at) => {
                tracing::info!(%at, "IT asked through HQ for the check now");
                self.spawn_check(None);
                return;
            }
            Attempt::MustEnroll { url, error } => {
                if self.enroll_again.is_none() {
                    tracing::warn!("HQ refused this device's key: {error}");
                }
                self.enroll_again = Some(crate::ipc::enroll_again_said(&url));
                self.publish(now).await;
                return;
            }
        };
        if self.enroll_again.take().is_some() {
            tracing::info!("HQ accepts this device's key again; delivery resumed");
        }
        if self.hq_ok != Some(ok) {
            match &a {
                Attempt::Failed(e) => tracing::warn!("HQ is unreachable: {e}"),
                _ => tracing::info!("HQ is reachable"),
            }
        }
        self.hq_ok = Some(ok);
        let detail = match &a {
            Attempt::Failed(e) => e.clone(),
            _ => String::new(),
        };
        let hq_unreachable = IncidentName::HqUnreachable.as_str();
        if self.machine.signed_in() || self.hysteresis.contains_key(hq_unreachable) {
            self.alert(now, hq_unreachable, !ok, &detail).await;
        }
        self.publish(now).await;
    }

    /// HQ refused `count` events for good and delivery set them aside: raises the
    /// `events_rejected` incident (once while it is open), unless the refused events were
    /// themselves that incident (an HQ that does not know it).
    async fn events_rejected(
        &mut self,
        now: DateTime<Utc>,
        count: usize,
        reason: &str,
        only_own_incidents: bool,
    ) {
        let name = IncidentName::EventsRejected.as_str();
        if only_own_incidents || self.incidents.contains(name) {
            tracing::warn!(
                count,
                "HQ refused more events for good ({reason}); set aside"
            );
            return;
        }
        let detail = format!(
            "HQ refused {count} event(s) for good; they are set aside in the spool's quarantine \
             and delivery goes on. First reason: {reason}"
        );
        tracing::warn!(incident = name, "{detail}");
        self.incidents.insert(name.to_string());
        self.record(now, incident(name, IncidentState::Started, &detail), false)
            .await;
    }

    /// A policy HQ says changed: cached with its ETag, then in force.
    fn policy(&mut self, fresh: FreshPolicy) {
        let cached = CachedPolicy {
            response: fresh.response,
            etag: fresh.etag,
        };
        cached.write(&self.state_dir);
        let p = cached.response;
        if self.has_hq {
            self.hq_kinds = p.event_kinds.clone();
        }
        if let Some(pr) = self.presence.as_mut() {
            pr.set_every(Utc::now(), p.policy.shift.presence_seconds);
        }
        self.machine
            .set_params(Params::from_policy(&p.policy.shift));
        self.schedule = if p.shifts.is_empty() {
            self.local_schedule.clone()
        } else {
            Schedule::Fixed(p.shifts.iter().map(ShiftWindow::from).collect())
        };
        self.loaded.policy = p.policy.clone();
        self.ctx.policy = Arc::new(p.policy);
        let _ = self.ctx_tx.send(self.ctx.clone());
        let _ = self.ctl.try_send(Control::Power(Input::Tick));
    }

    async fn request(
        &mut self,
        now: DateTime<Utc>,
        req: Request,
        reply: oneshot::Sender<Response>,
    ) {
        let mut receipt = None;
        let (ok, message) = match req {
            Request::Status => (true, Vec::new()),
            Request::SignIn => {
                let below = below_bar(
                    self.machine.readiness(),
                    &self.loaded.policy.shift,
                    self.last_report.as_ref(),
                );
                let refuse = self.loaded.policy.shift.manual_sign_in_below_bar
                    == proto::policy::ManualSignIn::Refuse;
                match below {
                    Some(why) if refuse && !self.machine.signed_in() => (
                        false,
                        [vec![Said::new("ipc-refused-below-bar")], why].concat(),
                    ),
                    below => {
                        let acts = self.input(now, Input::SignIn).await;
                        let done = if acts.iter().any(|a| matches!(a, Action::SignIn { .. })) {
                            "ipc-signed-in"
                        } else {
                            "ipc-already-signed-in"
                        };
                        (
                            true,
                            [vec![Said::new(done)], below.unwrap_or_default()].concat(),
                        )
                    }
                }
            }
            Request::SignOut => {
                let acts = self.input(now, Input::SignOut).await;
                if acts.iter().any(|a| matches!(a, Action::SignOut { .. })) {
                    (true, vec![Said::new("ipc-signed-out")])
                } else {
                    (true, vec![Said::new("ipc-not-signed-in")])
                }
            }
            Request::Check => {
                self.check_waiters.push(reply);
                self.spawn_check(None);
                return;
            }
            Request::ReportDrop { note } => {
                let (ok, said, r) = self.report_drop(now, &note).await;
                receipt = r;
                (ok, said)
            }
        };
        self.publish(now).await;
        let status = self.status(now).await;
        let mut resp = Response::saying(ok, message, status);
        resp.call_drop = receipt;
        let _ = reply.send(resp);
    }

    async fn status(&self, now: DateTime<Utc>) -> StatusInfo {
        let windows = self.schedule.windows(now);
        let signed_in = self.machine.signed_in();
        let readiness = self.machine.readiness();
        let hq = match (self.has_hq, self.hq_ok) {
            (false, _) => HqLink::None,
            (true, _) if self.enroll_again.is_some() => HqLink::MustEnroll,
            (true, Some(false)) => HqLink::Unreachable,
            (true, _) => HqLink::Connected,
        };
        let state = if self
            .incidents
            .contains(IncidentName::HqUnreachable.as_str())
        {
            DaemonState::Offline
        } else if !signed_in {
            DaemonState::SignedOut
        } else {
            DaemonState::signed_in(readiness)
        };
        StatusInfo {
            state,
            signed_in,
            readiness,
            shift: windows.iter().copied().find(|w| w.contains(now)),
            next_shift: windows.iter().copied().find(|w| w.start > now),
            last_check_at: self.last_report.as_ref().and_then(|r| r.taken_at),
            spool_events: self.spool.len().await.unwrap_or(0),
            hq,
            incidents: self.incidents.iter().cloned().collect(),
            pid: std::process::id(),
            quarantined: self.spool.quarantined().await.unwrap_or(0),
            enroll_again: self.enroll_again.as_ref().map(Said::english),
            enroll_again_said: self.enroll_again.clone(),
            fix_first: self
                .last_report
                .as_ref()
                .and_then(fix_first)
                .map(|f| f.english()),
            fix_first_said: self.last_report.as_ref().and_then(fix_first),
        }
    }

    async fn publish(&mut self, now: DateTime<Utc>) {
        let s = self.status(now).await;
        self.status_tx.send_if_modified(|old| {
            if *old == s {
                false
            } else {
                *old = s;
                true
            }
        });
    }

    /// Gives delivery a short while to send what is left (the sign-out) before exiting.
    async fn flush(&mut self, limit: Duration) {
        if !self.has_hq {
            return;
        }
        let until = Instant::now() + limit;
        while Instant::now() < until {
            self.delivery_wake.notify_one();
            if self.spool.is_empty().await.unwrap_or(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::info!(
            "HQ did not take every event before exit; they stay in the spool for the next run"
        );
    }
}

/// The first thing to fix in a report, as `status` and the tray say it.
fn fix_first(report: &Report) -> Option<Said> {
    report.first_to_fix().map(|(name, c)| match &c.hint_msg {
        Some(m) => Said::from(m),
        // A report read back from the file keeps only its English hint.
        None if !c.hint.is_empty() => Said::new("fix-first-text").text("hint", c.hint.clone()),
        None => {
            let check = match name {
                "os" | "hardware" | "network" | "headset" | "noise" => {
                    Said::new(&format!("check-{name}"))
                }
                _ => Said::new("fix-first-text").text("hint", name.to_string()),
            };
            let status = match c.status {
                proto::Status::Pass => "word-pass",
                proto::Status::Warn => "word-warn",
                proto::Status::Fail => "word-fail",
                proto::Status::Error => "word-error",
            };
            Said::new("fix-first-check")
                .said("check", check)
                .said("status", Said::new(status))
        }
    })
}

/// A readiness in words ("not ready"), as a message.
fn readiness_said(r: Readiness) -> Said {
    Said::new(match r {
        Readiness::Ready => "readiness-ready",
        Readiness::Degraded => "readiness-degraded",
        Readiness::NotReady => "readiness-not-ready",
        Readiness::Unknown => "readiness-unknown",
    })
}

/// What a manual sign-in says when the computer is below the site's readiness bar: that it
/// is not ready for calls, and the first thing to fix. `None` when the bar is met, or when
/// no check has run yet and the bar is only not known to be met (then a refusing site still
/// refuses, saying so).
fn below_bar(
    readiness: Readiness,
    shift: &proto::policy::ShiftPolicy,
    report: Option<&Report>,
) -> Option<Vec<Said>> {
    use proto::policy::{ManualSignIn, ReadinessBar};
    if readiness.meets(shift.readiness_bar) {
        return None;
    }
    let bar = Said::new(match shift.readiness_bar {
        ReadinessBar::Ready => "bar-ready",
        ReadinessBar::Degraded => "bar-degraded",
        ReadinessBar::Any => "bar-any",
    });
    let Some(report) = report else {
        return (shift.manual_sign_in_below_bar == ManualSignIn::Refuse)
            .then(|| vec![Said::new("ipc-not-checked-yet").said("bar", bar)]);
    };
    let first = fix_first(report).unwrap_or_else(|| Said::new("fix-first-again"));
    Some(vec![
        Said::new("ipc-below-bar")
            .said("readiness", readiness_said(readiness))
            .said("bar", bar),
        Said::new("ipc-fix-this-first").said("fix", first),
    ])
}

fn incident(name: &str, state: IncidentState, detail: &str) -> EventBody {
    EventBody::Incident {
        name: name.to_string(),
        state,
        detail: detail.to_string(),
        scope: None,
    }
}

#[cfg(test)]
mod below_bar_tests {
    use super::*;
    use proto::policy::{ManualSignIn, ShiftPolicy};
    use proto::{CheckResult, Status};

    fn report(checks: &[(&str, Status, &str)]) -> Report {
        Report::new(
            checks
                .iter()
                .map(|(n, s, h)| (n.to_string(), CheckResult::new(*s, *h)))
                .collect(),
        )
    }

    #[test]
    fn below_the_bar_says_not_ready_and_the_first_thing_to_fix() {
        let shift = ShiftPolicy::default(); // bar: ready
        let r = report(&[
            ("os", Status::Pass, ""),
            ("noise", Status::Warn, "Close the door."),
            ("headset", Status::Fail, "Plug in your headset."),
        ]);
        let why = below_bar(r.readiness, &shift, Some(&r)).unwrap();
        assert_eq!(
            i18n::english_lines(&why),
            "This computer is not ready for calls (readiness: not ready; your site's bar: \
             ready).\nFix this first: Plug in your headset."
        );
        // The same lines in Swedish (the hint itself came as English text, so it stays so).
        let sv: Vec<String> = why
            .iter()
            .filter_map(|l| l.text_in(i18n::Lang::Sv))
            .collect();
        assert_eq!(
            sv.join("\n"),
            "Datorn är inte redo för samtal (läge: inte redo; kravet där du arbetar: redo).\n\
             Åtgärda det här först: Plug in your headset."
        );
        let ok = report(&[("os", Status::Pass, "")]);
        assert_eq!(below_bar(ok.readiness, &shift, Some(&ok)), None);
        // No check yet: nothing known to say when signing in is allowed …
        assert_eq!(below_bar(Readiness::Unknown, &shift, None), None);
        // … but a site that refuses says why it refuses.
        let refusing = ShiftPolicy {
            manual_sign_in_below_bar: ManualSignIn::Refuse,
            ..ShiftPolicy::default()
        };
        let why = i18n::english_lines(&below_bar(Readiness::Unknown, &refusing, None).unwrap());
        assert!(why.contains("has not checked this computer yet"), "{why}");
        assert!(
            why.contains("choose 'Run check now' in the tray menu"),
            "{why}"
        );
    }
}
