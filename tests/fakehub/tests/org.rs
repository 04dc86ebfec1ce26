//! The generated organization (`fakehub::org`): deterministic, as many
//! flagged repositories as asked for, and a manifest that matches what is in
//! the repositories (checked with git, by parsing, and through the server).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use common::{TOKEN, get, get_auth, git};
use fakehub::org::{self, OrgManifest, OrgSpec, RepoManifest, Selection};
use fakehub::{Config, FakeHub};

const OWNER: &str = "acme";
const REPOS: usize = 60;
const SEED: u64 = 7;
const DAY: i64 = 86_400;

/// One generated org shared by the tests of this file.
fn shared() -> &'static (PathBuf, OrgManifest) {
    static ORG: OnceLock<(PathBuf, OrgManifest)> = OnceLock::new();
    ORG.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        let t = Instant::now();
        let m = org::generate_org(&dir, OWNER, REPOS, SEED).expect("generate");
        eprintln!("generated {REPOS} repositories in {:?}", t.elapsed());
        (dir, m)
    })
}

fn git_dir(root: &Path, name: &str) -> PathBuf {
    root.join(OWNER).join(format!("{name}.git"))
}

fn show(root: &Path, r: &RepoManifest, path: &str) -> String {
    let out = git(
        &git_dir(root, &r.name),
        &["cat-file", "blob", &format!("HEAD:{path}")],
    );
    String::from_utf8(out).expect("utf-8")
}

fn count(m: &OrgManifest, f: impl Fn(&RepoManifest) -> bool) -> usize {
    m.repos.iter().filter(|r| f(r)).count()
}

#[test]
fn deterministic_with_the_requested_counts() {
    let (root, m) = shared();
    let spec = OrgSpec::new(REPOS, SEED);
    assert_eq!(m.repos.len(), REPOS);
    assert_eq!(count(m, |r| r.empty), spec.empty);
    assert_eq!(count(m, |r| r.archived), spec.archived);
    assert_eq!(count(m, |r| r.fork), spec.forks);
    assert_eq!(count(m, |r| r.private), spec.private);
    assert_eq!(count(m, |r| !r.malformed.is_empty()), spec.malformed);
    assert!(spec.empty >= 1 && spec.archived >= 1 && spec.forks >= 1 && spec.private >= 1);
    // Flags never land on empty repositories; names are unique.
    for r in m.repos.iter().filter(|r| r.empty) {
        assert!(
            !r.archived && !r.fork && !r.private && r.head.is_none(),
            "{}",
            r.name
        );
    }
    let names: BTreeSet<&str> = m.repos.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names.len(), REPOS);
    // The manifest on disk is the one returned.
    assert_eq!(&org::read_manifest(root, OWNER).expect("read"), m);

    // Same seed: same commits; another seed: other ones.
    let again = tempfile::tempdir().unwrap();
    let m2 = org::generate_org_with(
        again.path(),
        OWNER,
        &OrgSpec {
            now: m.spec.now,
            ..spec.clone()
        },
    )
    .expect("generate again");
    assert_eq!(&m2, m, "same seed, same manifest");
    for r in &m2.repos {
        if let Some(head) = &r.head {
            let out = git(&git_dir(again.path(), &r.name), &["rev-parse", "HEAD"]);
            assert_eq!(String::from_utf8_lossy(&out).trim(), head);
        }
    }
    let other = tempfile::tempdir().unwrap();
    let m3 = org::generate_org(other.path(), OWNER, 20, SEED + 1).expect("other seed");
    let heads = |m: &OrgManifest| -> BTreeSet<String> {
        m.repos.iter().filter_map(|r| r.head.clone()).collect()
    };
    assert!(heads(&m3).is_disjoint(&heads(m)));

    // Explicit counts are honoured.
    let custom = tempfile::tempdir().unwrap();
    let spec = OrgSpec {
        empty: 3,
        archived: 4,
        forks: 5,
        private: 6,
        malformed: 3,
        ..OrgSpec::new(15, 3)
    };
    let m4 = org::generate_org_with(custom.path(), OWNER, &spec).expect("custom");
    assert_eq!(
        [
            count(&m4, |r| r.empty),
            count(&m4, |r| r.archived),
            count(&m4, |r| r.fork),
            count(&m4, |r| r.private),
            count(&m4, |r| !r.malformed.is_empty()),
        ],
        [3, 4, 5, 6, 3]
    );
    let too_many = OrgSpec {
        forks: 20,
        ..OrgSpec::new(15, 3)
    };
    assert!(org::generate_org_with(custom.path(), "other", &too_many).is_err());
}

