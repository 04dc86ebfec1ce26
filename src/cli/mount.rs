//! `heimdall mount`: serve in this process (`--foreground`), or have the daemon for the
//! cache (started if needed, logging to `<cache>/daemon.log`) serve it and return once
//! the mount is ready (or with its error).

use std::sync::Arc;

use anyhow::{Context, Result, bail};

use super::MountArgs;
use crate::alloc::protocol::{MountRequest, Request, Response};
use crate::config::Settings;
use crate::fs::SERVE_POLL;
use crate::namespace::Namespace;

/// What `heimdall mount` asks for, served by the daemon or in this process.
fn request(args: &MountArgs, mountpoint: &std::path::Path) -> MountRequest {
    // The canonical path names the mount's working copies.
    let mountpoint = std::fs::canonicalize(mountpoint).unwrap_or_else(|_| mountpoint.to_path_buf());
    MountRequest {
        mountpoint: mountpoint.to_string_lossy().into_owned(),
        read_only: args.read_only,
        orgs: args.orgs.clone(),
        ref_ttl_secs: args.ref_ttl.as_secs_f64(),
        hydrate_threshold: args.hydrate_threshold,
        allow_other: args.allow_other,
        passthrough: args.passthrough,
    }
}

/// Asks the daemon for this cache (started if needed) to mount and serve; returns once
/// the mount is ready, or with the daemon's error.
pub fn via_daemon(settings: &Settings, args: &MountArgs) -> Result<()> {
    let mountpoint = std::path::absolute(&args.mountpoint)
        .with_context(|| format!("cannot resolve `{}`", args.mountpoint.display()))?;
    if !mountpoint.is_dir() {
        bail!(
            "cannot mount at `{}`: not a directory",
            mountpoint.display()
        );
    }
    let client = super::alloc::connect(settings, true)?;
    let request = Request::Mount(request(args, &mountpoint));
    match client.call(&request)? {
        Response::Mounted { mountpoint, pid } => {
            if args.allow_other {
                eprintln!(
                    "warning: --allow-other: every local user can read this mount, including private repositories"
                );
            }
            eprintln!("mounted at {mountpoint} (server pid {pid})");
            Ok(())
        }
        other => bail!("unexpected answer from the daemon: {other:?}"),
    }
}

/// Mounts and serves until unmounted from outside or interrupted (SIGINT/SIGTERM).
pub async fn serve(namespace: Arc<Namespace>, settings: &Settings, args: MountArgs) -> Result<()> {
    let options = request(&args, &args.mountpoint).options(settings.web_url(), &settings.cache_dir);
    let mount = crate::fs::mount(namespace, options, &args.mountpoint).await?;
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

/// `heimdall unmount`: the daemon unmounts a mount it serves (and forgets it at once);
/// anything else (a `--foreground` mount, one left by a dead daemon) is unmounted with
/// fusermount.
pub fn unmount(settings: &Settings, mountpoint: &std::path::Path) -> Result<()> {
    let path = std::fs::canonicalize(mountpoint).unwrap_or_else(|_| mountpoint.to_path_buf());
    if let Ok(client) = super::alloc::connect(settings, false)
        && let Ok(Response::Unmounted { served: true }) = client.call_running(&Request::Unmount {
            mountpoint: path.to_string_lossy().into_owned(),
        })
    {
        return Ok(());
    }
    Ok(crate::fs::unmount(mountpoint)?)
}
