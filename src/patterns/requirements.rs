//! pip requirements files (`requirements*.txt`, `requirements/*.in`); each requirement line
//! is a PEP 508 string, parsed by [`pep508`](super::pep508).
//!
//! Invariants: options, editable installs, bare URLs and local paths are skipped without an
//! error; `-r`/`-c` includes resolve relative to the including file, never above the
//! repository root, and are followed at most [`MAX_INCLUDE_DEPTH`] includes deep.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use super::findings::Findings;
use super::formats;
use super::paths::{self, Kind};
use super::pep508::parse_requirement;
use super::types::{Ecosystem, RepoInput};

/// `-r a.txt` inside `a.txt`'s includes ... at most this deep (the spec's bound: real
/// projects chain two or three files).
pub const MAX_INCLUDE_DEPTH: usize = 5;

/// How a requirements-format file is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Requirements,
    /// Reached through `-c`: pins, recorded in group "constraints".
    Constraints,
}

/// One logical line of a requirements file.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    Requirement(&'a str),
    Include(Role, &'a str),
    Skip,
}

/// Every requirements-format file in `input.files` with its role, and includes not yet read.
struct Walk {
    roles: BTreeMap<String, Role>,
    unread: BTreeSet<String>,
}

fn walk(input: &RepoInput) -> Walk {
    let mut roles = BTreeMap::new();
    let mut unread = BTreeSet::new();
    let mut queue = VecDeque::new();
    for path in input.files.keys() {
        if paths::kind_of(path) == Some(Kind::Requirements) {
            roles.insert(path.clone(), Role::Requirements);
            queue.push_back((path.clone(), 0));
        }
    }
    let mut existing: Option<HashSet<&str>> = None;
    while let Some((path, depth)) = queue.pop_front() {
        if depth >= MAX_INCLUDE_DEPTH {
            continue;
        }
        let Some(Ok(text)) = input.files.get(&path).map(|b| formats::text(b)) else {
            continue;
        };
        for (_, line) in logical_lines(text) {
            let Line::Include(role, target) = classify(&line) else {
                continue;
            };
            let Some(target) = resolve(paths::parent(&path), target) else {
                continue;
            };
            if roles.contains_key(&target) {
                continue;
            }
            if input.files.contains_key(&target) {
                roles.insert(target.clone(), role);
                queue.push_back((target, depth + 1));
            } else if existing
                .get_or_insert_with(|| input.all_paths.iter().map(String::as_str).collect())
                .contains(target.as_str())
            {
                unread.insert(target);
            }
        }
    }
    Walk { roles, unread }
}

pub(crate) fn roles(input: &RepoInput) -> BTreeMap<String, Role> {
    walk(input).roles
}

pub(crate) fn follow_ups(input: &RepoInput) -> Vec<String> {
    walk(input).unread.into_iter().collect()
}

/// `target` relative to directory `dir`; None for absolute paths, URLs, variables and paths
/// that climb above the repository root.
fn resolve(dir: &str, target: &str) -> Option<String> {
    if target.starts_with('/')
        || target.contains("://")
        || target.contains('$')
        || target.is_empty()
    {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Lines with `\` continuations joined and comments (`#` at the start or after whitespace)
/// removed, numbered from 1, blank ones dropped.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if current.is_empty() {
            start = i + 1;
        }
        match raw.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(raw);
                let line = strip_comment(&current).trim().to_string();
                if !line.is_empty() {
                    out.push((start, line));
                }
                current.clear();
            }
        }
    }
    let line = strip_comment(&current).trim().to_string();
    if !line.is_empty() {
        out.push((start, line));
    }
    out
}

fn strip_comment(line: &str) -> &str {
    if line.trim_start().starts_with('#') {
        return "";
    }
    let bytes = line.as_bytes();
    match (1..bytes.len()).find(|&i| bytes[i] == b'#' && matches!(bytes[i - 1], b' ' | b'\t')) {
        Some(i) => &line[..i],
        None => line,
    }
}

fn classify(line: &str) -> Line<'_> {
    for (flags, role) in [
        (&["-r", "--requirement"], Role::Requirements),
        (&["-c", "--constraint"], Role::Constraints),
    ] {
        for flag in flags {
            if let Some(rest) = line.strip_prefix(flag) {
                let long = flag.starts_with("--");
                let rest = match rest.strip_prefix('=') {
                    Some(value) if long => value,
                    _ if long && !rest.starts_with([' ', '\t']) => continue,
                    _ => rest,
                };
                return Line::Include(role, rest.trim());
            }
        }
    }
    let first_word = line.split_whitespace().next().unwrap_or("");
    let is_archive = [".whl", ".tar.gz", ".zip"]
        .iter()
        .any(|ext| first_word.ends_with(ext));
    if line.starts_with(['-', '.', '/']) || first_word.contains("://") || is_archive {
        return Line::Skip;
    }
    // Per-requirement options (`--hash=...`, `--config-settings`) follow the requirement.
    let requirement = match line.find(" --").or_else(|| line.find("\t--")) {
        Some(i) => line[..i].trim(),
        None => line,
    };
    Line::Requirement(requirement)
}

