//! Helpers over real trees: running commands, cloning what fakehub serves, and comparing
//! a mounted tree with a checkout.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use super::Hub;

/// Runs `cmd`, which must succeed; its stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `git clone` of a fakehub repo from its bare directory (same commit as served).
pub fn clone(hub: &Hub, owner: &str, name: &str, rev: &str, into: &Path) {
    let bare = hub.path().join(owner).join(format!("{name}.git"));
    run(Command::new("git")
        .args(["clone", "-q"])
        .arg(&bare)
        .arg(into));
    run(Command::new("git")
        .arg("-C")
        .arg(into)
        .args(["checkout", "-q", rev]));
}

/// Path, type, link target and executable bit of everything under `root` (not `.git`).
pub fn listing(root: &Path) -> BTreeSet<String> {
    let out = run(Command::new("find").arg(root).args([
        "-mindepth",
        "1",
        "-not",
        "-path",
        "*/.git",
        "-not",
        "-path",
        "*/.git/*",
        "-printf",
        "%P\t%y\t%l\t%s\n",
    ]));
    out.lines()
        .map(|line| {
            let path = line.split('\t').next().unwrap();
            let meta = std::fs::symlink_metadata(root.join(path)).unwrap();
            let exec = meta.is_file() && meta.permissions().mode() & 0o100 != 0;
            // Directory sizes differ between filesystems; files and links must not.
            let line = if meta.is_dir() {
                line.rsplit_once('\t').unwrap().0.to_string()
            } else {
                line.to_string()
            };
            format!("{line} exec={exec}")
        })
        .collect()
}

/// The two trees hold the same names, kinds, link targets, exec bits and bytes.
pub fn assert_same_tree(checkout: &Path, mounted: &Path) {
    let diff = Command::new("diff")
        .args(["-r", "--no-dereference", "--exclude=.git"])
        .arg(checkout)
        .arg(mounted)
        .output()
        .unwrap();
    assert!(
        diff.status.success(),
        "contents differ:\n{}{}",
        String::from_utf8_lossy(&diff.stdout),
        String::from_utf8_lossy(&diff.stderr)
    );
    assert_eq!(listing(checkout), listing(mounted));
}

/// A tool's stdout and stderr; it may report findings (exit 1) but must not crash.
pub fn tool_output(cmd: &mut Command, root: &Path) -> String {
    let out = cmd
        .current_dir(root)
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{cmd:?} crashed: {text}"
    );
    text
}
