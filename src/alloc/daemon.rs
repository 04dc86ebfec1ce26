//! The per-user daemon: holds the allocations' FUSE sessions, runs the cleaner, and answers
//! the CLI on a Unix socket in the runtime directory. Its clients start it on demand
//! ([`super::client::ensure_running`]); it logs to `<cache>/daemon.log`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::kind::ErrorKind;
use super::mounts::Mounts;
use super::protocol::{self, DaemonStatus, MAX_LINE, Request, Response};
use super::{AllocateRequest, Allocator};
use crate::config::Settings;
use crate::namespace::{self, Namespace};

/// Binds the socket, or returns `None` when another daemon already answers on it.
fn bind(socket: &Path) -> std::io::Result<Option<UnixListener>> {
    if std::os::unix::net::UnixStream::connect(socket).is_ok() {
        return Ok(None);
    }
    // Nobody answers: a socket file left by a daemon that died.
    let _ = std::fs::remove_file(socket);
    match UnixListener::bind(socket) {
        Ok(listener) => Ok(Some(listener)),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Ok(None),
        Err(e) => Err(e),
    }
}

/// A daemon with nothing mounted exits after this long, so none lingers unused.
const IDLE_EXIT: Duration = Duration::from_secs(3);

/// What request handlers share.
struct State {
    allocator: Arc<Allocator>,
    mounts: Arc<Mounts>,
    status: DaemonStatus,
    stop: tokio::sync::Notify,
    /// Requests being answered: the daemon never exits under one.
    in_flight: std::sync::atomic::AtomicUsize,
}

/// Runs the daemon until `daemon stop`, SIGINT, SIGTERM, or until it has had nothing
/// mounted for [`IDLE_EXIT`].
pub async fn run(ns: Arc<Namespace>, settings: &Settings) -> anyhow::Result<()> {
    use std::sync::atomic::Ordering;
    let runtime = protocol::prepare_runtime_dir(&settings.runtime_dir)?;
    let socket = protocol::socket_path(&runtime, ns.store().root());
    let Some(listener) = bind(&socket)? else {
        tracing::info!(socket = %socket.display(), "another daemon is running");
        return Ok(());
    };
    let root = settings.alloc_root.clone();
    std::fs::create_dir_all(&root)?;
    let web_url = settings.web_url();
    let allocator = Arc::new(Allocator::new(
        Arc::clone(&ns),
        root.clone(),
        web_url.clone(),
    ));
    let mounts = Arc::new(Mounts::new(Arc::clone(&ns), web_url));
    let budget = settings
        .cache_max_size
        .unwrap_or_else(|| crate::store::maintain::default_budget(ns.store().root()));
    ns.store().set_budget(budget, allocator.pin_check())?;
    tracing::info!(bytes = budget, "cache budget");
    let (restored, lost) = allocator.restore().await?;
    mounts.restore().await;
    tracing::info!(socket = %socket.display(), restored, lost, pid = std::process::id(), "daemon listening");
    let state = Arc::new(State {
        allocator: Arc::clone(&allocator),
        mounts: Arc::clone(&mounts),
        status: DaemonStatus {
            pid: std::process::id(),
            started_at: crate::clock::now(),
            socket: socket.clone(),
            cache_dir: ns.store().root().to_path_buf(),
            api_url: settings.api_url.to_string(),
            alloc_root: root,
            allocations: 0,
            mounts: Vec::new(),
        },
        stop: tokio::sync::Notify::new(),
        in_flight: std::sync::atomic::AtomicUsize::new(0),
    });
    let cleaner = {
        let allocator = Arc::clone(&allocator);
        let interval = settings.clean_interval;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = allocator.clean().await {
                    tracing::warn!(error = %e, "cleaner pass failed");
                }
            }
        })
    };
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut idle_since = std::time::Instant::now();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                state.in_flight.fetch_add(1, Ordering::SeqCst);
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, &state).await {
                        tracing::debug!(error = %e, "client connection ended");
                    }
                    state.in_flight.fetch_sub(1, Ordering::SeqCst);
                });
            }
            _ = tokio::time::sleep(crate::fs::SERVE_POLL) => {
                mounts.reap();
                let busy = !mounts.is_empty()
                    || allocator.mounted() > 0
                    || state.in_flight.load(Ordering::SeqCst) > 0;
                if busy {
                    idle_since = std::time::Instant::now();
                } else if idle_since.elapsed() >= IDLE_EXIT {
                    tracing::info!("nothing mounted: the daemon exits");
                    break;
                }
            }
            _ = state.stop.notified() => break,
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        }
    }
    cleaner.abort();
    // No new client reaches a daemon on its way out.
    let _ = std::fs::remove_file(&socket);
    drop(listener);
    tracing::info!("daemon stopping: unmounting (allocations are restored at the next start)");
    let (unmounting, main) = (Arc::clone(&allocator), Arc::clone(&mounts));
    tokio::task::spawn_blocking(move || {
        main.unmount_all();
        unmounting.unmount_all();
    })
    .await?;
    // What the mounts fetched goes to the shared cache before the daemon is gone.
    if let Some(shared) = ns.shared() {
        shared.flush(SHARED_FLUSH).await;
    }
    Ok(())
}