/// The dependency group a requirements file name suggests: "dev", "test", "docs", "lint",
/// else "main"; files reached through `-c` are "constraints".
fn group_for(path: &str, role: Role) -> &'static str {
    if role == Role::Constraints {
        return "constraints";
    }
    let name = paths::file_name(path).to_ascii_lowercase();
    let stem = name.replace("requirements", "");
    let words: Vec<&str> = stem
        .split(['-', '_', '.'])
        .filter(|w| !w.is_empty())
        .collect();
    let has = |options: &[&str]| words.iter().any(|w| options.contains(w));
    if has(&["dev", "develop", "development"]) {
        "dev"
    } else if has(&["test", "tests", "testing", "ci"]) {
        "test"
    } else if has(&["doc", "docs", "documentation"]) {
        "docs"
    } else if has(&["lint", "linting", "style", "typing"]) {
        "lint"
    } else {
        "main"
    }
}

pub(crate) fn extract(text: &str, path: &str, role: Role, f: &mut Findings) {
    let group = group_for(path, role);
    for (number, line) in logical_lines(text) {
        if let Line::Requirement(requirement) = classify(&line) {
            match parse_requirement(requirement) {
                Ok((name, specifier)) => {
                    f.dependency(Ecosystem::Python, &name, specifier, group, path)
                }
                Err(e) => f.error(path, format!("line {number}: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patterns::pep508::{normalize_name, written_specifier};
    use crate::patterns::{Dependency, extract as extract_repo, follow_ups as follow_ups_of};
    use std::collections::BTreeMap;

    /// From pip's "Requirements File Format" documentation example.
    const PIP_DOCS_SAMPLE: &str = include_str!("../../tests/fixtures/patterns/requirements.txt");

    fn repo(
        files: &[(&str, &str)],
        extra_paths: &[&str],
    ) -> (Vec<String>, BTreeMap<String, Vec<u8>>) {
        let mut all: Vec<String> = files.iter().map(|(p, _)| p.to_string()).collect();
        all.extend(extra_paths.iter().map(|p| p.to_string()));
        let files = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
            .collect();
        (all, files)
    }

    fn input<'a>(all: &'a [String], files: &'a BTreeMap<String, Vec<u8>>) -> RepoInput<'a> {
        RepoInput {
            root_entries: &[],
            all_paths: all,
            files,
            license_spdx: None,
            language: None,
        }
    }

    fn deps(patterns: &[Dependency]) -> Vec<(String, Option<String>, String)> {
        patterns
            .iter()
            .map(|d| (d.name.clone(), d.specifier.clone(), d.group.clone()))
            .collect()
    }

    #[test]
    fn pip_documentation_sample() {
        let (all, files) = repo(&[("requirements.txt", PIP_DOCS_SAMPLE)], &[]);
        let patterns = extract_repo(&input(&all, &files));
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            deps(&patterns.dependencies),
            [
                ("beautifulsoup4".into(), None, "main".into()),
                ("coverage".into(), s("!=3.5"), "main".into()),
                ("docopt".into(), s("==0.6.1"), "main".into()),
                ("flask".into(), s("==3.0.0"), "main".into()),
                ("green".into(), None, "main".into()),
                ("keyring".into(), s(">=4.1.1"), "main".into()),
                ("mopidy-dirble".into(), s("~=1.1"), "main".into()),
                ("pytest".into(), None, "main".into()),
                ("pytest-cov".into(), None, "main".into()),
                ("rejected".into(), None, "main".into()),
                ("requests".into(), s(">=2.8.1,==2.8.*"), "main".into()),
                ("typing-extensions".into(), s(">=4.6"), "main".into()),
                (
                    "urllib3".into(),
                    s("@ https://github.com/urllib3/urllib3/archive/refs/tags/1.26.8.zip"),
                    "main".into()
                ),
            ]
        );
        assert_eq!(patterns.errors, []);
    }

    #[test]
    fn includes_are_followed_relative_bounded_and_inside_the_repo() {
        let (all, files) = repo(
            &[(
                "requirements/dev.txt",
                "-r base.txt\n-c ../constraints.txt\n--requirement=../../escape.txt\npytest\n",
            )],
            &["requirements/base.txt", "constraints.txt", "escape.txt"],
        );
        assert_eq!(
            follow_ups_of(&input(&all, &files)),
            ["constraints.txt", "requirements/base.txt"]
        );

        let (all, files) = repo(
            &[
                (
                    "requirements/dev.txt",
                    "-r base.txt\n-c ../constraints.txt\npytest\n",
                ),
                ("requirements/base.txt", "Django>=4.2\n"),
                ("constraints.txt", "django==4.2.7\n"),
            ],
            &[],
        );
        let patterns = extract_repo(&input(&all, &files));
        assert!(follow_ups_of(&input(&all, &files)).is_empty());
        assert_eq!(
            deps(&patterns.dependencies),
            [
                (
                    "django".into(),
                    Some("==4.2.7".into()),
                    "constraints".into()
                ),
                ("django".into(), Some(">=4.2".into()), "main".into()),
                ("pytest".into(), None, "dev".into()),
            ]
        );
    }

    #[test]
    fn include_chains_stop_at_the_depth_bound() {
        // r0.txt includes chain/r1.txt, which includes chain/r2.txt, ...
        let mut texts: Vec<(String, String)> =
            vec![("requirements.txt".into(), "-r chain/r1.txt\n".into())];
        for i in 1..=8 {
            texts.push((
                format!("chain/r{i}.txt"),
                format!("-r r{}.txt\npkg{i}\n", i + 1),
            ));
        }
        let all: Vec<String> = texts.iter().map(|(p, _)| p.clone()).collect();
        let mut files = BTreeMap::new();
        for (path, text) in &texts[..=MAX_INCLUDE_DEPTH] {
            files.insert(path.clone(), text.as_bytes().to_vec());
        }
        // Files at depth 0..=5 are read; the include in the depth-5 file is not followed.
        assert!(follow_ups_of(&input(&all, &files)).is_empty());
        files.remove(&texts[MAX_INCLUDE_DEPTH].0);
        assert_eq!(
            follow_ups_of(&input(&all, &files)),
            [texts[MAX_INCLUDE_DEPTH].0.clone()]
        );
    }

    #[test]
    fn include_cycles_terminate() {
        let (all, files) = repo(&[("requirements.txt", "-r requirements.txt\nflask\n")], &[]);
        assert!(follow_ups_of(&input(&all, &files)).is_empty());
        assert_eq!(extract_repo(&input(&all, &files)).dependencies.len(), 1);
    }

    #[test]
    fn malformed_lines_are_errors_and_the_rest_is_kept() {
        let (all, files) = repo(
            &[(
                "requirements-dev.txt",
                "pytest>=7\nfoo >= = 1\nblack==24.1.0\n",
            )],
            &[],
        );
        let patterns = extract_repo(&input(&all, &files));
        assert_eq!(patterns.dependencies.len(), 2);
        assert_eq!(patterns.dependencies[0].group, "dev");
        assert_eq!(patterns.errors.len(), 1);
        assert!(
            patterns.errors[0]
                .message
                .starts_with("line 2: bad requirement"),
            "{:?}",
            patterns.errors
        );
    }

    #[test]
    fn resolve_paths() {
        assert_eq!(resolve("a/b", "../c.txt").as_deref(), Some("a/c.txt"));
        assert_eq!(resolve("", "./x/./y.txt").as_deref(), Some("x/y.txt"));
        assert_eq!(resolve("a", "../../x.txt"), None);
        assert_eq!(resolve("", "/etc/passwd"), None);
        assert_eq!(resolve("", "https://example.com/r.txt"), None);
        assert_eq!(resolve("", "${DIR}/r.txt"), None);
    }

    #[test]
    fn names_are_normalized() {
        assert_eq!(normalize_name("Foo__Bar.baz"), "foo-bar-baz");
        assert_eq!(
            group_for("requirements_test.txt", Role::Requirements),
            "test"
        );
        assert_eq!(
            group_for("requirements/docs.in", Role::Requirements),
            "docs"
        );
        assert_eq!(group_for("requirements.txt", Role::Requirements), "main");
        assert_eq!(
            written_specifier("Foo_bar[x, y] (>=2, <3) ; python_version<'3.8'"),
            ">=2,<3"
        );
        assert_eq!(
            parse_requirement("a.b >= 1.0 , != 1.5").unwrap(),
            ("a-b".to_string(), Some(">=1.0,!=1.5".to_string()))
        );
    }
}
