//! `heimdall mount`: serve in this process (`--foreground`), or have the daemon for the
//! cache (started if needed, logging to `<cache>/daemon.log`) serve it and return once
//! the mount is ready (or with its error).

use std::sync::Arc;

use anyhow::{Context, Result, bail};

use super::MountArgs;
use crate::alloc::protocol::{MountRequest, Request, Response};
use crate::config::Settings;
use crate::fs::core::FsOptions;
use crate::fs::{MountOptions, SERVE_POLL};
use crate::namespace::Namespace;

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
    let client = super::alloc::Client::connect(settings, true)?;
    let request = Request::Mount(MountRequest {
        mountpoint: mountpoint.to_string_lossy().into_owned(),
        orgs: args.orgs.clone(),
        ref_ttl_secs: args.ref_ttl.as_secs(),
        hydrate_threshold: args.hydrate_threshold,
        allow_other: args.allow_other,
        passthrough: args.passthrough,
    });
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
    let mount = start(namespace, settings, &args)?;
    preload(&mount).await;
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
