//! `/` and `/<owner>`: the owners a mount lists, their repositories (one revalidated
//! listing per ref TTL; the last known listing when GitHub cannot be reached) and the
//! negative cache of names found missing under an owner.
//!
//! Invariant: a name is "known missing" for at most the ref TTL after a lookup failed,
//! or while a listing younger than the ref TTL lacks it; a push announced for it
//! forgets it at once ([`Owners::forget_missing`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::errno::{FsResult, fail};
use crate::namespace::{self, Namespace, RepoSpec};

/// Root trees prefetched at once when an owner is listed.
const PREFETCH_CONCURRENCY: usize = 8;

/// An owner's repository names and when they were listed.
type Listing = (Instant, Arc<Vec<String>>);

pub struct Owners {
    ref_ttl: Duration,
    /// Logins listed at `/` (lowercase): `--org` owners and every owner looked up.
    known: Mutex<BTreeSet<String>>,
    listings: Mutex<HashMap<String, Listing>>,
    /// (login, name under it) found not to exist, and when.
    missing: Mutex<HashMap<(String, String), Instant>>,
    /// When the probed names were last asked about together (the batch done), per login.
    probed: Mutex<HashMap<String, Instant>>,
    /// Logins whose probe batch is being refreshed in the background.
    refreshing: Mutex<std::collections::HashSet<String>>,
    probing: tokio::sync::Mutex<()>,
}

impl Owners {
    pub fn new(owners: &[String], ref_ttl: Duration) -> Owners {
        Owners {
            ref_ttl,
            known: Mutex::new(owners.iter().map(|o| o.to_ascii_lowercase()).collect()),
            listings: Mutex::new(HashMap::new()),
            missing: Mutex::new(HashMap::new()),
            probed: Mutex::new(HashMap::new()),
            refreshing: Mutex::new(Default::default()),
            probing: tokio::sync::Mutex::new(()),
        }
    }

    /// The logins `/` lists, in order.
    pub fn logins(&self) -> Vec<String> {
        self.known
            .lock()
            .expect("owners poisoned")
            .iter()
            .cloned()
            .collect()
    }

    /// Makes sure `login` (lowercase) exists, asking GitHub the first time.
    pub async fn look_up(&self, ns: &Namespace, login: &str) -> FsResult<()> {
        if self.known.lock().expect("owners poisoned").contains(login) {
            return Ok(());
        }
        ns.owner(login)
            .await
            .map_err(|e| fail("looking up an owner", e))?;
        self.known
            .lock()
            .expect("owners poisoned")
            .insert(login.to_string());
        Ok(())
    }

    /// Repository names of an owner: one revalidated listing per ref TTL. With
    /// `prefetch`, a fresh listing starts a background prefetch of the repos' root trees.
    pub async fn repo_names(
        &self,
        ns: &Arc<Namespace>,
        login: &str,
        prefetch: bool,
    ) -> FsResult<Arc<Vec<String>>> {
        if let Some((at, names)) = self.listings.lock().expect("listings poisoned").get(login)
            && at.elapsed() < self.ref_ttl
        {
            return Ok(Arc::clone(names));
        }
        let owner = ns
            .owner(login)
            .await
            .map_err(|e| fail("looking up an owner", e))?;
        let repos = match ns.client().list_repos(&owner).await {
            Ok(repos) => {
                let _ = ns.store().index().put_repos(login, &repos);
                repos
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(owner = login, error = %e, "cannot list repositories; serving the last known listing");
                ns.store()
                    .index()
                    .repos(login)
                    .map_err(|e| fail("reading the index", e.into()))?
            }
            Err(e) => return Err(fail("listing repositories", e.into())),
        };
        let names: Arc<Vec<String>> = Arc::new(repos.iter().map(|r| r.name.clone()).collect());
        self.listings
            .lock()
            .expect("listings poisoned")
            .insert(login.to_string(), (Instant::now(), Arc::clone(&names)));
        if prefetch {
            prefetch_roots(ns, login, &names);
        }
        Ok(names)
    }

    /// Lists the owners' repositories, so lookups under them (tools probing for
    /// `pyproject.toml` in every parent directory) are answered without a request.
    pub async fn preload(&self, ns: &Arc<Namespace>, logins: &[String]) {
        for login in logins {
            if let Err(e) = self
                .repo_names(ns, &login.to_ascii_lowercase(), false)
                .await
            {
                tracing::warn!(
                    owner = login,
                    errno = e.0,
                    "cannot list the owner's repositories at mount"
                );
            }
        }
    }

    /// Whether `repo` (written `name` under `login`, perhaps with `@ref`) is known not to
    /// exist: a recent failed lookup, or a listing that lacks it (a listing older than
    /// the ref TTL only vouches for presence).
    pub fn known_missing(&self, login: &str, name: &str, repo: &str) -> bool {
        let key = (login.to_string(), name.to_string());
        {
            let mut missing = self.missing.lock().expect("missing poisoned");
            match missing.get(&key) {
                Some(at) if at.elapsed() < self.ref_ttl => return true,
                Some(_) => {
                    missing.remove(&key);
                }
                None => {}
            }
        }
        let listings = self.listings.lock().expect("listings poisoned");
        match listings.get(&login.to_ascii_lowercase()) {
            Some((at, names)) if at.elapsed() < self.ref_ttl => {
                !names.iter().any(|n| n.eq_ignore_ascii_case(repo))
            }
            _ => false,
        }
    }

