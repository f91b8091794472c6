//! Operations: the instance key, backups, the schema guard, start and stop.

mod instance;
