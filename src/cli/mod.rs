//! The command line: what the user typed (clap structs), turned once into [`Settings`],
//! then one function per command. `main` maps every error to one line and exit code 1;
//! a closed stdout (`heimdall cat ... | head`) is not an error.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser, Subcommand};
use serde::Serialize;

use crate::config::{ProcessEnv, Settings, SettingsInput};
use crate::namespace::{self, BLOB_HITS, BLOB_MISSES, Namespace, NamespaceError, RepoSpec};
use crate::remote::{Mode, TreeEntry};
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "heimdall",
    version,
    about = "GitHub as a lazy filesystem whose repositories are local working copies"
)]
pub struct Cli {
    /// GitHub API base URL [env: HEIMDALL_API_URL] [default: https://api.github.com]
    #[arg(long, global = true, value_name = "URL")]
    api_url: Option<String>,
    /// Cache directory [env: HEIMDALL_CACHE_DIR] [default: $XDG_CACHE_HOME/heimdall]
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Most requests to GitHub at once [default: 16]
    #[arg(long, global = true, value_name = "N")]
    concurrency: Option<usize>,
    /// Cache budget: what the daemon holds and `cache gc` enforces, like 10G
    /// [env: HEIMDALL_CACHE_MAX_SIZE] [default: 10% of the disk, at most 20G]
    #[arg(long, global = true, value_name = "SIZE", value_parser = crate::config::parse_size)]
    cache_max_size: Option<u64>,
    /// How content comes: git's protocol where GitHub serves it, else REST (auto), git
    /// only, or REST only [env: HEIMDALL_TRANSPORT] [default: auto]
    #[arg(long, global = true, value_name = "auto|git|rest")]
    transport: Option<crate::config::Transport>,
    /// Where GitHub serves git [env: HEIMDALL_GIT_URL] [default: from the API URL:
    /// api.github.com -> github.com, HOST/api/v3 -> HOST]
    #[arg(long, global = true, value_name = "URL")]
    git_url: Option<String>,
    /// A cache many machines share, read before GitHub and filled after it:
    /// s3://bucket/prefix, gs://, az://, http(s)://, file:///path [env: HEIMDALL_SHARED_CACHE]
    #[arg(long, global = true, value_name = "URL")]
    shared_cache: Option<String>,
    /// Upload content of private repositories to the shared cache too (anyone who can
    /// read the bucket can read it) [env: HEIMDALL_SHARED_CACHE_PRIVATE=1]
    #[arg(long, global = true)]
    shared_cache_private: bool,
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors in the log
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// The global options and the environment, resolved.
    fn settings(&self) -> Result<Settings> {
        let input = SettingsInput {
            api_url: self.api_url.clone(),
            cache_dir: self.cache_dir.clone(),
            concurrency: self.concurrency,
            cache_max_size: self.cache_max_size,
            transport: self.transport,
            git_url: self.git_url.clone(),
            shared_cache: self.shared_cache.clone(),
            shared_cache_private: self.shared_cache_private,
        };
        Ok(Settings::resolve(input, &ProcessEnv)?)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List an organization's or user's repositories
    Repos {
        owner: String,
        /// One JSON array instead of a table
        #[arg(long)]
        json: bool,
    },
    /// List a tree: mode, type, sha, size and path, like `git ls-tree -l`
    Tree {
        /// OWNER/REPO[@REF] (write a `/` in REF as %2F)
        repo: String,
        /// A directory in the repository (default: the root)
        path: Option<String>,
        /// Recurse into subdirectories
        #[arg(short, long)]
        recursive: bool,
    },
    /// Print a file, through the cache
    Cat {
        /// OWNER/REPO[@REF]/PATH
        target: String,
    },
    /// Mount GitHub at MOUNTPOINT: /<owner>/<repo>[@<ref>]/<path>
    Mount(MountArgs),
    /// Unmount a Heimdall mount
    Unmount { mountpoint: PathBuf },
    /// Organization scans: tools, dependencies and conventions across repositories
    Github {
        #[command(subcommand)]
        command: github::GithubCommand,
    },
    /// The local cache
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
    /// Mount one resource (a repo, a path or a glob) for a while; prints its path
    Allocate(alloc::AllocateArgs),
    /// The live allocations
    Allocated {
        #[command(subcommand)]
        command: alloc::AllocatedCommand,
    },
    /// Give an allocation back (unmount it)
    Release(alloc::ReleaseArgs),
    /// Release allocations in bulk
    Cleanup(alloc::CleanupArgs),
    /// The per-user daemon that holds the allocations
    Daemon {
        #[command(subcommand)]
        command: alloc::DaemonCommand,
    },
    /// Receive GitHub push webhooks: mounts show a pushed branch at once
    Webhook(webhook::WebhookArgs),
    /// Local changes of working copies (mounted repositories and allocations)
    Changes {
        #[command(subcommand)]
        command: changes::ChangesCommand,
    },
    /// Shell completions, e.g. `heimdall completions bash > /etc/bash_completion.d/heimdall`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The man page (roff), e.g. `heimdall man > ~/.local/share/man/man1/heimdall.1`
    Man,
}

#[derive(Debug, clap::Args)]
struct MountArgs {
    mountpoint: PathBuf,
    /// Owners listed at the root (any other is looked up by name)
    #[arg(long = "org", value_name = "OWNER")]
    orgs: Vec<String>,
    /// Serve in this process until unmounted or interrupted
    #[arg(long)]
    foreground: bool,
    /// How long a branch is trusted before it is polled again
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    ref_ttl: std::time::Duration,
    /// Let other users read the mount (they will see private content this token can read)
    #[arg(long)]
    allow_other: bool,
    /// Blob misses in a short window after which a repo is fetched whole as a tarball (0: never)
    #[arg(long, value_name = "N", default_value_t = 64)]
    hydrate_threshold: usize,
    /// Open files with FUSE passthrough (Linux 6.9+): the kernel reads cached blobs from
    /// the store directly and keeps one copy in memory, but every open is a round trip to
    /// heimdall; without it, opens cost nothing and files are served from the page cache
    #[arg(long)]
    passthrough: bool,
    /// No working copies: every write fails with EROFS (repository roots follow their
    /// refs whatever happens)
    #[arg(long)]
    read_only: bool,
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Objects, bytes and hit/miss counts
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Re-hash every stored object; remove (and report) those that are corrupt
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Evict the least recently read objects until the cache fits in a size
    Gc {
        /// Budget, like 512M or 10G [default: --cache-max-size, else 10% of the disk, at most 20G]
        #[arg(long, value_name = "SIZE", value_parser = crate::config::parse_size)]
        max_size: Option<u64>,
        #[arg(long)]
        json: bool,
    },
}

/// Entry point of the `heimdall` binary.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let subcommands: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    let args = match fstab::rewrite(&args, &subcommands) {
        None => args,
        Some(Ok(args)) => args,
        Some(Err(error)) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let cli = Cli::parse_from(args);
    crate::logging::init(cli.verbose, cli.quiet);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line, without repeating a cause already quoted.
fn one_line(error: &anyhow::Error) -> String {
    crate::logging::error_chain(error.as_ref())
}

mod alloc;
mod changes;
mod fstab;
mod github;
mod mount;
mod webhook;

/// What every command needs: settings, the store, the client and the namespace.
struct App {
    settings: Settings,
    namespace: Arc<Namespace>,
}

impl App {
    fn new(cli: &Cli) -> Result<App> {
        let ref_ttl = match &cli.command {
            Command::Mount(args) => args.ref_ttl,
            // A scan wants today's commits: it polls every ref (free 304s when unchanged).
            Command::Github { .. } => std::time::Duration::ZERO,
            _ => namespace::DEFAULT_REF_TTL,
        };
        let settings = cli.settings()?;
        match settings.token_source {
            Some(source) => tracing::debug!(%source, "using a GitHub token"),
            None => tracing::warn!(
                "no GitHub token found (GITHUB_TOKEN, GH_TOKEN or gh's hosts.yml): \
                 unauthenticated requests are limited to 60 per hour on github.com"
            ),
        }
        let namespace = Namespace::open(&settings, ref_ttl)?;
        Ok(App {
            settings,
            namespace: Arc::new(namespace),
        })
    }

