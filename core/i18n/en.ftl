# ShiftReady's texts in English: the reference. Every id here must exist in sv.ftl with the
# same variables (core/src/i18n.rs tests it). The English check hints are also what HQ
# receives, so change them only knowing that IT reads them there too.

## The os check

os-unknown-min = ShiftReady does not know the minimum supported version of { $other }; ask IT whether this computer may be used for calls.
os-version-unreadable = Could not read the version of { $what } ('{ $found }'); tell IT which system this computer runs.
os-too-old = { $what } { $found } is too old (at least { $min } is required): update the system or ask IT for help.
os-restart-pending = Updates are waiting for a restart: restart the computer before your shift.
os-linux-kernel = The Linux kernel

## The hardware check

hw-cpu-busy = The processor is { $pct } % busy: close programs you do not need for calls.
hw-memory = Memory is { $pct } % used: close programs and browser tabs you do not need.
hw-disk-low = Only { $free } GB of disk space is free: delete files you do not need or ask IT.
hw-disk-unknown = Could not find the disk holding your home folder; tell IT if this repeats.
hw-cores = This computer has { $cores } processor core(s), fewer than the { $min } required: ask IT about a newer computer.
hw-battery = The computer is running on battery: plug in the charger before your shift.

## The headset check

headset-no-audio = This computer has no microphone or speaker at all: plug in your headset; if it is plugged in, check that the sound driver works and that ShiftReady may use the audio devices.
headset-none = No headset found: plug in your headset and make it the default microphone.
headset-no-mic = { $name } has no microphone: use a headset with a microphone for calls.
headset-bluetooth = { $name } is a Bluetooth headset, which your site does not allow: use a wired USB or analog headset.
headset-default-unknown = Make sure { $name } is the default microphone in the sound settings (ShiftReady could not tell: { $why }).
headset-not-default = Your headset is plugged in, but the computer still uses { $other } as the microphone: make { $name } the default input in the sound settings.{ $fix ->
        [yes] { " " }Or run `shiftready fix` (or choose 'Fix it' in the tray menu) to do it for you.
       *[no] { "" }
    }
headset-output = Sound plays through { $other }, not your headset: make { $name } the default output in the sound settings.{ $fix ->
        [yes] { " " }Or run `shiftready fix` (or choose 'Fix it' in the tray menu) to do it for you.
       *[no] { "" }
    }
headset-comm-not-default = { $name } is the default communication microphone, but apps that use the default device (browsers, many softphones) still use { $other }: make { $name } the "Default Device" in the sound settings too.{ $fix ->
        [yes] { " " }Or run `shiftready fix` (or choose 'Fix it' in the tray menu) to do it for you.
       *[no] { "" }
    }
headset-not-comm-default = { $name } is the default microphone, but calling apps that use the communication device still use { $other }: make { $name } the "Default Communication Device" in the sound settings too.{ $fix ->
        [yes] { " " }Or run `shiftready fix` (or choose 'Fix it' in the tray menu) to do it for you.
       *[no] { "" }
    }
headset-comm-output = Calling apps play the other side through { $other }, not your headset: make { $name } the "Default Communication Device" for playback in the sound settings.{ $fix ->
        [yes] { " " }Or run `shiftready fix` (or choose 'Fix it' in the tray menu) to do it for you.
       *[no] { "" }
    }
headset-another-device = another device

## The network check

