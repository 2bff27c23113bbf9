//! The API document served at `/api/v1/openapi.json` (OpenAPI 3.1).

use axum::http::header;
use axum::response::{IntoResponse, Response};

pub const DOCUMENT: &str = r##"{
  "openapi": "3.1.0",
  "info": {"title": "ShiftReady HQ API", "version": "1"},
  "components": {
    "securitySchemes": {
      "deviceKey": {"type": "http", "scheme": "bearer", "description": "A device key from POST /api/v1/enroll"},
      "metricsToken": {"type": "http", "scheme": "bearer", "description": "Only when HQ was started with `serve --metrics-token-file PATH`: the token on that file's first line"},
      "apiToken": {"type": "http", "scheme": "bearer", "description": "An API token from `shiftready-hq token create`"},
      "session": {"type": "apiKey", "in": "cookie", "name": "sr_session", "description": "The dashboard's login session (POST /login). On admin endpoints, which change state, a session must also send its CSRF token (the `csrf` field of the dashboard's forms) in the X-CSRF-Token header, and a browser's Origin must be this host; an API token needs neither"}
    },
    "schemas": {
      "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}, "code": {"type": "string", "description": "for 401: no_key, unknown_key, revoked, reenroll, bad_secret, login"}}},
      "Readiness": {"type": "string", "enum": ["ready", "degraded", "not_ready", "unknown"]},
      "Event": {"type": "object", "required": ["id", "at", "kind"], "properties": {
        "id": {"type": "string", "format": "uuid"},
        "at": {"type": "string", "format": "date-time"},
        "sent_at": {"type": "string", "format": "date-time", "description": "the agent's clock when sent; HQ measures clock skew from it"},
        "kind": {"type": "string", "enum": ["report", "heartbeat", "sign_in", "sign_out", "incident", "sample", "call_drop"], "description": "sample and call_drop (issue 15) only to an HQ whose policy answer lists them in event_kinds; a kind HQ does not know is refused with the reason in its result, the rest of the batch is stored"},
        "report": {"type": "object", "description": "kind report: the readiness report of `shiftready check --json`"},
        "readiness": {"$ref": "#/components/schemas/Readiness"},
        "signed_in": {"type": "boolean"},
        "reason": {"type": "string", "enum": ["auto", "manual", "lost_contact", "shutdown", "suspend", "logoff"]},
        "name": {"type": "string"}, "state": {"type": "string", "enum": ["started", "ended"]}, "detail": {"type": "string"},
        "scope": {"type": "string", "enum": ["home", "beyond_home"], "description": "kind incident, network incidents: whether the problem is in the home (the link or the home router) or beyond it; absent from older agents; an unknown value reads as absent"},
        "sample": {"$ref": "#/components/schemas/MinuteSample"},
        "call_drop": {"$ref": "#/components/schemas/CallDropEvent"}
      }},
      "MinuteSample": {"type": "object", "description": "kind sample: one minute of a shift summarised (the event's at is the minute's start). Every figure may be absent or null: not measured, never zero. Loss is a percentage of the pilot stream's packets; up is agent to HQ, down HQ to agent. Out of range (seconds or link_down_seconds over 60, times over 60000 ms, percentages outside 0 to 100, MOS outside 1 to 5, names not 1 to 32 of a-z and _): the event is refused naming the field; a Wi-Fi signal outside -150 to 0 dBm or a noise level outside -200 to 200 dBA is dropped and the minute kept", "properties": {
        "seconds": {"type": "integer", "minimum": 0, "maximum": 60, "description": "seconds of the minute with a measurement"},
        "rtt_p50_ms": {"type": ["number", "null"]}, "rtt_p95_ms": {"type": ["number", "null"]},
        "jitter_up_ms": {"type": ["number", "null"], "description": "RFC 3550 interarrival jitter"}, "jitter_down_ms": {"type": ["number", "null"]},
        "loss_up_pct": {"type": ["number", "null"]}, "loss_down_pct": {"type": ["number", "null"]},
        "mos_min": {"type": ["number", "null"], "description": "the lowest MOS (ITU-T G.107) of any second"},
        "gateway_rtt_p50_ms": {"type": ["number", "null"], "description": "the home router's median RTT"}, "gateway_loss_pct": {"type": ["number", "null"], "description": "the share of pings the home router left unanswered"},
        "link": {"type": ["string", "null"], "description": "wired, wifi, cellular, other"},
        "link_down_seconds": {"type": "integer", "minimum": 0, "maximum": 60},
        "wifi_signal_dbm": {"type": ["integer", "null"], "description": "the minute's lowest, on Wi-Fi"},
        "headset": {"type": ["boolean", "null"], "description": "a headset with a microphone present at the minute's end"},
        "noise_dba": {"type": ["number", "null"], "description": "the latest noise measurement (LAeq)"}, "noise_class": {"type": ["string", "null"]}
      }},
      "Seconds": {"type": "object", "required": ["start"], "description": "per-second history, one column per figure: element i of every column is the second start + i s; every column has the same length (a call_drop is refused otherwise), at most 900; null: not measured", "properties": {
        "start": {"type": "string", "format": "date-time", "description": "the first second"},
        "rtt_ms": {"type": "array", "items": {"type": ["number", "null"]}, "description": "pilot RTT to HQ's reflector (null: no reply)"},
        "loss_up_pct": {"type": "array", "items": {"type": ["number", "null"]}}, "loss_down_pct": {"type": "array", "items": {"type": ["number", "null"]}},
        "jitter_ms": {"type": "array", "items": {"type": ["number", "null"]}},
        "gateway_rtt_ms": {"type": "array", "items": {"type": ["number", "null"]}},
        "gateway_ok": {"type": "array", "items": {"type": ["boolean", "null"]}, "description": "whether the home router answered (null: not pinged)"},
        "link_up": {"type": "array", "items": {"type": ["boolean", "null"]}},
        "wifi_signal_dbm": {"type": "array", "items": {"type": ["integer", "null"]}},
        "headset": {"type": "array", "items": {"type": ["boolean", "null"]}}
      }},
      "CallDropEvent": {"type": "object", "required": ["seconds"], "description": "kind call_drop: a dropped call the agent reported (`shiftready report-drop`, the tray; the event's at is when), with the last 15 minutes at per-second resolution", "properties": {
        "note": {"type": "string", "maxLength": 1000, "description": "what the agent wrote"},
        "seconds": {"$ref": "#/components/schemas/Seconds"},
        "headset": {"type": ["boolean", "null"]}, "noise_dba": {"type": ["number", "null"]}, "noise_class": {"type": ["string", "null"]},
        "link": {"type": ["string", "null"], "description": "the default route's link kind when reported"}
      }},
      "Agent": {"type": "object", "properties": {
        "id": {"type": "string"}, "name": {"type": "string"}, "site": {"type": "string"},
        "readiness": {"oneOf": [{"$ref": "#/components/schemas/Readiness"}, {"type": "null"}]},
        "state": {"type": "string", "description": "signed in: its readiness (ready, degraded, not_ready, unknown), or offline when not heard from within the lost-contact window; not signed in: idle when heard from within the idle window (3 presence intervals, at least the lost-contact window), else offline; revoked and reenroll whatever else", "enum": ["ready", "degraded", "not_ready", "unknown", "idle", "offline", "revoked", "reenroll"]},
        "signed_in": {"type": "boolean"}, "last_seen": {"type": ["string", "null"], "format": "date-time"},
        "clock_skew_ms": {"type": ["integer", "null"]}, "problem": {"type": ["string", "null"]}
      }},
      "ShiftEntry": {"type": "object", "properties": {
        "agent_id": {"type": "string"}, "hostname": {"type": "string"},
        "kind": {"type": "string", "enum": ["sign_in", "sign_out"]}, "reason": {"type": "string"},
        "at": {"type": "string", "format": "date-time", "description": "when it happened, by the agent's clock"},
        "received_at": {"type": ["string", "null"], "format": "date-time", "description": "when HQ stored it, by HQ's clock (null for events stored before HQ recorded it)"},
        "readiness": {"type": ["string", "null"]},
        "flags": {"type": "array", "items": {"type": "string", "enum": ["out_of_order", "clock_off"]}, "description": "out_of_order: dated before the device's previous shift event (stored, changes no state); clock_off: the device's clock was more than 5 minutes off HQ's"}
      }},
      "Adherence": {"type": "object", "description": "one scheduled shift against what the agent did; minutes are whole minutes, rounded down", "properties": {
        "agent_id": {"type": "string"}, "hostname": {"type": "string"}, "site": {"type": "string"},
        "start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"},
        "phase": {"type": "string", "enum": ["upcoming", "running", "ended"]},
        "first_sign_in": {"type": ["string", "null"], "format": "date-time", "description": "the first moment signed in within the shift (its start when signed in before it)"},
        "last_sign_out": {"type": ["string", "null"], "format": "date-time", "description": "the last moment signed in within the shift; null while still signed in during a running shift"},
        "scheduled_minutes": {"type": "integer"}, "signed_in_minutes": {"type": "integer", "description": "signed in within the shift (a lost_contact sign-out to its contact_restored sign-in is not)"},
        "late_minutes": {"type": ["integer", "null"], "description": "start to first sign-in; null before the shift starts"},
        "early_leave_minutes": {"type": ["integer", "null"], "description": "last sign-out to end; null until the shift ends"},
        "no_show": {"type": "boolean", "description": "the shift ended and the agent was never signed in during it"},
        "not_ready_minutes": {"type": "integer", "description": "signed in while the latest readiness (report, sign-in) was not_ready or a headset_gone, network_degraded or noisy_room incident was open"}
      }},
      "CallDrop": {"type": "object", "description": "a dropped call an agent reported (`shiftready report-drop`, the tray) with HQ's verdict from its per-second history; times in ms since the epoch with an RFC 3339 twin", "properties": {
        "id": {"type": "string", "format": "uuid", "description": "the call_drop event's id"},
        "agent_id": {"type": "string"}, "hostname": {"type": "string"}, "site": {"type": "string"},
        "at": {"type": "integer", "description": "when the agent reported it, by its clock (ms)"}, "at_rfc3339": {"type": "string", "format": "date-time"},
        "received_at": {"type": "integer", "description": "when HQ stored it, by HQ's clock (ms)"}, "received_at_rfc3339": {"type": "string", "format": "date-time"},
        "verdict": {"type": "string", "description": "in words, e.g. \"home network: Wi-Fi lost for 8 s at 14:32:05 UTC\" (times UTC); a problem in the 3 minutes before the report, the most severe first, others after \"; also\""},
        "verdict_kind": {"type": "string", "enum": ["home_network", "beyond_home", "headset", "none", "unknown"], "description": "home_network: the link down or the home router unanswered; beyond_home: pilot loss or no replies while the home router answered; headset: no headset present; none: figures but no problem; unknown: no figures"},
        "note": {"type": "string", "description": "what the agent wrote (at most 1000 characters)"}
      }},
      "EventResult": {"type": "object", "required": ["id", "outcome"], "properties": {
        "id": {"type": ["string", "null"], "format": "uuid", "description": "null when the event was rejected before its id could be read"},
        "outcome": {"type": "string", "enum": ["stored", "duplicate", "rejected"]},
        "error": {"type": "string", "description": "why it was rejected (only for rejected): sending it again gets the same answer"}
      }}
    },
    "parameters": {
      "from": {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "a date (2026-12-01, the start of that day, UTC) or an RFC 3339 time", "example": "2026-12-01"},
      "to": {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "a date (through the end of that day, UTC) or an RFC 3339 time (exclusive)", "example": "2026-12-07"},
      "site": {"name": "site", "in": "query", "schema": {"type": "string"}, "description": "only this site's agents"},
      "agent": {"name": "agent", "in": "query", "schema": {"type": "string"}, "description": "one agent: its device id or hostname (404 when none or several have it)"}
    },
    "responses": {
      "Error": {"description": "a bad request", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
  },
  "paths": {
    "/api/v1/enroll": {"post": {"summary": "Trade the site's enrollment secret for this device's key (rate-limited per address)",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["secret", "hostname"], "properties": {"secret": {"type": "string"}, "hostname": {"type": "string", "description": "refused (422) with Unicode format characters (category Cf: bidi overrides, zero-width) or line/paragraph separators"}, "os": {"type": "string"}, "agent_version": {"type": "string"}, "reenroll_code": {"type": "string", "description": "the one-time code from POST /api/v1/agents/{id}/reenroll or `shiftready-hq device reenroll`: takes over that device (its id and history); wrong, used, expired or another site's: 422. Without it an enrollment is always a new device"}}}}}},
      "responses": {"200": {"description": "enrolled", "content": {"application/json": {"schema": {"type": "object", "properties": {"device_id": {"type": "string"}, "device_key": {"type": "string"}, "reenrolled": {"type": "boolean", "description": "present (true) when a re-enrollment code took over an existing device"}, "notice": {"type": "string", "description": "present when another device of the site has this hostname, in words for the person enrolling"}}}}}}, "401": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}, "429": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/events": {"post": {"summary": "Deliver a batch of this device's events (idempotent on each id; at most 1000 events, 1 MiB)", "security": [{"deviceKey": []}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["events"], "properties": {"events": {"type": "array", "maxItems": 1000, "items": {"$ref": "#/components/schemas/Event"}}}}}}},
      "responses": {"200": {"description": "stored", "content": {"application/json": {"schema": {"type": "object", "properties": {"accepted": {"type": "array", "items": {"type": "string", "format": "uuid"}, "description": "the ids HQ holds (stored now or before)"}, "duplicates": {"type": "integer"}, "results": {"type": "array", "items": {"$ref": "#/components/schemas/EventResult"}, "description": "one answer per event, in the batch's order; a rejected event never blocks the others"}}}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}, "413": {"$ref": "#/components/responses/Error"}, "415": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/policy": {"get": {"summary": "This device's site policy and its shifts, with an ETag (send If-None-Match)", "security": [{"deviceKey": []}],
      "responses": {"200": {"description": "the policy", "headers": {"ETag": {"schema": {"type": "string"}}}}, "304": {"description": "unchanged"}, "401": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/load/upload": {"post": {"summary": "The latency-under-load test's upload sink (issue 16): HQ reads and discards the body (any content type, chunked or with Content-Length, at most `serve --load-max-mb`, 8 MB by default; not subject to the 1 MB limit of other bodies) for at most `seconds` and 4 s more, and answers what it received. The key is checked before the body is read (send Expect: 100-continue to learn a refusal before sending). One load session (up to 8 requests within 30 s) per device per `serve --load-interval-seconds` (60 s), and a byte budget per second shared by all devices (`--load-mb-per-second`); over either 429 with Retry-After. 404 when HQ serves no load test (`serve --no-load-test`)", "security": [{"deviceKey": []}],
      "parameters": [{"name": "bytes", "in": "query", "schema": {"type": "integer", "minimum": 1}, "description": "the most the agent will send (default and maximum: the cap)"}, {"name": "seconds", "in": "query", "schema": {"type": "number", "minimum": 0.1, "maximum": 10}, "description": "how long the agent will send (default 10)"}],
      "requestBody": {"required": true, "content": {"application/octet-stream": {}}},
      "responses": {"200": {"description": "received", "content": {"application/json": {"schema": {"type": "object", "required": ["bytes", "seconds"], "properties": {"bytes": {"type": "integer", "description": "body bytes read"}, "seconds": {"type": "number", "description": "from the first body byte read to the last, by HQ's clock"}}}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}, "413": {"$ref": "#/components/responses/Error"}, "429": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/load/download": {"get": {"summary": "The latency-under-load test's download source (issue 16): `bytes` of random (incompressible) data, ending early after `seconds`; the same key check, caps and limits as the upload", "security": [{"deviceKey": []}],
      "parameters": [{"name": "bytes", "in": "query", "schema": {"type": "integer", "minimum": 1}}, {"name": "seconds", "in": "query", "schema": {"type": "number", "minimum": 0.1, "maximum": 10}}],
      "responses": {"200": {"description": "the data", "content": {"application/octet-stream": {}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}, "429": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/agents": {"get": {"summary": "The fleet", "security": [{"apiToken": []}, {"session": []}],
      "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}, {"name": "state", "in": "query", "schema": {"type": "string"}}, {"$ref": "#/components/parameters/site"}, {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["name", "state", "last_seen"]}}, {"name": "desc", "in": "query", "schema": {"type": "boolean"}}, {"name": "limit", "in": "query", "schema": {"type": "integer"}}, {"name": "offset", "in": "query", "schema": {"type": "integer"}}],
      "responses": {"200": {"description": "the fleet", "content": {"application/json": {"schema": {"type": "object", "properties": {"total": {"type": "integer"}, "summary": {"type": "object"}, "agents": {"type": "array", "items": {"$ref": "#/components/schemas/Agent"}}}}}}}, "401": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/agents.csv": {"get": {"summary": "The fleet as CSV (columns id, name, site, state, readiness, signed_in, last_seen, clock_skew_ms); the same filters as /api/v1/agents", "security": [{"apiToken": []}, {"session": []}],
      "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}, {"name": "state", "in": "query", "schema": {"type": "string"}}, {"$ref": "#/components/parameters/site"}, {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["name", "state", "last_seen"]}}, {"name": "desc", "in": "query", "schema": {"type": "boolean"}}], "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}}}}},
    "/api/v1/agents/{id}": {"get": {"summary": "One agent with its last report and its shift log of the last 7 days", "security": [{"apiToken": []}, {"session": []}],
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "the agent"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/agents/{id}/revoke": {"post": {"summary": "Revoke the device's key (admin): from now on HQ answers the key with 401 code `revoked`; the dashboard's agent page has the same action behind a confirmation", "security": [{"apiToken": []}, {"session": []}], "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "X-CSRF-Token", "in": "header", "required": false, "description": "required with a session cookie", "schema": {"type": "string"}}], "responses": {"200": {"description": "revoked", "content": {"application/json": {"schema": {"type": "object", "properties": {"id": {"type": "string"}, "status": {"type": "string", "enum": ["revoked"]}}}}}}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/agents/{id}/reenroll": {"post": {"summary": "Force the device to enroll again (admin): its key gets 401 code `reenroll`; answers a one-time `reenroll_code` (shown this once, valid 7 days) that the enrollment must present to keep the device's id and history", "security": [{"apiToken": []}, {"session": []}], "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "X-CSRF-Token", "in": "header", "required": false, "description": "required with a session cookie", "schema": {"type": "string"}}], "responses": {"200": {"description": "done", "content": {"application/json": {"schema": {"type": "object", "properties": {"id": {"type": "string"}, "status": {"type": "string", "enum": ["reenroll"]}, "reenroll_code": {"type": "string"}, "reenroll_code_expires_at": {"type": "string", "format": "date-time"}}}}}}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/schedules": {"post": {"summary": "Add shifts to agents' schedules (admin; with a session cookie send X-CSRF-Token)", "security": [{"apiToken": []}, {"session": []}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["shifts"], "properties": {"shifts": {"type": "array", "items": {"type": "object", "required": ["agent", "start", "end"], "properties": {"agent": {"type": "string", "description": "device id or hostname"}, "start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"}}}}}}}}},
      "responses": {"200": {"description": "added"}, "403": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/shifts": {"get": {"summary": "The shift log between two RFC 3339 times (default: the last day)", "security": [{"apiToken": []}, {"session": []}],
      "parameters": [{"name": "from", "in": "query", "schema": {"type": "string", "format": "date-time"}}, {"name": "to", "in": "query", "schema": {"type": "string", "format": "date-time"}}, {"name": "agent", "in": "query", "schema": {"type": "string"}}],
      "responses": {"200": {"description": "the log", "content": {"application/json": {"schema": {"type": "object", "properties": {"from": {"type": "string"}, "to": {"type": "string"}, "shifts": {"type": "array", "items": {"$ref": "#/components/schemas/ShiftEntry"}}}}}}}, "400": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/shifts.csv": {"get": {"summary": "The shift log as CSV (columns agent_id, hostname, kind, reason, at, received_at, readiness, flags); the same range as /api/v1/shifts", "security": [{"apiToken": []}, {"session": []}],
      "parameters": [{"name": "from", "in": "query", "schema": {"type": "string", "format": "date-time"}}, {"name": "to", "in": "query", "schema": {"type": "string", "format": "date-time"}}, {"name": "agent", "in": "query", "schema": {"type": "string"}}],
      "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}}, "400": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/adherence": {"get": {"summary": "Schedule adherence: each shift scheduled to start in the range (default: the last 7 days) against the agent's sign-ins, sign-outs and readiness", "security": [{"apiToken": []}, {"session": []}],
      "parameters": [{"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"}, {"$ref": "#/components/parameters/site"}, {"$ref": "#/components/parameters/agent"}],
      "responses": {"200": {"description": "the shifts, by start", "content": {"application/json": {"schema": {"type": "object", "properties": {"from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"}, "shifts": {"type": "array", "items": {"$ref": "#/components/schemas/Adherence"}}}}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/adherence.csv": {"get": {"summary": "Schedule adherence as CSV (columns agent_id, hostname, site, start, end, phase, first_sign_in, last_sign_out, scheduled_minutes, signed_in_minutes, late_minutes, early_leave_minutes, no_show, not_ready_minutes; an unknown value is empty)", "security": [{"apiToken": []}, {"session": []}],
      "parameters": [{"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"}, {"$ref": "#/components/parameters/site"}, {"$ref": "#/components/parameters/agent"}],
      "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/call-drops": {"get": {"summary": "The fleet's dropped calls with HQ's verdict, newest first (default: the last 7 days; at most 10000, else 422), and how many per verdict kind", "security": [{"apiToken": []}, {"session": []}],
      "parameters": [{"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"}, {"$ref": "#/components/parameters/site"}, {"$ref": "#/components/parameters/agent"}, {"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["home_network", "beyond_home", "headset", "none", "unknown"]}, "description": "only drops with this verdict kind (the counts stay for every kind)"}],
      "responses": {"200": {"description": "the drops", "content": {"application/json": {"schema": {"type": "object", "properties": {"from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"}, "counts": {"type": "object", "description": "drops per verdict kind in the range (every kind, 0 included)", "additionalProperties": {"type": "integer"}}, "call_drops": {"type": "array", "items": {"$ref": "#/components/schemas/CallDrop"}}}}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/call-drops.csv": {"get": {"summary": "The same drops as CSV (columns agent_id, hostname, site, at, received_at, verdict_kind, verdict, note, id; times RFC 3339, UTC)", "security": [{"apiToken": []}, {"session": []}],
      "parameters": [{"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"}, {"$ref": "#/components/parameters/site"}, {"$ref": "#/components/parameters/agent"}, {"name": "kind", "in": "query", "schema": {"type": "string"}}],
      "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/connectors": {"get": {"summary": "Each site's contact-centre connector: kind, health (ok, failing, unknown), the last error in words and when, the last success, and how many changes wait in the outbox (never a secret)", "security": [{"apiToken": []}, {"session": []}],
      "responses": {"200": {"description": "the connectors", "content": {"application/json": {"schema": {"type": "object", "properties": {"connectors": {"type": "array", "items": {"type": "object", "properties": {"site": {"type": "string"}, "kind": {"type": "string", "enum": ["webhook", "twilio", "amazon_connect", "genesys"]}, "health": {"type": "string"}, "last_error": {"type": ["string", "null"]}, "last_error_at": {"type": ["integer", "null"]}, "last_ok_at": {"type": ["integer", "null"]}, "pending": {"type": "integer"}}}}}}}}}, "401": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/agents/{id}/connector": {"get": {"summary": "The agent's platform user, the platform state ShiftReady last set and when (ms), and the last delivery's result in words", "security": [{"apiToken": []}, {"session": []}],
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "the agent's connector line", "content": {"application/json": {"schema": {"type": "object", "properties": {"platform_user": {"type": "string"}, "set_state": {"type": ["string", "null"]}, "set_at": {"type": ["integer", "null"]}, "result": {"type": ["string", "null"]}, "result_at": {"type": ["integer", "null"]}}}}}}, "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/agents/{id}/timeline": {"get": {"summary": "An agent's timeline (issue 15): its per-minute samples (ranges up to 2 days) or their hourly roll-ups (longer ranges; `resolution` says which), the incidents overlapping the range (started_at, ended_at: null while open) and its sign-ins and sign-outs; default range the last 24 hours, at most 367 days", "security": [{"apiToken": []}, {"session": []}],
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}, {"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"}],
      "responses": {"200": {"description": "the timeline", "content": {"application/json": {"schema": {"type": "object", "properties": {"agent": {"type": "string"}, "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"}, "resolution": {"type": "string", "enum": ["minute", "hour"]}, "samples": {"type": "array", "items": {"type": "object", "properties": {"at": {"type": "string", "format": "date-time", "description": "the start of the minute or hour"}, "minutes": {"type": "integer", "description": "minutes with a sample (1 for a minute)"}, "seconds": {"type": "integer", "description": "seconds measured (summed over an hour)"}, "rtt_p50_ms": {"type": ["number", "null"], "description": "median RTT to HQ's reflector; an hour: the mean of its minutes' medians"}, "rtt_p95_ms": {"type": ["number", "null"], "description": "95th percentile RTT; an hour: its worst minute's"}, "jitter_up_ms": {"type": ["number", "null"], "description": "an hour: its worst minute's"}, "jitter_down_ms": {"type": ["number", "null"]}, "loss_up_pct": {"type": ["number", "null"], "description": "agent to HQ; an hour: its worst minute's"}, "loss_down_pct": {"type": ["number", "null"], "description": "HQ to agent; an hour: its worst minute's"}, "loss_up_mean_pct": {"type": "number", "description": "hours only: the mean of its minutes' loss"}, "loss_down_mean_pct": {"type": "number", "description": "hours only"}, "mos_min": {"type": ["number", "null"], "description": "the lowest MOS (ITU-T G.107) of any second"}, "gateway_rtt_p50_ms": {"type": ["number", "null"], "description": "the home router's median RTT; an hour: the mean"}, "gateway_loss_pct": {"type": ["number", "null"], "description": "an hour: its worst minute's"}, "link": {"type": "string", "description": "minutes only: wired, wifi, cellular, other"}, "link_down_seconds": {"type": "integer", "description": "summed over an hour"}, "outage_minutes": {"type": ["integer", "null"], "description": "hours only: its minutes with no line to HQ (a direction lost everything, or the link was down 30 s or more of the minute); null: not known (rolled up before HQ counted them). An hour is an outage on the page when this is above 0, never by its summed link-down seconds"}, "wifi_signal_dbm": {"type": ["integer", "null"], "description": "the lowest"}, "headset": {"type": "boolean", "description": "minutes only"}, "headset_missing_minutes": {"type": "integer", "description": "hours only: minutes that ended with no headset"}, "noise_dba": {"type": ["number", "null"], "description": "the latest of a minute; an hour: the highest"}, "noise_class": {"type": "string", "description": "minutes only"}}}}, "incidents": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "detail": {"type": "string"}, "scope": {"type": "string", "enum": ["home", "beyond_home"]}, "started_at": {"type": "string", "format": "date-time"}, "ended_at": {"type": ["string", "null"], "format": "date-time"}}}}, "incidents_cut_before": {"type": ["string", "null"], "format": "date-time", "description": "null: every incident of the range is listed. Else the range held more than 10000 incident events: the newest were kept and the list is whole from this time on (an earlier incident may be missing, or start here); ask for a shorter range"}, "shifts": {"type": "array", "items": {"type": "object", "properties": {"kind": {"type": "string", "enum": ["sign_in", "sign_out"]}, "reason": {"type": "string"}, "at": {"type": "string", "format": "date-time"}, "readiness": {"type": ["string", "null"]}, "flags": {"type": "array", "items": {"type": "string"}}}}}}}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/agents/{id}/timeline.csv": {"get": {"summary": "The timeline's samples as CSV (columns resolution, at, minutes, seconds, rtt_p50_ms, rtt_p95_ms, jitter_up_ms, jitter_down_ms, loss_up_pct, loss_down_pct, loss_up_mean_pct, loss_down_mean_pct, mos_min, gateway_rtt_p50_ms, gateway_loss_pct, link, link_down_seconds, wifi_signal_dbm, headset, headset_missing_minutes, noise_dba, noise_class, outage_minutes; a figure not measured, or not of that resolution, is empty); the same range as the JSON", "security": [{"apiToken": []}, {"session": []}],
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}, {"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"}],
      "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/alerts": {"get": {"summary": "The alerts opened in the range or open during it (default: the last 7 days), newest first, at most 1000: each alert's rule (incident_open, lost_contact, not_ready_share, correlated), site, subject, summary and details in words, the agents concerned (with the public address prefix HQ saw, for correlated alerts), opened and resolved times, and every message (firing, resolved) to each receiver with its delivery state (pending, sent, retrying, failed) and last error; receivers by name and kind, never a URL or secret", "security": [{"apiToken": []}, {"session": []}],
      "parameters": [{"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"}, {"$ref": "#/components/parameters/site"}],
      "responses": {"200": {"description": "the alerts", "content": {"application/json": {"schema": {"type": "object", "properties": {"from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"}, "alerts": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "string"}, "key": {"type": "string", "description": "RULE:SITE:SUBJECT; at most one open alert per key"}, "rule": {"type": "string", "enum": ["incident_open", "lost_contact", "not_ready_share", "correlated"]}, "site": {"type": "string"}, "subject": {"type": "string"}, "summary": {"type": "string"}, "details": {"type": "array", "items": {"type": "string"}},
        "agents": {"type": "array", "items": {"type": "object", "properties": {"device_id": {"type": "string"}, "hostname": {"type": "string"}, "address_prefix": {"type": "string"}}}},
        "opened_at": {"type": "string", "format": "date-time"}, "resolved_at": {"type": ["string", "null"], "format": "date-time"},
        "deliveries": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string", "description": "the message's idempotency key"}, "message": {"type": "string", "enum": ["firing", "resolved"]}, "receiver": {"type": "string"}, "receiver_kind": {"type": "string", "enum": ["webhook", "slack", "teams", "email"]}, "state": {"type": "string", "enum": ["pending", "sent", "retrying", "failed"]}, "attempts": {"type": "integer"}, "last_error": {"type": ["string", "null"]}, "updated_at": {"type": "string", "format": "date-time"}}}}
      }}}}}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics: shiftready_build_info{version}, shiftready_agents{state}, shiftready_site_agents{site,state}, counters; open unless HQ was started with --metrics-token-file", "security": [{}, {"metricsToken": []}], "responses": {"200": {"description": "text format 0.0.4"}, "401": {"$ref": "#/components/responses/Error"}}}},
    "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}}
  }
}"##;

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn document_is_valid_json_with_every_path() {
        let v: serde_json::Value = serde_json::from_str(super::DOCUMENT).unwrap();
        for p in [
            "/api/v1/enroll",
            "/api/v1/events",
            "/api/v1/policy",
            "/api/v1/load/upload",
            "/api/v1/load/download",
            "/api/v1/agents",
            "/api/v1/agents/{id}",
            "/api/v1/agents/{id}/revoke",
            "/api/v1/agents/{id}/reenroll",
            "/api/v1/schedules",
            "/api/v1/shifts",
            "/api/v1/shifts.csv",
            "/api/v1/adherence",
            "/api/v1/adherence.csv",
            "/api/v1/agents.csv",
            "/api/v1/call-drops",
            "/api/v1/call-drops.csv",
            "/api/v1/connectors",
            "/api/v1/agents/{id}/connector",
            "/api/v1/alerts",
            "/api/v1/openapi.json",
            "/metrics",
            "/healthz",
        ] {
            assert!(v["paths"][p].is_object(), "{p} missing");
        }
        // IT's reads take a session cookie as well as a token; the CSVs list their filters.
        for p in [
            "/api/v1/agents",
            "/api/v1/agents.csv",
            "/api/v1/agents/{id}",
            "/api/v1/shifts",
            "/api/v1/shifts.csv",
            "/api/v1/adherence",
            "/api/v1/adherence.csv",
            "/api/v1/call-drops",
            "/api/v1/call-drops.csv",
        ] {
            let sec = v["paths"][p]["get"]["security"].to_string();
            assert!(
                sec.contains("session") && sec.contains("apiToken"),
                "{p}: {sec}"
            );
        }
        for p in [
            "/api/v1/agents.csv",
            "/api/v1/shifts.csv",
            "/api/v1/adherence.csv",
            "/api/v1/call-drops.csv",
        ] {
            assert!(
                !v["paths"][p]["get"]["parameters"]
                    .as_array()
                    .unwrap()
                    .is_empty(),
                "{p} lists no parameters"
            );
        }
        let metrics = v["paths"]["/metrics"]["get"]["security"].to_string();
        assert!(metrics.contains("metricsToken"), "{metrics}");
    }

    /// Found in review: the Event schema listed five kinds while HQ took seven. Every kind HQ
    /// reads is in the enum, and every key the agents' own types (proto) put on the wire for
    /// each kind, and in a sample's and a call drop's bodies, is documented.
    #[test]
    fn event_schema_documents_every_kind_hq_accepts_and_its_keys() {
        use proto::event::{Event, EventBody};
        let v: serde_json::Value = serde_json::from_str(super::DOCUMENT).unwrap();
        let schemas = &v["components"]["schemas"];
        let kinds: Vec<&str> = schemas["Event"]["properties"]["kind"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        let mut want = vec!["report", "heartbeat", "sign_in", "sign_out", "incident"];
        want.extend_from_slice(crate::ingest::EXTRA_EVENT_KINDS);
        assert_eq!(kinds, want);
        let keys = |schema: &str| -> Vec<String> {
            schemas[schema]["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{schema} has no properties"))
                .keys()
                .cloned()
                .collect()
        };
        let documented = |schema: &str, wire: &serde_json::Value| {
            let have = keys(schema);
            for k in wire.as_object().unwrap().keys() {
                assert!(have.contains(k), "{schema} does not document `{k}`: {wire}");
            }
        };
        let full_sample = proto::sample::MinuteSample {
            rtt_p50_ms: Some(1.0),
            rtt_p95_ms: Some(1.0),
            jitter_up_ms: Some(1.0),
            jitter_down_ms: Some(1.0),
            loss_up_pct: Some(1.0),
            loss_down_pct: Some(1.0),
            mos_min: Some(4.0),
            gateway_rtt_p50_ms: Some(1.0),
            gateway_loss_pct: Some(1.0),
            link: Some("wifi".into()),
            wifi_signal_dbm: Some(-60),
            headset: Some(true),
            noise_dba: Some(40.0),
            noise_class: Some("quiet".into()),
            ..Default::default()
        };
        let drop = proto::sample::CallDrop {
            note: "dropped".into(),
            headset: Some(true),
            noise_dba: Some(40.0),
            noise_class: Some("quiet".into()),
            link: Some("wifi".into()),
            ..Default::default()
        };
        let incident: EventBody = serde_json::from_value(serde_json::json!(
            {"kind": "incident", "name": "network_degraded", "state": "started",
             "detail": "x", "scope": "home"}
        ))
        .unwrap();
        let mut seen = Vec::new();
        for body in [
            EventBody::Sample {
                sample: full_sample.clone(),
            },
            EventBody::CallDrop {
                call_drop: Box::new(drop.clone()),
            },
            incident,
        ] {
            let wire = serde_json::to_value(Event::now(body)).unwrap();
            documented("Event", &wire);
            seen.push(wire["kind"].as_str().unwrap().to_string());
        }
        assert_eq!(seen, ["sample", "call_drop", "incident"]);
        documented("MinuteSample", &serde_json::to_value(&full_sample).unwrap());
        let drop = serde_json::to_value(&drop).unwrap();
        documented("CallDropEvent", &drop);
        documented("Seconds", &drop["seconds"]);
    }
}
