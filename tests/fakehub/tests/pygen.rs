//! The Python project generator (`fakehub::repo::python_project`); checked
//! with ruff and mypy when they are installed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::git;
use fakehub::repo;

fn generate(root: &Path, files: usize, seed: u64) -> (repo::PythonProject, String) {
    let mut r = repo::create(root, "acme", "py").unwrap();
    let p = repo::python_project(&mut r, files, seed);
    let sha = r.commit("generated").unwrap();
    (p, sha)
}

fn paths(root: &Path, sha: &str) -> Vec<String> {
    let out = git(
        &root.join("acme/py.git"),
        &["ls-tree", "-r", "--name-only", sha],
    );
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn checkout(root: &Path, dest: &Path) {
    let st = Command::new("git")
        .args(["clone", "-q"])
        .arg(root.join("acme/py.git"))
        .arg(dest)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap();
    assert!(st.success());
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn exact_file_counts_and_layout() {
    for files in [0, 1, 2, 3, 4, 5, 13, 50, 333] {
        let dir = tempfile::tempdir().unwrap();
        let (p, sha) = generate(dir.path(), files, 7);
        let all = paths(dir.path(), &sha);
        let py: Vec<&String> = all.iter().filter(|p| p.ends_with(".py")).collect();
        assert_eq!(py.len(), files, "files={files}: {py:?}");
        assert_eq!(p.py_files, files);
        assert_eq!(p.modules + p.packages + p.tests, files, "{p:?}");
        for f in ["pyproject.toml", "README.md", ".gitignore"] {
            assert!(all.iter().any(|p| p == f), "{f} missing");
        }
        // Every directory under src/ holding Python is a package.
        for f in py.iter().filter(|f| f.starts_with("src/")) {
            let d = Path::new(f.as_str()).parent().unwrap();
            let init = format!("{}/__init__.py", d.display());
            assert!(all.contains(&init), "{init} missing for {f}");
        }
        if files >= 50 {
            assert!(py.iter().any(|f| f.starts_with("tests/test_")));
            assert!(
                py.iter()
                    .any(|f| f.matches('/').count() >= 3 && f.starts_with("src/")),
                "nested subpackages"
            );
        }
    }
}

#[test]
fn deterministic_per_seed() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let (pa, sa) = generate(a.path(), 300, 42);
    let (pb, sb) = generate(b.path(), 300, 42);
    let (_, sc) = generate(c.path(), 300, 43);
    assert_eq!(sa, sb);
    assert_eq!(pa, pb);
    assert_ne!(sa, sc);
}

#[test]
fn project_files_and_plausible_code() {
    let dir = tempfile::tempdir().unwrap();
    let (p, sha) = generate(dir.path(), 200, 1);
    let gd = dir.path().join("acme/py.git");
    let show =
        |path: &str| String::from_utf8(git(&gd, &["show", &format!("{sha}:{path}")])).unwrap();
    let toml = show("pyproject.toml");
    for needle in [
        "[project]",
        &format!("name = \"{}\"", p.project),
        "dependencies = [",
        "[tool.ruff]",
        "select = [\"E\", \"F\", \"W\", \"I\"]",
        "[tool.mypy]",
    ] {
        assert!(toml.contains(needle), "{needle} not in pyproject.toml");
    }
    let all = paths(dir.path(), &sha);
    let module = all
        .iter()
        .find(|f| f.starts_with("src/") && f.ends_with(".py") && !f.ends_with("__init__.py"))
        .unwrap();
    let text = show(module);
    let n = text.lines().count();
    assert!((20..=120).contains(&n), "{module}: {n} lines");
    assert!(text.starts_with("\"\"\""), "module docstring");
    assert!(text.contains("from __future__ import annotations"));
    assert!(
        text.contains("def ") && text.contains(" -> "),
        "typed functions"
    );
    assert!(text.contains("class "));
    assert!(p.findings() > 0 && p.planted.contains_key("F401"), "{p:?}");
}

#[test]
fn ruff_reports_exactly_the_planted_findings() {
    if !have("ruff") {
        eprintln!("ruff not installed: skipped (pip install ruff)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = generate(dir.path(), 600, 3);
    let co = dir.path().join("co");
    checkout(dir.path(), &co);
    let out = Command::new("ruff")
        .args(["check", "--no-cache", "--output-format", "json", "."])
        .current_dir(&co)
        .output()
        .unwrap();
    // 1: findings were reported; anything else (2: a ruff error) is wrong.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    for f in &found {
        let code = f["code"].as_str().unwrap_or("syntax-error").to_string();
        *by_code.entry(code).or_default() += 1;
    }
    let want: BTreeMap<String, usize> =
        p.planted.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert_eq!(by_code, want);
}

#[test]
fn mypy_finds_only_the_undefined_names() {
    if !have("mypy") {
        eprintln!("mypy not installed: skipped (pip install mypy)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = generate(dir.path(), 120, 5);
    let co = dir.path().join("co");
    checkout(dir.path(), &co);
    let out = Command::new("mypy")
        .args(["--cache-dir=/dev/null", "--no-error-summary"])
        .current_dir(&co)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let errors: Vec<&str> = text.lines().filter(|l| l.contains(": error:")).collect();
    assert_eq!(errors.len(), p.planted["F821"], "{text}");
    assert!(
        errors.iter().all(|l| l.contains("[name-defined]")),
        "{text}"
    );
}
