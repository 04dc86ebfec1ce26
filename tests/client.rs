//! The GitHub client against fakehub: pagination, refs, trees, blobs, conditional
//! requests, rate limits, retries, access control and typed errors.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Hub;
use fakehub::{Config, Fault, RepoMeta, repo};
use futures_util::StreamExt;
use heimdall::namespace::{Namespace, RepoSpec};
use heimdall::oid::{Sha, blob_sha};
use heimdall::remote::{
    GitHubClient, HttpClient, Mode, Owner, RefPoll, RemoteError, ResponseCache, Tree,
};
use heimdall::store::Store;

fn org(login: &str) -> Owner {
    Owner {
        login: login.into(),
        kind: "Organization".into(),
    }
}

fn sha(text: &str) -> Sha {
    Sha::parse(text.trim()).unwrap()
}

/// A client with the store's index as its ETag cache.
fn client_with_store(
    hub: &Hub,
    token: Option<&str>,
) -> (HttpClient, Arc<Store>, tempfile::TempDir) {
    let (settings, dir) = hub.settings(token);
    let store = Arc::new(Store::open(&settings.cache_dir).unwrap());
    let cache: Arc<dyn ResponseCache> = Arc::new(IndexCache(Arc::clone(&store)));
    let client = HttpClient::new(&settings, Some(cache)).unwrap();
    (client, store, dir)
}

struct IndexCache(Arc<Store>);
impl ResponseCache for IndexCache {
    fn get(&self, key: &str) -> Option<heimdall::remote::CachedResponse> {
        self.0.index().get(key)
    }
    fn put(&self, key: &str, r: &heimdall::remote::CachedResponse) {
        self.0.index().put(key, r)
    }
}

#[tokio::test]
async fn listing_follows_pagination_and_revalidates_for_free() {
    let hub = Hub::new();
    for i in 0..205 {
        repo::create(hub.path(), "acme", &format!("repo-{i:03}")).unwrap();
    }
    let (client, _store, _dir) = client_with_store(&hub, None);
    let repos = client.list_repos(&org("acme")).await.unwrap();
    assert_eq!(repos.len(), 205);
    let mut names: Vec<_> = repos.iter().map(|r| r.name.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 205, "no repo listed twice");
    let stats = hub.hub.stats();
    assert_eq!(stats.route("repo_list"), 3, "per_page=100: three pages");

    // Again: every page revalidated with its ETag, answered 304, nothing counted.
    let counted = stats.counted;
    let again = client.list_repos(&org("acme")).await.unwrap();
    assert_eq!(again, repos);
    let stats = hub.hub.stats();
    assert_eq!(stats.not_modified_route("repo_list"), 3);
    assert_eq!(stats.counted, counted, "304s cost no rate limit");
    assert_eq!(client.counts().not_modified, 3);
}

#[tokio::test]
async fn user_repos_and_owner_lookup() {
    let hub = Hub::new();
    repo::set_owner_type(hub.path(), "alice", fakehub::OwnerType::User).unwrap();
    let mut r = repo::create(hub.path(), "alice", "dotfiles").unwrap();
    r.write("x", "y").commit("c").unwrap();
    let (client, _s, _d) = client_with_store(&hub, None);
    let owner = client.owner("alice").await.unwrap();
    assert_eq!(owner.kind, "User");
    let repos = client.list_repos(&owner).await.unwrap();
    assert_eq!(repos.len(), 1);
    assert_eq!(repos[0].default_branch.as_deref(), Some("main"));
    assert!(matches!(
        client.owner("nobody-here").await,
        Err(RemoteError::NotFound { .. })
    ));
}

