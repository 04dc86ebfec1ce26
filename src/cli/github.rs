//! `heimdall github scan-org | extract-patterns | scan-status | export-patterns`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};

use crate::namespace::Namespace;
use crate::patterns::FileFilter;
use crate::scan::RepoFilter;
use crate::scan::run::{DEFAULT_PARALLEL, ScanEvent, ScanOptions, ScanStatus, Scanner};

#[derive(Debug, Subcommand)]
pub enum GithubCommand {
    /// Scan an organization's repositories and write the codex export
    ScanOrg(ScanArgs),
    /// Re-extract patterns, reusing per-repo results younger than --cache-days
    ExtractPatterns {
        org: String,
        #[arg(long, value_name = "DAYS", default_value_t = 7)]
        cache_days: u64,
        #[arg(long, value_name = "N", default_value_t = DEFAULT_PARALLEL)]
        parallel: usize,
    },
    /// Progress and outcome of an organization's latest scan
    ScanStatus {
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Files matching globs across an owner's repositories, as `REPO/PATH` lines (shell
    /// glob rules at each repository's root: `*.toml`, `**/*.py`, `.github/workflows/*`)
    Files {
        org: String,
        #[arg(required = true, value_name = "GLOB")]
        patterns: Vec<String>,
        /// One JSON array (repository, path, sha, size) instead of lines
        #[arg(long)]
        json: bool,
        /// Repositories read at once
        #[arg(long, value_name = "N", default_value_t = DEFAULT_PARALLEL)]
        parallel: usize,
    },
    /// Export the latest scan's results
    ExportPatterns {
        org: String,
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Write here instead of stdout
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// The org-level codex export (schema/codex.schema.json)
    Codex,
    /// Every repository's extracted patterns, as one JSON array
    Json,
    /// One line per repository with everything extracted from it
    Jsonl,
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    org: String,
    /// Write the codex export here instead of stdout
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Only read target files matching these globs, e.g. "*.toml,*.json,*.yaml"
    #[arg(long, value_name = "GLOBS")]
    files: Option<String>,
    /// Only repositories whose primary language is this
    #[arg(long, value_name = "L")]
    language: Option<String>,
    #[arg(long, value_name = "N")]
    min_stars: Option<u64>,
    /// Only repositories pushed within this long, e.g. 90d
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pushed_within: Option<Duration>,
    #[arg(long, value_name = "N")]
    max_size_kb: Option<u64>,
    #[arg(long)]
    include_forks: bool,
    #[arg(long)]
    include_archived: bool,
    /// Only repositories whose name matches this regular expression
    #[arg(long = "match", value_name = "REGEX")]
    name: Option<String>,
    /// Repositories scanned at once
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PARALLEL)]
    parallel: usize,
}

