//! A generated organization (fakehub::org, 72 repositories of every kind) scanned through
//! the CLI: the codex export must say exactly what the generator's manifest says, validate
//! against the published schema, and the filters must select exactly the repositories the
//! manifest's selection does.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::Hub;
use fakehub::org::{OrgManifest, RepoManifest, Selection, generate_org};
use serde_json::Value;

const REPOS: usize = 72;
const SEED: u64 = 11;

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

fn schema_errors(instance: &Value) -> Vec<String> {
    let schema: Value =
        serde_json::from_str(include_str!("../schema/codex.schema.json")).expect("schema JSON");
    let validator = jsonschema::draft202012::new(&schema).expect("schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Differences between what the manifest says and what the export says, one line each.
struct Diff {
    checked: usize,
    wrong: Vec<String>,
}

impl Diff {
    fn compare<V: PartialEq + std::fmt::Debug>(
        &mut self,
        what: &str,
        expected: &BTreeMap<String, V>,
        got: &BTreeMap<String, V>,
    ) {
        let keys: BTreeSet<&String> = expected.keys().chain(got.keys()).collect();
        for key in keys {
            self.checked += 1;
            if expected.get(key) != got.get(key) {
                self.wrong.push(format!(
                    "{what} {key}: manifest {:?}, export {:?}",
                    expected.get(key),
                    got.get(key)
                ));
            }
        }
    }
}

/// name -> number of repositories, from an export map whose values carry `field`.
fn export_counts(map: &Value, field: &str) -> BTreeMap<String, usize> {
    map.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let n = match &v[field] {
                        Value::Array(a) => a.len(),
                        other => other.as_u64().unwrap_or(0) as usize,
                    };
                    (k.clone(), n)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn check_export(codex: &Value, scanned: &[&RepoManifest]) -> Diff {
    let mut diff = Diff {
        checked: 0,
        wrong: Vec::new(),
    };
    let patterns = &codex["patterns"];
    diff.compare(
        "repositories_scanned",
        &BTreeMap::from([("n".to_string(), scanned.len())]),
        &BTreeMap::from([(
            "n".to_string(),
            codex["repositories_scanned"].as_u64().unwrap() as usize,
        )]),
    );
    for eco in ["python", "javascript", "general"] {
        let mut tools: BTreeMap<String, usize> = BTreeMap::new();
        for r in scanned {
            let list = match eco {
                "python" => &r.python.tools,
                "javascript" => &r.javascript.tools,
                _ => &r.general.tools,
            };
            for t in list.iter().collect::<BTreeSet<_>>() {
                *tools.entry(t.clone()).or_default() += 1;
            }
        }
        diff.compare(
            &format!("{eco} tool"),
            &tools,
            &export_counts(&patterns[eco]["tools"], "repositories"),
        );
        if eco == "general" {
            continue;
        }
        let deps = OrgManifest::dependency_counts(scanned.iter().copied(), eco);
        let exported = &patterns[eco]["dependencies"];
        diff.compare(
            &format!("{eco} dependency"),
            &deps,
            &export_counts(exported, "repositories"),
        );
        let mut versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in scanned {
            let e = if eco == "python" {
                &r.python
            } else {
                &r.javascript
            };
            for d in &e.dependencies {
                if let Some(spec) = &d.specifier {
                    versions
                        .entry(d.name.clone())
                        .or_default()
                        .insert(spec.clone());
                }
            }
        }
        let got: BTreeMap<String, BTreeSet<String>> = exported
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(k, v)| {
                let set: BTreeSet<String> = v["versions"]
                    .as_array()?
                    .iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect();
                (!set.is_empty()).then(|| (k.clone(), set))
            })
            .collect();
        diff.compare(&format!("{eco} versions"), &versions, &got);
    }
    let general = &patterns["general"];
    let mut hooks: BTreeMap<String, usize> = BTreeMap::new();
    let mut actions: BTreeMap<String, usize> = BTreeMap::new();
    for r in scanned {
        for id in r
            .precommit_hooks
            .iter()
            .map(|h| &h.id)
            .collect::<BTreeSet<_>>()
        {
            *hooks.entry(id.clone()).or_default() += 1;
        }
        for name in r.actions.iter().map(|a| &a.name).collect::<BTreeSet<_>>() {
            *actions.entry(name.clone()).or_default() += 1;
        }
    }
    let got_hooks: BTreeMap<String, usize> = general["pre-commit"]["hooks"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0) as usize))
                .collect()
        })
        .unwrap_or_default();
    diff.compare("pre-commit hook", &hooks, &got_hooks);
    diff.compare(
        "action",
        &actions,
        &export_counts(&general["github-actions"]["actions"], "frequency"),
    );
    let structure = &general["structure"];
    let count = |f: fn(&RepoManifest) -> bool| scanned.iter().filter(|r| f(r)).count();
    let expected = BTreeMap::from([
        ("src_layout".to_string(), count(|r| r.structure.src_layout)),
        ("tests_dir".to_string(), count(|r| r.structure.tests_dir)),
        ("docs_dir".to_string(), count(|r| r.structure.docs_dir)),
        ("readme".to_string(), count(|r| r.structure.has_readme)),
        (
            "contributing".to_string(),
            count(|r| r.structure.has_contributing),
        ),
        (
            "parse_errors".to_string(),
            count(|r| !r.malformed.is_empty()),
        ),
    ]);
    let got: BTreeMap<String, usize> = expected
        .keys()
        .map(|k| {
            let v = if k == "parse_errors" {
                &general["parse_errors"]["frequency"]
            } else {
                &structure[k]
            };
            (k.clone(), v.as_u64().unwrap_or(u64::MAX) as usize)
        })
        .collect();
    diff.compare("structure", &expected, &got);
    diff
}