#[test]
fn manifest_matches_the_repositories() {
    let (root, m) = shared();
    for r in &m.repos {
        let dir = git_dir(root, &r.name);
        let meta: fakehub::RepoMeta =
            serde_json::from_slice(&std::fs::read(dir.join("fakehub.json")).unwrap()).unwrap();
        assert_eq!(meta.archived, Some(r.archived));
        assert_eq!(meta.fork, Some(r.fork));
        assert_eq!(meta.private, Some(r.private));
        assert_eq!(meta.language, r.language);
        assert_eq!(meta.stargazers_count, Some(r.stars));
        assert_eq!(meta.size_kb, Some(r.size_kb));
        assert_eq!(meta.pushed_at.as_deref(), Some(r.pushed_at.as_str()));
        assert_eq!(meta.license, r.structure.license);
        if r.empty {
            assert!(
                git(&dir, &["for-each-ref"]).is_empty(),
                "{} has refs",
                r.name
            );
            continue;
        }
        let head = String::from_utf8(git(&dir, &["rev-parse", "HEAD"])).unwrap();
        assert_eq!(Some(head.trim()), r.head.as_deref(), "{}", r.name);
        let branch = String::from_utf8(git(&dir, &["symbolic-ref", "--short", "HEAD"])).unwrap();
        assert_eq!(branch.trim(), r.default_branch);
        let commits = String::from_utf8(git(&dir, &["rev-list", "--count", "HEAD"])).unwrap();
        assert_eq!(commits.trim(), r.commits.to_string());
        let files =
            String::from_utf8(git(&dir, &["ls-tree", "-r", "--name-only", "HEAD"])).unwrap();
        let files: Vec<&str> = files.lines().collect();
        assert_eq!(files, r.files, "{}", r.name);

        // Dependencies: in their file, as written.
        for d in r
            .python
            .dependencies
            .iter()
            .chain(&r.javascript.dependencies)
        {
            let text = show(root, r, &d.source);
            assert!(
                text.contains(&d.written),
                "{}: {} not in {}",
                r.name,
                d.written,
                d.source
            );
            if let Some(spec) = &d.specifier {
                assert!(
                    text.contains(&format!("{}{spec}", d.written))
                        || text.contains(&format!("]{spec}"))
                        || text.contains(&format!("\"{spec}\"")),
                    "{}: {} {spec} not in {}",
                    r.name,
                    d.written,
                    d.source
                );
            }
        }
        for d in &r.python.dependencies {
            assert_eq!(d.name, org::normalize_python_name(&d.written));
        }

        // package.json: each dependency in the table of its group, exactly.
        if r.files.iter().any(|f| f == "package.json") {
            let text = show(root, r, "package.json");
            let parsed = serde_json::from_str::<serde_json::Value>(&text);
            assert_eq!(
                parsed.is_err(),
                r.malformed.iter().any(|f| f == "package.json"),
                "{}: package.json",
                r.name
            );
            if let Ok(pkg) = parsed {
                let mut declared = BTreeSet::new();
                for (table, group) in [
                    ("dependencies", "main"),
                    ("devDependencies", "dev"),
                    ("peerDependencies", "peer"),
                ] {
                    for (name, spec) in pkg[table].as_object().into_iter().flatten() {
                        let spec = spec.as_str().unwrap();
                        let spec = (spec != "*").then(|| spec.to_string());
                        declared.insert((name.clone(), spec, group.to_string()));
                    }
                }
                let manifest: BTreeSet<_> = r
                    .javascript
                    .dependencies
                    .iter()
                    .map(|d| (d.name.clone(), d.specifier.clone(), d.group.clone()))
                    .collect();
                assert_eq!(declared, manifest, "{}", r.name);
                let scripts: BTreeMap<String, String> = pkg["scripts"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect();
                let listed: BTreeMap<String, String> = r
                    .scripts
                    .iter()
                    .filter(|s| s.source == "package.json")
                    .map(|s| (s.name.clone(), s.command.clone()))
                    .collect();
                assert_eq!(scripts, listed, "{}", r.name);
            }
        }
        // Hooks, actions and workflow steps are where the manifest says.
        for h in &r.precommit_hooks {
            let text = show(root, r, ".pre-commit-config.yaml");
            assert!(text.contains(&format!("- repo: {}", h.repo)), "{}", r.name);
            assert!(text.contains(&format!("- id: {}\n", h.id)), "{}", r.name);
            if let Some(rev) = &h.rev {
                assert!(text.contains(&format!("rev: {rev}\n")), "{}", r.name);
            }
        }
        let workflows: String = r
            .files
            .iter()
            .filter(|f| f.starts_with(".github/workflows/"))
            .map(|f| show(root, r, f))
            .collect();
        for a in &r.actions {
            let version = a.version.as_deref().unwrap_or("");
            assert!(
                workflows.contains(&format!("uses: {}@{version}", a.name)),
                "{}: {a:?}",
                r.name
            );
        }
        for s in r
            .scripts
            .iter()
            .filter(|s| s.source.starts_with(".github/"))
        {
            for line in s.command.lines() {
                assert!(show(root, r, &s.source).contains(line), "{}: {s:?}", r.name);
            }
        }
        for s in r.scripts.iter().filter(|s| s.source == "tox.ini") {
            let text = show(root, r, "tox.ini");
            assert!(
                text.contains(&format!("[testenv:{}]", s.name)),
                "{}",
                r.name
            );
            assert!(
                text.contains(&format!("commands =\n    {}\n", s.command)),
                "{}",
                r.name
            );
        }
        // Malformed files are really broken, and say nothing.
        for f in &r.malformed {
            let text = show(root, r, f);
            assert!(
                text.contains("[tool.broken")
                    || text.contains("\"broken\": ,")
                    || text.contains("broken: [unclosed"),
                "{}: {f}",
                r.name
            );
            assert!(
                !r.python
                    .dependencies
                    .iter()
                    .chain(&r.javascript.dependencies)
                    .any(|d| &d.source == f)
            );
            assert!(!r.scripts.iter().any(|s| &s.source == f));
        }
        // Structure facts follow from the file list.
        let s = &r.structure;
        assert_eq!(
            s.has_readme,
            r.files.iter().any(|f| f.starts_with("README")),
            "{}",
            r.name
        );
        assert_eq!(
            s.docs_dir,
            r.files.iter().any(|f| f.starts_with("docs/")),
            "{}",
            r.name
        );
        assert_eq!(
            s.license.is_some(),
            r.files.iter().any(|f| f.starts_with("LICENSE")),
            "{}",
            r.name
        );
        if r.kind == "python" {
            assert!(r.python_flavour.is_some());
            assert!(r.has_tool("pytest") || r.python.tools.iter().any(|t| t != "pip"));
        }
        if r.files.iter().any(|f| f.starts_with(".github/workflows/")) {
            assert!(r.has_tool("github-actions"), "{}", r.name);
        }
        if r.files.iter().any(|f| f == ".pre-commit-config.yaml") {
            assert!(r.has_tool("pre-commit"), "{}", r.name);
        }
    }
}

#[test]
fn varied_frequencies_and_features() {
    let (_, m) = shared();
    let live: Vec<&RepoManifest> = m.repos.iter().filter(|r| !r.empty).collect();
    let tools = OrgManifest::tool_counts(live.iter().copied());
    let n = live.len();
    let most = tools.values().max().copied().unwrap_or(0);
    assert!(most * 2 > n, "some tool in most repositories: {tools:?}");
    let rare = tools.values().filter(|c| **c * 10 <= n).count();
    assert!(rare >= 3, "some tools in few repositories: {tools:?}");
    for t in [
        "ruff",
        "pytest",
        "mypy",
        "eslint",
        "prettier",
        "typescript",
        "pre-commit",
        "github-actions",
        "pip",
        "npm",
        "setuptools",
    ] {
        assert!(tools.contains_key(t), "{t} never used: {tools:?}");
    }
    let kinds: BTreeSet<&str> = live.iter().map(|r| r.kind.as_str()).collect();
    for k in ["python", "typescript", "javascript", "mixed"] {
        assert!(kinds.contains(k), "{kinds:?}");
    }
    let flavours: BTreeSet<&str> = live
        .iter()
        .filter_map(|r| r.python_flavour.as_deref())
        .collect();
    assert!(flavours.len() >= 5, "{flavours:?}");
    // PEP 503 normalization shows up.
    let written_differently = live
        .iter()
        .flat_map(|r| &r.python.dependencies)
        .filter(|d| d.name != d.written)
        .count();
    assert!(written_differently > 0);
    // Malformed files of each syntax.
    let malformed: Vec<&String> = live.iter().flat_map(|r| &r.malformed).collect();
    assert!(
        malformed.iter().any(|f| f.ends_with(".toml")),
        "{malformed:?}"
    );
    assert!(
        malformed.iter().any(|f| f.ends_with(".json")),
        "{malformed:?}"
    );
    assert!(
        malformed
            .iter()
            .any(|f| f.ends_with(".yml") || f.ends_with(".yaml")),
        "{malformed:?}"
    );
    // Structure varies.
    for (what, f) in [
        (
            "src layout",
            (|r: &&RepoManifest| r.structure.src_layout) as fn(&&RepoManifest) -> bool,
        ),
        ("tests", |r| r.structure.tests_dir),
        ("docs", |r| r.structure.docs_dir),
        ("license", |r| r.structure.license.is_some()),
        ("contributing", |r| r.structure.has_contributing),
    ] {
        let yes = live.iter().filter(|r| f(r)).count();
        assert!(yes > 0 && yes < n, "{what}: {yes} of {n}");
    }
}

#[test]
fn filters_select_known_subsets() {
    let (_, m) = shared();
    let now = m.spec.now;
    let default = m.select_at(&Selection::default(), now);
    assert_eq!(default.len(), count(m, |r| !r.fork && !r.archived));
    let all = m.select_at(
        &Selection {
            include_forks: true,
            include_archived: true,
            ..Default::default()
        },
        now,
    );
    assert_eq!(all.len(), REPOS);
    let recent = m.select_at(
        &Selection {
            pushed_within_days: Some(90),
            include_forks: true,
            include_archived: true,
            ..Default::default()
        },
        now,
    );
    assert!(!recent.is_empty() && recent.len() < REPOS);
    // A 30-day margin either side of 90 days.
    for r in &m.repos {
        let age = now - r.pushed_at_epoch();
        assert!(age <= 60 * DAY || age >= 120 * DAY, "{}: {age}", r.name);
        assert!(!(r.archived || r.fork) || age >= 120 * DAY, "{}", r.name);
    }
    let python = m.select_at(
        &Selection {
            language: Some("python".into()),
            ..Default::default()
        },
        now,
    );
    assert!(
        !python.is_empty()
            && python
                .iter()
                .all(|r| r.language.as_deref() == Some("Python"))
    );
    let languages: BTreeSet<Option<&str>> = m.repos.iter().map(|r| r.language.as_deref()).collect();
    assert!(languages.len() >= 4, "{languages:?}");
    let starred = m.select_at(
        &Selection {
            min_stars: Some(100),
            ..Default::default()
        },
        now,
    );
    assert!(!starred.is_empty() && starred.len() < default.len());
    let small = m.select_at(
        &Selection {
            max_size_kb: Some(100),
            ..Default::default()
        },
        now,
    );
    assert!(!small.is_empty() && small.len() < default.len());
    let svc = m.select_at(
        &Selection {
            name: Some(|n| n.starts_with("svc-")),
            ..Default::default()
        },
        now,
    );
    assert!(!svc.is_empty() && svc.iter().all(|r| r.name.starts_with("svc-")));
    let public = m.select_at(
        &Selection {
            exclude_private: true,
            ..Default::default()
        },
        now,
    );
    assert!(public.len() < default.len() || count(m, |r| r.private && !r.fork && !r.archived) == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_metadata_matches_the_manifest() {
    let (root, m) = shared();
    let hub = FakeHub::spawn(
        root.clone(),
        Config {
            tokens: vec![TOKEN.to_string()],
            ..Config::default()
        },
    )
    .expect("spawn");
    let mut listed: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for page in 1..=3 {
        let r = get_auth(
            &hub,
            &format!("/orgs/{OWNER}/repos?per_page=25&page={page}"),
        )
        .await;
        assert_eq!(r.status, 200);
        for repo in r.json().as_array().unwrap() {
            listed.insert(repo["name"].as_str().unwrap().to_string(), repo.clone());
        }
    }
    assert_eq!(listed.len(), REPOS);
    for r in &m.repos {
        let v = &listed[&r.name];
        assert_eq!(v["archived"], r.archived, "{}", r.name);
        assert_eq!(v["fork"], r.fork, "{}", r.name);
        assert_eq!(v["private"], r.private, "{}", r.name);
        assert_eq!(v["language"].as_str(), r.language.as_deref(), "{}", r.name);
        assert_eq!(v["stargazers_count"], r.stars, "{}", r.name);
        assert_eq!(v["size"], r.size_kb, "{}", r.name);
        assert_eq!(
            v["pushed_at"].as_str(),
            Some(r.pushed_at.as_str()),
            "{}",
            r.name
        );
        assert_eq!(
            v["license"]["spdx_id"].as_str(),
            r.structure.license.as_deref(),
            "{}",
            r.name
        );
        if !r.empty {
            assert_eq!(
                v["default_branch"].as_str(),
                Some(r.default_branch.as_str())
            );
        }
    }
    // Anonymous: private repositories are not listed.
    let mut anon = 0;
    for page in 1..=3 {
        let r = get(
            &hub,
            &format!("/orgs/{OWNER}/repos?per_page=25&page={page}"),
            &[],
        )
        .await;
        anon += r.json().as_array().unwrap().len();
    }
    assert_eq!(anon, REPOS - count(m, |r| r.private));
    // An empty repository has no commits; a file is served as committed.
    let empty = m.repos.iter().find(|r| r.empty).unwrap();
    let r = get_auth(&hub, &format!("/repos/{OWNER}/{}/commits/HEAD", empty.name)).await;
    assert_eq!(r.status, 409);
    let py = m
        .repos
        .iter()
        .find(|r| !r.empty && !r.private && r.files.iter().any(|f| f == "pyproject.toml"))
        .unwrap();
    let r = get(
        &hub,
        &format!("/repos/{OWNER}/{}/contents/pyproject.toml", py.name),
        &[("accept", "application/vnd.github.raw")],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), show(root, py, "pyproject.toml"));
}

#[test]
fn gen_org_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fakehub"))
        .args(["gen-org", "--root"])
        .arg(dir.path())
        .args(["--owner", "initech", "--repos", "12", "--seed", "5"])
        .output()
        .expect("run fakehub");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("initech: 12 repositories ("), "{stdout}");
    let path = org::manifest_path(dir.path(), "initech");
    assert!(
        stdout.contains(&format!("manifest: {}", path.display())),
        "{stdout}"
    );
    let m = org::read_manifest(dir.path(), "initech").unwrap();
    assert_eq!(m.repos.len(), 12);
    assert_eq!(m.spec.seed, 5);
}
