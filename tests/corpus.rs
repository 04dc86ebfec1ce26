//! Real repositories (`../shared/corpus`, laid out for fakehub by `scripts/corpus.sh`)
//! mounted as working copies, with real tools run the way people type them (their
//! caches on): each agrees with the same tool on a `git clone` of the same commit.
//! Without the corpus (`HEIMDALL_CORPUS`, else `../shared/corpus` beside the project)
//! these tests say so and skip.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::tree::{assert_same_tree, clone, run, tool_output};
use common::{Hub, TestMount};

/// The corpus's bundles, if this machine has them.
fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("HEIMDALL_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    dir.join("requests.bundle").is_file().then_some(dir)
}

/// The corpus as `realworld/<name>` repositories of `hub`; their head commits by name.
fn serve(hub: &Hub, corpus: &Path) -> Vec<(String, String)> {
    run(Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/corpus.sh"))
        .arg(hub.path())
        .arg("realworld")
        .env("HEIMDALL_CORPUS", corpus));
    let mut out = Vec::new();
    for entry in std::fs::read_dir(hub.path().join("realworld")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let head = common::git(&path, &["rev-parse", "HEAD"]);
        out.push((name, String::from_utf8(head).unwrap().trim().to_string()));
    }
    out.sort();
    out
}

macro_rules! require_corpus {
    () => {
        match corpus() {
            Some(dir) => dir,
            None => {
                eprintln!(
                    "skipping: no corpus (set HEIMDALL_CORPUS or check out ../shared/corpus)"
                );
                return;
            }
        }
    };
}

/// The `.pyc` files under `root`, relative.
fn bytecode(root: &Path) -> BTreeSet<String> {
    run(Command::new("find")
        .arg(".")
        .args(["-name", "*.pyc"])
        .current_dir(root))
    .lines()
    .map(str::to_string)
    .collect()
}

/// pytest's verdict line without its timing (`24 passed`).
fn verdict(output: &str) -> String {
    output
        .lines()
        .rev()
        .find(|l| l.contains(" passed") || l.contains(" failed"))
        .map(|l| l.split(" in ").next().unwrap_or(l).to_string())
        .unwrap_or_else(|| panic!("no pytest verdict in: {output}"))
}

#[test]
fn real_tools_on_real_repositories_agree_with_a_clone() {
    require_fuse!();
    let corpus = require_corpus!();
    let hub = Hub::new();
    let repos = serve(&hub, &corpus);
    let mount = TestMount::new(hub.cli(), &["--org", "realworld"]);
    let work = tempfile::tempdir().unwrap();
    for (name, sha) in &repos {
        let checkout = work.path().join(name);
        clone(&hub, "realworld", name, sha, &checkout);
        let mounted = mount.at(&format!("realworld/{name}"));
        assert_same_tree(&checkout, &mounted);
        if name == "vite" {
            continue;
        }
        // ruff, twice: the second run finds its cache in the working copy.
        let ruff = |root: &Path| {
            tool_output(
                Command::new("ruff").args(["check", "--output-format", "concise", "."]),
                root,
            )
        };
        let local = ruff(&checkout);
        assert_eq!(ruff(&mounted), local, "ruff on {name}");
        assert!(mounted.join(".ruff_cache/CACHEDIR.TAG").is_file(), "{name}");
        assert_eq!(ruff(&mounted), local, "ruff on {name}, from its cache");
    }

    let checkout = work.path().join("requests");
    let mounted = mount.at("realworld/requests");
    // mypy with its default cache (.mypy_cache), twice.
    let mypy = |root: &Path| {
        tool_output(
            Command::new("mypy").args(["--no-error-summary", "src/requests"]),
            root,
        )
    };
    let local = mypy(&checkout);
    assert_eq!(mypy(&mounted), local);
    assert!(mounted.join(".mypy_cache").is_dir());
    assert_eq!(mypy(&mounted), local, "mypy from its cache");

    // pytest (its .pytest_cache) and Python's bytecode (__pycache__ everywhere).
    let pytest = |root: &Path| {
        tool_output(
            Command::new("python3").args([
                "-m",
                "pytest",
                "-q",
                "tests/test_structures.py",
                "tests/test_hooks.py",
            ]),
            root,
        )
    };
    let local = pytest(&checkout);
    assert_eq!(verdict(&pytest(&mounted)), verdict(&local), "{local}");
    assert!(mounted.join(".pytest_cache/v").is_dir());
    let compile = |root: &Path| {
        run(Command::new("python3")
            .args(["-m", "compileall", "-q", "."])
            .current_dir(root))
    };
    compile(&checkout);
    compile(&mounted);
    let pyc = bytecode(&mounted);
    assert!(pyc.len() > 20, "{pyc:?}");
    assert_eq!(pyc, bytecode(&checkout));
    // What the tools wrote is the working copy's, not the commit's; what git would add of
    // it (caches ignore themselves) is what `changes` counts as added.
    run(Command::new("git")
        .args(["add", "-A"])
        .current_dir(&checkout));
    let staged = run(Command::new("git")
        .args(["diff", "--cached", "--name-only"])
        .current_dir(&checkout));
    let list: serde_json::Value =
        serde_json::from_slice(&mount.cli.ok(&["changes", "list", "--json"])).unwrap();
    let requests = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == mounted.to_string_lossy().as_ref())
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(
        requests["added"],
        staged.lines().count(),
        "{requests}\n{staged}"
    );
    assert_eq!(requests["modified"], 0, "{requests}");
    assert_eq!(requests["deleted"], 0, "{requests}");
    mount.unmount();
}
