//! Behaviour of the fakehub server against real bare repositories.

mod common;

use std::time::{Duration, Instant};

use common::{TOKEN, get, get_auth, git, hub, links};
use fakehub::{Fault, OwnerType, RepoMeta, repo};

fn widgets(root: &std::path::Path) -> (repo::Repo, String) {
    let mut r = repo::create(root, "acme", "widgets").unwrap();
    r.write("README.md", "# widgets\n")
        .write("src/lib.rs", "pub fn f() {}\n")
        .executable("bin/run.sh", "#!/bin/sh\necho run\n")
        .symlink("docs/readme-link", "../README.md")
        .symlink("dangling", "nowhere/at/all")
        .submodule(
            "vendor/dep",
            "https://example.com/dep.git",
            &"ab".repeat(20),
        )
        .empty_file("empty.txt");
    let sha = r.commit("initial").unwrap();
    (r, sha)
}

#[tokio::test]
async fn pagination_links_are_followable_to_the_end() {
    let (dir, hub) = hub();
    for i in 0..7 {
        repo::create(dir.path(), "acme", &format!("repo-{i}")).unwrap();
    }
    let first = get(&hub, "/orgs/acme/repos?per_page=3&sort=full_name", &[]).await;
    assert_eq!(first.status, 200);
    let l = links(&first.header("link").expect("link header"));
    let rels: Vec<&str> = l.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(rels, ["next", "last"]);
    assert!(l[0].1.starts_with(&hub.url()), "absolute URL: {}", l[0].1);
    assert!(
        l[0].1.contains("/organizations/"),
        "id-based like GitHub: {}",
        l[0].1
    );
    assert!(
        l[0].1.ends_with("per_page=3&sort=full_name&page=2"),
        "{}",
        l[0].1
    );

    let mut names: Vec<String> = first
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    let mut etags = vec![first.header("etag").unwrap()];
    let mut next = l.iter().find(|(r, _)| r == "next").map(|(_, u)| u.clone());
    let mut pages = 1;
    while let Some(url) = next {
        let page = get(&hub, &url, &[]).await;
        assert_eq!(page.status, 200, "{url}");
        pages += 1;
        etags.push(page.header("etag").unwrap());
        names.extend(
            page.json()
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_string()),
        );
        let l = page.header("link").map(|h| links(&h)).unwrap_or_default();
        let rels: Vec<&str> = l.iter().map(|(r, _)| r.as_str()).collect();
        if pages == 2 {
            assert_eq!(rels, ["prev", "next", "last", "first"]);
        }
        if pages == 3 {
            assert_eq!(rels, ["prev", "first"]);
        }
        next = l.iter().find(|(r, _)| r == "next").map(|(_, u)| u.clone());
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..7).map(|i| format!("repo-{i}")).collect();
    assert_eq!(names, expected);
    etags.dedup();
    assert_eq!(etags.len(), 3, "each page has its own ETag");

    // Users list too, via /user/{id}/repos links.
    repo::set_owner_type(dir.path(), "acme", OwnerType::User).unwrap();
    let u = get(&hub, "/users/acme/repos?per_page=5", &[]).await;
    let l = links(&u.header("link").unwrap());
    assert!(l[0].1.contains("/user/"), "{}", l[0].1);
    let p2 = get(&hub, &l[0].1, &[]).await;
    assert_eq!(p2.json().as_array().unwrap().len(), 2);
    // An org endpoint for a user answers 404.
    assert_eq!(get(&hub, "/orgs/acme", &[]).await.status, 404);
    assert_eq!(get(&hub, "/users/acme", &[]).await.json()["type"], "User");
}

