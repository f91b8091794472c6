//! Operations: probes and methods, the `healthcheck` command, the systemd unit.

mod healthcheck;
mod probes;
mod systemd;
