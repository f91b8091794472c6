-- Every page asks whether a break-glass password exists in the team; keep that cheap.
CREATE INDEX users_break_glass ON users (team_id) WHERE password_hash IS NOT NULL;