#[tokio::test]
async fn refs_resolve_by_branch_tag_and_sha_and_poll_cheaply() {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    let first = r.write("a.txt", "1").commit("one").unwrap();
    r.tag("v1", &first).unwrap();
    r.create_branch("dev", &first).unwrap();
    let second = r.write("a.txt", "2").commit("two").unwrap();
    let (client, _s, _d) = client_with_store(&hub, None);

    let head = client.poll_ref("acme", "api", "HEAD", None).await.unwrap();
    assert_eq!(head, RefPoll::Moved(sha(&second)));
    assert_eq!(
        client.poll_ref("acme", "api", "main", None).await.unwrap(),
        RefPoll::Moved(sha(&second))
    );
    assert_eq!(
        client.poll_ref("acme", "api", "v1", None).await.unwrap(),
        RefPoll::Moved(sha(&first))
    );
    assert_eq!(
        client.poll_ref("acme", "api", "dev", None).await.unwrap(),
        RefPoll::Moved(sha(&first))
    );
    assert_eq!(
        client
            .poll_ref("acme", "api", &first[..7], None)
            .await
            .unwrap(),
        RefPoll::Moved(sha(&first))
    );
    assert!(matches!(
        client.poll_ref("acme", "api", "no-such-branch", None).await,
        Err(RemoteError::NotFound { .. })
    ));

    // The cheapest poll: If-None-Match with the known sha, a free 304.
    let counted = hub.hub.stats().counted;
    let poll = client
        .poll_ref("acme", "api", "HEAD", Some(sha(&second)))
        .await
        .unwrap();
    assert_eq!(poll, RefPoll::Unchanged);
    assert_eq!(hub.hub.stats().counted, counted);
    let third = r.write("a.txt", "3").commit("three").unwrap();
    let poll = client
        .poll_ref("acme", "api", "HEAD", Some(sha(&second)))
        .await
        .unwrap();
    assert_eq!(poll, RefPoll::Moved(sha(&third)));

    let commit = client.commit("acme", "api", sha(&first)).await.unwrap();
    assert_eq!(commit.sha, sha(&first));
    assert!(
        commit.time > 1_000_000_000,
        "commit time parsed: {}",
        commit.time
    );
}

