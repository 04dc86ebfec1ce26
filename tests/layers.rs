//! The crate's shape (scripts/layers.py): no import loop among the files of `src/`, no
//! import from a lower layer to a higher one, no file past one sitting. The checker is
//! also run on small trees that break each rule, so it cannot pass by finding nothing.

use std::path::Path;
use std::process::Command;

fn check(root: &Path) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/layers.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--root")
        .arg(root)
        .output()
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn src_has_no_import_loop_no_upward_import_and_no_overlong_file() {
    let (ok, text) = check(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(ok, "{text}");
}

#[test]
fn the_checker_finds_a_loop_an_upward_import_and_a_long_file() {
    let looped = tree(&[
        ("lib.rs", "pub mod store;\n"),
        (
            "store/mod.rs",
            "mod index;\npub use index::Index;\npub struct Store;\n",
        ),
        (
            "store/index.rs",
            "use super::Store;\npub struct Index(Store);\n",
        ),
    ]);
    let (ok, text) = check(looped.path());
    assert!(
        !ok && text.contains("import loop among store/index.rs, store/mod.rs"),
        "{text}"
    );

    let upward = tree(&[
        ("lib.rs", "pub mod cli;\npub mod store;\n"),
        ("cli/mod.rs", "pub struct Args;\n"),
        (
            "store/mod.rs",
            "use crate::cli::Args as Typed;\npub fn f(_: Typed) {}\n",
        ),
    ]);
    let (ok, text) = check(upward.path());
    assert!(
        !ok && text.contains("upward import: store/mod.rs (store) -> cli/mod.rs (cli)"),
        "{text}"
    );

    let long = "fn f() {}\n".repeat(801);
    let long = tree(&[("lib.rs", "pub mod oid;\n"), ("oid.rs", &long)]);
    let (ok, text) = check(long.path());
    assert!(!ok && text.contains("oid.rs has 801 lines"), "{text}");

    let fine = tree(&[
        ("lib.rs", "pub mod store;\n"),
        (
            "store/mod.rs",
            "mod error;\nmod index;\npub use error::Error;\npub use index::Index;\n",
        ),
        ("store/error.rs", "pub struct Error;\n"),
        (
            "store/index.rs",
            "use super::error::Error;\npub struct Index(Error);\n",
        ),
    ]);
    let (ok, text) = check(fine.path());
    assert!(ok, "{text}");
}