net-udp-blocked = UDP to HQ is blocked (firewall or VPN): voice calls will fail
net-hq-unreachable = HQ cannot be reached at all: check that your internet connection works, and tell IT if websites open normally.
net-reflector-silent = The probe reflector did not answer: check the address, and that no firewall or VPN blocks UDP.
net-dns-failed = Your computer cannot look up HQ's address (DNS): restart your router, and tell IT if websites open normally.
net-no-hq = No HQ is configured, so the network cannot be probed: enrol with `shiftready enroll --hq URL --token-file FILE`, or probe a reflector of your own with `shiftready probe --reflector HOST:PORT`.
net-send-failed = Your computer cannot send to HQ (no route): check that you are connected to the internet.
net-home-wifi = Your home network is the problem (weak or busy Wi-Fi): plug in a network cable or move closer to the router, and pause big downloads at home.
net-home-line = Your home network is the problem (the router or a busy line at home): pause downloads and streaming at home, and restart your router.
net-beyond-home = The problem is beyond your home network (your internet provider or the way to HQ): restart your router, and call your provider if it persists.
net-generic = Your connection is not good enough for calls: use a network cable, pause downloads at home, and restart your router.
net-wired-required = Your site asks for a wired connection: plug a network cable into your computer.
net-nothing-answers = Nothing answers at { $reflector }: check the reflector address (`hq.reflector` in the agent configuration), and tell IT if it is right.
net-https-failed = Voice traffic gets through but HQ's website does not answer: check your VPN, and tell IT if it keeps happening.
net-probe-timeout = The network probe did not finish within { $seconds } s; try again, and tell IT if it keeps happening.
net-bufferbloat = Calls will stutter whenever your line is busy (it was { $ms } ms slower under load): if someone at home is uploading or streaming, pause it during your shift, or ask your internet provider for a router with smart queue management (SQM).

## The noise check

noise-dead-input = No signal from the microphone: unmute it or check the OS microphone permission.
noise-voices = Voices or a TV in the background: close the door or move away from them.
noise-impulsive = Barking, knocking or banging in the background: close the door or move to a room away from it.
noise-hum = Mains hum: check the headset cable and unplug chargers near it.
noise-steady = Steady background noise (a fan, air-con or traffic): switch it off, close the window or move to a quieter room.
noise-too-loud = The room is too noisy for calls: close the door and window or move to a quieter room.
noise-clipped = The microphone is overloaded: turn its input volume down in the sound settings.
noise-no-device = No microphone found: plug in your headset and make it the default microphone.
noise-not-found = The chosen microphone is not connected: plug in your headset, or choose one that `shiftready devices` lists (`audio.input_device` in the agent configuration).
noise-no-audio = This computer has no microphone at all, so the background noise cannot be measured: plug in your headset.
noise-permission = ShiftReady may not use the microphone: allow microphone access for ShiftReady in the OS privacy settings.
noise-open = The microphone could not be opened: close other programs that use it, or unplug the headset and plug it back in.
noise-stalled = The microphone stopped sending sound: unplug the headset and plug it back in, then run the check again.

## The check report on the terminal (src/commands/render.rs)

mark-pass = ✔ pass
mark-warn = ! warn
mark-fail = ✘ fail
mark-error = ? error
check-os = os
check-hardware = hardware
check-network = network
check-headset = headset
check-noise = noise
headline-ready = READY for calls
headline-degraded = READY, with warnings: fix these when you can
headline-not-ready = NOT READY for calls: fix the items marked ✘
headline-unknown = UNKNOWN: some checks could not run
progress-checking = checking…
value-yes = yes
value-no = no
value-none = n/a
noise-class-quiet = quiet
noise-class-steady = steady noise (fan, air-con, traffic)
noise-class-hum = mains hum
noise-class-voices = voices or TV
noise-class-impulsive = knocks, bangs or barking
noise-class-dead-input = silent (no signal)
fig-rtt = RTT
fig-jitter = jitter
fig-loss = loss
fig-mos = MOS
fig-not-measured = could not measure { $what }
fig-level = { $level } dBFS(A)
fig-level-limit = { $level } dBFS(A), limit { $limit }
fig-cpu = CPU { $v } %
fig-cores = { $v } cores
fig-ram = RAM { $v } % used
fig-disk = disk { $v } GB free
fig-power = power: { $v }
power-ac = ac
power-battery = battery
transport-built-in = built-in

## shiftready status (src/commands/render.rs render_status)