#[tokio::test]
async fn etag_304_does_not_count() {
    let (dir, hub) = hub();
    let (_r, sha) = widgets(dir.path());
    let a = get(&hub, "/repos/acme/widgets", &[]).await;
    assert_eq!(a.status, 200);
    let etag = a.header("etag").unwrap();
    assert!(etag.starts_with('"') && etag.len() == 66, "{etag}");
    let remaining = a.header("x-ratelimit-remaining").unwrap();
    let b = get(&hub, "/repos/acme/widgets", &[("if-none-match", &etag)]).await;
    assert_eq!(b.status, 304);
    assert!(b.body.is_empty());
    assert_eq!(b.header("x-ratelimit-remaining").unwrap(), remaining);
    assert_eq!(b.header("etag").unwrap(), etag);
    // Weak ETag when gzip is accepted (GitHub compresses); still matches.
    let c = get(&hub, "/repos/acme/widgets", &[("accept-encoding", "gzip")]).await;
    let weak = c.header("etag").unwrap();
    assert!(weak.starts_with("W/\""), "{weak}");
    let d = get(
        &hub,
        "/repos/acme/widgets",
        &[("if-none-match", &weak), ("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(d.status, 304);

    // The SHA media type: body is the SHA, ETag "<sha>".
    let s = get(
        &hub,
        "/repos/acme/widgets/commits/main",
        &[("accept", "application/vnd.github.sha")],
    )
    .await;
    assert_eq!(s.status, 200);
    assert_eq!(s.text(), sha);
    assert_eq!(
        s.header("content-type").unwrap(),
        "application/vnd.github.sha; charset=utf-8"
    );
    assert_eq!(s.header("etag").unwrap(), format!("\"{sha}\""));
    let s2 = get(
        &hub,
        "/repos/acme/widgets/commits/main",
        &[
            ("accept", "application/vnd.github.sha"),
            ("if-none-match", &format!("\"{sha}\"")),
        ],
    )
    .await;
    assert_eq!(s2.status, 304);

    let st = hub.stats();
    assert_eq!(st.requests, 6);
    assert_eq!(st.not_modified, 3);
    assert_eq!(st.counted, 3);
    assert_eq!(st.not_modified_route("repo"), 2);
    assert_eq!(st.not_modified_route("commit"), 1);
}

#[tokio::test]
async fn rate_limit_exhaustion_and_refill() {
    let (dir, hub) = hub();
    widgets(dir.path());
    hub.set_rate_limit(3, Duration::from_secs(2));
    for want in ["2", "1", "0"] {
        let r = get(&hub, "/repos/acme/widgets", &[]).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-remaining").unwrap(), want);
        assert_eq!(r.header("x-ratelimit-limit").unwrap(), "3");
        assert_eq!(r.header("x-ratelimit-resource").unwrap(), "core");
    }
    let r = get(&hub, "/repos/acme/widgets", &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-ratelimit-remaining").unwrap(), "0");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded for")
    );
    // /rate_limit is free and shows the exhausted budget.
    let rl = get(&hub, "/rate_limit", &[]).await;
    assert_eq!(rl.status, 200);
    assert_eq!(rl.json()["resources"]["core"]["remaining"], 0);
    assert_eq!(rl.json()["rate"]["remaining"], 0);
    // The token has its own budget.
    assert_eq!(get_auth(&hub, "/repos/acme/widgets").await.status, 200);
    // Refill after the reset time.
    let reset: u64 = r.header("x-ratelimit-reset").unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let wait = Duration::from_secs(reset).saturating_sub(now) + Duration::from_millis(100);
    assert!(wait <= Duration::from_secs(4), "{wait:?}");
    tokio::time::sleep(wait).await;
    let r = get(&hub, "/repos/acme/widgets", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-remaining").unwrap(), "2");
    // 429 mode.
    hub.set_rate_limit(1, Duration::from_secs(60));
    hub.set_rate_limit_status_429(true);
    assert_eq!(get(&hub, "/repos/acme/widgets", &[]).await.status, 200);
    assert_eq!(get(&hub, "/repos/acme/widgets", &[]).await.status, 429);
    let st = hub.stats();
    assert_eq!(st.route("rate_limit"), 1);
}

#[tokio::test]
async fn private_repos_and_bad_credentials() {
    let (dir, hub) = hub();
    let (r, _) = widgets(dir.path());
    r.set_metadata(&RepoMeta {
        private: Some(true),
        ..Default::default()
    })
    .unwrap();
    repo::create(dir.path(), "acme", "public-one").unwrap();

    let anon = get(&hub, "/repos/acme/widgets", &[]).await;
    let missing = get(&hub, "/repos/acme/nope", &[]).await;
    assert_eq!(anon.status, 404);
    assert_eq!(
        anon.json(),
        missing.json(),
        "private looks exactly like missing"
    );
    assert_eq!(anon.json()["message"], "Not Found");
    assert_eq!(
        get(&hub, "/repos/acme/widgets/git/trees/main", &[])
            .await
            .status,
        404
    );

    let authed = get_auth(&hub, "/repos/acme/widgets").await;
    assert_eq!(authed.status, 200);
    assert_eq!(authed.json()["private"], true);
    assert_eq!(authed.json()["visibility"], "private");
    assert_eq!(
        authed.header("cache-control").unwrap(),
        "private, max-age=60, s-maxage=60"
    );
    assert_eq!(authed.header("x-ratelimit-limit").unwrap(), "5000");
    assert_eq!(anon.header("x-ratelimit-limit").unwrap(), "60");

    let names = |r: &common::Resp| -> Vec<String> {
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&get(&hub, "/orgs/acme/repos", &[]).await),
        ["public-one"]
    );
    let mut all = names(&get_auth(&hub, "/orgs/acme/repos").await);
    all.sort();
    assert_eq!(all, ["public-one", "widgets"]);
    assert_eq!(
        names(&get_auth(&hub, "/orgs/acme/repos?type=private").await),
        ["widgets"]
    );

    let bad = get(
        &hub,
        "/repos/acme/public-one",
        &[("authorization", "token nope")],
    )
    .await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.json()["message"], "Bad credentials");
    assert!(bad.header("x-ratelimit-limit").is_some());
    // `token` scheme works as well as `Bearer`.
    let tok = get(
        &hub,
        "/repos/acme/widgets",
        &[("authorization", &format!("token {TOKEN}"))],
    )
    .await;
    assert_eq!(tok.status, 200);
    // Tokens can be added at run time.
    hub.add_token("another");
    assert_eq!(
        get(
            &hub,
            "/repos/acme/widgets",
            &[("authorization", "Bearer another")]
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn empty_repo_answers_409() {
    let (dir, hub) = hub();
    repo::create_empty(dir.path(), "acme", "empty").unwrap();
    let r = get(&hub, "/repos/acme/empty", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["default_branch"], "main");
    for p in [
        "commits/main",
        "git/trees/main",
        "tarball",
        "contents/",
        "git/ref/heads/main",
    ] {
        let r = get(&hub, &format!("/repos/acme/empty/{p}"), &[]).await;
        assert_eq!(r.status, 409, "{p}");
        assert_eq!(r.json()["message"], "Git Repository is empty.", "{p}");
        assert!(r.json()["documentation_url"].is_string());
    }
}

#[tokio::test]
async fn trees_recursive_and_truncated() {
    let (dir, hub) = hub();
    let (r, sha) = widgets(dir.path());
    let t = get(&hub, "/repos/acme/widgets/git/trees/main?recursive=1", &[]).await;
    assert_eq!(t.status, 200);
    let v = t.json();
    assert_eq!(v["truncated"], false);
    let tree_sha =
        String::from_utf8(git(r.git_dir(), &["rev-parse", &format!("{sha}^{{tree}}")])).unwrap();
    assert_eq!(v["sha"], tree_sha.trim());
    let entries = v["tree"].as_array().unwrap();
    let by_path = |p: &str| {
        entries
            .iter()
            .find(|e| e["path"] == p)
            .unwrap_or_else(|| panic!("{p} missing: {entries:?}"))
            .clone()
    };
    assert_eq!(by_path("bin")["mode"], "040000");
    assert_eq!(by_path("bin")["type"], "tree");
    assert!(by_path("bin").get("size").is_none());
    assert_eq!(by_path("bin/run.sh")["mode"], "100755");
    assert_eq!(by_path("README.md")["mode"], "100644");
    assert_eq!(by_path("README.md")["size"], 10);
    assert_eq!(by_path("docs/readme-link")["mode"], "120000");
    assert_eq!(by_path("docs/readme-link")["size"], 12);
    assert_eq!(by_path("vendor/dep")["mode"], "160000");
    assert_eq!(by_path("vendor/dep")["type"], "commit");
    assert!(by_path("vendor/dep").get("size").is_none());
    assert_eq!(by_path("empty.txt")["size"], 0);
    // Same order as `git ls-tree -r -t`.
    let ls = String::from_utf8(git(
        r.git_dir(),
        &["ls-tree", "-r", "-t", "--name-only", "main"],
    ))
    .unwrap();
    let ours: Vec<&str> = entries
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(ours, ls.lines().collect::<Vec<_>>());

    // Non-recursive: top level only; by tree sha and by commit sha.
    let top = get(
        &hub,
        &format!("/repos/acme/widgets/git/trees/{}", tree_sha.trim()),
        &[],
    )
    .await
    .json();
    assert!(
        top["tree"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["path"].as_str().unwrap().contains('/'))
    );
    assert_eq!(
        get(&hub, &format!("/repos/acme/widgets/git/trees/{sha}"), &[])
            .await
            .json()["sha"],
        tree_sha.trim()
    );

    // Truncation.
    let mut big = repo::create(dir.path(), "acme", "big").unwrap();
    for i in 0..50 {
        big.write(format!("d{}/f{i}.txt", i % 5), format!("{i}\n"));
    }
    big.commit("many").unwrap();
    hub.set_truncate_threshold(10);
    let t = get(&hub, "/repos/acme/big/git/trees/main?recursive=1", &[])
        .await
        .json();
    assert_eq!(t["truncated"], true);
    assert_eq!(t["tree"].as_array().unwrap().len(), 10);
    hub.set_truncate_threshold(100_000);
    let t = get(&hub, "/repos/acme/big/git/trees/main?recursive=1", &[])
        .await
        .json();
    assert_eq!(t["truncated"], false);
    assert_eq!(t["tree"].as_array().unwrap().len(), 55);
    assert_eq!(
        get(&hub, "/repos/acme/big/git/trees/nonexistent", &[])
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn blobs_json_and_raw_streamed() {
    let (dir, hub) = hub();
    let mut r = repo::create(dir.path(), "acme", "blobs").unwrap();
    let small: Vec<u8> = (0..200u8).collect();
    r.write("small.bin", &small)
        .large_file("large.bin", 20 * 1024 * 1024 + 17, 42);
    r.commit("blobs").unwrap();
    let oid = |p: &str| {
        String::from_utf8(git(r.git_dir(), &["rev-parse", &format!("main:{p}")]))
            .unwrap()
            .trim()
            .to_string()
    };

    let j = get(
        &hub,
        &format!("/repos/acme/blobs/git/blobs/{}", oid("small.bin")),
        &[],
    )
    .await;
    assert_eq!(j.status, 200);
    let v = j.json();
    assert_eq!(v["encoding"], "base64");
    assert_eq!(v["size"], 200);
    let content = v["content"].as_str().unwrap();
    assert!(content.lines().all(|l| l.len() <= 60) && content.ends_with('\n'));
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(content.replace('\n', ""))
        .unwrap();
    assert_eq!(decoded, small);

    let big_oid = oid("large.bin");
    let raw = get(
        &hub,
        &format!("/repos/acme/blobs/git/blobs/{big_oid}"),
        &[("accept", "application/vnd.github.raw")],
    )
    .await;
    assert_eq!(raw.status, 200);
    assert_eq!(
        raw.header("content-type").unwrap(),
        "application/vnd.github.raw; charset=utf-8"
    );
    assert_eq!(raw.header("etag").unwrap(), format!("\"{big_oid}\""));
    assert_eq!(
        raw.header("content-length").unwrap(),
        (20 * 1024 * 1024 + 17).to_string()
    );
    let expected = git(r.git_dir(), &["cat-file", "blob", &big_oid]);
    assert!(raw.body == expected, "raw blob differs from git's");
    let v3 = get(
        &hub,
        &format!("/repos/acme/blobs/git/blobs/{}", oid("small.bin")),
        &[("accept", "application/vnd.github.v3.raw")],
    )
    .await;
    assert_eq!(
        v3.header("content-type").unwrap(),
        "application/vnd.github.v3.raw; charset=utf-8"
    );
    assert_eq!(v3.body, small);

    assert_eq!(
        get(
            &hub,
            &format!("/repos/acme/blobs/git/blobs/{}", "0".repeat(40)),
            &[]
        )
        .await
        .status,
        404
    );
    assert_eq!(
        get(&hub, "/repos/acme/blobs/git/blobs/xyz", &[])
            .await
            .status,
        422
    );
}

#[tokio::test]
async fn tarball_redirect_and_archive_matches_commit() {
    let (dir, hub) = hub();
    let (r, sha) = widgets(dir.path());
    let red = get(&hub, "/repos/acme/widgets/tarball/main", &[]).await;
    assert_eq!(red.status, 302);
    let loc = red.header("location").unwrap();
    assert_eq!(
        loc,
        format!(
            "{}/_codeload/acme/widgets/legacy.tar.gz/refs/heads/main",
            hub.url()
        )
    );
    let by_sha = get(&hub, &format!("/repos/acme/widgets/tarball/{sha}"), &[]).await;
    assert!(
        by_sha
            .header("location")
            .unwrap()
            .ends_with(&format!("/legacy.tar.gz/{sha}"))
    );
    assert!(
        get(&hub, "/repos/acme/widgets/tarball", &[])
            .await
            .header("location")
            .unwrap()
            .ends_with("refs/heads/main")
    );

    let tgz = get(&hub, &loc, &[]).await;
    assert_eq!(tgz.status, 200);
    assert_eq!(tgz.header("content-type").unwrap(), "application/x-gzip");
    assert!(tgz.header("x-ratelimit-remaining").is_none());
    let st = hub.stats();
    assert_eq!(st.route("tarball"), 3);
    assert_eq!(st.route("codeload"), 1);
    assert_eq!(st.counted, 3, "codeload does not count");

    // Untar and compare with the commit.
    let out = tempfile::tempdir().unwrap();
    let tgz_path = out.path().join("a.tar.gz");
    std::fs::write(&tgz_path, &tgz.body).unwrap();
    let st = std::process::Command::new("tar")
        .arg("xzf")
        .arg(&tgz_path)
        .arg("-C")
        .arg(out.path())
        .status()
        .unwrap();
    assert!(st.success());
    let top = out.path().join(format!("acme-widgets-{}", &sha[..7]));
    assert!(top.is_dir());
    let ls = git(r.git_dir(), &["ls-tree", "-r", "-z", &sha]);
    let mut n = 0;
    for rec in ls.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let s = String::from_utf8_lossy(rec);
        let (meta, path) = s.split_once('\t').unwrap();
        let f: Vec<&str> = meta.split(' ').collect();
        let p = top.join(path);
        match f[0] {
            "120000" => {
                let target = std::fs::read_link(&p).unwrap();
                assert_eq!(
                    target.as_os_str().as_encoded_bytes(),
                    git(r.git_dir(), &["cat-file", "blob", f[2]])
                );
            }
            "160000" => assert!(p.is_dir(), "submodule dir {path}"),
            mode => {
                let data = std::fs::read(&p).unwrap();
                assert_eq!(
                    data,
                    git(r.git_dir(), &["cat-file", "blob", f[2]]),
                    "{path}"
                );
                use std::os::unix::fs::PermissionsExt;
                let exec = std::fs::metadata(&p).unwrap().permissions().mode() & 0o100 != 0;
                assert_eq!(exec, mode == "100755", "{path}");
            }
        }
        n += 1;
    }
    assert_eq!(n, 8);
    // The pax header carries the commit id, like GitHub's archives.
    let tar = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -dc {} | git get-tar-commit-id",
            tgz_path.display()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&tar.stdout).trim(), sha);

    // Private: the Location carries a token; codeload refuses without it.
    r.update_metadata(|m| m.private = Some(true)).unwrap();
    assert_eq!(
        get(&hub, "/repos/acme/widgets/tarball/main", &[])
            .await
            .status,
        404
    );
    let red = get_auth(&hub, "/repos/acme/widgets/tarball/main").await;
    let loc = red.header("location").unwrap();
    assert!(loc.contains("?token="), "{loc}");
    assert_eq!(get(&hub, &loc, &[]).await.status, 200);
    let bare = loc.split('?').next().unwrap();
    assert_eq!(get(&hub, bare, &[]).await.status, 404);
    assert_eq!(
        get(
            &hub,
            "/repos/acme/widgets/tarball/nope",
            &[("authorization", &format!("Bearer {TOKEN}"))]
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn commits_refs_branches_tags() {
    let (dir, hub) = hub();
    let (mut r, first) = widgets(dir.path());
    r.tag("v1", &first).unwrap();
    let tag_obj = r.annotated_tag("v1-annotated", &first, "release").unwrap();
    for reference in [
        "main",
        "v1",
        "v1-annotated",
        &first[..7],
        first.as_str(),
        "heads/main",
        "refs/heads/main",
    ] {
        let c = get(
            &hub,
            &format!("/repos/acme/widgets/commits/{reference}"),
            &[],
        )
        .await;
        assert_eq!(c.status, 200, "{reference}");
        assert_eq!(c.json()["sha"], first, "{reference}");
    }
    let c = get(&hub, "/repos/acme/widgets/commits/main", &[])
        .await
        .json();
    assert_eq!(c["commit"]["author"]["name"], repo::AUTHOR_NAME);
    assert_eq!(c["commit"]["author"]["date"], "2023-11-14T22:13:20Z");
    assert_eq!(c["commit"]["message"], "initial");
    assert_eq!(c["parents"].as_array().unwrap().len(), 0);
    assert_eq!(c["files"].as_array().unwrap().len(), 8);
    for bad in ["nope", "-n", "main..x", "HEAD~1"] {
        let c = get(&hub, &format!("/repos/acme/widgets/commits/{bad}"), &[]).await;
        assert_eq!(c.status, 422, "{bad}");
        assert_eq!(
            c.json()["message"],
            format!("No commit found for SHA: {bad}")
        );
    }

    // The default branch moves; the long-lived cat-file process sees it.
    r.write("NEW.md", "new\n");
    let second = r.commit_at("second", 1_800_000_000).unwrap();
    let c = get(&hub, "/repos/acme/widgets/commits/main", &[])
        .await
        .json();
    assert_eq!(c["sha"], second);
    assert_eq!(c["parents"][0]["sha"], first);
    assert_eq!(c["commit"]["committer"]["date"], "2027-01-15T08:00:00Z");
    assert_eq!(c["files"].as_array().unwrap().len(), 1);
    assert_eq!(c["files"][0]["status"], "added");
    assert_eq!(c["stats"]["additions"], 1);

    r.create_branch("feature/x", &first).unwrap();
    let b = get(&hub, "/repos/acme/widgets/branches", &[]).await.json();
    let names: Vec<&str> = b
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["feature/x", "main"]);
    let fx = get(&hub, "/repos/acme/widgets/branches/feature/x", &[]).await;
    assert_eq!(fx.status, 200);
    assert_eq!(fx.json()["commit"]["sha"], first);
    assert_eq!(
        get(&hub, "/repos/acme/widgets/branches/nope", &[])
            .await
            .status,
        404
    );

    let rf = get(&hub, "/repos/acme/widgets/git/ref/heads/main", &[])
        .await
        .json();
    assert_eq!(rf["ref"], "refs/heads/main");
    assert_eq!(rf["object"]["sha"], second);
    assert_eq!(rf["object"]["type"], "commit");
    let at = get(&hub, "/repos/acme/widgets/git/ref/tags/v1-annotated", &[])
        .await
        .json();
    assert_eq!(at["object"]["type"], "tag");
    assert_eq!(at["object"]["sha"], tag_obj);
    let m = get(&hub, "/repos/acme/widgets/git/matching-refs/tags/v1", &[])
        .await
        .json();
    assert_eq!(m.as_array().unwrap().len(), 2);
    assert_eq!(
        get(&hub, "/repos/acme/widgets/git/matching-refs/tags/zzz", &[])
            .await
            .json(),
        serde_json::json!([])
    );
    assert_eq!(
        get(&hub, "/repos/acme/widgets/git/ref/heads/nope", &[])
            .await
            .status,
        404
    );

    let tags = get(&hub, "/repos/acme/widgets/tags", &[]).await.json();
    let tags = tags.as_array().unwrap();
    assert_eq!(tags.len(), 2);
    assert!(
        tags.iter().all(|t| t["commit"]["sha"] == first),
        "tags peel to commits"
    );

    let gc = get(
        &hub,
        &format!("/repos/acme/widgets/git/commits/{second}"),
        &[],
    )
    .await
    .json();
    assert_eq!(gc["tree"]["sha"].as_str().unwrap().len(), 40);
    assert_eq!(gc["message"], "second");
    assert_eq!(
        get(
            &hub,
            &format!("/repos/acme/widgets/git/commits/{}", "1".repeat(40)),
            &[]
        )
        .await
        .status,
        404
    );

    // Default branch switch.
    r.set_default_branch("feature/x").unwrap();
    assert_eq!(
        get(&hub, "/repos/acme/widgets", &[]).await.json()["default_branch"],
        "feature/x"
    );
}

#[tokio::test]
async fn contents_files_dirs_symlinks_submodules() {
    let (dir, hub) = hub();
    let (_r, sha) = widgets(dir.path());
    let root = get(&hub, "/repos/acme/widgets/contents/", &[]).await.json();
    let kinds: Vec<(String, String)> = root
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().into(),
                e["type"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(kinds.contains(&("bin".into(), "dir".into())));
    assert!(kinds.contains(&("dangling".into(), "symlink".into())));
    let f = get(&hub, "/repos/acme/widgets/contents/README.md", &[])
        .await
        .json();
    assert_eq!(f["type"], "file");
    assert_eq!(f["encoding"], "base64");
    assert_eq!(f["content"], "IyB3aWRnZXRzCg==\n");
    let raw = get(
        &hub,
        "/repos/acme/widgets/contents/README.md",
        &[("accept", "application/vnd.github.v3.raw")],
    )
    .await;
    assert_eq!(raw.text(), "# widgets\n");
    assert_eq!(
        raw.header("x-github-media-type").unwrap(),
        "github.v3; param=raw"
    );
    // A symlink to a file in the repo is served as that file.
    let l = get(&hub, "/repos/acme/widgets/contents/docs/readme-link", &[])
        .await
        .json();
    assert_eq!(l["type"], "file");
    assert_eq!(l["path"], "README.md");
    let d = get(&hub, "/repos/acme/widgets/contents/dangling", &[])
        .await
        .json();
    assert_eq!(d["type"], "symlink");
    assert_eq!(d["target"], "nowhere/at/all");
    let s = get(&hub, "/repos/acme/widgets/contents/vendor/dep", &[])
        .await
        .json();
    assert_eq!(s["type"], "submodule");
    assert_eq!(s["submodule_git_url"], "https://example.com/dep.git");
    let sub = get(
        &hub,
        &format!("/repos/acme/widgets/contents/src?ref={sha}"),
        &[],
    )
    .await
    .json();
    assert_eq!(sub[0]["path"], "src/lib.rs");
    assert_eq!(
        get(&hub, "/repos/acme/widgets/contents/nope", &[])
            .await
            .status,
        404
    );
    let nr = get(&hub, "/repos/acme/widgets/contents/README.md?ref=nope", &[]).await;
    assert_eq!(nr.status, 404);
    assert_eq!(nr.json()["message"], "No commit found for the ref nope");
    // download_url is served.
    let dl = get(&hub, f["download_url"].as_str().unwrap(), &[]).await;
    assert_eq!(dl.status, 200);
    assert_eq!(dl.text(), "# widgets\n");
}

#[tokio::test]
async fn fault_injection_kinds() {
    let (dir, hub) = hub();
    let mut r = repo::create(dir.path(), "acme", "f").unwrap();
    r.large_file("big.bin", 300_000, 7);
    r.commit("x").unwrap();
    let oid = String::from_utf8(git(r.git_dir(), &["rev-parse", "main:big.bin"]))
        .unwrap()
        .trim()
        .to_string();
    let blob = format!("/repos/acme/f/git/blobs/{oid}");
    let raw = [("accept", "application/vnd.github.raw")];

    // Status, twice, on one route only.
    hub.inject(Fault::status(503).on_route("blob").times(2));
    assert_eq!(get(&hub, "/repos/acme/f", &[]).await.status, 200);
    assert_eq!(get(&hub, &blob, &raw).await.status, 503);
    assert_eq!(get(&hub, &blob, &raw).await.status, 503);
    assert_eq!(get(&hub, &blob, &raw).await.status, 200);

    // Drop the connection before responding.
    hub.inject(Fault::drop_connection().on_route("repo"));
    let e = common::client()
        .get(format!("{}/repos/acme/f", hub.url()))
        .send()
        .await;
    assert!(e.is_err(), "expected a connection error, got {e:?}");
    assert_eq!(get(&hub, "/repos/acme/f", &[]).await.status, 200);

    // Truncated body: headers then an aborted body.
    hub.inject(Fault::truncate().path_contains(&oid));
    let resp = common::client()
        .get(format!("{}{blob}", hub.url()))
        .header("accept", "application/vnd.github.raw")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-length"], "300000");
    assert!(resp.bytes().await.is_err(), "truncated body must fail");
    hub.inject(Fault::truncate_after(10).on_route("repo"));
    let resp = common::client()
        .get(format!("{}/repos/acme/f", hub.url()))
        .send()
        .await
        .unwrap();
    assert!(resp.bytes().await.is_err());

    // Corrupt: same length, different bytes.
    let good = get(&hub, &blob, &raw).await.body;
    hub.inject(Fault::corrupt().on_route("blob"));
    let bad = get(&hub, &blob, &raw).await.body;
    assert_eq!(bad.len(), good.len());
    assert_ne!(bad, good);

    // Stall.
    hub.inject(Fault::stall(Duration::from_millis(300)).on_route("repo"));
    let t = Instant::now();
    assert_eq!(get(&hub, "/repos/acme/f", &[]).await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));

    // Secondary rate limit.
    hub.inject(Fault::secondary_rate_limit(7));
    let s = get(&hub, "/repos/acme/f", &[]).await;
    assert_eq!(s.status, 403);
    assert_eq!(s.header("retry-after").unwrap(), "7");
    assert!(
        s.json()["message"]
            .as_str()
            .unwrap()
            .contains("secondary rate limit")
    );

    // Codeload can be faulted too; clear_faults removes pending rules.
    hub.inject(Fault::status(502).on_route("codeload").always());
    let loc = get(&hub, "/repos/acme/f/tarball/main", &[])
        .await
        .header("location")
        .unwrap();
    assert_eq!(get(&hub, &loc, &[]).await.status, 502);
    assert_eq!(get(&hub, &loc, &[]).await.status, 502);
    hub.clear_faults();
    assert_eq!(get(&hub, &loc, &[]).await.status, 200);
}

#[tokio::test]
async fn latency_and_stats() {
    let (dir, hub) = hub();
    widgets(dir.path());
    hub.set_latency(Duration::from_millis(200));
    let t = Instant::now();
    get(&hub, "/repos/acme/widgets", &[]).await;
    assert!(t.elapsed() >= Duration::from_millis(200));
    hub.set_latency(Duration::ZERO);
    hub.reset_stats();
    let tree_sha = get(&hub, "/repos/acme/widgets/git/trees/main", &[])
        .await
        .json()["sha"]
        .as_str()
        .unwrap()
        .to_string();
    for p in [
        "/orgs/acme".to_string(),
        "/users/acme".into(),
        "/orgs/acme/repos".into(),
        "/repos/acme/widgets".into(),
        "/repos/acme/widgets/commits/main".into(),
        "/repos/acme/widgets/branches".into(),
        "/repos/acme/widgets/git/ref/heads/main".into(),
        "/repos/acme/widgets/contents/README.md".into(),
        "/repos/acme/widgets/tags".into(),
        "/rate_limit".into(),
        "/repos/acme/widgets/issues".into(),
        format!("/repos/acme/widgets/git/trees/{tree_sha}"),
    ] {
        get(&hub, &p, &[]).await;
    }
    // Control endpoints are not counted.
    get(&hub, "/_fakehub/stats", &[]).await;
    let st = hub.stats();
    assert_eq!(st.route("owner"), 2);
    assert_eq!(st.route("repo_list"), 1);
    assert_eq!(st.route("repo"), 1);
    assert_eq!(st.route("commit"), 1);
    assert_eq!(st.route("branch"), 1);
    assert_eq!(st.route("ref"), 1);
    assert_eq!(st.route("contents"), 1);
    assert_eq!(st.route("tags"), 1);
    assert_eq!(st.route("rate_limit"), 1);
    assert_eq!(st.route("other"), 1);
    assert_eq!(st.route("tree"), 2);
    assert_eq!(st.requests, 13);
    assert_eq!(st.counted, 12);
    let http: fakehub::Stats =
        serde_json::from_slice(&get(&hub, "/_fakehub/stats", &[]).await.body).unwrap();
    assert_eq!(http, st);
}

#[tokio::test]
async fn control_endpoints_over_http() {
    let (dir, hub) = hub();
    widgets(dir.path());
    let c = common::client();
    let post = |path: &str, body: serde_json::Value| {
        let c = c.clone();
        let url = format!("{}{path}", hub.url());
        async move {
            c.post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        post(
            "/_fakehub/faults",
            serde_json::json!({"route": "repo", "kind": "status", "status": 500, "times": 1})
        )
        .await,
        204
    );
    assert_eq!(get(&hub, "/repos/acme/widgets", &[]).await.status, 500);
    assert_eq!(post("/_fakehub/faults", serde_json::json!({"path_contains": "widgets", "kind": "secondary_rate_limit", "retry_after": 3})).await, 204);
    assert_eq!(
        c.delete(format!("{}/_fakehub/faults", hub.url()))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(get(&hub, "/repos/acme/widgets", &[]).await.status, 200);
    assert_eq!(
        post(
            "/_fakehub/rate-limit",
            serde_json::json!({"limit": 1, "reset_after_secs": 60})
        )
        .await,
        204
    );
    assert_eq!(get(&hub, "/repos/acme/widgets", &[]).await.status, 200);
    assert_eq!(get(&hub, "/repos/acme/widgets", &[]).await.status, 403);
    assert_eq!(
        post("/_fakehub/rate-limit", serde_json::json!({"limit": 100})).await,
        204
    );
    assert_eq!(
        post("/_fakehub/latency", serde_json::json!({"ms": 150})).await,
        204
    );
    let t = Instant::now();
    get(&hub, "/repos/acme/widgets", &[]).await;
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!(
        post("/_fakehub/reset-stats", serde_json::json!({})).await,
        204
    );
    assert_eq!(hub.stats().requests, 0);
}

#[tokio::test]
async fn blocked_repo_451_and_id_urls() {
    let (dir, hub) = hub();
    let (r, _) = widgets(dir.path());
    let v = get(&hub, "/repos/acme/widgets", &[]).await.json();
    let id = v["id"].as_u64().unwrap();
    let by_id = get(&hub, &format!("/repositories/{id}"), &[]).await;
    assert_eq!(by_id.status, 200);
    assert_eq!(by_id.json()["full_name"], "acme/widgets");
    assert_eq!(
        get(&hub, "/repos/ACME/Widgets", &[]).await.json()["full_name"],
        "acme/widgets"
    );
    r.update_metadata(|m| {
        m.blocked = Some(true);
        m.description = Some("d".into());
        m.topics = Some(vec!["x".into()]);
        m.license = Some("MIT".into());
    })
    .unwrap();
    let b = get(&hub, "/repos/acme/widgets", &[]).await;
    assert_eq!(b.status, 451);
    assert_eq!(b.json()["message"], "Repository access blocked");
    let list = get(&hub, "/orgs/acme/repos", &[]).await.json();
    assert_eq!(list[0]["license"]["spdx_id"], "MIT");
    assert_eq!(list[0]["topics"][0], "x");
}

#[tokio::test]
async fn binary_prints_url_and_serves() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    widgets(dir.path());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fakehub"))
        .arg("--root")
        .arg(dir.path())
        .args(["--token", "t1", "--anon-rate-limit", "7"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("banner")
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"));
    let r = reqwest::get(format!("{url}/repos/acme/widgets"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-limit"], "7");
    // SIGTERM stops it.
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let st = child.wait().unwrap();
    assert!(st.success() || st.code().is_none(), "{st:?}");
}

/// The heimdall tests are mostly synchronous: the hub must work without a
/// runtime in the caller, and stop listening when dropped.
#[test]
fn works_from_sync_code_and_shuts_down_on_drop() {
    use std::io::{Read, Write};
    let (dir, hub) = hub();
    widgets(dir.path());
    let addr = hub.addr();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(
        b"GET /repos/acme/widgets HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(
        out.contains("\"url\":\"http://example.test/repos/acme/widgets\""),
        "URLs follow the Host header"
    );
    assert_eq!(hub.stats().route("repo"), 1);
    drop(hub);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening after drop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_on_one_repo() {
    let (dir, hub) = hub();
    let mut r = repo::create(dir.path(), "acme", "many").unwrap();
    for i in 0..200 {
        r.write(format!("d{}/f{i}", i % 10), format!("file {i}\n"));
    }
    r.commit("many").unwrap();
    let tree = get(&hub, "/repos/acme/many/git/trees/main?recursive=1", &[])
        .await
        .json();
    let blobs: Vec<(String, String)> = tree["tree"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "blob")
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["sha"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(blobs.len(), 200);
    let client = common::client();
    let mut tasks = Vec::new();
    for (path, sha) in blobs {
        let url = format!("{}/repos/acme/many/git/blobs/{sha}", hub.url());
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let body = c
                .get(url)
                .header("accept", "application/vnd.github.raw")
                .header("authorization", format!("Bearer {TOKEN}"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let i: usize = path.rsplit('f').next().unwrap().parse().unwrap();
            assert_eq!(body, format!("file {i}\n").as_bytes());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(hub.stats().route("blob"), 200);
}

#[tokio::test]
async fn archive_faults_truncate_and_corrupt() {
    let (dir, hub) = hub();
    let mut r = repo::create(dir.path(), "acme", "arch").unwrap();
    r.large_file("noise.bin", 2 * 1024 * 1024, 3);
    r.commit("noise").unwrap();
    let loc = get(&hub, "/repos/acme/arch/tarball/main", &[])
        .await
        .header("location")
        .unwrap();
    let good = get(&hub, &loc, &[]).await.body;
    hub.inject(Fault::truncate_after(1000).on_route("codeload"));
    let resp = common::client().get(&loc).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.is_err(), "aborted chunked stream");
    hub.inject(Fault::corrupt().on_route("codeload"));
    let bad = get(&hub, &loc, &[]).await.body;
    assert_eq!(bad.len(), good.len());
    assert_ne!(bad, good);
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("gzip")
        .arg("-dc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let w = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    w.join().unwrap().unwrap();
    assert!(out.status.success());
    out.stdout
}

#[tokio::test]
async fn gzip_like_github_when_accepted() {
    let (dir, hub) = hub();
    let (mut r, _) = widgets(dir.path());
    r.write("big.txt", "x".repeat(1000));
    r.commit("big").unwrap();
    let plain = get(&hub, "/repos/acme/widgets", &[]).await;
    assert!(plain.header("content-encoding").is_none());
    let gz = get(&hub, "/repos/acme/widgets", &[("accept-encoding", "gzip")]).await;
    assert_eq!(gz.header("content-encoding").unwrap(), "gzip");
    assert!(gz.header("etag").unwrap().starts_with("W/"));
    assert_eq!(gunzip(&gz.body), plain.body);
    let oid = String::from_utf8(git(r.git_dir(), &["rev-parse", "main:big.txt"])).unwrap();
    let raw = get(
        &hub,
        &format!("/repos/acme/widgets/git/blobs/{}", oid.trim()),
        &[
            ("accept", "application/vnd.github.raw"),
            ("accept-encoding", "gzip"),
        ],
    )
    .await;
    assert_eq!(raw.header("content-encoding").unwrap(), "gzip");
    assert_eq!(gunzip(&raw.body), "x".repeat(1000).as_bytes());
    // Archives are gzip already: never compressed again.
    let loc = get(&hub, "/repos/acme/widgets/tarball/main", &[])
        .await
        .header("location")
        .unwrap();
    let tgz = get(&hub, &loc, &[("accept-encoding", "gzip")]).await;
    assert!(tgz.header("content-encoding").is_none());
    // 304s stay empty.
    let etag = gz.header("etag").unwrap();
    let nm = get(
        &hub,
        "/repos/acme/widgets",
        &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(nm.status, 304);
    assert!(nm.body.is_empty());
    hub.set_gzip(false);
    let off = get(&hub, "/repos/acme/widgets", &[("accept-encoding", "gzip")]).await;
    assert!(off.header("content-encoding").is_none());
}