/// Walks trees from `root` into (path, mode, sha) rows.
fn flatten(trees: &[Tree], root: Sha) -> Vec<(String, Mode, Sha, u64)> {
    let by_sha: std::collections::HashMap<Sha, &Tree> = trees.iter().map(|t| (t.sha, t)).collect();
    let mut rows = Vec::new();
    let mut stack = vec![(root, String::new())];
    while let Some((sha, prefix)) = stack.pop() {
        let tree = by_sha
            .get(&sha)
            .unwrap_or_else(|| panic!("tree {sha} ({prefix}) missing"));
        for e in &tree.entries {
            let path = format!("{prefix}{}", e.name);
            if e.mode == Mode::Tree {
                stack.push((e.sha, format!("{path}/")));
            }
            rows.push((path, e.mode, e.sha, e.size));
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

#[tokio::test]
async fn truncated_trees_are_completed_with_subtree_listings() {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "big").unwrap();
    for d in 0..6 {
        for f in 0..8 {
            r.write(format!("d{d}/sub/f{f}.txt"), format!("{d}-{f}"));
        }
        r.write(format!("d{d}/top.txt"), format!("top {d}"));
    }
    r.executable("run.sh", "#!/bin/sh\n")
        .symlink("link", "d0/top.txt");
    r.submodule(
        "vendor/lib",
        "https://example.com/lib.git",
        "1111111111111111111111111111111111111111",
    );
    let commit = r.commit("big").unwrap();
    let (client, _s, _d) = client_with_store(&hub, None);
    let info = client.commit("acme", "big", sha(&commit)).await.unwrap();

    let full = client.trees("acme", "big", info.tree).await.unwrap();
    assert_eq!(hub.hub.stats().route("tree"), 1, "one recursive listing");
    let expected = flatten(&full, info.tree);
    assert_eq!(
        expected.iter().filter(|r| r.1 == Mode::File).count(),
        6 * 9 + 1,
        "files incl. .gitmodules"
    );
    assert!(
        expected
            .iter()
            .any(|r| r.0 == "run.sh" && r.1 == Mode::Executable)
    );
    assert!(
        expected
            .iter()
            .any(|r| r.0 == "link" && r.1 == Mode::Symlink)
    );
    assert!(
        expected
            .iter()
            .any(|r| r.0 == "vendor/lib" && r.1 == Mode::Submodule)
    );

    // GitHub truncates big listings; the client falls back to per-subtree listings.
    hub.hub.set_truncate_threshold(10);
    let (client, _s2, _d2) = client_with_store(&hub, None);
    hub.hub.reset_stats();
    let pieced = client.trees("acme", "big", info.tree).await.unwrap();
    assert_eq!(flatten(&pieced, info.tree), expected);
    let pieced_requests = hub.hub.stats().route("tree");
    assert!(pieced_requests > 1);

    // Naming the commit instead of its tree gives the same trees without the commit
    // request, truncated or not.
    for threshold in [100_000, 10] {
        hub.hub.set_truncate_threshold(threshold);
        let (client, _s3, _d3) = client_with_store(&hub, None);
        hub.hub.reset_stats();
        let (root, trees) = client
            .commit_trees("acme", "big", sha(&commit))
            .await
            .unwrap();
        assert_eq!(root, info.tree);
        assert_eq!(flatten(&trees, root), expected);
        let stats = hub.hub.stats();
        assert_eq!(stats.route("git_commit"), 0, "{stats:?}");
        if threshold > 10 {
            assert_eq!(stats.requests, 1, "{stats:?}");
        } else {
            // The refused recursive listing is not asked for a second time by tree SHA.
            assert_eq!(stats.route("tree"), pieced_requests, "{stats:?}");
        }
    }
}

#[tokio::test]
async fn blobs_are_verified_and_corrupt_bytes_never_stored() {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("hello.txt", "hello\n").commit("c").unwrap();
    let (client, store, _d) = client_with_store(&hub, None);
    let client: Arc<dyn GitHubClient> = Arc::new(client);
    let ns = Namespace::new(
        Arc::clone(&client),
        Arc::clone(&store),
        Duration::from_secs(60),
    );
    let spec = RepoSpec::parse("acme/api").unwrap();
    let commit = ns.resolve(&spec).await.unwrap();
    let entry = ns
        .lookup(&spec, commit.tree, &["hello.txt".into()])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.sha, blob_sha(b"hello\n"));

    // Always-corrupt bytes: an error after bounded retries, and nothing stored.
    hub.hub.inject(Fault::corrupt().on_route("blob").always());
    let err = ns.blob(&spec, &entry).await.unwrap_err();
    assert!(err.to_string().contains("does not match its id"), "{err}");
    assert!(store.blob_path(entry.sha, entry.size).is_none());
    let objects = store.root().join("objects-v1");
    let stored: Vec<_> = walk(&objects);
    assert!(stored.is_empty(), "nothing left in the store: {stored:?}");

    // One corrupt answer, then good ones: retried and stored.
    hub.hub.clear_faults();
    hub.hub.inject(Fault::corrupt().on_route("blob"));
    let blob = ns.blob(&spec, &entry).await.unwrap();
    assert_eq!(blob.read_all().unwrap(), b"hello\n");

    // The raw stream itself is byte-exact for a large blob.
    let mut r = repo::open(hub.path(), "acme", "api").unwrap();
    let c = r.large_file("big.bin", 3 << 20, 7).commit("big").unwrap();
    let info = client.commit("acme", "api", sha(&c)).await.unwrap();
    let big = ns
        .lookup(&spec, info.tree, &["big.bin".into()])
        .await
        .unwrap()
        .unwrap();
    let mut stream = client.blob("acme", "api", big.sha).await.unwrap();
    let mut hasher = heimdall::oid::BlobHasher::new(big.size);
    while let Some(chunk) = stream.next().await {
        hasher.update(&chunk.unwrap());
    }
    assert_eq!(hasher.finish(), Some(big.sha));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[tokio::test]
async fn transient_failures_are_retried_within_bounds() {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("a", "b").commit("c").unwrap();
    let (client, _s, _d) = client_with_store(&hub, None);

    hub.hub.inject(Fault::status(502).on_route("repo").times(2));
    let repo = client.repo("acme", "api").await.unwrap();
    assert_eq!(repo.name, "api");
    assert_eq!(client.counts().retries, 2);

    hub.hub
        .inject(Fault::drop_connection().on_route("git_commit"));
    hub.hub.inject(Fault::truncate().on_route("owner"));
    let head = match client.poll_ref("acme", "api", "HEAD", None).await.unwrap() {
        RefPoll::Moved(sha) => sha,
        RefPoll::Unchanged => unreachable!(),
    };
    client.commit("acme", "api", head).await.unwrap();
    client.owner("acme").await.unwrap();

    hub.hub
        .inject(Fault::secondary_rate_limit(1).on_route("repo"));
    client.repo("acme", "api").await.unwrap();

    // A secondary limit asking for longer than the longest wait (30 s here) fails at
    // once with a typed error, after one request.
    hub.hub.reset_stats();
    hub.hub
        .inject(Fault::secondary_rate_limit(3600).on_route("repo").always());
    let started = Instant::now();
    let err = client.repo("acme", "api").await.unwrap_err();
    assert!(
        matches!(&err, RemoteError::RateLimited { resource, .. } if resource == "secondary"),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(hub.hub.stats().route("repo"), 1);
    hub.hub.clear_faults();

    // A server that keeps failing: a typed error after bounded attempts, not a hang.
    hub.hub.inject(Fault::status(503).on_route("repo").always());
    let started = Instant::now();
    let err = client.repo("acme", "api").await.unwrap_err();
    assert!(
        matches!(
            err,
            RemoteError::Server {
                status: 503,
                attempts: 5,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn primary_rate_limit_waits_for_reset_then_resumes() {
    let hub = Hub::with(Config {
        tokens: vec!["tok".into()],
        ..Config::default()
    });
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("a", "b").commit("c").unwrap();
    hub.hub.set_rate_limit(3, Duration::from_secs(2));
    let (client, _s, _d) = client_with_store(&hub, Some("tok"));
    let started = Instant::now();
    // Unconditional polls: each one counts against the budget (revalidations would not).
    for _ in 0..3 {
        client.poll_ref("acme", "api", "HEAD", None).await.unwrap();
    }
    assert_eq!(hub.hub.stats().counted, 3);
    // The fourth request is refused by GitHub; the client waits for the reset and resumes.
    let owner = client.owner("acme").await.unwrap();
    assert_eq!(owner.login, "acme");
    assert_eq!(
        hub.hub.stats().counted,
        4,
        "counted once the budget refilled"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for the reset"
    );
    let core = client
        .rate_limits()
        .into_iter()
        .find(|l| l.resource == "core")
        .unwrap();
    assert_eq!(core.limit, 3);

    // When the reset is further away than we may wait: a typed error with the reset time.
    hub.hub.set_rate_limit(1, Duration::from_secs(3600));
    let (mut settings, _d2) = hub.settings(Some("tok"));
    settings.max_rate_limit_wait = Duration::from_secs(1);
    let client = HttpClient::new(&settings, None).unwrap();
    client.poll_ref("acme", "api", "HEAD", None).await.unwrap();
    let err = client
        .poll_ref("acme", "api", "HEAD", None)
        .await
        .unwrap_err();
    let RemoteError::RateLimited { reset, .. } = err else {
        panic!("expected RateLimited, got {err:?}")
    };
    assert!(reset > heimdall::clock::epoch_secs() + 3000);
}

#[tokio::test]
async fn private_repos_need_an_accepted_token() {
    let hub = Hub::with(Config {
        tokens: vec!["good".into()],
        ..Config::default()
    });
    let mut r = repo::create(hub.path(), "acme", "secret").unwrap();
    r.write("a", "b").commit("c").unwrap();
    r.set_metadata(&RepoMeta {
        private: Some(true),
        ..RepoMeta::default()
    })
    .unwrap();
    let mut r = repo::create(hub.path(), "acme", "open").unwrap();
    r.write("a", "b").commit("c").unwrap();

    let (anon, _s, _d) = client_with_store(&hub, None);
    assert!(matches!(
        anon.repo("acme", "secret").await,
        Err(RemoteError::NotFound { .. })
    ));
    let names: Vec<_> = anon
        .list_repos(&org("acme"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["open"]);

    let (authed, _s2, _d2) = client_with_store(&hub, Some("good"));
    let secret = authed.repo("acme", "secret").await.unwrap();
    assert!(secret.private);
    assert_eq!(authed.list_repos(&org("acme")).await.unwrap().len(), 2);

    let (bad, _s3, _d3) = client_with_store(&hub, Some("wrong"));
    let err = bad.repo("acme", "open").await.unwrap_err();
    assert!(matches!(err, RemoteError::BadCredentials { .. }), "{err:?}");
    assert!(
        !err.to_string().contains("wrong"),
        "the token is not in the message"
    );
}

#[tokio::test]
async fn empty_and_blocked_repos_have_typed_errors() {
    let hub = Hub::new();
    repo::create_empty(hub.path(), "acme", "empty").unwrap();
    let mut r = repo::create(hub.path(), "acme", "dmca").unwrap();
    r.write("a", "b").commit("c").unwrap();
    r.set_metadata(&RepoMeta {
        blocked: Some(true),
        ..RepoMeta::default()
    })
    .unwrap();
    let (client, _s, _d) = client_with_store(&hub, None);
    assert!(client.repo("acme", "empty").await.is_ok());
    let err = client
        .poll_ref("acme", "empty", "HEAD", None)
        .await
        .unwrap_err();
    assert!(matches!(err, RemoteError::EmptyRepo { .. }), "{err:?}");
    let err = client.repo("acme", "dmca").await.unwrap_err();
    assert!(matches!(err, RemoteError::Blocked { .. }), "{err:?}");
}

#[tokio::test]
async fn identical_concurrent_requests_are_coalesced() {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("a", "b").commit("c").unwrap();
    hub.hub.set_latency(Duration::from_millis(200));
    let (client, _s, _d) = client_with_store(&hub, None);
    let client = Arc::new(client);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let client = Arc::clone(&client);
        tasks.push(tokio::spawn(
            async move { client.repo("acme", "api").await },
        ));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(hub.hub.stats().route("repo"), 1);
}

#[tokio::test]
async fn store_index_survives_reopen() {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("x/y.txt", "content\n").commit("c").unwrap();
    let (client, store, dir) = client_with_store(&hub, None);
    let client: Arc<dyn GitHubClient> = Arc::new(client);
    let ns = Namespace::new(client, Arc::clone(&store), Duration::from_secs(60));
    let spec = RepoSpec::parse("acme/api").unwrap();
    let commit = ns.resolve(&spec).await.unwrap();
    let entry = ns
        .lookup(&spec, commit.tree, &["x".into(), "y.txt".into()])
        .await
        .unwrap()
        .unwrap();
    ns.blob(&spec, &entry).await.unwrap();
    let root = store.root().to_path_buf();
    drop(ns);
    drop(store);
    let reopened = Store::open(&root).unwrap();
    assert!(reopened.index().tree(commit.tree).unwrap().is_some());
    assert!(reopened.index().commit(commit.sha).unwrap().is_some());
    assert_eq!(reopened.index().blob_totals().unwrap(), (1, 8));
    assert!(reopened.blob_path(entry.sha, 8).is_some());
    drop(dir);
}

#[tokio::test]
async fn tarball_streams_the_commit_in_githubs_layout() {
    use std::io::Read;
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    let commit = r
        .write("src/lib.py", "x = 1\n")
        .executable("run.sh", "#!/bin/sh\n")
        .symlink("link", "src/lib.py")
        .commit("c")
        .unwrap();
    let (client, _s, _d) = client_with_store(&hub, None);
    let mut stream = client.tarball("acme", "api", sha(&commit)).await.unwrap();
    let mut gz = Vec::new();
    while let Some(chunk) = stream.next().await {
        gz.extend_from_slice(&chunk.unwrap());
    }
    let stats = hub.hub.stats();
    assert_eq!(stats.route("tarball"), 1, "the API redirect");
    assert_eq!(stats.route("codeload"), 1, "followed to the archive");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&gz[..]));
    let top = format!("acme-api-{}/", &commit[..7]);
    let mut seen = std::collections::BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        if entry.header().entry_type().is_pax_global_extensions() {
            continue;
        }
        assert!(path.starts_with(&top), "{path} under {top}");
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        let link = entry
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned());
        seen.insert(
            path[top.len()..].to_string(),
            (entry.header().mode().unwrap() & 0o777, content, link),
        );
    }
    assert_eq!(seen["src/lib.py"].1, b"x = 1\n");
    assert_eq!(seen["run.sh"].0 & 0o111, 0o111);
    assert_eq!(seen["link"].2.as_deref(), Some("src/lib.py"));
}
