//! git's smart HTTP protocol, exercised with the real `git` client.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{TOKEN, get, hub};
use fakehub::{Fault, RepoMeta, repo};

/// A `git` client isolated from the user's configuration, never prompting.
fn git_client(args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("git");
    for (k, _) in std::env::vars_os() {
        if let Some(k) = k.to_str()
            && (k.starts_with("GIT_") || k.ends_with("ASKPASS"))
        {
            c.env_remove(k);
        }
    }
    c.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .args(["-c", "credential.helper="])
        .args(args);
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c.output().expect("run git")
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn in_checkout(dir: &Path, args: &[&str]) -> String {
    let d = dir.to_str().unwrap();
    let mut a = vec!["-C", d];
    a.extend_from_slice(args);
    ok(&git_client(&a, &[]), &format!("git {args:?}"))
}

/// Every file under `dir` (outside `.git`) by relative path: contents, or the
/// target for symlinks.
fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_str().unwrap().to_string();
            if rel == ".git" {
                continue;
            }
            let t = e.file_type().unwrap();
            if t.is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                out.insert(rel, target.to_str().unwrap().as_bytes().to_vec());
            } else if t.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(dir, dir, &mut m);
    m
}

/// acme/api: two commits; the second has nested files, an executable and a
/// symlink. Returns (expected files of the second commit, its SHA).
fn api_repo(root: &Path) -> (BTreeMap<String, Vec<u8>>, String) {
    let mut r = repo::create(root, "acme", "api").unwrap();
    r.write("README.md", "old\n");
    r.commit("first").unwrap();
    let mut want = BTreeMap::new();
    for i in 0..150 {
        let path = format!("src/pkg{}/sub{}/mod_{i}.py", i % 7, i % 3);
        let body = format!("def f_{i}() -> int:\n    return {i}\n").into_bytes();
        r.write(&path, &body);
        want.insert(path, body);
    }
    r.write("README.md", "# api\n")
        .executable("bin/run.sh", "#!/bin/sh\necho run\n")
        .symlink("docs/readme", "../README.md");
    want.insert("README.md".into(), b"# api\n".to_vec());
    want.insert("bin/run.sh".into(), b"#!/bin/sh\necho run\n".to_vec());
    want.insert("docs/readme".into(), b"../README.md".to_vec());
    let sha = r.commit("second").unwrap();
    (want, sha)
}