fn write_output(output: Option<&Path>, text: &str) -> Result<()> {
    match output {
        // A device or a pipe (`/dev/null`, `/dev/stdout`, a FIFO) is written to as it is:
        // renaming over it would replace it.
        Some(path) if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) => {
            std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .with_context(|| format!("cannot write `{}`", path.display()))?;
        }
        Some(path) => {
            // Through a symlink, the file it points to is replaced, not the link.
            let path = match std::fs::symlink_metadata(path) {
                Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path)
                    .with_context(|| format!("cannot write `{}`", path.display()))?,
                _ => path.to_path_buf(),
            };
            // Write beside and rename, so a reader never sees half an export.
            let temp = path.with_extension("tmp-heimdall");
            std::fs::write(&temp, text)
                .with_context(|| format!("cannot write `{}`", temp.display()))?;
            std::fs::rename(&temp, &path)
                .with_context(|| format!("cannot write `{}`", path.display()))?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

/// A progress bar on a terminal, plain log lines otherwise, nothing with `-q`.
fn reporter(org: &str, quiet: bool) -> impl Fn(ScanEvent) + Send + Sync + use<> {
    let tty = std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::hidden();
    let org = org.to_string();
    move |event| match event {
        _ if quiet => {}
        ScanEvent::Started {
            total,
            resumed,
            offline,
        } => {
            if tty {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.set_length(total as u64);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {pos}/{len} {msg}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(org.clone());
            }
            let how = match (resumed, offline) {
                (_, true) => " (offline: from cache)",
                (true, false) => " (resuming an interrupted scan)",
                (false, false) => "",
            };
            if tty {
                bar.println(format!("scanning {total} repositories of {org}{how}"));
            } else {
                eprintln!("scanning {total} repositories of {org}{how}");
            }
        }
        ScanEvent::Repo {
            repo,
            done,
            total,
            cached,
            error,
            requests,
            rate_limit_remaining,
        } => {
            let what = match (&error, cached) {
                (Some(e), _) => format!("failed: {e}"),
                (None, true) => "unchanged (cached)".to_string(),
                (None, false) => "scanned".to_string(),
            };
            let budget = match rate_limit_remaining {
                Some(left) => format!("{requests} requests, {left} left"),
                None => format!("{requests} requests"),
            };
            if tty {
                bar.set_position(done as u64);
                bar.set_message(format!("{repo} ({budget})"));
                if error.is_some() {
                    bar.println(format!("{repo}: {what}"));
                }
                if done == total {
                    bar.finish_and_clear();
                }
            } else {
                eprintln!("[{done}/{total}] {repo}: {what} ({budget})");
            }
        }
    }
}

fn print_summary(status: &ScanStatus) {
    eprintln!(
        "{}: {} of {} repositories scanned, {} failed, {} requests, cache hit rate {:.0}%{}",
        status.organization,
        status.repos_done,
        status.repos_total,
        status.repos_failed,
        status.requests_used,
        status.cache_hit_rate * 100.0,
        if status.offline {
            " (offline: last results from cache)"
        } else {
            ""
        }
    );
    for failed in &status.failed {
        eprintln!("  failed: {}: {}", failed.repo, failed.reason);
    }
}

/// `quiet` (`-q`) leaves out progress and the summary; errors are still reported.
pub async fn run(namespace: Arc<Namespace>, command: GithubCommand, quiet: bool) -> Result<()> {
    let scanner = Scanner::new(Arc::clone(&namespace));
    match command {
        GithubCommand::ScanOrg(args) => {
            let filter = RepoFilter {
                language: args.language,
                min_stars: args.min_stars,
                pushed_within: args.pushed_within,
                max_size_kb: args.max_size_kb,
                include_forks: args.include_forks,
                include_archived: args.include_archived,
                name: args
                    .name
                    .as_deref()
                    .map(regex::Regex::new)
                    .transpose()
                    .context("invalid --match")?,
            };
            let files = args
                .files
                .as_deref()
                .map(FileFilter::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("invalid --files: {e}"))?;
            let options = ScanOptions {
                org: args.org.clone(),
                filter,
                files,
                parallel: args.parallel,
                max_result_age: None,
            };
            let status = scanner
                .scan_organization(&options, &reporter(&args.org, quiet))
                .await?;
            if !quiet {
                print_summary(&status);
            }
            let codex = scanner.export_codex(&args.org, &crate::clock::today())?;
            write_output(
                args.output.as_deref(),
                &(serde_json::to_string_pretty(&codex)? + "\n"),
            )
        }
        GithubCommand::ExtractPatterns {
            org,
            cache_days,
            parallel,
        } => {
            let options = ScanOptions {
                org: org.clone(),
                filter: RepoFilter::default(),
                files: None,
                parallel,
                max_result_age: Some(Duration::from_secs(cache_days * 86400)),
            };
            let status = scanner
                .scan_organization(&options, &reporter(&org, quiet))
                .await?;
            if !quiet {
                print_summary(&status);
            }
            Ok(())
        }
        GithubCommand::ScanStatus { org, json } => {
            let Some(status) = scanner.status(&org)? else {
                bail!("`{org}` has not been scanned yet: run `heimdall github scan-org {org}`");
            };
            if json {
                write_output(None, &(serde_json::to_string_pretty(&status)? + "\n"))
            } else {
                let mut out = std::io::stdout().lock();
                writeln!(out, "organization: {}", status.organization)?;
                writeln!(out, "state:        {} (run {})", status.state, status.run)?;
                writeln!(
                    out,
                    "repositories: {} done, {} failed, {} total",
                    status.repos_done, status.repos_failed, status.repos_total
                )?;
                writeln!(out, "started:      {}", format_epoch(status.started_at))?;
                writeln!(
                    out,
                    "finished:     {}",
                    status
                        .finished_at
                        .map(format_epoch)
                        .unwrap_or_else(|| "-".into())
                )?;
                writeln!(out, "requests:     {}", status.requests_used)?;
                writeln!(out, "cache hits:   {:.0}%", status.cache_hit_rate * 100.0)?;
                if let Some(left) = status.rate_limit_remaining {
                    writeln!(out, "rate limit:   {left} left")?;
                }
                if status.offline {
                    writeln!(out, "offline:      yes (results from cache)")?;
                }
                if let Some(shared) = namespace.shared().map(|s| s.status()) {
                    writeln!(
                        out,
                        "shared cache: {} ({}): {} objects and results from it, {} uploaded by this cache",
                        shared.url, shared.state, shared.stats.hits, shared.stats.uploads
                    )?;
                }
                for failed in &status.failed {
                    writeln!(out, "failed:       {}: {}", failed.repo, failed.reason)?;
                }
                for (repo, files) in &status.parse_errors {
                    writeln!(out, "parse errors: {repo}: {}", files.join(", "))?;
                }
                Ok(())
            }
        }
        GithubCommand::Files {
            org,
            patterns,
            json,
            parallel,
        } => {
            let globs = crate::scan::FileGlobs::parse(&patterns)?;
            let found = scanner.find_files(&org, &globs, parallel).await?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if json {
                let rows: Vec<serde_json::Value> = found
                    .iter()
                    .map(|f| {
                        serde_json::json!({
                            "repository": f.repository,
                            "path": f.path,
                            "sha": f.sha.to_string(),
                            "size": f.content.len(),
                        })
                    })
                    .collect();
                serde_json::to_writer_pretty(&mut out, &rows)?;
                writeln!(out)?;
            } else {
                for f in &found {
                    writeln!(out, "{}/{}", f.repository, f.path)?;
                }
            }
            out.flush()?;
            Ok(())
        }
        GithubCommand::ExportPatterns {
            org,
            format,
            output,
        } => {
            let text = match format {
                ExportFormat::Codex => {
                    serde_json::to_string_pretty(
                        &scanner.export_codex(&org, &crate::clock::today())?,
                    )? + "\n"
                }
                ExportFormat::Json => {
                    serde_json::to_string_pretty(&crate::codex::export_json(
                        &scanner.cached_patterns(&org)?,
                    ))? + "\n"
                }
                ExportFormat::Jsonl => crate::codex::export_jsonl(&scanner.cached_patterns(&org)?),
            };
            write_output(output.as_deref(), &text)
        }
    }
}

fn format_epoch(epoch: i64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + Duration::from_secs(epoch.max(0) as u64),
    )
    .to_string()
}
