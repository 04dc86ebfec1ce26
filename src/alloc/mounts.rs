//! Whole-namespace mounts (`heimdall mount MOUNTPOINT`) served by the daemon beside the
//! allocations. Each is recorded in the index while it lives, so a daemon that died is
//! followed by one that detaches the dead mount and mounts it again.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::protocol::MountRequest;
use crate::fs::Mount;
use crate::namespace::Namespace;

pub struct Mounts {
    ns: Arc<Namespace>,
    web_url: String,
    live: Mutex<HashMap<String, Mount>>,
}

impl Mounts {
    pub fn new(ns: Arc<Namespace>, web_url: String) -> Mounts {
        Mounts {
            ns,
            web_url,
            live: Mutex::new(HashMap::new()),
        }
    }

    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self
            .live
            .lock()
            .expect("mounts poisoned")
            .keys()
            .cloned()
            .collect();
        paths.sort();
        paths
    }

    /// A push announced by a webhook (which has already marked the ref for a poll in the
    /// index): every mount re-resolves the roots showing it now. Returns the roots
    /// re-resolved.
    pub async fn ref_pushed(&self, owner: &str, repo: &str, reference: &str) -> usize {
        let cores: Vec<_> = self
            .live
            .lock()
            .expect("mounts poisoned")
            .values()
            .map(|mount| Arc::clone(&mount.core))
            .collect();
        let mut refreshed = 0;
        for core in cores {
            refreshed += core.ref_pushed(owner, repo, reference).await;
        }
        refreshed
    }

    pub fn is_empty(&self) -> bool {
        self.live.lock().expect("mounts poisoned").is_empty()
    }

    /// Mounts the namespace as asked (ready once the `--org` listings are in, bounded).
    pub async fn mount(&self, request: &MountRequest) -> Result<(), String> {
        let path = Path::new(&request.mountpoint);
        self.settle(path).await;
        if self
            .live
            .lock()
            .expect("mounts poisoned")
            .contains_key(&request.mountpoint)
        {
            return Err(format!("`{}` is already mounted", path.display()));
        }
        let options = request.options(self.web_url.clone(), self.ns.store().root());
        // The mount's own ref TTL, over the daemon's store and client.
        let ns = Arc::new(
            Namespace::new(
                Arc::clone(self.ns.client()),
                Arc::clone(self.ns.store()),
                options.fs.ref_ttl,
            )
            .with_git(self.ns.git().cloned())
            .with_shared(self.ns.shared().cloned()),
        );
        let mount = crate::fs::mount(ns, options, path)
            .await
            .map_err(|e| e.to_string())?;
        let options = serde_json::to_string(request).map_err(|e| e.to_string())?;
        if let Err(e) = self
            .ns
            .store()
            .index()
            .put_mount(&request.mountpoint, &options)
        {
            tracing::warn!(error = %e, "cannot record the mount");
        }
        tracing::info!(mountpoint = %path.display(), "serving");
        self.live
            .lock()
            .expect("mounts poisoned")
            .insert(request.mountpoint.clone(), mount);
        Ok(())
    }

    /// A mount at `path` unmounted from outside a moment ago may still be serving its last
    /// requests: waits (briefly) for its session to end, so `unmount` followed at once by
    /// `mount` of the same path works.
    async fn settle(&self, path: &Path) {
        const SETTLE: Duration = Duration::from_secs(2);
        let started = std::time::Instant::now();
        loop {
            self.reap();
            let stale = self
                .live
                .lock()
                .expect("mounts poisoned")
                .contains_key(&*path.to_string_lossy())
                && !crate::fs::is_mountpoint(path);
            if !stale || started.elapsed() > SETTLE {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Discards the changes of the working copy shown at `path`, if one of these mounts
    /// shows it.
    pub fn reset_changes(&self, path: &str) -> bool {
        let cores: Vec<_> = self
            .live
            .lock()
            .expect("mounts poisoned")
            .values()
            .map(|mount| Arc::clone(&mount.core))
            .collect();
        cores.iter().any(|core| core.reset_changes(path))
    }

    /// Unmounts the mount at `path` (`heimdall unmount`); `false` if this daemon does
    /// not serve it.
    pub fn unmount(&self, path: &str) -> bool {
        let Some(mount) = self.live.lock().expect("mounts poisoned").remove(path) else {
            return false;
        };
        let _ = self.ns.store().index().remove_mount(path);
        tracing::info!(mountpoint = %path, "unmounting");
        mount.unmount_or_detach();
        true
    }

    /// Forgets mounts unmounted from outside (`fusermount3 -u`).
    pub fn reap(&self) {
        let gone: Vec<(String, Mount)> = {
            let mut live = self.live.lock().expect("mounts poisoned");
            let dead: Vec<String> = live
                .iter()
                .filter(|(_, m)| !m.is_serving())
                .map(|(p, _)| p.clone())
                .collect();
            dead.into_iter()
                .filter_map(|p| live.remove(&p).map(|m| (p, m)))
                .collect()
        };
        for (path, mount) in gone {
            tracing::info!(mountpoint = %path, "unmounted");
            let _ = self.ns.store().index().remove_mount(&path);
            drop(mount);
        }
    }

    /// After a crash: detaches the dead mounts the last daemon left and mounts them again.
    pub async fn restore(&self) {
        let recorded = self.ns.store().index().mounts().unwrap_or_default();
        for (path, options) in recorded {
            let _ = self.ns.store().index().remove_mount(&path);
            if !crate::fs::detach_leftover(Path::new(&path)) {
                // Unmounted while no daemon ran: nothing to bring back.
                continue;
            }
            match serde_json::from_str::<MountRequest>(&options) {
                Ok(request) => match self.mount(&request).await {
                    Ok(()) => tracing::info!(mountpoint = %path, "mount restored"),
                    Err(e) => tracing::warn!(mountpoint = %path, error = %e, "mount not restored"),
                },
                Err(e) => tracing::warn!(mountpoint = %path, error = %e, "unreadable mount record"),
            }
        }
    }

    /// The daemon is stopping: unmount everything (and forget it: a stopped daemon's
    /// mounts are not restored).
    pub fn unmount_all(&self) {
        let all: Vec<(String, Mount)> =
            self.live.lock().expect("mounts poisoned").drain().collect();
        for (path, mount) in all {
            let _ = self.ns.store().index().remove_mount(&path);
            mount.unmount_or_detach();
        }
    }
}
