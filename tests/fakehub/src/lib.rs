//! `fakehub`: a GitHub-compatible REST test server over real bare git
//! repositories.
//!
//! The root directory holds `<root>/<owner>/<repo>.git` bare repositories
//! (build them with [`repo`]). Optional `<repo>.git/fakehub.json` holds
//! repository metadata ([`RepoMeta`]) and `<root>/<owner>/owner.json` the
//! owner's type ([`OwnerMeta`]).
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let root = tempfile::tempdir()?;
//! let mut r = fakehub::repo::create(root.path(), "acme", "widgets")?;
//! r.write("README.md", "hi\n");
//! r.commit("initial")?;
//! let hub = fakehub::FakeHub::spawn(root.path(), fakehub::Config::default())?;
//! let url = format!("{}/repos/acme/widgets", hub.url());
//! # let _ = url; Ok(()) }
//! ```
//!
//! Served endpoints, route names (for [`Stats`] and [`Fault`]) and modelled
//! behaviour are described in `tests/fakehub/README.md`.

#![recursion_limit = "512"]

mod api;
mod app;
pub mod git;
mod githttp;
pub mod org;
mod pygen;
pub mod repo;
pub mod rng;
mod server;
mod state;
pub mod store;
mod util;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use state::{AppConfig, Config, Fault, FaultKind, Fill, ROUTES, Stats};
pub use store::{OwnerMeta, OwnerType, RepoMeta};

/// A running fakehub server. It serves on its own tokio runtime in a
/// dedicated thread, so it works from synchronous tests and from inside
/// another runtime alike. Dropping it shuts the server down.
pub struct FakeHub {
    addr: SocketAddr,
    root: PathBuf,
    shared: Arc<state::Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeHub {
    /// Serves `root` on `127.0.0.1:0` (an ephemeral port).
    pub fn spawn(root: impl Into<PathBuf>, config: Config) -> std::io::Result<FakeHub> {
        FakeHub::spawn_on(SocketAddr::from(([127, 0, 0, 1], 0)), root, config)
    }

    /// Serves `root` on `addr`.
    pub fn spawn_on(
        addr: SocketAddr,
        root: impl Into<PathBuf>,
        config: Config,
    ) -> std::io::Result<FakeHub> {
        let root = root.into();
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(state::Shared::new(root.clone(), config));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fakehub-worker")
            .enable_all()
            .build()?;
        let sh = shared.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("fakehub".into())
            .spawn(move || {
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => {
                            let _ = ready_tx.send(Ok(()));
                            l
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    server::serve(listener, sh.clone(), rx).await;
                    // Stop the cat-file processes while the runtime still runs.
                    sh.repos.lock().unwrap_or_else(|e| e.into_inner()).clear();
                });
                rt.shutdown_timeout(Duration::from_millis(500));
            })?;
        ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("fakehub thread died"))??;
        Ok(FakeHub {
            addr,
            root,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The served root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A snapshot of the request counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Zeroes the request counters.
    pub fn reset_stats(&self) {
        self.shared.reset_stats()
    }

    /// Fixed delay before every response (API and codeload).
    pub fn set_latency(&self, latency: Duration) {
        self.shared.rt().latency = latency;
    }

    /// Fixed delay plus a random extra delay in `0..jitter`.
    pub fn set_latency_jitter(&self, latency: Duration, jitter: Duration) {
        let mut rt = self.shared.rt();
        rt.latency = latency;
        rt.jitter = jitter;
    }

    /// Adds a fault rule (rules are checked in insertion order).
    pub fn inject(&self, fault: Fault) {
        self.shared.inject(fault)
    }

    /// Removes all fault rules.
    pub fn clear_faults(&self) {
        self.shared.clear_faults()
    }

    /// Sets the primary rate limit of every budget (each token's and the
    /// anonymous one) to `limit` per window of `reset_after`, and starts
    /// fresh windows (all budgets full again).
    pub fn set_rate_limit(&self, limit: u32, reset_after: Duration) {
        self.shared.set_rate_limit(limit, reset_after)
    }

    /// Sets only the anonymous budget's limit.
    pub fn set_anon_rate_limit(&self, limit: u32) {
        self.shared.set_anon_rate_limit(limit)
    }

    /// Answer an exhausted rate limit with 429 (true) or 403 (false, default).
    pub fn set_rate_limit_status_429(&self, yes: bool) {
        self.shared.rt().status_429 = yes;
    }

    /// Maximum entries in a tree response before `"truncated": true`.
    pub fn set_truncate_threshold(&self, max_entries: usize) {
        self.shared.rt().truncate_threshold = max_entries;
    }

    /// Turns gzip compression of responses (for clients that accept it) on
    /// or off.
    pub fn set_gzip(&self, on: bool) {
        self.shared
            .gzip
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Accepts one more token.
    pub fn add_token(&self, token: &str) {
        self.shared.rt().tokens.insert(token.to_string());
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
