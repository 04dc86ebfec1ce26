//! A namespace wired from [`Settings`]: the store, the REST client (whose conditional
//! responses are kept in the store's index) and, unless `--transport rest`, the git
//! fetcher. What the CLI, the daemon and the Python SDK all start from.

use std::sync::Arc;
use std::time::Duration;

use super::git::GitFetcher;
use super::{Namespace, NamespaceError};
use crate::config::{Settings, Transport};
use crate::remote::app::Credentials;
use crate::remote::git::{GitRemote, git_base_for};
use crate::remote::{CachedResponse, GitHubClient, HttpClient, RemoteError, ResponseCache};
use crate::shared::SharedCache;
use crate::store::Store;

impl Namespace {
    /// Opens the cache at `settings.cache_dir` and connects to `settings.api_url` (and its
    /// git endpoint). `ref_ttl`: how long a resolved branch is trusted
    /// ([`super::DEFAULT_REF_TTL`]; zero for scans, which want today's commits).
    pub fn open(settings: &Settings, ref_ttl: Duration) -> Result<Namespace, NamespaceError> {
        let store = Arc::new(Store::open(&settings.cache_dir)?);
        let cache: Arc<dyn ResponseCache> = Arc::new(StoreCache(Arc::clone(&store)));
        // One set of credentials for both endpoints: an App's tokens are shared.
        let credentials = Credentials::from_settings(settings)?;
        let client: Arc<dyn GitHubClient> = Arc::new(HttpClient::with_credentials(
            settings,
            Some(cache),
            credentials.clone(),
        )?);
        let base = settings
            .git_url
            .clone()
            .unwrap_or_else(|| git_base_for(&settings.api_url));
        let shared = match &settings.shared_cache {
            Some(config) => {
                // Asks without credentials whether a repository is public (only public
                // content is shared unless `--shared-cache-private`).
                let anonymous =
                    GitRemote::with_credentials(settings, base.clone(), Credentials::Anonymous)?;
                let shared =
                    SharedCache::open(config, Arc::clone(&store), Some(Arc::new(anonymous)))
                        .map_err(|e| {
                            NamespaceError::Remote(RemoteError::Local {
                                what: "opening the shared cache".into(),
                                message: e.to_string(),
                            })
                        })?;
                Some(Arc::new(shared))
            }
            None => None,
        };
        let git = match settings.transport {
            Transport::Rest => None,
            transport => {
                let remote = Arc::new(GitRemote::with_credentials(settings, base, credentials)?);
                Some(Arc::new(
                    GitFetcher::new(remote, Arc::clone(&store), transport)
                        .with_shared(shared.clone()),
                ))
            }
        };
        Ok(Namespace::new(client, store, ref_ttl)
            .with_git(git)
            .with_shared(shared))
    }
}

/// The store's index as the client's response cache.
struct StoreCache(Arc<Store>);

impl ResponseCache for StoreCache {
    fn get(&self, key: &str) -> Option<CachedResponse> {
        self.0.index().get(key)
    }
    fn put(&self, key: &str, response: &CachedResponse) {
        self.0.index().put(key, response)
    }
}
