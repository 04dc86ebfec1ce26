//! Aggregation semantics, determinism, the JSON Schema, and the JSONL export.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::patterns::{
    ActionUse, Dependency, FileError, Hook, RepoInput, Script, Structure, ToolUse, extract,
};

const SCHEMA: &str = include_str!("../../schema/codex.schema.json");

fn tool(
    name: &str,
    category: Category,
    ecosystem: Ecosystem,
    version: Option<&str>,
    from: &str,
) -> ToolUse {
    ToolUse {
        name: name.into(),
        category,
        ecosystem,
        version: version.map(Into::into),
        detected_from: from.into(),
    }
}

fn dependency(name: &str, specifier: Option<&str>, group: &str) -> Dependency {
    Dependency {
        ecosystem: Ecosystem::Python,
        name: name.into(),
        specifier: specifier.map(Into::into),
        group: group.into(),
        source: "pyproject.toml".into(),
    }
}

/// Two hand-made repositories that repeat items inside one repository.
fn two_repos() -> Vec<(String, RepoPatterns)> {
    let api = RepoPatterns {
        dependencies: vec![
            dependency("pydantic", Some(">=2"), "main"),
            dependency("pydantic", Some(">=2"), "dev"),
            dependency("ruff", Some("==0.4.1"), "dev"),
        ],
        tools: vec![
            tool(
                "ruff",
                Category::Linter,
                Ecosystem::Python,
                Some("0.4.1"),
                "dependency",
            ),
            tool(
                "ruff",
                Category::Linter,
                Ecosystem::Python,
                None,
                "pyproject.toml [tool.ruff]",
            ),
            tool(
                "ruff",
                Category::Linter,
                Ecosystem::Python,
                Some("0.4.1"),
                ".pre-commit-config.yaml hook ruff",
            ),
            tool(
                "pre-commit",
                Category::PreCommit,
                Ecosystem::General,
                None,
                ".pre-commit-config.yaml",
            ),
            tool(
                "github-actions",
                Category::Ci,
                Ecosystem::General,
                None,
                ".github/workflows/ci.yml",
            ),
        ],
        configs: BTreeMap::from([(
            "ruff".to_string(),
            json!({"line-length": 100, "select": ["E", "F"]}),
        )]),
        scripts: vec![Script {
            source: ".github/workflows/ci.yml".into(),
            name: "test".into(),
            command: "pytest".into(),
        }],
        actions: vec![
            ActionUse {
                name: "actions/checkout".into(),
                version: Some("v4".into()),
            },
            ActionUse {
                name: "actions/setup-python".into(),
                version: Some("v5".into()),
            },
        ],
        precommit_hooks: vec![
            Hook {
                repo: "https://github.com/astral-sh/ruff-pre-commit".into(),
                rev: Some("v0.4.1".into()),
                id: "ruff".into(),
            },
            Hook {
                repo: "https://github.com/astral-sh/ruff-pre-commit".into(),
                rev: Some("v0.4.1".into()),
                id: "ruff-format".into(),
            },
        ],
        structure: Structure {
            src_layout: true,
            tests_dir: true,
            docs_dir: false,
            languages: vec!["python".into()],
            license: Some("MIT".into()),
            has_readme: true,
            has_contributing: false,
        },
        errors: vec![],
    };
    let web = RepoPatterns {
        dependencies: vec![
            dependency("pydantic", Some("^2.1"), "main"),
            Dependency {
                ecosystem: Ecosystem::Javascript,
                name: "react".into(),
                specifier: Some("^18.3.1".into()),
                group: "main".into(),
                source: "package.json".into(),
            },
        ],
        tools: vec![
            tool(
                "ruff",
                Category::Linter,
                Ecosystem::Python,
                None,
                "pyproject.toml [tool.ruff]",
            ),
            tool(
                "eslint",
                Category::Linter,
                Ecosystem::Javascript,
                Some("^9.5.0"),
                "dependency",
            ),
        ],
        configs: BTreeMap::from([
            (
                "ruff".to_string(),
                json!({"line-length": 100, "select": ["E", "F"]}),
            ),
            (
                "eslint".to_string(),
                json!({"extends": ["eslint:recommended"]}),
            ),
            ("not-a-tool-here".to_string(), json!({"ignored": true})),
        ]),
        scripts: vec![
            Script {
                source: "package.json".into(),
                name: "test".into(),
                command: "vitest run".into(),
            },
            Script {
                source: "tox.ini".into(),
                name: "lint".into(),
                command: "ruff check .".into(),
            },
        ],
        actions: vec![ActionUse {
            name: "actions/checkout".into(),
            version: Some("v3".into()),
        }],
        precommit_hooks: vec![],
        structure: Structure {
            src_layout: false,
            tests_dir: true,
            docs_dir: true,
            languages: vec!["python".into(), "typescript".into()],
            license: None,
            has_readme: true,
            has_contributing: true,
        },
        errors: vec![
            FileError {
                path: "pyproject.toml".into(),
                message: "invalid TOML".into(),
            },
            FileError {
                path: "requirements.txt".into(),
                message: "line 3: bad requirement".into(),
            },
            FileError {
                path: "requirements.txt".into(),
                message: "line 9: bad requirement".into(),
            },
        ],
    };
    vec![("api".to_string(), api), ("web".to_string(), web)]
}

