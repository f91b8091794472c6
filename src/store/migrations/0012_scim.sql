-- Version 11: SCIM 2.0 provisioning (Okta, Entra ID). A team's SCIM client authenticates
-- with one bearer token, kept as a SHA-256 hash; the SCIM attributes the portal stores beside
-- a member live in `scim_users` (its row exists once SCIM has created or touched the member);
-- pushed groups and their members in `scim_groups` / `scim_group_members`.
--
-- A provisioned member who has not signed in yet has no IdP identity: `issuer` is empty and
-- `subject` a placeholder unique in the team, until the first verified sign-in with that
-- email links the account (the issuer and subject are then the user's key).

CREATE TABLE scim_tokens (
    team_id    TEXT PRIMARY KEY REFERENCES teams(id),
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- The last SCIM request of each team and how it ended, for /settings/scim.
CREATE TABLE scim_calls (
    team_id TEXT PRIMARY KEY REFERENCES teams(id),
    at      INTEGER NOT NULL,
    request TEXT NOT NULL,
    status  INTEGER NOT NULL
);

CREATE TABLE scim_users (
    user_id      INTEGER PRIMARY KEY REFERENCES users(id),
    team_id      TEXT NOT NULL REFERENCES teams(id),
    external_id  TEXT,
    given_name   TEXT NOT NULL DEFAULT '',
    family_name  TEXT NOT NULL DEFAULT '',
    formatted    TEXT NOT NULL DEFAULT '',
    display_name TEXT NOT NULL DEFAULT '',
    emails       TEXT NOT NULL DEFAULT '[]',
    -- DELETE /Users/{id}: the member is removed and the id answers 404 from then on.
    deleted      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX scim_users_external ON scim_users (team_id, external_id);

CREATE TABLE scim_groups (
    id           INTEGER PRIMARY KEY,
    team_id      TEXT NOT NULL REFERENCES teams(id),
    display_name TEXT NOT NULL,
    external_id  TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX scim_groups_name ON scim_groups (team_id, display_name COLLATE NOCASE);

CREATE TABLE scim_group_members (
    group_id INTEGER NOT NULL REFERENCES scim_groups(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX scim_group_members_user ON scim_group_members (user_id);
