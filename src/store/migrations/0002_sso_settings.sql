-- Version 2: SSO settings edited in the browser are tested before they apply.

-- Why a pending login was started: a normal sign-in, or an admin testing new settings.
ALTER TABLE sso_logins ADD COLUMN purpose TEXT NOT NULL DEFAULT 'sign_in'
    CHECK (purpose IN ('sign_in', 'test'));

-- At most one set of pending settings per team, applied only after a successful test.
CREATE TABLE sso_pending (
    team_id           TEXT PRIMARY KEY REFERENCES teams(id),
    issuer            TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    client_secret_enc BLOB NOT NULL,
    provisioning      TEXT NOT NULL CHECK (provisioning IN ('jit', 'invite')),
    email_domains     TEXT NOT NULL DEFAULT '[]',
    admin_groups      TEXT NOT NULL DEFAULT '[]',
    trust_email       INTEGER NOT NULL DEFAULT 0,
    created_by        INTEGER NOT NULL REFERENCES users(id),
    created_at        INTEGER NOT NULL,
    tested_at         INTEGER,
    test_error        TEXT
);
