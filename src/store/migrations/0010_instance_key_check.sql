-- Version 10: the database remembers which instance key sealed its secrets.

-- One row: a keyed hash of the instance key (never the key itself). A start with a missing
-- or different key file is refused instead of sealing new data with a key that cannot open
-- the old.
CREATE TABLE instance_key_check (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    check_value BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
