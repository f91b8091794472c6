-- What a person sees of their sessions (/sessions) and what logout needs: a public id to name
-- a session in forms (never the key hash), when it was last used, where from, the browser,
-- the IdP's `sid` (back-channel logout) and the ID token it came from, sealed with the
-- instance key (RP-initiated logout's id_token_hint).
ALTER TABLE sessions ADD COLUMN public_id TEXT;
UPDATE sessions SET public_id = lower(hex(randomblob(12)));
CREATE UNIQUE INDEX sessions_public_id ON sessions (public_id);
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;
ALTER TABLE sessions ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN browser TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN sid TEXT;
ALTER TABLE sessions ADD COLUMN id_token_enc BLOB;
CREATE INDEX sessions_sid ON sessions (sid) WHERE sid IS NOT NULL;

-- RP-initiated logout for browser-managed teams too (the config file's `idp_logout`).
ALTER TABLE teams ADD COLUMN idp_logout INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sso_pending ADD COLUMN idp_logout INTEGER NOT NULL DEFAULT 0;

-- Back-channel logout tokens already used (OIDC Back-Channel Logout 1.0 section 2.6 step 8),
-- kept until they could no longer pass the `iat` check, then purged.
CREATE TABLE logout_jtis (
    team_id    TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, jti)
) WITHOUT ROWID;
CREATE INDEX logout_jtis_expiry ON logout_jtis (expires_at);
