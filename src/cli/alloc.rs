//! `allocate`, `allocated list`, `release`, `cleanup` and `daemon`: the CLI side of the
//! daemon protocol. Every command but `daemon status|stop` starts the daemon if needed.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use crate::alloc::Allocation;
use crate::alloc::client::{Client, Launcher};
use crate::alloc::protocol::{self, Request, Response};
use crate::config::Settings;

#[derive(Debug, clap::Args)]
pub struct AllocateArgs {
    /// OWNER/REPO[@REF][/PATH | /GLOB], e.g. acme/api, acme/api@v2/src, 'acme/api/**/*.py'
    resource: String,
    /// How long until it is released [default: by size: <1 MB 1h, <100 MB 12h, else 24h; at most 7d]
    #[arg(long, value_parser = humantime::parse_duration)]
    ttl: Option<Duration>,
    /// Who asks (shown by `allocated list`, selected by `release --all --client`)
    /// [env: HEIMDALL_CLIENT] [default: cli]
    #[arg(long)]
    client: Option<String>,
    /// Fetch everything before returning (one tarball when that is cheaper)
    #[arg(long)]
    hydrate: bool,
    /// No writes: every change fails with EROFS
    #[arg(long, conflicts_with = "keep_changes")]
    read_only: bool,
    /// Keep what was written in the allocation after its release (`heimdall changes`)
    #[arg(long)]
    keep_changes: bool,
    /// Print the allocation as JSON instead of its path
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AllocatedCommand {
    /// PATH, RESOURCE, AGE, TTL, CLIENT, SIZE, and [EXPIRED] past the TTL
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct ReleaseArgs {
    /// The allocation's path
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    path: Option<String>,
    /// Every allocation (of `--client` only, with it)
    #[arg(long)]
    all: bool,
    #[arg(long, requires = "all")]
    client: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct CleanupArgs {
    /// Release the allocations past their TTL
    #[arg(long, required_unless_present = "older_than")]
    expired: bool,
    /// Release the allocations older than this (e.g. 12h)
    #[arg(long, value_parser = humantime::parse_duration)]
    older_than: Option<Duration>,
}

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Whether the daemon runs, its pid, socket and allocations
    Status,
    /// Unmount every allocation and stop (allocations are restored at the next start)
    Stop,
    /// Serve in this process (what the CLI starts on demand)
    #[command(hide = true)]
    Run,
}

/// The daemon for this cache, started as `heimdall -v daemon run` when none runs.
pub fn connect(settings: &Settings, start: bool) -> Result<Client> {
    let launcher = Launcher::this_binary().context("cannot find this program")?;
    Client::connect(settings, launcher, start)
}

fn allocations(response: Response) -> Result<Vec<Allocation>> {
    match response {
        Response::Allocations { allocations } => Ok(allocations),
        other => bail!("unexpected answer from the daemon: {other:?}"),
    }
}

pub(super) fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1}G", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1}M", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1}K", b as f64 / 1024.0),
        b => format!("{b}B"),
    }
}

fn human_secs(secs: i64) -> String {
    humantime::format_duration(Duration::from_secs(secs.max(0) as u64)).to_string()
}

fn print_table(list: &[Allocation]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "PATH\tRESOURCE\tAGE\tTTL\tCLIENT\tSIZE")?;
    for a in list {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}{}",
            a.path,
            a.resource,
            human_secs(a.age_secs),
            human_secs(a.ttl_secs),
            a.client,
            human_bytes(a.bytes),
            if a.expired { "\t[EXPIRED]" } else { "" }
        )?;
    }
    Ok(())
}

pub fn allocate(settings: &Settings, args: AllocateArgs) -> Result<()> {
    let client = connect(settings, true)?;
    let request = Request::Allocate {
        resource: args.resource,
        ttl_secs: args.ttl.map(|t| t.as_secs().max(1)),
        client: args.client.unwrap_or_else(|| settings.client.clone()),
        hydrate: args.hydrate,
        read_only: args.read_only,
        keep_changes: args.keep_changes,
    };
    let Response::Allocated { allocation } = client.call(&request)? else {
        bail!("unexpected answer from the daemon");
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &allocation)?;
        writeln!(out)?;
    } else {
        // The same string `allocated list` and `--json` show, so scripts can match them.
        writeln!(out, "{}", allocation.path)?;
    }
    Ok(())
}

pub fn allocated(settings: &Settings, command: AllocatedCommand) -> Result<()> {
    let AllocatedCommand::List { json } = command;
    let client = connect(settings, true)?;
    let list = allocations(client.call(&Request::List)?)?;
    if json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &list)?;
        writeln!(out)?;
        Ok(())
    } else {
        print_table(&list)
    }
}

pub fn release(settings: &Settings, args: ReleaseArgs) -> Result<()> {
    let client = connect(settings, true)?;
    let request = match args.path {
        Some(path) => Request::Release {
            path: std::path::absolute(&path)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or(path),
        },
        None => Request::ReleaseAll {
            client: args.client,
        },
    };
    for a in allocations(client.call(&request)?)? {
        eprintln!("released {} ({})", a.path, a.resource);
    }
    Ok(())
}

pub fn cleanup(settings: &Settings, args: CleanupArgs) -> Result<()> {
    let client = connect(settings, true)?;
    let request = Request::Cleanup {
        expired: args.expired,
        older_than_secs: args.older_than.map(|d| d.as_secs()),
    };
    let released = allocations(client.call(&request)?)?;
    for a in &released {
        eprintln!(
            "released {} ({}, client {}, age {})",
            a.path,
            a.resource,
            a.client,
            human_secs(a.age_secs)
        );
    }
    eprintln!("{} allocations released", released.len());
    Ok(())
}

/// `daemon status` and `daemon stop` (never start it).
pub fn daemon(settings: &Settings, command: &DaemonCommand) -> Result<()> {
    let client = connect(settings, false)?;
    let not_running = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
        )
    };
    let status = match protocol::call(client.socket(), &Request::Status, Duration::from_secs(30)) {
        Ok(Response::Status(status)) => status,
        Ok(other) => bail!("unexpected answer from the daemon: {other:?}"),
        Err(e) if not_running(&e) => {
            return match command {
                DaemonCommand::Stop => {
                    eprintln!("the daemon is not running");
                    Ok(())
                }
                _ => bail!(
                    "the daemon is not running (it starts with the first `heimdall allocate` or `heimdall mount`)"
                ),
            };
        }
        Err(e) => return Err(e).context("cannot talk to the daemon"),
    };
    match command {
        DaemonCommand::Status => {
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &status)?;
            writeln!(out)?;
            Ok(())
        }
        DaemonCommand::Stop => {
            match protocol::call(client.socket(), &Request::Stop, Duration::from_secs(30)) {
                Ok(_) => {}
                Err(e) if not_running(&e) => {}
                Err(e) => return Err(e).context("cannot talk to the daemon"),
            }
            // Returns once the daemon is gone: everything is unmounted by then.
            let pid = status.pid as i32;
            let started = std::time::Instant::now();
            while unsafe { libc::kill(pid, 0) } == 0 && started.elapsed() < Duration::from_secs(30)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("daemon stopped");
            Ok(())
        }
        DaemonCommand::Run => unreachable!("served by the async runtime"),
    }
}
