-- Version 4: the team page stays fast for teams of 10,000 members. Counting members on
-- every page view walked the whole team, and searching scanned every name and email; the
-- counts are now kept per team by triggers, and search uses a trigram index.

CREATE TABLE team_counts (
    team_id TEXT PRIMARY KEY REFERENCES teams(id),
    members INTEGER NOT NULL DEFAULT 0,   -- active
    admins  INTEGER NOT NULL DEFAULT 0,   -- active admins
    removed INTEGER NOT NULL DEFAULT 0
);
INSERT INTO team_counts (team_id, members, admins, removed)
    SELECT team_id, sum(active), sum(active AND role = 'admin'), sum(NOT active)
    FROM users GROUP BY team_id;

CREATE TRIGGER team_counts_insert AFTER INSERT ON users BEGIN
    INSERT INTO team_counts (team_id, members, admins, removed)
        VALUES (new.team_id, new.active, new.active AND new.role = 'admin', NOT new.active)
        ON CONFLICT (team_id) DO UPDATE SET
            members = members + excluded.members,
            admins = admins + excluded.admins,
            removed = removed + excluded.removed;
END;

CREATE TRIGGER team_counts_delete AFTER DELETE ON users BEGIN
    UPDATE team_counts SET
        members = members - old.active,
        admins = admins - (old.active AND old.role = 'admin'),
        removed = removed - (NOT old.active)
    WHERE team_id = old.team_id;
END;

CREATE TRIGGER team_counts_update AFTER UPDATE OF team_id, active, role ON users BEGIN
    UPDATE team_counts SET
        members = members - old.active,
        admins = admins - (old.active AND old.role = 'admin'),
        removed = removed - (NOT old.active)
    WHERE team_id = old.team_id;
    INSERT INTO team_counts (team_id, members, admins, removed)
        VALUES (new.team_id, new.active, new.active AND new.role = 'admin', NOT new.active)
        ON CONFLICT (team_id) DO UPDATE SET
            members = members + excluded.members,
            admins = admins + excluded.admins,
            removed = removed + excluded.removed;
END;

-- Substring search on name and email (any case) for queries of 3 characters or more.
CREATE VIRTUAL TABLE users_search USING fts5(
    name, email, content = 'users', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO users_search (users_search) VALUES ('rebuild');

CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search (rowid, name, email) VALUES (new.id, new.name, new.email);
END;

CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, name, email)
        VALUES ('delete', old.id, old.name, old.email);
END;

CREATE TRIGGER users_search_update AFTER UPDATE OF name, email ON users
    WHEN old.name IS NOT new.name OR old.email IS NOT new.email
BEGIN
    INSERT INTO users_search (users_search, rowid, name, email)
        VALUES ('delete', old.id, old.name, old.email);
    INSERT INTO users_search (rowid, name, email) VALUES (new.id, new.name, new.email);
END;
