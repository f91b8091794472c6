-- Version 7: tokens and usage within their bounds.
--
-- The in-memory token index follows the database in one order: every change to what a
-- token's verification answers (created, renamed, revoked, expiry, its creator's removal)
-- raises one instance-wide number and stamps the token with it, in the changing transaction.
-- The server applies the stamped rows above the number it last applied, so a reload never
-- goes back to an older snapshot, only changed rows are read, and an unchanged number means
-- nothing to read at all (another process, `admin create-token`, reaches the index the same way).

CREATE TABLE token_index_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO token_index_version (id, version) VALUES (1, 0);

ALTER TABLE api_tokens ADD COLUMN index_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX api_tokens_index_version ON api_tokens (index_version);

CREATE TRIGGER api_tokens_index_insert AFTER INSERT ON api_tokens BEGIN
    UPDATE token_index_version SET version = version + 1;
    UPDATE api_tokens SET index_version = (SELECT version FROM token_index_version)
        WHERE id = new.id;
END;

CREATE TRIGGER api_tokens_index_update
    AFTER UPDATE OF team_id, name, secret_hash, created_by, personal, expires_at, revoked_at ON api_tokens
BEGIN
    UPDATE token_index_version SET version = version + 1;
    UPDATE api_tokens SET index_version = (SELECT version FROM token_index_version)
        WHERE id = new.id;
END;

-- A personal token verifies only while its creator is active.
CREATE TRIGGER users_token_index_active AFTER UPDATE OF active ON users
    WHEN old.active IS NOT new.active
BEGIN
    UPDATE token_index_version SET version = version + 1;
    UPDATE api_tokens SET index_version = (SELECT version FROM token_index_version)
        WHERE created_by = new.id AND personal;
END;

-- Token limits (100 active per member, 1,000 per team) are counted in the creating
-- transaction; the /tokens page is read a page at a time in its display order.
CREATE INDEX api_tokens_live_creator ON api_tokens (created_by) WHERE revoked_at IS NULL;
CREATE INDEX api_tokens_live_team ON api_tokens (team_id) WHERE revoked_at IS NULL;
CREATE INDEX api_tokens_team_list ON api_tokens (team_id, revoked_at IS NOT NULL, id DESC);

-- Usage idempotency keys belong to one token: another token's same key is its own report.
CREATE TABLE usage_reports_new (
    team_id         TEXT NOT NULL REFERENCES teams(id),
    idempotency_key TEXT NOT NULL,
    token_id        INTEGER NOT NULL REFERENCES api_tokens(id),
    unit            TEXT NOT NULL,
    quantity        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (token_id, idempotency_key)
);
INSERT INTO usage_reports_new (team_id, idempotency_key, token_id, unit, quantity, created_at)
    SELECT team_id, idempotency_key, token_id, unit, quantity, created_at FROM usage_reports;
DROP TABLE usage_reports;
ALTER TABLE usage_reports_new RENAME TO usage_reports;
