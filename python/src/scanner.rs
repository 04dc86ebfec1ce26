//! `GitHubScanner`'s native half: org scans, the stored results and their exports, and the
//! provider calls (repositories, trees, files) through the cache.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use heimdall::config::{Token, TokenSource};
use heimdall::namespace::{self, Namespace, NamespaceError, RepoSpec};
use heimdall::patterns::{FileFilter, RepoPatterns};
use heimdall::remote::Mode;
use heimdall::scan::{FileGlobs, RepoFilter, ScanEvent, ScanOptions};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::{Value, json};

use crate::run::{CancelToken, block, detach, settings};

/// (repository, path, sha, type, content)
type FoundRow = (String, String, String, String, Py<PyBytes>);

#[pyclass(frozen)]
pub struct Scanner {
    ns: Arc<Namespace>,
    scanner: Arc<heimdall::scan::Scanner>,
}

fn to_json(value: &impl serde::Serialize) -> anyhow::Result<String> {
    Ok(serde_json::to_string(value)?)
}

fn event_json(event: &ScanEvent) -> Value {
    match event {
        ScanEvent::Started {
            total,
            resumed,
            offline,
        } => json!({"event": "started", "total": total, "resumed": resumed, "offline": offline}),
        ScanEvent::Repo {
            repo,
            done,
            total,
            cached,
            error,
            requests,
            rate_limit_remaining,
        } => json!({
            "event": "repo", "repo": repo, "done": done, "total": total, "cached": cached,
            "error": error, "requests": requests, "rate_limit_remaining": rate_limit_remaining,
        }),
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::File => "file",
        Mode::Executable => "executable",
        Mode::Symlink => "symlink",
        Mode::Submodule => "submodule",
        Mode::Tree => "tree",
    }
}

#[pymethods]
impl Scanner {
    /// `token`: else GITHUB_TOKEN, GH_TOKEN, gh's hosts.yml (the CLI's chain).
    #[new]
    #[pyo3(signature = (token=None, api_url=None, cache_dir=None))]
    fn new(
        token: Option<String>,
        api_url: Option<String>,
        cache_dir: Option<PathBuf>,
    ) -> PyResult<Self> {
        let mut settings = settings(api_url, cache_dir)?;
        if let Some(token) = token.and_then(Token::new) {
            settings.token = Some(token);
            settings.token_source = Some(TokenSource::Given);
        }
        let _entered = crate::run::runtime().enter();
        // A scan wants today's commits: refs are polled on every call (free 304s).
        let ns =
            Namespace::open(&settings, Duration::ZERO).map_err(|e| crate::run::to_py(&e.into()))?;
        let ns = Arc::new(ns);
        Ok(Scanner {
            scanner: Arc::new(heimdall::scan::Scanner::new(Arc::clone(&ns))),
            ns,
        })
    }