fn dest(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[test]
fn shallow_clone_checks_out_the_commit() {
    let (root, hub) = hub();
    let (want, sha) = api_repo(root.path());
    let work = tempfile::tempdir().unwrap();
    let d = dest(&work, "shallow");
    let url = format!("{}/acme/api.git", hub.url());
    ok(
        &git_client(
            &["clone", "-q", "--depth", "1", &url, d.to_str().unwrap()],
            &[],
        ),
        "clone --depth 1",
    );
    assert_eq!(in_checkout(&d, &["rev-parse", "HEAD"]), sha);
    assert_eq!(
        in_checkout(&d, &["rev-parse", "--is-shallow-repository"]),
        "true"
    );
    assert_eq!(in_checkout(&d, &["rev-list", "--count", "HEAD"]), "1");
    assert_eq!(files_of(&d), want);
    let mode = std::fs::metadata(d.join("bin/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_ne!(mode & 0o111, 0, "executable bit lost");
    let mode = std::fs::metadata(d.join("README.md"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0);

    let s = hub.stats();
    assert!(s.route("git_http") >= 2, "{s:?}");
    assert_eq!(s.requests, s.route("git_http"), "only git requests: {s:?}");
    assert_eq!(s.counted, 0, "git requests consume no API rate limit");
}

#[test]
fn full_clone_without_dot_git_and_any_case() {
    let (root, hub) = hub();
    let (want, sha) = api_repo(root.path());
    let work = tempfile::tempdir().unwrap();
    let d = dest(&work, "full");
    let url = format!("{}/Acme/API", hub.url());
    ok(
        &git_client(&["clone", "-q", &url, d.to_str().unwrap()], &[]),
        "clone",
    );
    assert_eq!(in_checkout(&d, &["rev-parse", "HEAD"]), sha);
    assert_eq!(in_checkout(&d, &["rev-list", "--count", "HEAD"]), "2");
    assert_eq!(files_of(&d), want);
    // A fetch with nothing new also works (protocol v0 as well as v2).
    in_checkout(&d, &["-c", "protocol.version=0", "fetch", "-q", "origin"]);
    in_checkout(&d, &["-c", "protocol.version=2", "fetch", "-q", "origin"]);
}

#[test]
fn large_gzip_requests_are_inflated() {
    let (root, hub) = hub();
    let mut r = repo::create(root.path(), "acme", "many").unwrap();
    let mut tips = Vec::new();
    for i in 0..40 {
        r.write(format!("f{i}.txt"), format!("{i}\n"));
        let sha = r.commit(&format!("c{i}")).unwrap();
        r.create_branch(&format!("b{i}"), &sha).unwrap();
        tips.push(sha);
    }
    let work = tempfile::tempdir().unwrap();
    let d = dest(&work, "many");
    let url = format!("{}/acme/many.git", hub.url());
    // With 40 branches the want list passes 1 KiB, which git gzips.
    let out = git_client(
        &[
            "-c",
            "protocol.version=0",
            "clone",
            "-q",
            "--mirror",
            &url,
            d.to_str().unwrap(),
        ],
        &[("GIT_TRACE_CURL", "1"), ("GIT_TRACE_CURL_NO_DATA", "1")],
    );
    ok(&out, "clone --mirror");
    let trace = String::from_utf8_lossy(&out.stderr);
    assert!(
        trace.contains("Content-Encoding: gzip"),
        "the request was not gzipped, test proves nothing"
    );
    let refs = in_checkout(&d, &["for-each-ref", "--format=%(refname) %(objectname)"]);
    for (i, tip) in tips.iter().enumerate() {
        assert!(refs.contains(&format!("refs/heads/b{i} {tip}")), "{refs}");
    }
}

#[test]
fn private_repositories_need_an_accepted_token() {
    let (root, hub) = hub();
    let mut r = repo::create(root.path(), "acme", "secret").unwrap();
    r.write("key.txt", "hidden\n");
    let sha = r.commit("c").unwrap();
    r.set_metadata(&RepoMeta {
        private: Some(true),
        ..Default::default()
    })
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let addr = hub.addr();

    // No token, a wrong token, a missing repository: refused.
    let url = format!("http://{addr}/acme/secret.git");
    let out = git_client(
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &url,
            dest(&work, "a").to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        !out.status.success(),
        "cloned a private repo without a token"
    );
    assert!(!dest(&work, "a").join("key.txt").exists());
    let bad = format!("http://x-access-token:wrong@{addr}/acme/secret.git");
    let out = git_client(
        &["clone", "-q", &bad, dest(&work, "b").to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success(), "cloned with a wrong token");
    let missing = format!("http://x-access-token:{TOKEN}@{addr}/acme/nope.git");
    let out = git_client(
        &["clone", "-q", &missing, dest(&work, "c").to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Basic auth as GitHub takes it, and a Bearer header.
    let basic = format!("http://x-access-token:{TOKEN}@{addr}/acme/secret.git");
    let d = dest(&work, "d");
    ok(
        &git_client(
            &["clone", "-q", "--depth", "1", &basic, d.to_str().unwrap()],
            &[],
        ),
        "clone with basic auth",
    );
    assert_eq!(in_checkout(&d, &["rev-parse", "HEAD"]), sha);
    assert_eq!(std::fs::read(d.join("key.txt")).unwrap(), b"hidden\n");
    let d = dest(&work, "e");
    let hdr = format!("http.extraHeader=Authorization: Bearer {TOKEN}");
    ok(
        &git_client(&["-c", &hdr, "clone", "-q", &url, d.to_str().unwrap()], &[]),
        "clone with a bearer token",
    );
    assert_eq!(in_checkout(&d, &["rev-parse", "HEAD"]), sha);
}

#[test]
fn latency_applies_and_faults_hit_git_requests() {
    let (root, hub) = hub();
    api_repo(root.path());
    let work = tempfile::tempdir().unwrap();
    let url = format!("{}/acme/api.git", hub.url());

    hub.set_latency(Duration::from_millis(150));
    let t = Instant::now();
    ok(
        &git_client(
            &[
                "clone",
                "-q",
                "--depth",
                "1",
                &url,
                dest(&work, "a").to_str().unwrap(),
            ],
            &[],
        ),
        "clone",
    );
    let n = hub.stats().route("git_http");
    assert!(n >= 2);
    assert!(
        t.elapsed() >= Duration::from_millis(150) * n as u32,
        "{n} requests in {:?}",
        t.elapsed()
    );
    hub.set_latency(Duration::ZERO);

    hub.inject(Fault::status(503).on_route("git_http"));
    let out = git_client(
        &["clone", "-q", &url, dest(&work, "b").to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success(), "the injected 503 was not seen");
    ok(
        &git_client(
            &["clone", "-q", &url, dest(&work, "c").to_str().unwrap()],
            &[],
        ),
        "clone after the fault",
    );
}

#[tokio::test]
async fn pushes_and_dumb_http_are_refused() {
    let (root, hub) = hub();
    api_repo(root.path());
    let r = get(
        &hub,
        "/acme/api.git/info/refs?service=git-receive-pack",
        &[],
    )
    .await;
    assert_eq!(r.status, 403);
    let r = get(&hub, "/acme/api.git/info/refs", &[]).await;
    assert_eq!(r.status, 403);
    let r = get(&hub, "/acme/api.git/git-upload-pack", &[]).await;
    assert_eq!(r.status, 405);
    let r = get(
        &hub,
        "/acme/api.git/info/refs?service=git-upload-pack",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/x-git-upload-pack-advertisement")
    );
    assert!(
        r.header("content-encoding").is_none(),
        "git data is not gzipped"
    );
    assert!(r.text().starts_with("001e# service=git-upload-pack\n"));
    // The API is untouched.
    assert_eq!(get(&hub, "/repos/acme/api", &[]).await.status, 200);
}