#[test]
fn frequencies_count_repositories_not_occurrences() {
    let codex = aggregate("acme", "2026-11-22", &two_repos());
    assert_eq!(
        (
            codex.organization.as_str(),
            codex.scan_date.as_str(),
            codex.repositories_scanned
        ),
        ("acme", "2026-11-22", 2)
    );
    let python = &codex.patterns.python;
    let ruff = &python.tools["ruff"];
    assert_eq!(ruff.frequency, 2, "three sightings in api, one in web");
    assert_eq!(ruff.category, Category::Linter);
    assert_eq!(ruff.versions, ["0.4.1"]);
    assert_eq!(
        ruff.configs,
        [json!({"line-length": 100, "select": ["E", "F"]})],
        "identical configs collapse"
    );
    assert_eq!(ruff.repositories, ["api", "web"]);
    let pydantic = &python.dependencies["pydantic"];
    assert_eq!(pydantic.frequency, 2);
    assert_eq!(pydantic.versions, [">=2", "^2.1"]);
    assert_eq!(
        pydantic.groups,
        BTreeMap::from([("dev".to_string(), 1), ("main".to_string(), 2)])
    );
    assert_eq!(python.scripts["lint"].commands, ["ruff check ."]);
    let javascript = &codex.patterns.javascript;
    assert_eq!(
        javascript.tools["eslint"].configs,
        [json!({"extends": ["eslint:recommended"]})]
    );
    assert_eq!(javascript.dependencies["react"].repositories, ["web"]);
    assert_eq!(javascript.scripts["test"].commands, ["vitest run"]);
    assert!(
        !javascript.scripts.contains_key("lint") && !python.scripts.contains_key("test"),
        "workflow steps are not ecosystem scripts"
    );

    let general = &codex.patterns.general;
    assert_eq!(general.pre_commit.frequency, 1);
    assert_eq!(
        general.pre_commit.hooks,
        BTreeMap::from([("ruff".to_string(), 1), ("ruff-format".to_string(), 1)])
    );
    assert_eq!(general.github_actions.frequency, 2);
    let checkout = &general.github_actions.actions["actions/checkout"];
    assert_eq!(
        (checkout.frequency, checkout.versions.clone()),
        (2, vec!["v3".to_string(), "v4".to_string()])
    );
    assert_eq!(general.tools["pre-commit"].frequency, 1);
    let s = &general.structure;
    assert_eq!(
        (
            s.src_layout,
            s.tests_dir,
            s.docs_dir,
            s.readme,
            s.contributing
        ),
        (1, 2, 1, 2, 1)
    );
    assert_eq!(
        s.languages,
        BTreeMap::from([("python".to_string(), 2), ("typescript".to_string(), 1)])
    );
    assert_eq!(s.licenses, BTreeMap::from([("MIT".to_string(), 1)]));
    assert_eq!(general.parse_errors.frequency, 1);
    assert_eq!(
        general.parse_errors.files,
        BTreeMap::from([
            ("pyproject.toml".to_string(), 1),
            ("requirements.txt".to_string(), 1)
        ])
    );
}

#[test]
fn the_same_inputs_give_byte_identical_json_in_any_order() {
    let repos = two_repos();
    let mut reversed = repos.clone();
    reversed.reverse();
    let a = serde_json::to_string(&aggregate("acme", "2026-11-22", &repos)).unwrap();
    let b = serde_json::to_string(&aggregate("acme", "2026-11-22", &reversed)).unwrap();
    assert_eq!(a, b);
    // A repository listed twice still counts once.
    let mut twice = repos.clone();
    twice.push(repos[0].clone());
    let codex = aggregate("acme", "2026-11-22", &twice);
    assert_eq!(
        (
            codex.repositories_scanned,
            codex.patterns.python.tools["ruff"].frequency
        ),
        (2, 2)
    );
}

#[test]
fn output_has_the_documented_shape() {
    let value = serde_json::to_value(aggregate("acme", "2026-11-22", &two_repos())).unwrap();
    let general = &value["patterns"]["general"];
    for key in [
        "pre-commit",
        "github-actions",
        "structure",
        "parse_errors",
        "tools",
    ] {
        assert!(general.get(key).is_some(), "general.{key}");
    }
    assert_eq!(
        value["patterns"]["python"]["tools"]["ruff"]["category"],
        json!("linter")
    );
    assert_eq!(
        value["patterns"]["python"]["dependencies"]["pydantic"]["groups"],
        json!({"dev": 1, "main": 2})
    );
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SCHEMA).expect("schema is JSON");
    jsonschema::meta::validate(&schema).expect("schema is a valid draft 2020-12 schema");
    jsonschema::draft202012::new(&schema).expect("schema compiles")
}

