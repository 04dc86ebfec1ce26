//! Every signal of every rule fires through [`crate::patterns::extract`], and the table's
//! invariants hold.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::patterns::{RepoInput, RepoPatterns, extract, pep508::normalize_name};

fn run(files: &[(&str, String)], extra_paths: &[&str]) -> RepoPatterns {
    let mut all: Vec<String> = files.iter().map(|(p, _)| p.to_string()).collect();
    all.extend(extra_paths.iter().map(|p| p.to_string()));
    let files: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(p, t)| (p.to_string(), t.clone().into_bytes()))
        .collect();
    extract(&RepoInput {
        root_entries: &[],
        all_paths: &all,
        files: &files,
        license_spdx: None,
        language: None,
    })
}

fn assert_fires(rule: &Rule, patterns: &RepoPatterns, from: &str, signal: &str) {
    let fired = patterns
        .tools
        .iter()
        .any(|t| t.name == rule.tool && t.category == rule.category && t.detected_from == from);
    assert!(
        fired,
        "rule `{}` did not fire on {signal} (expected detected_from {from:?}); got {:#?}; errors {:?}",
        rule.tool,
        patterns
            .tools
            .iter()
            .map(|t| format!("{} <- {}", t.name, t.detected_from))
            .collect::<Vec<_>>(),
        patterns.errors
    );
}

/// `a.b.c` as a TOML table header under `[tool]`.
fn pyproject_with_table(dotted: &str) -> String {
    format!("[tool.{dotted}]\nsetting = 1\n")
}

fn workflow(step: &str) -> String {
    format!("on: push\njobs:\n  check:\n    runs-on: ubuntu-latest\n    steps:\n      - {step}\n")
}

#[test]
fn every_signal_of_every_rule_fires() {
    let mut checked = 0;
    for rule in RULES {
        for package in rule.python_packages {
            let p = run(
                &[(
                    "pyproject.toml",
                    format!("[project]\ndependencies = [\"{package}>=1\"]\n"),
                )],
                &[],
            );
            assert_fires(rule, &p, "dependency", &format!("python package {package}"));
            checked += 1;
        }
        for package in rule.npm_packages {
            let p = run(
                &[(
                    "package.json",
                    format!("{{\"devDependencies\": {{\"{package}\": \"^1.0.0\"}}}}"),
                )],
                &[],
            );
            assert_fires(rule, &p, "dependency", &format!("npm package {package}"));
            checked += 1;
        }
        for table in rule.pyproject {
            let p = run(&[("pyproject.toml", pyproject_with_table(table))], &[]);
            assert_fires(
                rule,
                &p,
                &format!("pyproject.toml [tool.{table}]"),
                "pyproject table",
            );
            if rule.pyproject_config {
                assert_eq!(
                    p.configs.get(rule.tool),
                    Some(&serde_json::json!({"setting": 1})),
                    "{}",
                    rule.tool
                );
            }
            checked += 1;
        }
        for backend in rule.build_backends {
            let text = format!("[build-system]\nrequires = []\nbuild-backend = \"{backend}\"\n");
            let p = run(&[("pyproject.toml", text)], &[]);
            assert_fires(
                rule,
                &p,
                "pyproject.toml [build-system]",
                &format!("backend {backend}"),
            );
            checked += 1;
        }
        for hook in rule.hooks {
            let text = format!(
                "repos:\n  - repo: https://example.com/hooks\n    rev: v1.2.3\n    hooks:\n      - id: {hook}\n"
            );
            let p = run(&[(".pre-commit-config.yaml", text)], &[]);
            assert_fires(
                rule,
                &p,
                &format!(".pre-commit-config.yaml hook {hook}"),
                "hook",
            );
            checked += 1;
        }
        for command in rule.commands {
            let p = run(
                &[(
                    ".github/workflows/ci.yml",
                    workflow(&format!("run: {command} --version")),
                )],
                &[],
            );
            assert_fires(rule, &p, &format!("workflow run: {command}"), "command");
            checked += 1;
        }
        for file in rule.files {
            let (path, from) = match file.strip_suffix('/') {
                Some(dir) => (format!("{dir}/pre-commit"), file.to_string()),
                None => (file.to_string(), file.to_string()),
            };
            let p = run(&[], &[&path]);
            assert_fires(rule, &p, &from, "file");
            checked += 1;
        }
        for action in rule.actions {
            let p = run(
                &[(
                    ".github/workflows/ci.yml",
                    workflow(&format!("uses: {action}@v1")),
                )],
                &[],
            );
            assert_fires(
                rule,
                &p,
                &format!(".github/workflows/ci.yml uses {action}"),
                "action",
            );
            checked += 1;
        }
        for key in rule.package_json_keys {
            let p = run(
                &[("package.json", format!("{{\"{key}\": {{\"x\": 1}}}}"))],
                &[],
            );
            assert_fires(
                rule,
                &p,
                &format!("package.json \"{key}\""),
                "package.json key",
            );
            checked += 1;
        }
    }
    assert!(checked > 200, "only {checked} signals checked");
}

#[test]
fn every_rule_has_a_signal() {
    for rule in RULES {
        let signals = rule.python_packages.len()
            + rule.npm_packages.len()
            + rule.pyproject.len()
            + rule.build_backends.len()
            + rule.hooks.len()
            + rule.commands.len()
            + rule.files.len()
            + rule.actions.len()
            + rule.package_json_keys.len();
        assert!(signals > 0, "rule `{}` can never fire", rule.tool);
    }
}

#[test]
fn names_and_signals_are_unambiguous() {
    let mut tools = BTreeSet::new();
    for rule in RULES {
        assert!(
            tools.insert(rule.tool),
            "tool `{}` has two rules",
            rule.tool
        );
    }
    type Signals = fn(&Rule) -> &'static [&'static str];
    let kinds: [(&str, Signals); 9] = [
        ("python package", |r| r.python_packages),
        ("npm package", |r| r.npm_packages),
        ("pyproject table", |r| r.pyproject),
        ("build backend", |r| r.build_backends),
        ("hook", |r| r.hooks),
        ("command", |r| r.commands),
        ("file", |r| r.files),
        ("action", |r| r.actions),
        ("package.json key", |r| r.package_json_keys),
    ];
    for (kind, signals) in kinds {
        let mut owner = BTreeMap::new();
        for rule in RULES {
            for signal in signals(rule) {
                if let Some(other) = owner.insert(*signal, rule.tool) {
                    panic!("{kind} `{signal}` names both `{other}` and `{}`", rule.tool);
                }
            }
        }
    }
    for rule in RULES {
        for package in rule.python_packages {
            assert_eq!(
                normalize_name(package),
                *package,
                "python package of `{}` not normalized",
                rule.tool
            );
        }
    }
}