    fn store(&self) -> &Store {
        self.namespace.store()
    }
}

fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Completions { shell } => {
            // Into memory first: the generator panics on a closed stdout (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "heimdall", &mut script);
            let mut out = io::stdout().lock();
            out.write_all(&script)?;
            return Ok(out.flush()?);
        }
        Command::Man => {
            let mut out = io::stdout().lock();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            return Ok(out.flush()?);
        }
        _ => {}
    }
    if let Command::Mount(args) = &cli.command
        && !args.foreground
    {
        return mount::via_daemon(&cli.settings()?, args);
    }
    if let Command::Unmount { mountpoint } = &cli.command {
        return mount::unmount(&cli.settings()?, mountpoint);
    }
    // The daemon's clients need only the settings (what the daemon they start serves).
    let client_command = matches!(
        cli.command,
        Command::Allocate(_)
            | Command::Allocated { .. }
            | Command::Release(_)
            | Command::Cleanup(_)
            | Command::Daemon {
                command: alloc::DaemonCommand::Status | alloc::DaemonCommand::Stop
            }
    );
    if client_command {
        let settings = cli.settings()?;
        return match cli.command {
            Command::Allocate(args) => alloc::allocate(&settings, args),
            Command::Allocated { command } => alloc::allocated(&settings, command),
            Command::Release(args) => alloc::release(&settings, args),
            Command::Cleanup(args) => alloc::cleanup(&settings, args),
            Command::Daemon { command } => alloc::daemon(&settings, &command),
            _ => unreachable!("matched above"),
        };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let app = App::new(&cli)?;
        tracing::debug!(api = %app.settings.api_url, cache = %app.settings.cache_dir.display(), "settings");
        // What was fetched goes to the shared cache before the command exits.
        let shared = app.namespace.shared().cloned();
        let result = match cli.command {
            Command::Repos { owner, json } => repos(&app, &owner, json).await,
            Command::Tree { repo, path, recursive } => tree(&app, &repo, path.as_deref(), recursive).await,
            Command::Cat { target } => cat(&app, &target).await,
            Command::Mount(args) => mount::serve(app.namespace, &app.settings, args).await,
            Command::Github { command } => github::run(app.namespace, command, cli.quiet).await,
            Command::Webhook(args) => webhook::run(app.namespace, &app.settings, args).await,
            Command::Changes { command } => changes::run(Arc::clone(&app.namespace), &app.settings, command).await,
            Command::Daemon {
                command: alloc::DaemonCommand::Run,
            } => {
                crate::alloc::daemon::run(app.namespace, &app.settings).await
            }
            Command::Unmount { .. }
            | Command::Allocate(_)
            | Command::Allocated { .. }
            | Command::Release(_)
            | Command::Cleanup(_)
            | Command::Daemon { .. }
            | Command::Completions { .. }
            | Command::Man => unreachable!("handled before the runtime starts"),
            Command::Cache {
                command: CacheCommand::Stats { json },
            } => cache_stats(&app, json),
            Command::Cache {
                command: CacheCommand::Verify { json },
            } => cache_verify(&app, json),
            Command::Cache {
                command: CacheCommand::Gc { max_size, json },
            } => cache_gc(&app, max_size, json),
        };
        if let Some(shared) = shared {
            shared.flush(SHARED_FLUSH).await;
        }
        result
    })
}

