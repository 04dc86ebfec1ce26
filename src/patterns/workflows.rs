//! GitHub Actions workflows and `.pre-commit-config.yaml`.
//!
//! Invariants: both are read through the limited YAML loader (`formats::yaml`); a document
//! that is not a mapping is an error; a field of the wrong type is skipped. Local actions
//! (`./...`) and `docker://` images are not actions. `run:` steps are scripts and their
//! program words name tools; their arguments never do.

use serde_json::Value;

use super::findings::Findings;
use super::{formats, rules};

fn mapping(text: &str, path: &str, f: &mut Findings) -> Option<serde_json::Map<String, Value>> {
    match formats::yaml(text) {
        Ok(Value::Object(map)) => Some(map),
        Ok(_) => {
            f.error(path, "not a YAML mapping");
            None
        }
        Err(e) => {
            f.error(path, e);
            None
        }
    }
}

pub(crate) fn workflow(text: &str, path: &str, f: &mut Findings) {
    let Some(workflow) = mapping(text, path, f) else {
        return;
    };
    if let Some(rule) = rules::by_name("github-actions") {
        f.tool(rule, None, path);
    }
    let Some(Value::Object(jobs)) = workflow.get("jobs") else {
        return;
    };
    for (job_id, job) in jobs {
        // A job that calls a reusable workflow: `uses: org/repo/.github/workflows/x.yml@v1`.
        if let Some(uses) = job.get("uses").and_then(Value::as_str) {
            action(uses, path, f);
        }
        let Some(Value::Array(steps)) = job.get("steps") else {
            continue;
        };
        for step in steps {
            if let Some(uses) = step.get("uses").and_then(Value::as_str) {
                action(uses, path, f);
            }
            if let Some(run) = step.get("run").and_then(Value::as_str) {
                let name = step.get("name").and_then(Value::as_str).unwrap_or(job_id);
                f.script(path, name, run, "workflow run:");
            }
        }
    }
}

/// `owner/repo[/path]@ref`, split at the last `@`.
fn action(uses: &str, path: &str, f: &mut Findings) {
    let uses = uses.trim();
    if uses.starts_with("./") || uses.starts_with("docker://") || uses.is_empty() {
        return;
    }
    let (name, version) = match uses.rsplit_once('@') {
        Some((name, version)) => (name, Some(version.to_string())),
        None => (uses, None),
    };
    f.action(name, version.clone());
    if let Some(rule) = rules::by_action(name) {
        f.tool(rule, None, format!("{path} uses {name}"));
    }
}

pub(crate) fn pre_commit(text: &str, path: &str, f: &mut Findings) {
    let Some(config) = mapping(text, path, f) else {
        return;
    };
    if let Some(rule) = rules::by_name("pre-commit") {
        f.tool(rule, None, path);
    }
    let Some(Value::Array(repos)) = config.get("repos") else {
        return;
    };
    for repo in repos {
        let Some(url) = repo.get("repo").and_then(Value::as_str) else {
            continue;
        };
        let rev = match repo.get("rev") {
            Some(Value::String(rev)) => Some(rev.clone()),
            Some(Value::Number(rev)) => Some(rev.to_string()),
            _ => None,
        };
        let Some(Value::Array(hooks)) = repo.get("hooks") else {
            continue;
        };
        for hook in hooks {
            let Some(id) = hook.get("id").and_then(Value::as_str) else {
                continue;
            };
            f.hook(url, rev.clone(), id);
            if let Some(rule) = rules::by_hook(id) {
                f.tool(
                    rule,
                    rev.as_deref().map(release),
                    format!("{path} hook {id}"),
                );
            }
        }
    }
}

/// `v0.4.1` -> `0.4.1`; other revs (`24.1.0`, a SHA) as they are.
fn release(rev: &str) -> String {
    match rev.strip_prefix('v') {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest.to_string(),
        _ => rev.to_string(),
    }
}
