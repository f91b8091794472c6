-- Version 5: a page of the team list is read from one index. The old name index gave the
-- order, but each of the 50 rows then cost a lookup in the table; this one also holds every
-- column the page shows, so SQLite never leaves it (a covering index).

DROP INDEX users_team_name;
CREATE INDEX users_team_list ON users (
    team_id, name COLLATE NOCASE, id, email, role, role_source, joined_via, active, last_login_at
);
