//! `HeimdallResourceManager`'s native half: the per-user daemon's client (the same daemon
//! the CLI uses, started as `python -m heimdall._daemon` when none runs), and the daemon
//! itself for that module.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use heimdall::alloc::client::{Client, Launcher};
use heimdall::alloc::protocol::{Request, Response};
use heimdall::config::Settings;
use heimdall::namespace::Namespace;
use pyo3::prelude::*;

use crate::run::{detach, settings};

#[pyclass(frozen)]
pub struct Manager {
    settings: Settings,
    launcher: Launcher,
    client: OnceLock<Client>,
}

impl Manager {
    /// The daemon's client, connected (and the daemon started) on first use.
    fn client(&self) -> anyhow::Result<&Client> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = Client::connect(&self.settings, self.launcher.clone(), true)?;
        Ok(self.client.get_or_init(|| client))
    }

    fn call(&self, py: Python<'_>, request: Request) -> PyResult<String> {
        detach(py, || {
            let answer = match self.client()?.call(&request)? {
                Response::Allocated { allocation } => serde_json::to_string(&allocation)?,
                Response::Allocations { allocations } => serde_json::to_string(&allocations)?,
                Response::Status(status) => serde_json::to_string(&status)?,
                other => anyhow::bail!("unexpected answer from the daemon: {other:?}"),
            };
            Ok(answer)
        })
    }
}

#[pymethods]
impl Manager {
    /// `launcher`: the program and arguments that start the daemon.
    #[new]
    #[pyo3(signature = (launcher, cache_dir=None, api_url=None))]
    fn new(
        launcher: Vec<String>,
        cache_dir: Option<PathBuf>,
        api_url: Option<String>,
    ) -> PyResult<Self> {
        let settings = settings(api_url, cache_dir)?;
        let mut parts = launcher.into_iter().map(OsString::from);
        let program = parts
            .next()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("python3"));
        Ok(Manager {
            settings,
            launcher: Launcher {
                program,
                args: parts.collect(),
            },
            client: OnceLock::new(),
        })
    }

    /// The allocation (JSON).
    #[pyo3(signature = (resource, ttl_secs, client, hydrate, read_only, keep_changes))]
    #[allow(clippy::too_many_arguments)]
    fn allocate(
        &self,
        py: Python<'_>,
        resource: String,
        ttl_secs: Option<u64>,
        client: String,
        hydrate: bool,
        read_only: bool,
        keep_changes: bool,
    ) -> PyResult<String> {
        self.call(
            py,
            Request::Allocate {
                resource,
                ttl_secs: ttl_secs.map(|t| t.max(1)),
                client,
                hydrate,
                read_only,
                keep_changes,
            },
        )
    }

    fn list(&self, py: Python<'_>) -> PyResult<String> {
        self.call(py, Request::List)
    }

    fn release(&self, py: Python<'_>, path: String) -> PyResult<String> {
        self.call(py, Request::Release { path })
    }

    #[pyo3(signature = (client=None))]
    fn release_all(&self, py: Python<'_>, client: Option<String>) -> PyResult<String> {
        self.call(py, Request::ReleaseAll { client })
    }

    #[pyo3(signature = (expired, older_than_secs=None))]
    fn cleanup(
        &self,
        py: Python<'_>,
        expired: bool,
        older_than_secs: Option<u64>,
    ) -> PyResult<String> {
        self.call(
            py,
            Request::Cleanup {
                expired,
                older_than_secs,
            },
        )
    }

    fn status(&self, py: Python<'_>) -> PyResult<String> {
        self.call(py, Request::Status)
    }
}

/// Serves as the per-user daemon for the cache in the environment until it is stopped or
/// idle (what `heimdall daemon run` does; `python -m heimdall._daemon` calls it).
#[pyfunction]
pub fn run_daemon(py: Python<'_>) -> PyResult<()> {
    heimdall::logging::init(1, false);
    let settings = settings(None, None)?;
    detach(py, || {
        crate::run::runtime().block_on(async {
            let ns = Namespace::open(&settings, heimdall::namespace::DEFAULT_REF_TTL)?;
            heimdall::alloc::daemon::run(Arc::new(ns), &settings).await
        })
    })
}