fn schema_errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Repositories extracted from the real-world samples, as the scanner would hand them over.
fn extracted_repos() -> Vec<(String, RepoPatterns)> {
    let samples: [(&str, &[(&str, &str)]); 3] = [
        (
            "api",
            &[
                (
                    "pyproject.toml",
                    include_str!("../../tests/fixtures/patterns/pyproject-pep621.toml"),
                ),
                (
                    ".pre-commit-config.yaml",
                    include_str!("../../tests/fixtures/patterns/pre-commit-config.yaml"),
                ),
                (
                    ".github/workflows/ci.yml",
                    include_str!("../../tests/fixtures/patterns/workflow-python.yml"),
                ),
                (
                    "tox.ini",
                    include_str!("../../tests/fixtures/patterns/tox.ini"),
                ),
            ],
        ),
        (
            "web",
            &[
                (
                    "package.json",
                    include_str!("../../tests/fixtures/patterns/package.json"),
                ),
                (
                    "tsconfig.json",
                    include_str!("../../tests/fixtures/patterns/tsconfig.json"),
                ),
                (
                    "eslint.config.mjs",
                    include_str!("../../tests/fixtures/patterns/eslint.config.mjs"),
                ),
            ],
        ),
        (
            "legacy",
            &[
                (
                    "setup.py",
                    include_str!("../../tests/fixtures/patterns/setup.py"),
                ),
                (
                    "setup.cfg",
                    include_str!("../../tests/fixtures/patterns/setup.cfg"),
                ),
                (
                    "requirements.txt",
                    include_str!("../../tests/fixtures/patterns/requirements.txt"),
                ),
                ("pyproject.toml", "[project\n"),
            ],
        ),
    ];
    samples
        .iter()
        .map(|(name, files)| {
            let all: Vec<String> = files.iter().map(|(p, _)| p.to_string()).collect();
            let files: BTreeMap<String, Vec<u8>> = files
                .iter()
                .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
                .collect();
            let input = RepoInput {
                root_entries: &[],
                all_paths: &all,
                files: &files,
                license_spdx: Some("MIT"),
                language: None,
            };
            (name.to_string(), extract(&input))
        })
        .collect()
}

#[test]
fn aggregated_exports_validate_against_the_schema() {
    let validator = validator();
    for codex in [
        aggregate("acme", "2026-11-22", &extracted_repos()),
        aggregate("acme", "2026-11-22", &two_repos()),
        aggregate("empty-org", "2026-01-01", &[]),
    ] {
        let value = serde_json::to_value(&codex).unwrap();
        assert_eq!(
            schema_errors(&validator, &value),
            Vec::<String>::new(),
            "{}",
            codex.organization
        );
    }
    let codex = aggregate("acme", "2026-11-22", &extracted_repos());
    assert_eq!(
        codex.patterns.general.parse_errors.files,
        BTreeMap::from([("pyproject.toml".to_string(), 1)])
    );
    assert!(codex.patterns.python.tools["ruff"].frequency >= 1);
}

#[test]
fn the_schema_rejects_what_the_codex_never_produces() {
    let validator = validator();
    let good = serde_json::to_value(aggregate("acme", "2026-11-22", &two_repos())).unwrap();
    type Mutation = (&'static str, fn(&mut Value));
    let mutations: [Mutation; 6] = [
        ("extra top-level key", |v| v["extra"] = json!(1)),
        ("bad date", |v| v["scan_date"] = json!("22/11/2026")),
        ("zero frequency", |v| {
            v["patterns"]["python"]["tools"]["ruff"]["frequency"] = json!(0)
        }),
        ("unknown category", |v| {
            v["patterns"]["python"]["tools"]["ruff"]["category"] = json!("magic")
        }),
        ("duplicate versions", |v| {
            v["patterns"]["python"]["dependencies"]["pydantic"]["versions"] = json!(["1", "1"])
        }),
        ("missing structure", |v| {
            v["patterns"]["general"]
                .as_object_mut()
                .unwrap()
                .remove("structure");
        }),
    ];
    for (what, mutate) in mutations {
        let mut bad = good.clone();
        mutate(&mut bad);
        assert!(
            !schema_errors(&validator, &bad).is_empty(),
            "schema accepted: {what}"
        );
    }
}

#[test]
fn jsonl_has_one_line_per_repository_that_round_trips() {
    let repos = extracted_repos();
    let text = export_jsonl(&repos);
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), repos.len());
    for (line, (name, patterns)) in lines.iter().zip(&repos) {
        assert!(
            line.starts_with(&format!("{{\"repository\":\"{name}\",")),
            "{line:.60}"
        );
        let mut value: Value = serde_json::from_str(line).unwrap();
        value.as_object_mut().unwrap().remove("repository");
        let back: RepoPatterns = serde_json::from_value(value).unwrap();
        assert_eq!(&back, patterns);
    }
    assert_eq!(export_jsonl(&[]), "");
}