status-state = State:
status-signed-in = Signed in:
status-readiness = Readiness:
status-fix-first = Fix first:
status-shift = Shift:
status-next-shift = Next shift:
status-hq = HQ:
status-incidents = Incidents:
status-set-aside = Set aside:
state-ready = ready for calls
state-degraded = ready for calls, with warnings
state-not-ready = not ready for calls
state-not-checked = signed in, not checked yet
state-unknown = signed in; some checks could not run
state-signed-out = signed out
state-offline = offline: HQ cannot be reached
status-not-checked = not checked yet
status-checked = { $readiness } (checked { $when })
readiness-ready = ready
readiness-degraded = degraded
readiness-not-ready = not ready
readiness-unknown = unknown
status-shift-until = until { $end }
status-no-shift = none now
status-hq-waiting = { $hq } ({ $events ->
        [one] 1 event
       *[other] { $events } events
    } waiting)
status-set-aside-events = { $events ->
        [one] 1 event
       *[other] { $events } events
    } HQ refused for good (kept in the spool's quarantine)
status-delivery-paused = Delivery to HQ is paused; no event is lost, it resumes after enrolling.
hq-none = none
hq-connected = connected
hq-unreachable = unreachable
hq-must-enroll = must_enroll
incident-headset-gone = headset_gone
incident-network-degraded = network_degraded
incident-noisy-room = noisy_room
incident-hq-unreachable = hq_unreachable
incident-events-rejected = events_rejected

## shiftready fix (src/commands/render.rs render_fix)

fix-nothing = Nothing to change: the headset is already the default, unmuted, with its microphone turned up.
fix-would-change = Would change (nothing changed yet; run `shiftready fix` to do it):
fix-changed = Changed:
fix-default-input = { $name } is now the default microphone (was { $was }).
fix-unmute-input = The microphone of { $name } is no longer muted.
fix-input-volume = The microphone volume of { $name } went from { $from } % to 100 %.
fix-default-output = { $name } is now the default speaker (was { $was }).
fix-unmute-output = The sound of { $name } is no longer muted.
fix-default-comm-input = { $name } is now the default communications microphone, the one calling apps use (was { $was }).
fix-default-comm-output = { $name } is now the default communications speaker, the one calling apps use (was { $was }).
fix-default-alerts-output = { $name } now also plays alert sounds (was { $was }).
fix-no-device = nothing
fix-no-headset = No headset found: plug in your headset (a Bluetooth headset must be connected, not only paired), then run the fix again.
fix-refused = The sound system refused a change ({ $why }): open the sound settings and make your headset the default there.
fix-already-changed = ; already changed: { $changes }
fix-no-sound-server = ShiftReady can change the sound settings only through PulseAudio or PipeWire, and none answers here ({ $why }): open the sound settings and make your headset the default microphone and speaker.
fix-unsupported-os = ShiftReady cannot change the sound settings on this system yet: open the sound settings and make your headset the default microphone and speaker (on Windows, for both "Default Device" and "Default Communication Device").
fix-unsupported-here = Changing the default sound device is unsupported here ({ $why }): open the sound settings and make your headset the default microphone and speaker there (on Windows, for both "Default Device" and "Default Communication Device").

## The local report page (templates/report.html, src/daemon/report_page.rs)

page-title = ShiftReady report
page-state = State:
page-checked-at = Checked at
page-caption = Every check, its result and what to do
page-check = Check
page-result = Result
page-what-to-do = What to do
page-no-check = No check has run yet. Choose “{ tray-run-check }” in the ShiftReady menu.
page-pass = Pass
page-warn = Warning
page-fail = Fail
page-error = Could not check
page-ready = Ready: your workstation is ready for calls.
page-degraded = Degraded: you can take calls, but fix the warnings below.
page-not-ready = Not ready: fix the failures below before taking calls.
page-unknown = Unknown: some checks could not run; see below.
page-nothing = Nothing.
page-state-offline = offline

## The tray menu (src/tray/ui.rs)

tray-run-check = Run check now
tray-fix = Fix it
tray-sign-in = Sign in
tray-sign-out = Sign out
tray-report = Show last report
tray-open-hq = Open HQ
tray-quit = Quit
tray-fix-nothing = Nothing to fix
tray-fix-nothing-body = The headset is already the default, unmuted, with its microphone turned up.
tray-fix-done = Sound settings fixed
tray-fix-failed = Could not fix the sound settings

## The tray's tooltip (src/tray/mod.rs)

tip-ready = Ready for calls
tip-degraded = Ready, with warnings
tip-not-checked = Not checked yet
tip-unknown = Readiness unknown
tip-not-ready = Not ready for calls
tip-offline = Offline: HQ cannot be reached
tip-signed-out = Signed out
tip-shift-until = Shift until { $end }
tip-next-shift = Next shift { $day } { $start }–{ $end }
tip-no-shift = No shift scheduled
tip-signed-in-word = signed in
tip-signed-out-word = signed out
tip-fix-first = Fix first: { $fix }

## Weekdays, short (the tooltip, `status`, notifications)

day-mon = Mon
day-tue = Tue
day-wed = Wed
day-thu = Thu
day-fri = Fri
day-sat = Sat
day-sun = Sun

## The daemon's desktop notifications (src/daemon/core.rs)

note-signed-in = You are signed in
note-signed-in-body = ShiftReady signed you in to your shift.
note-not-ready-for-shift = Not ready for your shift
note-shift-starts = Your shift starts { $start }. Fix this first: { $fix }
note-not-signed-in = Not signed in
note-bar-not-met = You are not signed in yet. Fix this: { $fix } ShiftReady checks again at { $at }.
note-action-needed = Action needed
note-run-check = run `shiftready check` to see what.
note-see-report = see the report (`shiftready check`).

## The daemon's answers to sign-in, sign-out, status and the tray (src/daemon/core.rs, src/ipc.rs)

ipc-signed-in = You are signed in.
ipc-already-signed-in = You were already signed in.
ipc-signed-out = You are signed out.
ipc-not-signed-in = You were not signed in.
ipc-check-finished = Check finished: { $readiness }.
ipc-refused-below-bar = You are not signed in: your site does not allow signing in while the computer is below its readiness bar.
ipc-not-checked-yet = ShiftReady has not checked this computer yet (your site's bar: { $bar }): choose 'Run check now' in the tray menu, or wait for the check before your shift.
ipc-below-bar = This computer is not ready for calls (readiness: { $readiness }; your site's bar: { $bar }).
ipc-fix-this-first = Fix this first: { $fix }
bar-ready = ready
bar-degraded = ready with warnings
bar-any = any
fix-first-check = the { $check } check ({ $status }).
fix-first-again = run the check again.
fix-first-text = { $hint }
word-pass = pass
word-warn = warn
word-fail = fail
word-error = error
ipc-enroll-again = This computer must be enrolled again (IT gives you the secret and, for this computer, a re-enrollment code): shiftready enroll --hq { $hq } --token-file FILE --code-file CODE

## Errors a person acts on (src/commands/errors.rs; the English is each error's own text)

err-daemon-not-running = the ShiftReady daemon is not running for this user (nothing answers on { $endpoint }: { $detail }); start it with `shiftready run`
err-daemon-no-answer = the ShiftReady daemon did not answer: { $detail }
err-daemon-closed = the ShiftReady daemon closed the connection without answering (it may be stopping, or running as another user)
err-hq-unreachable = HQ at { $url } is unreachable ({ $detail }); check the internet connection and hq.url
err-hq-timeout = HQ at { $url } did not answer within { $seconds } s; try again later
err-hq-tls = the secure connection to HQ at { $url } failed ({ $detail }); check hq.url and hq.ca_file, or tell IT
err-hq-not-enrolled = this computer is not enrolled with HQ; run `shiftready enroll --hq URL --token-file FILE`
err-hq-unknown-key = HQ does not know this device's key; run `shiftready enroll` again with the site's secret
err-hq-revoked = IT revoked this device's key; ask IT before enrolling it again
err-hq-reenroll = IT asked this device to enroll again; run `shiftready enroll --hq URL --token-file FILE`
err-hq-bad-secret = HQ refused the enrollment secret; ask IT for the site's current secret
err-hq-rate-limited = HQ is limiting requests; wait a minute and try again
err-hq-retry-after = HQ is busy or limiting requests and asks to wait { $seconds } s
err-hq-server = HQ had a problem ({ $status }): { $message }; try again later
err-config-problems = { $file } has { $problems ->
        [one] 1 problem
       *[other] { $problems } problems
    }:
err-config-key = { $at }: key `{ $key }`: { $problem }

## shiftready enroll (src/commands/enroll.rs)

enroll-failed = enrollment failed
enroll-refused = enrollment failed: HQ refused it: { $message }
enroll-bad-hq = --hq '{ $hq }': must be a full address like https://hq.example.com
enroll-code-ignored = warning: HQ did not use the re-enrollment code (it may be older than this agent); check with IT which device this computer is
enroll-not-saved = HQ enrolled this device but its key could not be saved to { $path }: { $error }
enroll-done = Enrolled with HQ at { $hq } as device { $device }.
enroll-done-again = Enrolled again with HQ at { $hq } as device { $device } (the same device: its history is kept).
enroll-note = Note from HQ: { $note }
enroll-key-file = The device key is in { $path } (readable by you alone).

## shiftready devices (src/commands/devices.rs)

devices-cannot-list = could not list the audio devices: { $error }
devices-header = Audio devices ({ $backend }):
devices-none = (none)
devices-default-input = default input
devices-default-output = default output
devices-by = by { $source }
devices-defaults-unknown = The defaults could not be told apart: { $why }

## shiftready check (src/commands/check.rs)

check-sent = Report sent to HQ.
check-not-sent = warning: the report was not sent to HQ: { $error }

## shiftready report-drop and the tray's "Report a dropped call" (src/commands/report_drop.rs, src/daemon/samples.rs, src/tray/ui.rs)

tray-report-drop = Report a dropped call
tray-drop-reported = Dropped call reported
tray-drop-failed = The dropped call was not recorded
drop-recorded = Dropped call recorded for IT, with the last { $seconds ->
        [one] second
       *[other] { $seconds } seconds
    } of this computer's network history. It goes to HQ with the next delivery (reference { $id }).
drop-recorded-no-history = Dropped call recorded for IT. ShiftReady has no network history of the last 15 minutes to add: it measures your line while you are signed in to a shift. It goes to HQ with the next delivery (reference { $id }).
drop-not-recorded = The dropped call could not be recorded: the daemon could not write its event spool (its log says why).
drop-note-too-long = The note is { $chars } characters long; a dropped call takes at most { $max }. Shorten it and try again.

## shiftready --help (src/cli.rs: the same words as the doc comments there, which a test checks)

help-about = Checks that this workstation is ready for calls and signs you in and out of shifts
help-opt-config = The agent configuration file (TOML; defaults in config/agent.toml). Without it: the per-user file (~/.config/shiftready/agent.toml) if it exists, else /etc/shiftready/agent.toml if it exists, else the built-in defaults
help-opt-lang = The language of what ShiftReady says: en or sv. Without it: `[agent] language` in the agent configuration, else the computer's language, else English. JSON output and what HQ receives stay in English
help-check = The whole pre-shift check. Exit 0 ready, 1 degraded, 2 not ready, 3 unknown
help-check-json = Print the report as JSON
help-check-only = Run only these checks (comma-separated: os,hardware,network,headset,noise)
help-check-no-send = Do not send the report to HQ even when enrolled
help-noise = The background-noise check alone, from the microphone or a WAV file
help-noise-file = Analyse this WAV file instead of the microphone
help-noise-seconds = Seconds to record, at least 1 (default from the policy)
help-noise-device = Input device (name or part of it); default from the config, else the system default
help-noise-json = Print the result as JSON
help-probe = The UDP voice probe alone
help-probe-reflector = The UDP reflector, HOST:PORT (HQ's by default)
help-probe-seconds = Seconds to probe, at least 1 (default from the policy)
help-probe-json = Print the result as JSON
help-devices = The audio devices and what is known of each
help-devices-json = Print exactly one JSON document on stdout
help-fix = Makes the headset the default microphone and speaker, unmutes it and raises a microphone volume set near zero, then runs the headset check again. Says exactly what it changed. Exit 0–3 as the headset check after it, 69 when this system's sound settings cannot be changed by ShiftReady
help-fix-dry-run = Say what would change, and change nothing
help-fix-json = Print exactly one JSON document on stdout
help-enroll = Trades the site's enrollment secret for this device's key
help-enroll-hq = HQ's base URL
help-enroll-token = The site's enrollment secret on the command line (other users of this computer can see it in the process list while enroll runs: prefer --token-file or SHIFTREADY_ENROLL_TOKEN)
help-enroll-token-file = Reads the site's enrollment secret from a file (`-` for standard input)
help-enroll-code-file = Reads the one-time re-enrollment code IT gave you (`shiftready-hq device reenroll`) from a file (`-` for standard input); or set SHIFTREADY_REENROLL_CODE. With it this computer takes over the device IT asked to enroll again, keeping its history
help-run = The daemon, with the tray icon unless --headless
help-run-headless = No tray icon (servers, tests, SSH sessions)
help-sign-in = Asks the running daemon to sign you in to the shift. Below the site's readiness bar it says what to fix first; exit 0 signed in, 2 refused because the site's policy (`shift.manual_sign_in_below_bar = "refuse"`) allows no sign-in below the bar, 69 no daemon running
help-sign-in-json = Print exactly one JSON document on stdout
help-sign-out = Asks the running daemon to sign you out of the shift
help-sign-out-json = Print exactly one JSON document on stdout
help-status = Shows the running daemon's state
help-status-json = Print exactly one JSON document on stdout
help-report-drop = Tells the running daemon that a call just dropped: it records the last 15 minutes of this computer's network history, the headset and the noise, with your note, for IT. Exit 0 recorded, 64 a note over 1000 characters, 69 no daemon running
help-report-drop-note = What happened, in your words (at most 1000 characters)
help-report-drop-json = Print exactly one JSON document on stdout
help-heading-usage = Usage
help-heading-options = Options
help-heading-commands = Commands
help-usage-options = OPTIONS
help-usage-command = COMMAND
help-flag-help = Print help
help-flag-version = Print version
help-value-file = FILE
help-value-lang = LANG
help-value-names = NAMES
help-value-name = NAME
help-value-host-port = HOST:PORT
help-value-secret = SECRET
help-value-path = PATH
help-value-text = TEXT
help-value-seconds = SECONDS
help-error = error
help-error-unknown-argument = unexpected argument '{ $arg }' found
help-error-unknown-command = unrecognized subcommand '{ $arg }'
help-error-invalid-value = invalid value '{ $value }' for '{ $arg }'
help-error-missing = the following required arguments were not provided: { $arg }
help-error-more = For more information, try '--help'.

## More errors a person acts on (src/commands/errors.rs; the English is each error's own text)

err-secret-how = give the site's enrollment secret exactly one way: --token-file PATH (`-` for standard input), the SHIFTREADY_ENROLL_TOKEN environment variable, or --token SECRET
err-secret-missing = no enrollment secret: { err-secret-how }
err-secret-several = the enrollment secret was given { $count } ways ({ $ways }): { err-secret-how }
err-secret-unreadable = --token-file: cannot read the enrollment secret from { $what }: { $detail }
err-secret-too-long = --token-file: { $what } is longer than { $max } bytes; it must hold only the enrollment secret
err-secret-not-text = --token-file: { $what } is not text; it must hold only the enrollment secret
err-secret-empty = { $what }: the enrollment secret is empty
err-secret-not-one-word = { $what }: the enrollment secret must be one word (it has spaces or several lines)
err-hq-redirected = HQ at { $url } answered { $status } and tried to send the request to { $location }; the device key is never sent after a redirect: set hq.url to HQ's real address (https://...)
err-hq-rejected = HQ refused the request ({ $status }): { $message }
err-hq-bad-response = HQ's answer could not be read ({ $detail }); is hq.url really ShiftReady HQ?
err-lock-open = cannot open the lock file { $path }: { $detail }
err-lock-held = ShiftReady is already running for this user (pid { $pid }, lock { $path }); use `shiftready status` to talk to it
err-state-dir = cannot create the state directory { $path }: { $detail }
err-wav-open = cannot read { $path }: { $detail }
err-wav-format = { $path } is not a WAV file we can read ({ $reason })
err-wav-truncated = { $path } is cut short: the header promises more audio than the file holds
err-wav-empty = { $path } holds no audio
err-wav-unsupported = { $path }: { $what } is not supported (ShiftReady reads { $supported })
err-io-not-found = No such file or directory
err-io-permission-denied = Permission denied
err-only-unknown = --only: there is no check named '{ $name }' (the checks are { $names })
err-seconds-range = --seconds { $given }: give a number of seconds from { $min } to { $max } ({ $why })
err-seconds-why-noise = a shorter recording is too short to judge the background noise
err-seconds-why-probe = a shorter probe cannot measure jitter and loss
err-noise-file-short = { $path } holds only { $held } s of audio: too short to judge the background noise (at least { $min } s are needed)

## A configuration file's problems (proto/src/load.rs, src/config.rs): the English is each problem's own text

cfg-not-toml = not valid TOML: { $detail }
cfg-unreadable = cannot read the file: { $detail }
cfg-unknown-key = unknown field '{ $key }', expected one of { $expected }
cfg-unknown-key-none = unknown field '{ $key }', there are no fields
cfg-missing-key = missing field '{ $key }'
cfg-wrong-value = { $want } ({ $found })
cfg-not-a-choice = { $value } is not one of the choices: { $choices }
cfg-want-unsigned = must be a whole number, 0 or more
cfg-want-integer = must be a whole number
cfg-want-number = must be a number
cfg-want-bool = must be true or false
cfg-want-text = must be text in quotes
cfg-want-list = must be a list in brackets, like ["a", "b"]
cfg-want-table = must be a table of settings
cfg-found-text = it is the text { $value }
cfg-found-number = it is the number { $value }
cfg-found-list = it is a list
cfg-found-table = it is a table
cfg-found-other = it is { $value }
cfg-url-scheme = '{ $url }' must start with https:// (or http:// for a local test)
cfg-host-port-v6 = '{ $value }' must be HOST:PORT, e.g. [::1]:8637
cfg-host-port = '{ $value }' must be HOST:PORT, e.g. hq.example.com:8637
cfg-port = '{ $value }': the port '{ $port }' must be a number from 1 to 65535
cfg-no-host = '{ $value }' has no host before the ':'
cfg-timeout = { $value } must be between 0 and 600 seconds
cfg-calibration = must be a number of dB between -200 and 200
cfg-interval = { $value } must be between { $min } and 86400 seconds
cfg-noise-interval = must be 0 (off) or at least 10 seconds
cfg-spool-bytes = must be at least 65536 bytes

## The report page's "Fix it" (src/daemon/report_page.rs)

page-fix-intro = ShiftReady can make your headset the default microphone and speaker for you, unmute it and turn its microphone up.
page-fix-button = Fix it
page-fix-changed = What ShiftReady changed
page-fix-after = The table below shows the headset check after the change.
page-fix-stale = This page is out of date, so nothing was changed: open the report again from the ShiftReady menu and press the button there.
page-refused = This request did not come from ShiftReady's own page, so nothing was done.

## shiftready check while signed in (src/commands/check.rs)

check-no-load-signed-in = You are signed in to a shift, so this check leaves out the test of your line under load (it fills the line for seconds and would break up a call). ShiftReady runs it in the check before your next shift.
