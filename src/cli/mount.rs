//! `heimdall mount`: serve in the foreground, or start a background server and return
//! once its mount is ready (or with its error).
//!
//! Background mode re-runs this binary with `HEIMDALL_READY_FD` naming a pipe; the child
//! detaches (new session, stdin closed, log to `<cache>/mount.log`) and writes `ok` or
//! `error: ...` to the pipe once mounting succeeded or failed.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use super::MountArgs;
use crate::config::Settings;
use crate::fs::core::FsOptions;
use crate::fs::{MountOptions, SERVE_POLL};
use crate::namespace::Namespace;

pub const READY_FD_ENV: &str = "HEIMDALL_READY_FD";
/// The fd number the ready pipe gets in the child.
const READY_FD: i32 = 3;

/// Starts `heimdall mount --foreground` detached and waits for it to be ready.
pub fn spawn_background(mountpoint: &Path) -> Result<()> {
    let (mut reader, writer) = std::io::pipe().context("cannot create a pipe")?;
    let exe = std::env::current_exe().context("cannot find the heimdall binary")?;
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    args.push("--foreground".into());
    let log = log_file().context("cannot open the mount log")?;
    let write_fd = writer.as_raw_fd();
    let mut command = Command::new(exe);
    command
        .args(&args)
        .env(READY_FD_ENV, READY_FD.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: between fork and exec only async-signal-safe calls (setsid, dup2) run.
    unsafe {
        command.pre_exec(move || {
            libc::setsid();
            if libc::dup2(write_fd, READY_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().context("cannot start the mount server")?;
    drop(writer);
    drop(command);
    let mut answer = String::new();
    reader
        .read_to_string(&mut answer)
        .context("cannot hear from the mount server")?;
    let answer = answer.trim();
    if answer == "ok" {
        eprintln!(
            "mounted at {} (server pid {})",
            mountpoint.display(),
            child.id()
        );
        return Ok(());
    }
    match answer.strip_prefix("error: ") {
        Some(message) => bail!("{message}"),
        None => bail!("the mount server exited before the mount was ready; see its log"),
    }
}

/// `<cache>/mount.log`, appended, for the background server's stderr.
fn log_file() -> Result<std::fs::File> {
    let settings = Settings::resolve(Default::default(), &crate::config::ProcessEnv)?;
    crate::config::prepare_cache_dir(&settings.cache_dir)?;
    Ok(std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(settings.cache_dir.join("mount.log"))?)
}

/// Tells the waiting parent how mounting went (background mode only).
fn report_ready(result: Result<(), &anyhow::Error>) {
    let Some(fd) = std::env::var(READY_FD_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    else {
        return;
    };
    // SAFETY: the parent passed us this fd for exactly this message; we own it from here.
    let mut pipe = unsafe { std::fs::File::from_raw_fd(fd) };
    let message = match result {
        Ok(()) => "ok\n".to_string(),
        Err(e) => format!("error: {}\n", super::one_line(e)),
    };
    let _ = pipe.write_all(message.as_bytes());
}

/// Mounts and serves until unmounted from outside or interrupted (SIGINT/SIGTERM).
pub async fn serve(namespace: Arc<Namespace>, settings: &Settings, args: MountArgs) -> Result<()> {
    let result = start(namespace, settings, &args);
    let mount = match result {
        Ok(mount) => {
            preload(&mount).await;
            report_ready(Ok(()));
            mount
        }
        Err(e) => {
            report_ready(Err(&e));
            return Err(e);
        }
    };
    if args.allow_other {
        tracing::warn!(
            "--allow-other: every local user can read this mount, including private repositories"
        );
    }
    tracing::info!(mountpoint = %args.mountpoint.display(), "serving");
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
            _ = tokio::time::sleep(SERVE_POLL) => {
                if !mount.is_serving() {
                    tracing::info!("unmounted");
                    return Ok(());
                }
            }
        }
    }
    tracing::info!("signal received; unmounting");
    tokio::task::spawn_blocking(move || mount.unmount())
        .await
        .context("unmount task failed")?
        .context("cannot unmount")?;
    Ok(())
}

fn start(
    namespace: Arc<Namespace>,
    settings: &Settings,
    args: &MountArgs,
) -> Result<crate::fs::Mount> {
    let mountpoint = &args.mountpoint;
    if !mountpoint.is_dir() {
        bail!(
            "cannot mount at `{}`: not a directory",
            mountpoint.display()
        );
    }
    for org in &args.orgs {
        if !crate::namespace::valid_owner(org) {
            bail!("`{org}` is not a valid GitHub owner name");
        }
    }
    let fs = FsOptions {
        owners: args.orgs.clone(),
        ref_ttl: args.ref_ttl,
        hydrate_threshold: args.hydrate_threshold,
        uid: unsafe { libc::getuid() },
        gid: unsafe { libc::getgid() },
        web_url: settings.web_url(),
        view: None,
    };
    let options = MountOptions {
        allow_other: args.allow_other,
        passthrough: args.passthrough,
    };
    Ok(crate::fs::mount(namespace, fs, &options, mountpoint)?)
}

/// Longest the mount waits for the `--org` listings before reporting ready.
const PRELOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn preload(mount: &crate::fs::Mount) {
    if tokio::time::timeout(PRELOAD_TIMEOUT, mount.core.preload_owners())
        .await
        .is_err()
    {
        tracing::warn!("listing the --org owners takes long; continuing in the background");
    }
}
