-- Version 6: a number per team that every change to what the team list shows raises, so a
-- page of the list read once can be served again, from memory, while the number stands. The
-- triggers upsert, like the counts triggers beside them: whichever of them runs first for a
-- team's first member, the row exists and the number moves.

ALTER TABLE team_counts ADD COLUMN list_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER team_list_version_insert AFTER INSERT ON users BEGIN
    INSERT INTO team_counts (team_id, list_version) VALUES (new.team_id, 1)
        ON CONFLICT (team_id) DO UPDATE SET list_version = list_version + 1;
END;

CREATE TRIGGER team_list_version_update
    AFTER UPDATE OF team_id, email, name, role, role_source, joined_via, active, last_login_at ON users
BEGIN
    UPDATE team_counts SET list_version = list_version + 1 WHERE team_id IN (old.team_id, new.team_id);
END;

CREATE TRIGGER team_list_version_delete AFTER DELETE ON users BEGIN
    UPDATE team_counts SET list_version = list_version + 1 WHERE team_id = old.team_id;
END;