/// How long a command (or a stopping daemon) waits for its shared cache uploads.
const SHARED_FLUSH: std::time::Duration = std::time::Duration::from_secs(60);

async fn repos(app: &App, login: &str, json: bool) -> Result<()> {
    let owner = app.namespace.owner(login).await?;
    let repos = app
        .namespace
        .client()
        .list_repos(&owner)
        .await
        .with_context(|| format!("cannot list the repositories of `{login}`"))?;
    app.store().index().put_repos(login, &repos)?;
    let mut out = io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &repos)?;
        writeln!(out)?;
        return Ok(());
    }
    let width = repos.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    writeln!(
        out,
        "{:width$}  {:<14} {:>6}  {:<12} {:<20} FLAGS",
        "NAME", "BRANCH", "STARS", "LANGUAGE", "PUSHED"
    )?;
    for repo in &repos {
        let mut flags = Vec::new();
        if repo.private {
            flags.push("private");
        }
        if repo.fork {
            flags.push("fork");
        }
        if repo.archived {
            flags.push("archived");
        }
        writeln!(
            out,
            "{:width$}  {:<14} {:>6}  {:<12} {:<20} {}",
            repo.name,
            repo.default_branch.as_deref().unwrap_or("-"),
            repo.stargazers_count,
            repo.language.as_deref().unwrap_or("-"),
            repo.pushed_at.as_deref().unwrap_or("-"),
            flags.join(",")
        )?;
    }
    Ok(())
}

