//! Independent checkers in Python (scripts/py), run from the venv that scripts/setup.sh makes.

use std::path::PathBuf;
use std::process::Command;

/// The Python with the checkers installed: `COHORT_PYTHON`, or scripts/setup.sh's venv.
/// `None` outside CI when neither is there; CI insists on it.
pub fn python() -> Option<PathBuf> {
    let path = std::env::var_os("COHORT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/cohort-py/bin/python"));
    if path.exists() {
        return Some(path);
    }
    super::missing_outside_ci(
        &format!("the Python checkers at {}", path.display()),
        "run scripts/setup.sh or set COHORT_PYTHON",
    );
    None
}

/// Runs `scripts/py/<script>` with `args`; panics with its output unless it succeeds.
pub fn check(python: &PathBuf, script: &str, args: &[&str]) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/py/");
    let out = Command::new(python)
        .arg(format!("{root}{script}"))
        .args(args)
        .output()
        .expect("python runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} failed:\n{text}");
    eprintln!("{script}: {}", text.trim());
}
