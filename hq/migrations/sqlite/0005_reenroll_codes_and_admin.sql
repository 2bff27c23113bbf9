-- Issues 12 and 13: one-time re-enrollment codes, and what IT's list commands show.
-- A device IT marks for re-enrollment gets a code (shown to IT once, stored only as a SHA-256
-- hash, like every other secret); only an enrollment presenting it takes over the device.
-- One pending code per device: a new `device reenroll` replaces the old code.
CREATE TABLE reenroll_codes (
    device_id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
-- A name IT gives an API token (`token create --name`) so `token list` says what it is for.
ALTER TABLE api_tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
-- When an enrollment secret was last used to enroll a device (`enroll-secret list`).
ALTER TABLE enroll_secrets ADD COLUMN last_used_at BIGINT;