fn print_entry(out: &mut impl Write, entry: &TreeEntry, path: &str) -> io::Result<()> {
    let size = if entry.mode.is_blob() {
        entry.size.to_string()
    } else {
        "-".to_string()
    };
    writeln!(
        out,
        "{} {} {} {:>7}\t{}",
        entry.mode.as_git(),
        entry.mode.object_type(),
        entry.sha,
        size,
        path
    )
}

async fn tree(app: &App, repo: &str, path: Option<&str>, recursive: bool) -> Result<()> {
    let spec = RepoSpec::parse(repo)?;
    let path = namespace::split_path(path.unwrap_or(""))?;
    let commit = app
        .namespace
        .resolve(&spec)
        .await
        .with_context(|| format!("cannot resolve `{spec}`"))?;
    let ns = &app.namespace;
    let start = match ns.lookup(&spec, commit.tree, &path).await? {
        None => commit.tree,
        Some(entry) if entry.mode == Mode::Tree => entry.sha,
        Some(entry) => {
            let mut out = io::stdout().lock();
            print_entry(&mut out, &entry, &path.join("/"))?;
            return Ok(());
        }
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    // Depth-first, in name order, like `git ls-tree -r` prints trees when asked with -t.
    let mut stack = vec![(start, path.join("/"))];
    while let Some((sha, prefix)) = stack.pop() {
        let tree = ns.tree(&spec, sha).await?;
        let mut subtrees = Vec::new();
        for entry in &tree.entries {
            let full = if prefix.is_empty() {
                entry.name.clone()
            } else {
                format!("{prefix}/{}", entry.name)
            };
            print_entry(&mut out, entry, &full)?;
            if recursive && entry.mode == Mode::Tree {
                subtrees.push((entry.sha, full));
            }
        }
        stack.extend(subtrees.into_iter().rev());
    }
    out.flush()?;
    Ok(())
}

async fn cat(app: &App, target: &str) -> Result<()> {
    let (spec, path) = namespace::parse_target(target)?;
    if path.is_empty() {
        bail!("`{target}` names no file: use OWNER/REPO[@REF]/PATH");
    }
    let ns = &app.namespace;
    let commit = ns
        .resolve(&spec)
        .await
        .with_context(|| format!("cannot resolve `{spec}`"))?;
    let entry = ns
        .lookup(&spec, commit.tree, &path)
        .await?
        .expect("a non-empty path yields an entry");
    if !entry.mode.is_blob() {
        return Err(NamespaceError::NotAFile {
            repo: spec.to_string(),
            path: path.join("/"),
        }
        .into());
    }
    let stored = ns
        .blob(&spec, &entry)
        .await
        .with_context(|| format!("cannot fetch `{}` from {spec}", path.join("/")))?;
    let mut out = io::stdout().lock();
    io::copy(&mut stored.reader(), &mut out)?;
    out.flush()?;
    Ok(())
}

#[derive(Debug, Serialize)]
struct CacheStats {
    cache_dir: PathBuf,
    objects: u64,
    bytes: u64,
    hits: u64,
    misses: u64,
    hit_rate: f64,
    /// Packs fetched over git (their blobs are counted in `objects`, their bytes in
    /// `bytes`).
    packs: u64,
    pack_bytes: u64,
    /// Working copies with local changes, and the bytes their layers keep (never
    /// evicted: they are not cache).
    changes: u64,
    changes_bytes: u64,
    /// What the shared cache served and took (when one is configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    shared: Option<crate::shared::SharedStats>,
}

fn cache_verify(app: &App, json: bool) -> Result<()> {
    let report = app.store().verify()?;
    let damaged = || {
        anyhow::anyhow!(
            "the index is damaged ({}): move `{}` aside, and `heimdall cache verify` rebuilds it from the objects",
            report.index,
            app.store().root().join(crate::store::INDEX_FILE).display()
        )
    };
    let mut out = io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return if report.index == "ok" {
            Ok(())
        } else {
            Err(damaged())
        };
    }
    writeln!(
        out,
        "verified {} objects ({} bytes); {} corrupt; index: {}",
        report.verified,
        report.bytes,
        report.corrupt.len(),
        report.index
    )?;
    for bad in &report.corrupt {
        writeln!(out, "  removed {}: {}", bad.sha, bad.why)?;
    }
    writeln!(
        out,
        "verified {} packs ({} objects); {} corrupt",
        report.packs,
        report.pack_objects,
        report.corrupt_packs.len()
    )?;
    for bad in &report.corrupt_packs {
        writeln!(out, "  removed pack {bad}")?;
    }
    if report.missing_rows + report.unindexed > 0 {
        writeln!(
            out,
            "index: {} rows without an object dropped, {} objects without a row recorded",
            report.missing_rows, report.unindexed
        )?;
    }
    for path in &report.foreign {
        writeln!(out, "  not an object (left alone): {}", path.display())?;
    }
    if report.index != "ok" {
        return Err(damaged());
    }
    Ok(())
}