/// Names of the repositories the latest scan extracted (the jsonl export, one per line).
fn scanned_names(cli: &common::Cli) -> BTreeSet<String> {
    let out = cli.ok(&["github", "export-patterns", "acme", "--format", "jsonl"]);
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| {
            json(line.as_bytes())["repository"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn names(repos: &[&RepoManifest]) -> BTreeSet<String> {
    repos.iter().map(|r| r.name.clone()).collect()
}

#[test]
fn a_generated_org_exports_what_its_manifest_says() {
    let hub = Hub::new();
    let manifest = generate_org(hub.path(), "acme", REPOS, SEED).unwrap();
    let cli = hub.cli();
    let codex = json(&cli.ok(&["github", "scan-org", "acme", "--parallel", "16"]));

    let errors = schema_errors(&codex);
    assert!(
        errors.is_empty(),
        "the export breaks its schema: {errors:#?}"
    );

    // The defaults leave forks and archived repos out; empty ones fail (listed).
    let selection = Selection {
        exclude_empty: true,
        ..Selection::default()
    };
    let scanned = manifest.select(&selection);
    assert!(
        scanned.len() >= 50,
        "the org is big enough: {}",
        scanned.len()
    );
    assert_eq!(scanned_names(&cli), names(&scanned));
    let diff = check_export(&codex, &scanned);
    assert!(
        diff.wrong.is_empty(),
        "{} of {} facts differ from the manifest:\n{}",
        diff.wrong.len(),
        diff.checked,
        diff.wrong.join("\n")
    );
    assert!(diff.checked > 150, "only {} facts checked", diff.checked);

    let status = json(&cli.ok(&["github", "scan-status", "acme", "--json"]));
    let empty: BTreeSet<String> = manifest
        .select(&Selection::default())
        .into_iter()
        .filter(|r| r.empty)
        .map(|r| r.name.clone())
        .collect();
    assert!(!empty.is_empty());
    let failed: BTreeSet<String> = status["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["repo"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        failed, empty,
        "empty repositories are listed as failed: {status:#}"
    );
    let malformed: BTreeSet<String> = scanned
        .iter()
        .filter(|r| !r.malformed.is_empty())
        .map(|r| r.name.clone())
        .collect();
    let parse_errors: BTreeSet<String> = status["parse_errors"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert!(!malformed.is_empty());
    assert!(
        malformed.is_subset(&parse_errors),
        "malformed files are reported: {malformed:?} vs {parse_errors:?}"
    );
}

#[test]
fn filters_select_what_the_manifest_selects() {
    let hub = Hub::new();
    let manifest = generate_org(hub.path(), "acme", REPOS, SEED).unwrap();
    let cli = hub.cli();
    // Each case: CLI filters and the same selection over the manifest.
    let cases: Vec<(Vec<&str>, Selection)> = vec![
        (
            vec!["--language", "python"],
            Selection {
                language: Some("python".into()),
                ..Selection::default()
            },
        ),
        (
            vec!["--min-stars", "50", "--include-forks"],
            Selection {
                min_stars: Some(50),
                include_forks: true,
                ..Selection::default()
            },
        ),
        (
            vec!["--pushed-within", "90d", "--include-archived"],
            Selection {
                pushed_within_days: Some(90),
                include_archived: true,
                ..Selection::default()
            },
        ),
        (
            vec!["--max-size-kb", "200", "--language", "TypeScript"],
            Selection {
                max_size_kb: Some(200),
                language: Some("TypeScript".into()),
                ..Selection::default()
            },
        ),
        (
            vec![
                "--match",
                "[02468]$",
                "--include-forks",
                "--include-archived",
            ],
            Selection {
                include_forks: true,
                include_archived: true,
                name: Some(|n| n.ends_with(['0', '2', '4', '6', '8'])),
                ..Selection::default()
            },
        ),
    ];
    for (args, selection) in cases {
        let mut full = vec!["github", "scan-org", "acme"];
        full.extend_from_slice(&args);
        let codex = json(&cli.ok(&full));
        let selected = manifest.select(&selection);
        let expected: Vec<&RepoManifest> = selected.iter().copied().filter(|r| !r.empty).collect();
        assert!(!expected.is_empty(), "{args:?} selects something");
        assert_eq!(scanned_names(&cli), names(&expected), "{args:?}");
        let status = json(&cli.ok(&["github", "scan-status", "acme", "--json"]));
        assert_eq!(
            status["repos_total"].as_u64().unwrap() as usize,
            selected.len(),
            "{args:?}"
        );
        let diff = check_export(&codex, &expected);
        assert!(diff.wrong.is_empty(), "{args:?}: {}", diff.wrong.join("\n"));
        assert!(schema_errors(&codex).is_empty(), "{args:?}");
    }
}
