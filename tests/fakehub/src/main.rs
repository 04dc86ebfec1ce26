//! `fakehub --root DIR`: serves a directory of bare repositories with
//! GitHub's REST API until SIGINT/SIGTERM. `fakehub gen-python ...` and
//! `fakehub gen-blob ...` build repositories for benchmarks, `fakehub gen-org
//! ...` a whole organization with its ground-truth manifest.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "fakehub",
    about = "A GitHub-compatible REST test server over bare git repositories",
    subcommand_negates_reqs = true,
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Gen>,
    /// Directory holding <owner>/<repo>.git bare repositories.
    #[arg(long, required = true)]
    root: Option<PathBuf>,
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Fixed delay before every response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Random extra delay up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Primary rate limit per accepted token, per window.
    #[arg(long, default_value_t = 5000)]
    rate_limit: u32,
    /// Primary rate limit for anonymous requests, per window.
    #[arg(long, default_value_t = 60)]
    anon_rate_limit: u32,
    /// Rate-limit window in seconds.
    #[arg(long, default_value_t = 3600)]
    rate_window_secs: u64,
    /// Answer an exhausted rate limit with 429 instead of 403.
    #[arg(long)]
    rate_limit_429: bool,
    /// Maximum entries in a tree response before "truncated": true.
    #[arg(long, default_value_t = 100_000)]
    truncate_at: usize,
    /// Never gzip responses (by default they are, when the client accepts it).
    #[arg(long)]
    no_gzip: bool,
    /// An accepted token (repeatable).
    #[arg(long = "token")]
    tokens: Vec<String>,
    /// A GitHub App installed on every owner: its id (with --app-public-key).
    #[arg(long, requires = "app_public_key")]
    app_id: Option<String>,
    /// The App's public key (PEM): JWTs signed with its private half are accepted.
    #[arg(long, value_name = "FILE")]
    app_public_key: Option<PathBuf>,
    /// How long installation tokens last.
    #[arg(long, default_value_t = 3600)]
    app_token_ttl_secs: u64,
}

#[derive(Subcommand, Debug)]
enum Gen {
    /// Create <root>/<owner>/<repo>.git holding a generated Python project
    /// (see fakehub::repo::python_project) in one commit; prints a summary.
    #[command(name = "gen-python")]
    Python {
        #[arg(long)]
        root: PathBuf,
        #[arg(long, default_value = "acme")]
        owner: String,
        #[arg(long, default_value = "api")]
        repo: String,
        /// Total number of .py files.
        #[arg(long, default_value_t = 2000)]
        files: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Create <root>/<owner>/<repo>.git holding one file of SIZE
    /// deterministic pseudo-random bytes (suffixes K, M, G: powers of 1024).
    #[command(name = "gen-blob")]
    Blob {
        #[arg(long)]
        root: PathBuf,
        #[arg(long, default_value = "acme")]
        owner: String,
        #[arg(long, default_value = "blobs")]
        repo: String,
        /// Path of the file in the repository.
        #[arg(long, default_value = "data.bin")]
        path: String,
        #[arg(long, value_parser = parse_size)]
        size: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Create <root>/<owner>/ holding a generated organization of REPOS
    /// repositories (see fakehub::org) and its ground-truth manifest
    /// <root>/<owner>/manifest.json; prints a summary and the manifest path.
    #[command(name = "gen-org")]
    Org {
        #[arg(long)]
        root: PathBuf,
        #[arg(long, default_value = "acme")]
        owner: String,
        #[arg(long, default_value_t = 200)]
        repos: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .map(|n| n * mult)
        .map_err(|e| format!("bad size {s:?}: {e}"))
}

fn generate(g: Gen) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match g {
        Gen::Python {
            root,
            owner,
            repo,
            files,
            seed,
        } => {
            let mut r = fakehub::repo::create(&root, &owner, &repo)?;
            let p = fakehub::repo::python_project(&mut r, files, seed);
            let sha = r.commit(&format!("{}: generated Python project", p.project))?;
            let planted: Vec<String> = p.planted.iter().map(|(k, v)| format!("{k}={v}")).collect();
            writeln!(
                out,
                "{owner}/{repo} {sha}: {} .py files ({} modules, {} packages, {} tests, {} lines), package {}, planted ruff findings {} ({})",
                p.py_files,
                p.modules,
                p.packages,
                p.tests,
                p.lines,
                p.package,
                p.findings(),
                planted.join(" ")
            )?;
        }
        Gen::Blob {
            root,
            owner,
            repo,
            path,
            size,
            seed,
        } => {
            let mut r = fakehub::repo::create(&root, &owner, &repo)?;
            r.large_file(&path, size, seed);
            let sha = r.commit(&format!("{path}: {size} bytes"))?;
            writeln!(out, "{owner}/{repo} {sha}: {path} ({size} bytes)")?;
        }
        Gen::Org {
            root,
            owner,
            repos,
            seed,
        } => {
            let t = std::time::Instant::now();
            let m = fakehub::org::generate_org(&root, &owner, repos, seed)?;
            let count = |f: fn(&fakehub::org::RepoManifest) -> bool| {
                m.repos.iter().filter(|r| f(r)).count()
            };
            writeln!(
                out,
                "{owner}: {} repositories ({} empty, {} archived, {} forks, {} private, {} with a malformed file) in {:.1}s",
                m.repos.len(),
                count(|r| r.empty),
                count(|r| r.archived),
                count(|r| r.fork),
                count(|r| r.private),
                count(|r| !r.malformed.is_empty()),
                t.elapsed().as_secs_f64()
            )?;
            writeln!(
                out,
                "manifest: {}",
                fakehub::org::manifest_path(&root, &owner).display()
            )?;
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let a = Args::parse();
    if let Some(g) = a.command {
        return generate(g);
    }
    let Some(root) = a.root else {
        unreachable!("clap requires --root without a subcommand");
    };
    let config = fakehub::Config {
        tokens: a.tokens,
        rate_limit: a.rate_limit,
        anon_rate_limit: a.anon_rate_limit,
        rate_window: Duration::from_secs(a.rate_window_secs),
        rate_limit_status_429: a.rate_limit_429,
        latency: Duration::from_millis(a.latency_ms),
        jitter: Duration::from_millis(a.jitter_ms),
        truncate_threshold: a.truncate_at,
        gzip: !a.no_gzip,
        app: match (a.app_id, a.app_public_key) {
            (Some(id), Some(key)) => Some(fakehub::AppConfig {
                id,
                public_key_pem: std::fs::read_to_string(key)?,
                token_ttl: Duration::from_secs(a.app_token_ttl_secs),
            }),
            _ => None,
        },
    };
    let hub = fakehub::FakeHub::spawn_on(SocketAddr::new(a.bind, a.port), root, config)?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", hub.url())?;
        out.flush()?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        Ok::<(), std::io::Error>(())
    })?;
    drop(hub);
    Ok(())
}