fn cache_gc(app: &App, max_size: Option<u64>, json: bool) -> Result<()> {
    let max = max_size
        .or(app.settings.cache_max_size)
        .unwrap_or_else(|| crate::store::maintain::default_budget(app.store().root()));
    // Nothing is pinned from here: an object evicted under a live mount stays readable
    // through the files already open on it and is fetched again when next needed.
    let report = app.store().gc(max, &|_| false)?;
    let mut out = io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "cache: {} bytes, budget {}: evicted {} objects ({} bytes), now {} bytes",
            report.before_bytes,
            report.max_bytes,
            report.evicted,
            report.evicted_bytes,
            report.after_bytes
        )?;
    }
    Ok(())
}

fn cache_stats(app: &App, json: bool) -> Result<()> {
    let index = app.store().index();
    let (loose, loose_bytes) = index.blob_totals()?;
    let (packs, pack_bytes) = index.pack_totals()?;
    let (objects, bytes) = (loose + index.packed_blobs()?, loose_bytes + pack_bytes);
    let hits = index.counter(BLOB_HITS)?;
    let misses = index.counter(BLOB_MISSES)?;
    let lookups = hits + misses;
    let stats = CacheStats {
        cache_dir: app.store().root().to_path_buf(),
        objects,
        bytes,
        hits,
        misses,
        hit_rate: if lookups == 0 {
            0.0
        } else {
            hits as f64 / lookups as f64
        },
        packs,
        pack_bytes,
        changes: 0,
        changes_bytes: 0,
        shared: app
            .settings
            .shared_cache
            .as_ref()
            .map(|_| crate::shared::SharedStats::from_index(index)),
    };
    let mut stats = stats;
    if let Ok(dirs) = std::fs::read_dir(app.store().root().join(crate::fs::CHANGES_DIR)) {
        for dir in dirs.flatten() {
            if !dir.file_name().to_string_lossy().starts_with('.') {
                stats.changes += 1;
                stats.changes_bytes += crate::changes::dir_bytes(&dir.path());
            }
        }
    }
    let mut out = io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &stats)?;
        writeln!(out)?;
    } else {
        writeln!(out, "cache:    {}", stats.cache_dir.display())?;
        writeln!(out, "objects:  {}", stats.objects)?;
        writeln!(out, "bytes:    {}", stats.bytes)?;
        writeln!(
            out,
            "packs:    {} ({} bytes)",
            stats.packs, stats.pack_bytes
        )?;
        writeln!(out, "hits:     {}", stats.hits)?;
        writeln!(out, "misses:   {}", stats.misses)?;
        writeln!(out, "hit rate: {:.1}%", stats.hit_rate * 100.0)?;
        writeln!(
            out,
            "changes:  {} working copies, {} bytes (not cache: never evicted)",
            stats.changes, stats.changes_bytes
        )?;
        if let (Some(shared), Some(config)) = (&stats.shared, &app.settings.shared_cache) {
            writeln!(out, "shared:   {}", config.url)?;
            writeln!(
                out,
                "  from it: {} hits ({} bytes), {} misses; to it: {} uploads ({} bytes); {} errors, {} bad objects, {} uploads dropped",
                shared.hits,
                shared.download_bytes,
                shared.misses,
                shared.uploads,
                shared.upload_bytes,
                shared.errors,
                shared.corrupt,
                shared.dropped
            )?;
        }
    }
    Ok(())
}