/// How long a stopping daemon waits for its shared cache uploads.
const SHARED_FLUSH: std::time::Duration = std::time::Duration::from_secs(60);

async fn serve(stream: UnixStream, state: &State) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read.take(MAX_LINE));
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let response = match serde_json::from_str::<Request>(&line) {
        Err(e) => Response::Error {
            message: format!("bad request: {e}"),
            kind: ErrorKind::Other,
        },
        Ok(Request::Stop) => {
            state.stop.notify_one();
            Response::Stopping
        }
        Ok(Request::Status) => {
            let mut status = state.status.clone();
            status.allocations = state.allocator.list().map(|l| l.len()).unwrap_or(0);
            status.mounts = state.mounts.paths();
            Response::Status(status)
        }
        Ok(Request::Mount(request)) => match state.mounts.mount(&request).await {
            Ok(()) => Response::Mounted {
                mountpoint: request.mountpoint,
                pid: std::process::id(),
            },
            Err(message) => Response::Error {
                message,
                kind: ErrorKind::Other,
            },
        },
        Ok(Request::Unmount { mountpoint }) => {
            let (mounts, path) = (Arc::clone(&state.mounts), mountpoint.clone());
            let served = tokio::task::spawn_blocking(move || mounts.unmount(&path))
                .await
                .unwrap_or(false);
            Response::Unmounted { served }
        }
        Ok(Request::ResetChanges { path }) => Response::Reset {
            served: state.mounts.reset_changes(&path) || state.allocator.reset_changes(&path),
        },
        Ok(Request::RefPushed {
            owner,
            repo,
            reference,
        }) => {
            if namespace::valid_owner(&owner)
                && namespace::valid_repo(&repo)
                && namespace::valid_ref(&reference)
            {
                let roots = state.mounts.ref_pushed(&owner, &repo, &reference).await;
                tracing::info!(%owner, %repo, %reference, roots, "push announced");
                Response::Refreshed { roots }
            } else {
                Response::Error {
                    message: format!("`{owner}/{repo}@{reference}` is not a valid ref"),
                    kind: ErrorKind::InvalidPath,
                }
            }
        }
        Ok(request) => handle(&state.allocator, request).await,
    };
    let mut out = serde_json::to_vec(&response).map_err(std::io::Error::other)?;
    out.push(b'\n');
    write.write_all(&out).await?;
    write.shutdown().await
}

async fn handle(allocator: &Allocator, request: Request) -> Response {
    let result = match request {
        Request::Allocate {
            resource,
            ttl_secs,
            client,
            hydrate,
            read_only,
            keep_changes,
        } => allocator
            .allocate(&AllocateRequest {
                resource,
                ttl: ttl_secs.map(Duration::from_secs),
                client,
                hydrate,
                read_only,
                keep_changes,
            })
            .await
            .map(|allocation| Response::Allocated { allocation }),
        Request::List => allocator
            .list()
            .map(|allocations| Response::Allocations { allocations }),
        Request::Release { path } => {
            allocator
                .release(&path)
                .await
                .map(|a| Response::Allocations {
                    allocations: vec![a],
                })
        }
        Request::ReleaseAll { client } => allocator
            .release_all(client.as_deref())
            .await
            .map(|allocations| Response::Allocations { allocations }),
        Request::Cleanup {
            expired,
            older_than_secs,
        } => allocator
            .cleanup(expired, older_than_secs.map(Duration::from_secs))
            .await
            .map(|allocations| Response::Allocations { allocations }),
        Request::Status
        | Request::Stop
        | Request::Mount(_)
        | Request::Unmount { .. }
        | Request::ResetChanges { .. }
        | Request::RefPushed { .. } => {
            unreachable!("answered by serve")
        }
    };
    result.unwrap_or_else(|e| Response::Error {
        message: crate::logging::error_chain(&e),
        kind: ErrorKind::of(&e),
    })
}
