-- teamportal schema, version 1. Times are Unix seconds (UTC).

CREATE TABLE teams (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    source        TEXT NOT NULL CHECK (source IN ('config', 'shell', 'demo')),
    issuer        TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    client_secret_enc BLOB,
    admin_email   TEXT,
    email_domains TEXT NOT NULL DEFAULT '[]',
    provisioning  TEXT NOT NULL DEFAULT 'jit' CHECK (provisioning IN ('jit', 'invite')),
    admin_groups  TEXT NOT NULL DEFAULT '[]',
    trust_email   INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    team_id       TEXT NOT NULL REFERENCES teams(id),
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    role_source   TEXT NOT NULL CHECK (role_source IN ('admin_email', 'manual', 'groups', 'default')),
    joined_via    TEXT NOT NULL CHECK (joined_via IN ('jit', 'invite', 'shell', 'demo')),
    active        INTEGER NOT NULL DEFAULT 1,
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    last_login_at INTEGER,
    removed_at    INTEGER,
    UNIQUE (team_id, issuer, subject)
);
CREATE INDEX users_team_name ON users (team_id, name COLLATE NOCASE, id);
CREATE INDEX users_team_email ON users (team_id, email);
CREATE INDEX users_team_role ON users (team_id, role, active);

CREATE TABLE sessions (
    key_hash   BLOB PRIMARY KEY,
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE sso_logins (
    state         TEXT PRIMARY KEY,
    team_id       TEXT NOT NULL REFERENCES teams(id),
    browser       TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to     TEXT,
    created_at    INTEGER NOT NULL
);

CREATE TABLE invites (
    id           INTEGER PRIMARY KEY,
    team_id      TEXT NOT NULL REFERENCES teams(id),
    email        TEXT NOT NULL,
    invited_by   INTEGER REFERENCES users(id),
    created_at   INTEGER NOT NULL,
    accepted_at  INTEGER,
    cancelled_at INTEGER
);
CREATE UNIQUE INDEX invites_pending ON invites (team_id, email)
    WHERE accepted_at IS NULL AND cancelled_at IS NULL;

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    team_id      TEXT NOT NULL REFERENCES teams(id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    secret_hash  BLOB NOT NULL UNIQUE,
    secret_enc   BLOB NOT NULL,
    created_by   INTEGER NOT NULL REFERENCES users(id),
    personal     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    revoked_by   INTEGER REFERENCES users(id),
    last_used_at INTEGER
);
CREATE INDEX api_tokens_team ON api_tokens (team_id, id);

CREATE TABLE usage_daily (
    team_id  TEXT NOT NULL REFERENCES teams(id),
    token_id INTEGER NOT NULL REFERENCES api_tokens(id),
    day      TEXT NOT NULL,
    unit     TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    PRIMARY KEY (token_id, day, unit)
);
CREATE INDEX usage_daily_team_day ON usage_daily (team_id, day);

CREATE TABLE usage_reports (
    team_id         TEXT NOT NULL REFERENCES teams(id),
    idempotency_key TEXT NOT NULL,
    token_id        INTEGER NOT NULL REFERENCES api_tokens(id),
    unit            TEXT NOT NULL,
    quantity        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (team_id, idempotency_key)
);

CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    team_id     TEXT NOT NULL REFERENCES teams(id),
    at          INTEGER NOT NULL,
    actor_id    INTEGER REFERENCES users(id),
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    ip          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_team ON audit (team_id, id);

CREATE TABLE login_attempts (
    bucket     TEXT PRIMARY KEY,
    failures   INTEGER NOT NULL,
    window_start INTEGER NOT NULL
);
