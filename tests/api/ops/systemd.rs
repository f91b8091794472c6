//! `contrib/teamportal.service` passes `systemd-analyze verify` with no word about the unit.

use std::process::Command;

const SHIPPED_BINARY: &str = "/usr/local/bin/teamportal";

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/teamportal.service"),
    )
    .expect("read contrib/teamportal.service");
    let exec_start = format!("ExecStart={SHIPPED_BINARY} serve --config ");
    assert!(
        shipped.contains(&exec_start),
        "the unit starts {SHIPPED_BINARY} serve with a config file"
    );
    for hardening in [
        "DynamicUser=yes",
        "StateDirectory=teamportal",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "RestrictAddressFamilies=",
    ] {
        assert!(
            shipped.lines().any(|l| l.starts_with(hardening)),
            "{hardening}"
        );
    }
    // verify checks that ExecStart's binary exists: this copy runs the one cargo built.
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = dir.path().join("teamportal.service");
    std::fs::write(
        &unit,
        shipped.replace(SHIPPED_BINARY, env!("CARGO_BIN_EXE_teamportal")),
    )
    .expect("write unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .current_dir(dir.path())
        .output()
        .expect("run systemd-analyze (Debian package systemd; tests/run installs it)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "exit {:?}: {said}", out.status.code());
    // Unknown or misspelt keys are only warnings (exit 0): none may name our unit.
    let about_unit: Vec<&str> = said.lines().filter(|l| l.contains("teamportal")).collect();
    assert!(about_unit.is_empty(), "{about_unit:#?}");
}