    /// On the first lookup under `login` of a name tools probe for in parent directories
    /// ([`namespace::probes`]), asks GitHub about all of those names at once (free
    /// `ls-refs`, in parallel) and notes the missing ones, so a tool's dozen probes cost
    /// one round trip instead of a dozen in a row. After the ref TTL the answers are
    /// served once more while a new batch asks again in the background (so a warm tool
    /// run never waits for it); after twice the TTL they are asked for again first. Only
    /// where a missing repository costs no counted request (git with a token); elsewhere
    /// each lookup asks for itself.
    pub async fn probe_together(self: &Arc<Self>, ns: &Arc<Namespace>, login: &str) {
        if !ns.git().is_some_and(|g| g.missing_repos_are_free()) {
            return;
        }
        let age = self
            .probed
            .lock()
            .expect("probed poisoned")
            .get(login)
            .map(|at| at.elapsed());
        match age {
            Some(age) if age < self.ref_ttl => {}
            Some(age) if age < self.ref_ttl * 2 => {
                // Stale: the last answers stand until the refresh has new ones.
                self.restamp_probes(login);
                let first = self
                    .refreshing
                    .lock()
                    .expect("refreshing poisoned")
                    .insert(login.to_string());
                if first {
                    let (me, ns, login) = (Arc::clone(self), Arc::clone(ns), login.to_string());
                    tokio::spawn(async move {
                        me.ask_probes(&ns, &login).await;
                        me.refreshing
                            .lock()
                            .expect("refreshing poisoned")
                            .remove(&login);
                    });
                }
            }
            _ => self.ask_probes(ns, login).await,
        }
    }

    /// The probe batch itself, one at a time: a caller that waited for another's batch
    /// finds it answered and returns. `probed` records when a batch completed.
    async fn ask_probes(&self, ns: &Arc<Namespace>, login: &str) {
        let _one_at_a_time = self.probing.lock().await;
        let answered = self
            .probed
            .lock()
            .expect("probed poisoned")
            .get(login)
            .is_some_and(|at| at.elapsed() < self.ref_ttl);
        if answered {
            return;
        }
        let asks = namespace::probes::probed_names()
            .iter()
            .filter_map(|name| RepoSpec::new(login, name, None).ok())
            .map(|spec| async move {
                let found = ns.resolve_sha(&spec).await;
                (spec, found)
            });
        for (spec, found) in futures_util::future::join_all(asks).await {
            match found {
                Err(e) if super::errno::Errno::from(&e).0 == libc::ENOENT => {
                    self.note_missing(login, &spec.repo)
                }
                Ok(_) => {
                    self.missing
                        .lock()
                        .expect("missing poisoned")
                        .remove(&(login.to_string(), spec.repo.clone()));
                }
                Err(_) => {}
            }
        }
        self.probed
            .lock()
            .expect("probed poisoned")
            .insert(login.to_string(), Instant::now());
    }

    /// Probed names of `login` found missing count as missing for another ref TTL.
    fn restamp_probes(&self, login: &str) {
        let now = Instant::now();
        let mut missing = self.missing.lock().expect("missing poisoned");
        for name in namespace::probes::probed_names() {
            if let Some(at) = missing.get_mut(&(login.to_string(), name.to_string())) {
                *at = now;
            }
        }
    }

    /// A lookup of `name` under `login` found nothing.
    pub fn note_missing(&self, login: &str, name: &str) {
        self.missing
            .lock()
            .expect("missing poisoned")
            .insert((login.to_string(), name.to_string()), Instant::now());
    }

    /// A push to `owner/repo` moved `reference`: names found missing that it may have
    /// created (`repo`, `repo@reference`) are forgotten. Returns them, (login, name).
    pub fn forget_missing(
        &self,
        owner: &str,
        repo: &str,
        reference: &str,
    ) -> Vec<(String, String)> {
        let mut forgotten = Vec::new();
        self.missing
            .lock()
            .expect("missing poisoned")
            .retain(|(login, name), _| {
                let (name_repo, name_ref) = namespace::split_repo_name(name);
                let hit = login.eq_ignore_ascii_case(owner)
                    && name_repo.eq_ignore_ascii_case(repo)
                    && name_ref.as_deref().is_none_or(|r| r == reference);
                if hit {
                    forgotten.push((login.clone(), name.clone()));
                }
                !hit
            });
        forgotten
    }
}

/// Resolves each repo's default branch and fetches its trees in the background, so a glob
/// over `/<owner>/*/file` finds them local.
fn prefetch_roots(ns: &Arc<Namespace>, login: &str, names: &[String]) {
    let ns = Arc::clone(ns);
    let specs: Vec<RepoSpec> = names
        .iter()
        .filter_map(|name| RepoSpec::new(login, name, None).ok())
        .collect();
    tokio::spawn(async move {
        use futures_util::StreamExt;
        futures_util::stream::iter(specs)
            .for_each_concurrent(PREFETCH_CONCURRENCY, |spec| {
                let ns = Arc::clone(&ns);
                async move {
                    if let Ok(commit) = ns.resolve(&spec).await {
                        let _ = ns.tree(&spec, commit.tree).await;
                    }
                }
            })
            .await;
    });
}
