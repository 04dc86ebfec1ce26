//! Fidelity check: fakehub's responses against recorded and documented
//! api.github.com responses in `tests/fixtures/octokit/` (see its README).
//!
//! For each fixture, every JSON key of the real body must be present in
//! fakehub's body with the same JSON type (recursively into objects; the
//! first element of arrays), and the important headers must have the same
//! form. Deliberate omissions are listed, with the reason, in `SKIP`.

mod common;

use common::{Resp, TOKEN, get, get_auth, hub, links};
use fakehub::{FakeHub, repo};
use serde_json::Value;

struct Fixture {
    name: String,
    status: u16,
    headers: serde_json::Map<String, Value>,
    body: Value,
}

fn fixture(name: &str) -> Fixture {
    let path = format!("{}/../fixtures/octokit/{name}", env!("CARGO_MANIFEST_DIR"));
    let v: Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
            .unwrap();
    Fixture {
        name: name.to_string(),
        status: v["status"].as_u64().unwrap() as u16,
        headers: v["headers"].as_object().cloned().unwrap_or_default(),
        body: v.get("body").cloned().unwrap_or(Value::Null),
    }
}

impl Fixture {
    fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).and_then(|v| v.as_str())
    }
}

/// Keys fakehub deliberately does not serve (paths like `org.plan` match
/// any depth by the last components).
const SKIP: &[(&str, &str)] = &[
    // Org-admin-only fields of GET /orgs/{org}.
    ("billing_email", "org admin only"),
    ("plan", "org admin only"),
    ("disk_usage", "org admin only"),
    ("collaborators", "org admin only"),
    ("private_gists", "org admin only"),
    ("default_repository_permission", "org admin only"),
    ("members_can_create_repositories", "org admin only"),
    ("two_factor_requirement_enabled", "org admin only"),
    ("members_allowed_repository_creation_type", "org admin only"),
    ("members_can_create_public_repositories", "org admin only"),
    ("members_can_create_private_repositories", "org admin only"),
    ("members_can_create_internal_repositories", "org admin only"),
    ("members_can_create_pages", "org admin only"),
    ("members_can_fork_private_repositories", "org admin only"),
    ("members_can_create_public_pages", "org admin only"),
    ("members_can_create_private_pages", "org admin only"),
    // Repository features fakehub has no data for.
    ("security_and_analysis", "admin-only security settings"),
    ("code_of_conduct", "no community files"),
    ("template_repository", "no templates"),
    ("parent", "no fork networks"),
    ("source", "no fork networks"),
    ("custom_properties", "no custom properties"),
    ("role_name", "not in the recorded responses"),
    ("anonymous_access_enabled", "not in the recorded responses"),
    // Commit details that need a diff renderer.
    ("files.patch", "no patch text"),
    ("files.previous_filename", "no rename detection"),
    // Tag object links.
    ("verification", "tags carry no verification"),
];

fn skipped(path: &str) -> bool {
    let path = path.replace("[0]", "");
    SKIP.iter().any(|(k, _)| {
        path == *k || path.ends_with(&format!(".{k}")) || path.ends_with(&format!("].{k}"))
    })
}

/// Keys GitHub may send as null that fakehub always sends as null (no
/// GitHub user matches a commit's author email; no license file; ...).
const NULLABLE: &[&str] = &[
    "author",
    "committer",
    "license",
    "description",
    "homepage",
    "language",
    "mirror_url",
    "submodule_git_url",
    "signature",
    "payload",
    "verified_at",
    "name",
    "email",
    "company",
    "location",
    "twitter_username",
    "download_url",
    "git_url",
    "html_url",
    "hireable",
    "bio",
    "archived_at",
];

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn compare(real: &Value, ours: &Value, path: &str, errs: &mut Vec<String>) {
    if skipped(path) {
        return;
    }
    let last = path.rsplit('.').next().unwrap_or(path);
    match (real, ours) {
        (Value::Null, _) => {}
        (_, Value::Null) if NULLABLE.contains(&last) => {}
        (Value::Object(r), Value::Object(o)) => {
            for (k, rv) in r {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if skipped(&p) {
                    continue;
                }
                match o.get(k) {
                    Some(ov) => compare(rv, ov, &p, errs),
                    None => errs.push(format!("missing key {p}")),
                }
            }
        }
        (Value::Array(r), Value::Array(o)) => {
            if let (Some(rf), Some(of)) = (r.first(), o.first()) {
                compare(rf, of, &format!("{path}[0]"), errs);
            } else if !r.is_empty() && o.is_empty() && path.is_empty() {
                // Nested empty arrays are data (no topics, no parents...);
                // an empty top-level list means the test data is wrong.
                errs.push(format!("{path}: empty array, real one has elements"));
            }
        }
        (r, o) if type_name(r) == type_name(o) => {}
        (r, o) => errs.push(format!(
            "{path}: type {} but real is {}",
            type_name(o),
            type_name(r)
        )),
    }
}