    /// Scans and returns the codex export (JSON).
    #[pyo3(signature = (org, files, cache_days, parallel, language, min_stars, pushed_within_secs,
        max_size_kb, include_forks, include_archived, name, on_progress, cancel))]
    #[allow(clippy::too_many_arguments)]
    fn scan_organization(
        &self,
        py: Python<'_>,
        org: String,
        files: Option<Vec<String>>,
        cache_days: Option<f64>,
        parallel: usize,
        language: Option<String>,
        min_stars: Option<u64>,
        pushed_within_secs: Option<u64>,
        max_size_kb: Option<u64>,
        include_forks: bool,
        include_archived: bool,
        name: Option<String>,
        on_progress: Option<Py<PyAny>>,
        cancel: Option<&CancelToken>,
    ) -> PyResult<String> {
        let scanner = Arc::clone(&self.scanner);
        block(py, cancel, async move {
            let name = name
                .as_deref()
                .map(regex::Regex::new)
                .transpose()
                .map_err(|e| NamespaceError::InvalidSpec(format!("invalid name pattern: {e}")))?;
            let files = match files {
                Some(globs) if !globs.is_empty() => {
                    Some(FileFilter::parse(&globs.join(",")).map_err(|e| {
                        NamespaceError::InvalidSpec(format!("invalid file pattern: {e}"))
                    })?)
                }
                _ => None,
            };
            let max_result_age = match cache_days {
                Some(days) if days < 0.0 || !days.is_finite() => {
                    return Err(NamespaceError::InvalidSpec(format!(
                        "cache_days {days} is not a number of days"
                    ))
                    .into());
                }
                Some(days) => Some(Duration::from_secs_f64(days * 86400.0)),
                None => None,
            };
            let options = ScanOptions {
                org: org.clone(),
                filter: RepoFilter {
                    language,
                    min_stars,
                    pushed_within: pushed_within_secs.map(Duration::from_secs),
                    max_size_kb,
                    include_forks,
                    include_archived,
                    name,
                },
                files,
                parallel: parallel.max(1),
                max_result_age,
            };
            let report = move |event: ScanEvent| {
                if let Some(callback) = &on_progress {
                    let text = event_json(&event).to_string();
                    Python::attach(|py| {
                        if let Err(e) = callback.call1(py, (text,)) {
                            e.write_unraisable(py, Some(callback.bind(py)));
                        }
                    });
                }
            };
            scanner.scan_organization(&options, &report).await?;
            to_json(&scanner.export_codex(&org, &heimdall::clock::today())?)
        })
    }

    /// `{repo: patterns}` of the org's latest scan (JSON).
    fn cached_patterns(&self, py: Python<'_>, org: String) -> PyResult<String> {
        detach(py, || {
            let repos = self.scanner.cached_patterns(&org)?;
            let map: serde_json::Map<String, Value> = repos
                .into_iter()
                .map(|(repo, p)| Ok((repo, serde_json::to_value(p)?)))
                .collect::<anyhow::Result<_>>()?;
            to_json(&map)
        })
    }

    /// The codex export of `{repo: patterns}` (JSON), dated today.
    fn aggregate(&self, py: Python<'_>, org: String, patterns: String) -> PyResult<String> {
        detach(py, || {
            let map: std::collections::BTreeMap<String, RepoPatterns> =
                serde_json::from_str(&patterns).map_err(|e| {
                    NamespaceError::InvalidSpec(format!("not a patterns mapping: {e}"))
                })?;
            let repos: Vec<(String, RepoPatterns)> = map.into_iter().collect();
            to_json(&heimdall::codex::aggregate(
                &org,
                &heimdall::clock::today(),
                &repos,
            ))
        })
    }

    /// The latest scan's results as `codex`, `json` or `jsonl` (text).
    fn export_patterns(&self, py: Python<'_>, org: String, format: String) -> PyResult<String> {
        detach(py, || match format.as_str() {
            "codex" => to_json(&self.scanner.export_codex(&org, &heimdall::clock::today())?),
            "json" => to_json(&heimdall::codex::export_json(
                &self.scanner.cached_patterns(&org)?,
            )),
            "jsonl" => Ok(heimdall::codex::export_jsonl(
                &self.scanner.cached_patterns(&org)?,
            )),
            other => Err(NamespaceError::InvalidSpec(format!(
                "unknown format `{other}`: use codex, json or jsonl"
            ))
            .into()),
        })
    }

    /// The org's latest scan status (JSON), or None.
    fn scan_status(&self, py: Python<'_>, org: String) -> PyResult<Option<String>> {
        detach(py, || {
            self.scanner.status(&org)?.map(|s| to_json(&s)).transpose()
        })
    }

    /// The owner's repositories (JSON: GitHub's fields).
    fn list_org_repos(
        &self,
        py: Python<'_>,
        org: String,
        cancel: Option<&CancelToken>,
    ) -> PyResult<String> {
        let scanner = Arc::clone(&self.scanner);
        block(py, cancel, async move {
            let (repos, _offline) = scanner.list(&org).await?;
            to_json(&repos)
        })
    }

    /// Every entry of a commit's tree, recursively (JSON: path, mode, type, sha, size).
    #[pyo3(signature = (owner, repo, reference, cancel))]
    fn get_repo_tree(
        &self,
        py: Python<'_>,
        owner: String,
        repo: String,
        reference: Option<String>,
        cancel: Option<&CancelToken>,
    ) -> PyResult<String> {
        let ns = Arc::clone(&self.ns);
        block(py, cancel, async move {
            let spec = RepoSpec::new(&owner, &repo, reference)?;
            let commit = ns
                .resolve_listed(&spec)
                .await
                .with_context(|| format!("cannot resolve `{spec}`"))?;
            let mut rows = Vec::new();
            let mut stack = vec![(commit.tree, String::new())];
            while let Some((sha, prefix)) = stack.pop() {
                let tree = ns.tree(&spec, sha).await?;
                for entry in &tree.entries {
                    let path = format!("{prefix}{}", entry.name);
                    rows.push(json!({
                        "path": path, "mode": entry.mode.as_git(), "type": mode_name(entry.mode),
                        "sha": entry.sha.to_string(), "size": entry.size,
                    }));
                    if entry.mode == Mode::Tree {
                        stack.push((entry.sha, format!("{path}/")));
                    }
                }
            }
            rows.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
            to_json(&rows)
        })
    }

    /// One file's (sha, bytes).
    #[pyo3(signature = (owner, repo, path, reference, cancel))]
    fn get_file_content(
        &self,
        py: Python<'_>,
        owner: String,
        repo: String,
        path: String,
        reference: Option<String>,
        cancel: Option<&CancelToken>,
    ) -> PyResult<(String, Py<PyBytes>)> {
        let ns = Arc::clone(&self.ns);
        let (sha, bytes) = block(py, cancel, async move {
            let spec = RepoSpec::new(&owner, &repo, reference)?;
            let parts = namespace::split_path(&path)?;
            if parts.is_empty() {
                return Err(NamespaceError::InvalidSpec(format!("`{path}` names no file")).into());
            }
            let commit = ns
                .resolve(&spec)
                .await
                .with_context(|| format!("cannot resolve `{spec}`"))?;
            let entry = ns
                .lookup(&spec, commit.tree, &parts)
                .await?
                .ok_or_else(|| anyhow!("no entry"))?;
            if !entry.mode.is_blob() {
                return Err(NamespaceError::NotAFile {
                    repo: spec.to_string(),
                    path: parts.join("/"),
                }
                .into());
            }
            let bytes = ns.blob_bytes(&spec, &entry, &parts.join("/")).await?;
            Ok((entry.sha.to_string(), bytes))
        })?;
        Ok((sha, PyBytes::new(py, &bytes).unbind()))
    }

    /// Every file of the owner's repositories that one of the globs matches:
    /// [(repository, path, sha, mode, bytes)].
    fn get_files_by_pattern(
        &self,
        py: Python<'_>,
        org: String,
        patterns: Vec<String>,
        parallel: usize,
        cancel: Option<&CancelToken>,
    ) -> PyResult<Vec<FoundRow>> {
        let scanner = Arc::clone(&self.scanner);
        let found = block(py, cancel, async move {
            let globs = FileGlobs::parse(&patterns)?;
            Ok(scanner.find_files(&org, &globs, parallel).await?)
        })?;
        Ok(found
            .into_iter()
            .map(|f| {
                (
                    f.repository,
                    f.path,
                    f.sha.to_string(),
                    mode_name(f.mode).to_string(),
                    PyBytes::new(py, &f.content).unbind(),
                )
            })
            .collect())
    }
}
