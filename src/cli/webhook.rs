//! `heimdall webhook`: receive GitHub's push webhooks and make mounts show pushed refs at
//! once. A verified push marks the ref for a poll in the cache's index (so any later
//! resolution polls GitHub) and tells the daemon for the cache, if one runs, whose mounts
//! re-resolve it now.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::alloc::protocol::{self, Request, Response};
use crate::config::Settings;
use crate::namespace::Namespace;
use crate::webhook::{Push, PushSink, Receiver};

#[derive(Debug, clap::Args)]
pub struct WebhookArgs {
    /// Address to listen on, like 127.0.0.1:8080 (port 0 picks one; the address is printed)
    #[arg(long, value_name = "ADDR")]
    listen: std::net::SocketAddr,
    /// File holding the webhook's secret (the one set on GitHub)
    #[arg(long, value_name = "FILE")]
    secret_file: PathBuf,
    /// Largest delivery accepted, like 5M
    #[arg(long, value_name = "SIZE", value_parser = crate::config::parse_size)]
    max_body: Option<u64>,
}

/// Where pushes go: the index, then the daemon's mounts.
struct Forward {
    ns: Arc<Namespace>,
    socket: PathBuf,
}

#[async_trait::async_trait]
impl PushSink for Forward {
    async fn pushed(&self, push: &Push) -> Result<usize, String> {
        self.ns
            .expire_ref(&push.owner, &push.repo, &push.reference)
            .map_err(|e| format!("cannot update the index: {e}"))?;
        let request = Request::RefPushed {
            owner: push.owner.clone(),
            repo: push.repo.clone(),
            reference: push.reference.clone(),
        };
        let socket = self.socket.clone();
        let answer = tokio::task::spawn_blocking(move || {
            protocol::call(&socket, &request, std::time::Duration::from_secs(30))
        })
        .await
        .map_err(|e| e.to_string())?;
        match answer {
            Ok(Response::Refreshed { roots }) => Ok(roots),
            Ok(Response::Error { message, .. }) => Err(message),
            Ok(other) => Err(format!("unexpected answer from the daemon: {other:?}")),
            // No daemon: nothing is mounted by it; the index already says "poll".
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                Ok(0)
            }
            Err(e) => Err(format!("cannot reach the daemon: {e}")),
        }
    }
}

pub async fn run(ns: Arc<Namespace>, settings: &Settings, args: WebhookArgs) -> Result<()> {
    let secret = crate::webhook::read_secret(&args.secret_file)?;
    let runtime = protocol::prepare_runtime_dir(&settings.runtime_dir)
        .context("cannot prepare the runtime directory")?;
    let socket = protocol::socket_path(&runtime, ns.store().root());
    let max_body = args.max_body.unwrap_or(crate::webhook::DEFAULT_MAX_BODY);
    let receiver = Arc::new(Receiver::new(
        secret,
        max_body,
        Arc::new(Forward { ns, socket }),
    ));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    eprintln!("listening for GitHub webhooks on http://{local}/");
    tracing::info!(%local, max_body, "webhook receiver listening");
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        served = crate::webhook::serve(listener, receiver) => served.context("the webhook receiver failed")?,
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("webhook receiver stopping");
    Ok(())
}