fn check_body(fx: &Fixture, ours: &Value) {
    let mut errs = Vec::new();
    compare(&fx.body, ours, "", &mut errs);
    assert!(
        errs.is_empty(),
        "{}: fakehub differs from GitHub:\n  {}",
        fx.name,
        errs.join("\n  ")
    );
}

fn is_etag(v: &str, hex_len: usize) -> bool {
    let v = v.strip_prefix("W/").unwrap_or(v);
    v.len() == hex_len + 2
        && v.starts_with('"')
        && v.ends_with('"')
        && v[1..v.len() - 1].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Content type, media type, ETag form, rate-limit headers and
/// cache-control, where the fixture has them.
fn check_headers(fx: &Fixture, ours: &Resp) {
    let mut errs = Vec::new();
    for k in [
        "content-type",
        "x-github-media-type",
        "x-ratelimit-resource",
        "cache-control",
    ] {
        if let Some(real) = fx.header(k) {
            match ours.header(k) {
                Some(o) if o == real => {}
                o => errs.push(format!("{k}: {o:?}, real {real:?}")),
            }
        }
    }
    for k in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-used",
        "content-length",
    ] {
        // fakehub streams archives (chunked), so codeload has no length.
        if fx.header(k).is_some() && !(k == "content-length" && fx.name.starts_with("codeload")) {
            match ours.header(k) {
                Some(o) if o.parse::<u64>().is_ok() => {}
                o => errs.push(format!("{k}: {o:?} is not a number")),
            }
        }
    }
    if let Some(real) = fx.header("etag") {
        let len = real.trim_start_matches("W/").len() - 2;
        match ours.header("etag") {
            Some(o) if is_etag(&o, len) && (o.starts_with("W/") == real.starts_with("W/")) => {}
            o => errs.push(format!("etag: {o:?}, real {real:?}")),
        }
    }
    if fx.header("last-modified").is_some()
        && fx.status == 200
        && ours.header("last-modified").is_none()
        && !fx.name.starts_with("contents")
        && !fx.name.starts_with("git-refs")
        && !fx.name.starts_with("org")
    {
        errs.push("last-modified missing".into());
    }
    if fx.header("x-ratelimit-limit").is_none()
        && fx.name.starts_with("codeload")
        && ours.header("x-ratelimit-limit").is_some()
    {
        errs.push("codeload must not send rate-limit headers".into());
    }
    assert!(
        errs.is_empty(),
        "{}: headers differ from GitHub:\n  {}",
        fx.name,
        errs.join("\n  ")
    );
}

fn setup() -> (tempfile::TempDir, FakeHub, String) {
    let (dir, hub) = hub();
    let mut r = repo::create(dir.path(), "acme", "widgets").unwrap();
    r.write("README.md", "# widgets\n")
        .write("src/lib.rs", "pub fn f() {}\n")
        .symlink("dangling", "nowhere")
        .submodule(
            "vendor/dep",
            "https://example.com/dep.git",
            &"ab".repeat(20),
        );
    r.commit("initial").unwrap();
    r.write("src/lib.rs", "pub fn g() {}\n");
    let sha = r.commit("second").unwrap();
    r.annotated_tag("v1.0", &sha, "v1.0").unwrap();
    r.update_metadata(|m| {
        m.license = Some("MIT".into());
        m.description = Some("Widgets".into());
        m.language = Some("Rust".into());
        m.topics = Some(vec!["widgets".into()]);
    })
    .unwrap();
    for i in 0..12 {
        repo::create(dir.path(), "acme", &format!("r{i:02}")).unwrap();
    }
    (dir, hub, sha)
}

