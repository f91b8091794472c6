-- Version 13: an account SCIM created says so for good. It was stored as joined by `invite`
-- (the CHECK allowed nothing else), so once its member had signed in the team page called it
-- "joined by invitation". `joined_via` may now be `scim`, and the accounts SCIM made become so.
--
-- SQLite cannot alter a CHECK. Widening one leaves every stored row valid, which is the case
-- for which https://sqlite.org/lang_altertable.html#otheralter edits the table's recorded
-- definition in place instead of copying the table with everything that refers to it. RESET
-- makes this connection read the edited definition back; the marker table's create and drop
-- raise the schema cookie, so every other connection reads it too.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, '''shell'', ''demo'')', '''shell'', ''demo'', ''scim'')')
 WHERE type = 'table' AND name = 'users';
PRAGMA writable_schema = RESET;
CREATE TABLE migration_13_marker (x);
DROP TABLE migration_13_marker;

-- SCIM's accounts: no IdP identity yet (a placeholder subject until the first sign-in links
-- them), or SCIM's own row written in the same transaction as the account. An account made by
-- accepting an invitation was made in the second the invitation was accepted, so it stays
-- `invite` even if SCIM touched it in that same second.
UPDATE users SET joined_via = 'scim'
 WHERE joined_via = 'invite'
   AND ((issuer = '' AND subject LIKE 'scim:%')
        OR EXISTS (SELECT 1 FROM scim_users s
                    WHERE s.user_id = users.id AND s.created_at BETWEEN users.created_at AND users.created_at + 1))
   AND NOT EXISTS (SELECT 1 FROM invites i
                    WHERE i.team_id = users.team_id AND i.email = users.email
                      AND i.accepted_at BETWEEN users.created_at AND users.created_at + 1);
