-- Anonymous refusals (bad callbacks, throttled break-glass attempts) repeat: one row per
-- address, action and minute counts them instead of one row each.
ALTER TABLE audit ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1;
CREATE INDEX audit_repeats ON audit (team_id, ip, action, at) WHERE actor_id IS NULL;
-- The daily retention purge deletes by age.
CREATE INDEX audit_at ON audit (at);
CREATE INDEX login_attempts_window ON login_attempts (window_start);