#[tokio::test]
async fn recorded_responses() {
    let (_dir, hub, _sha) = setup();

    let fx = fixture("repo-get.json");
    let ours = get_auth(&hub, "/repos/acme/widgets").await;
    assert_eq!(ours.status, fx.status);
    check_body(&fx, &ours.json());
    check_headers(&fx, &ours);

    let fx = fixture("org-get.json");
    let ours = get_auth(&hub, "/orgs/acme").await;
    check_body(&fx, &ours.json());
    check_headers(&fx, &ours);

    let fx = fixture("contents-dir.json");
    let ours = get_auth(&hub, "/repos/acme/widgets/contents/").await;
    check_body(&fx, &ours.json());
    check_headers(&fx, &ours);

    let fx = fixture("contents-file-raw.json");
    let ours = get(
        &hub,
        "/repos/acme/widgets/contents/README.md",
        &[
            ("accept", "application/vnd.github.v3.raw"),
            ("authorization", &format!("token {TOKEN}")),
        ],
    )
    .await;
    assert_eq!(ours.status, 200);
    check_headers(&fx, &ours);
    assert_eq!(ours.text(), "# widgets\n");

    let fx = fixture("git-refs-list.json");
    let ours = get_auth(&hub, "/repos/acme/widgets/git/refs/").await;
    check_body(&fx, &ours.json());
    check_headers(&fx, &ours);

    let fx = fixture("tarball-redirect.json");
    let ours = get_auth(&hub, "/repos/acme/widgets/tarball/main").await;
    assert_eq!(ours.status, fx.status);
    check_headers(&fx, &ours);
    let real_loc = fx.header("location").unwrap();
    let ours_loc = ours.header("location").unwrap();
    assert!(real_loc.ends_with("/legacy.tar.gz/refs/heads/main"));
    assert!(
        ours_loc.ends_with("/acme/widgets/legacy.tar.gz/refs/heads/main"),
        "{ours_loc}"
    );

    let fx = fixture("codeload-tarball.json");
    let ours = get(&hub, &ours_loc, &[]).await;
    assert_eq!(ours.status, 200);
    check_headers(&fx, &ours);
    let cd = ours.header("content-disposition").unwrap();
    let real_cd = fx.header("content-disposition").unwrap();
    let form = |s: &str| -> bool {
        let f = s
            .strip_prefix("attachment; filename=")
            .and_then(|f| f.strip_suffix(".tar.gz"))
            .unwrap_or("");
        f.rsplit('-')
            .next()
            .is_some_and(|h| h.len() == 7 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    assert!(form(real_cd) && form(&cd), "{cd} vs {real_cd}");

    let fx = fixture("not-found.json");
    let ours = get_auth(&hub, "/repos/acme/nope").await;
    assert_eq!(ours.status, 404);
    check_body(&fx, &ours.json());
    check_headers(&fx, &ours);
}

#[tokio::test]
async fn recorded_pagination_link_form() {
    let (_dir, hub, _sha) = setup();
    // 13 repos at per_page=3 give 5 pages, like the recorded 13 issues.
    for (name, page) in [
        ("list-page1.json", 1),
        ("list-page2.json", 2),
        ("list-last-page.json", 5),
    ] {
        let fx = fixture(name);
        let real = links(fx.header("link").unwrap());
        let url = if page == 1 {
            "/orgs/acme/repos?per_page=3".to_string()
        } else {
            format!("/orgs/acme/repos?per_page=3&page={page}")
        };
        let ours_resp = get_auth(&hub, &url).await;
        check_headers(&fx, &ours_resp);
        let ours = links(&ours_resp.header("link").unwrap());
        let rels = |l: &[(String, String)]| l.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>();
        assert_eq!(rels(&ours), rels(&real), "{name}");
        for ((_, r), (_, o)) in real.iter().zip(&ours) {
            // Same query (per_page kept, page appended), absolute URLs.
            assert_eq!(
                r.split_once('?').unwrap().1,
                o.split_once('?').unwrap().1,
                "{name}"
            );
            assert!(o.starts_with(&hub.url()));
        }
        let n = ours_resp.json().as_array().unwrap().len();
        let real_n = fx.body.as_array().unwrap().len();
        assert_eq!(n, real_n, "{name}: page size");
    }
}

#[tokio::test]
async fn documented_bodies() {
    let (dir, hub, sha) = setup();
    let git_dir = dir.path().join("acme/widgets.git");
    let blob = String::from_utf8(common::git(&git_dir, &["rev-parse", "main:README.md"]))
        .unwrap()
        .trim()
        .to_string();

    let cases: Vec<(&str, String)> = vec![
        (
            "repos-list-page1.json",
            "/orgs/acme/repos?sort=full_name&direction=desc".into(),
        ),
        ("repo-get-example.json", "/repos/acme/widgets".into()),
        ("commit-get.json", "/repos/acme/widgets/commits/main".into()),
        (
            "git-commit.json",
            format!("/repos/acme/widgets/git/commits/{sha}"),
        ),
        (
            "git-ref.json",
            "/repos/acme/widgets/git/ref/heads/main".into(),
        ),
        ("git-tree.json", "/repos/acme/widgets/git/trees/main".into()),
        (
            "git-tree-recursive.json",
            "/repos/acme/widgets/git/trees/main?recursive=1".into(),
        ),
        (
            "git-blob.json",
            format!("/repos/acme/widgets/git/blobs/{blob}"),
        ),
        ("branches-list.json", "/repos/acme/widgets/branches".into()),
        (
            "branch-get.json",
            "/repos/acme/widgets/branches/main".into(),
        ),
        ("tags-list.json", "/repos/acme/widgets/tags".into()),
        (
            "contents-file.json",
            "/repos/acme/widgets/contents/README.md".into(),
        ),
        (
            "contents-symlink.json",
            "/repos/acme/widgets/contents/dangling".into(),
        ),
        (
            "contents-submodule.json",
            "/repos/acme/widgets/contents/vendor/dep".into(),
        ),
        ("rate-limit.json", "/rate_limit".into()),
    ];
    for (name, url) in cases {
        let fx = fixture(name);
        let mut h: Vec<(&str, &str)> = Vec::new();
        let auth = format!("Bearer {TOKEN}");
        h.push(("authorization", &auth));
        let ours = get(&hub, &url, &h).await;
        assert_eq!(ours.status, fx.status, "{name}: {}", ours.text());
        check_body(&fx, &ours.json());
        assert_eq!(
            ours.header("content-type").unwrap(),
            "application/json; charset=utf-8",
            "{name}"
        );
    }

    let fx = fixture("commit-sha.json");
    let ours = get(
        &hub,
        "/repos/acme/widgets/commits/main",
        &[("accept", "application/vnd.github.sha")],
    )
    .await;
    let real = fx.body.as_str().unwrap();
    assert_eq!(ours.text().len(), real.len());
    assert!(ours.text().bytes().all(|b| b.is_ascii_hexdigit()));
}

#[tokio::test]
async fn reported_and_documented_errors() {
    let (dir, hub, _sha) = setup();
    repo::create_empty(dir.path(), "acme", "empty").unwrap();
    let fx = fixture("empty-repo-409.json");
    let ours = get(&hub, "/repos/acme/empty/git/trees/main", &[]).await;
    assert_eq!(ours.status, fx.status);
    check_body(&fx, &ours.json());
    assert_eq!(ours.json()["message"], fx.body["message"]);
    assert_eq!(
        ours.json()["documentation_url"],
        fx.body["documentation_url"]
    );

    repo::open(dir.path(), "acme", "r00")
        .unwrap()
        .update_metadata(|m| m.blocked = Some(true))
        .unwrap();
    let fx = fixture("repo-blocked-451.json");
    let ours = get(&hub, "/repos/acme/r00", &[]).await;
    assert_eq!(ours.status, fx.status);
    check_body(&fx, &ours.json());
    assert_eq!(ours.json()["message"], fx.body["message"]);

    hub.inject(fakehub::Fault::secondary_rate_limit(60));
    let fx = fixture("secondary-rate-limit.json");
    let ours = get(&hub, "/repos/acme/widgets", &[]).await;
    assert_eq!(ours.status, fx.status);
    check_body(&fx, &ours.json());
    assert!(ours.header("retry-after").is_some());
    let prefix = fx.body["message"]
        .as_str()
        .unwrap()
        .split(". ")
        .next()
        .unwrap()
        .to_string();
    assert!(
        ours.json()["message"]
            .as_str()
            .unwrap()
            .starts_with(&prefix)
    );
    assert_ne!(ours.header("x-ratelimit-remaining").unwrap(), "0");

    hub.set_rate_limit(1, std::time::Duration::from_secs(60));
    let fx = fixture("rate-limit-exceeded.json");
    get_auth(&hub, "/repos/acme/widgets").await;
    let ours = get_auth(&hub, "/repos/acme/widgets").await;
    assert_eq!(ours.status, fx.status);
    check_body(&fx, &ours.json());
    check_headers(&fx, &ours);
    assert_eq!(ours.header("x-ratelimit-remaining").unwrap(), "0");
    assert!(
        ours.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded for user ID ")
    );
}
