//! The GitHub REST endpoints, with GitHub's JSON shapes.

#![allow(clippy::result_large_err)] // handlers return ready-made error responses

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::git::{self, Commit, TreeEntry, is_full_sha, valid_rev};
use crate::server::{DOCS, ReqCtx, error};
use crate::state::Shared;
use crate::store::{self, Owner, OwnerType, RepoRef};
use crate::util::{self, b64, b64_github, http_date, iso8601, percent_encode_path};

type Sh = State<Arc<Shared>>;
type Ctx = Extension<Arc<ReqCtx>>;
type Q = Query<HashMap<String, String>>;

/// Blobs up to this size are read through the persistent cat-file process;
/// larger ones are streamed from a dedicated `git cat-file blob`.
const STREAM_THRESHOLD: u64 = 1024 * 1024;
/// JSON (base64) blobs are refused above this size, like GitHub's 100 MB.
const BLOB_JSON_MAX: u64 = 100 * 1024 * 1024;
/// The contents API inlines files up to this size (GitHub: 1 MB).
const CONTENTS_INLINE_MAX: u64 = 1024 * 1024;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/rate_limit", get(rate_limit))
        .route("/orgs/{org}", get(get_org))
        .route("/users/{user}", get(get_user))
        .route("/orgs/{org}/repos", get(list_org_repos))
        .route("/users/{user}/repos", get(list_user_repos))
        .route("/repos/{owner}/{repo}", get(get_repo))
        .route(
            "/repos/{owner}/{repo}/commits/{*reference}",
            get(get_commit),
        )
        .route("/repos/{owner}/{repo}/branches", get(list_branches))
        .route("/repos/{owner}/{repo}/branches/{*branch}", get(get_branch))
        .route("/repos/{owner}/{repo}/tags", get(list_tags))
        .route("/repos/{owner}/{repo}/git/ref/{*reference}", get(get_ref))
        .route("/repos/{owner}/{repo}/git/refs", get(list_refs_all))
        .route("/repos/{owner}/{repo}/git/refs/", get(list_refs_all))
        .route(
            "/repos/{owner}/{repo}/git/refs/{*reference}",
            get(get_refs_legacy),
        )
        .route(
            "/repos/{owner}/{repo}/git/matching-refs/",
            get(list_refs_all),
        )
        .route(
            "/repos/{owner}/{repo}/git/matching-refs/{*reference}",
            get(matching_refs),
        )
        .route(
            "/repos/{owner}/{repo}/git/commits/{sha}",
            get(get_git_commit),
        )
        .route("/repos/{owner}/{repo}/git/trees/{*sha}", get(get_tree))
        .route("/repos/{owner}/{repo}/git/blobs/{sha}", get(get_blob))
        .route("/repos/{owner}/{repo}/contents", get(get_contents_root))
        .route("/repos/{owner}/{repo}/contents/", get(get_contents_root))
        .route("/repos/{owner}/{repo}/contents/{*path}", get(get_contents))
        .route("/repos/{owner}/{repo}/tarball", get(tarball_default))
        .route("/repos/{owner}/{repo}/tarball/", get(tarball_default))
        .route("/repos/{owner}/{repo}/tarball/{*reference}", get(tarball))
        .route(
            "/_codeload/{owner}/{repo}/legacy.tar.gz/{*reference}",
            get(codeload),
        )
        .route("/_raw/{owner}/{repo}/{*rest}", get(raw_file))
}

// ---------------------------------------------------------------------------
// Helpers

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found", DOCS)
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!("fakehub internal error: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error", DOCS)
}

fn empty_repo(doc: &str) -> Response {
    error(StatusCode::CONFLICT, "Git Repository is empty.", doc)
}

/// 200 JSON with GitHub's content type and a body-derived ETag.
fn json_ok(v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let etag = format!("\"{}\"", util::sha256_hex(&body));
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    r
}

/// Like [`json_ok`], with the 40-hex ETag form GitHub uses for contents.
fn contents_json(v: &Value) -> Response {
    let mut r = json_ok(v);
    let short = r
        .headers()
        .get(header::ETAG)
        .and_then(|e| e.to_str().ok())
        .map(|e| format!("{}\"", &e[..41]));
    if let Some(v) = short.and_then(|e| HeaderValue::from_str(&e).ok()) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

fn with_last_modified(mut r: Response, epoch: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&http_date(epoch)) {
        r.headers_mut().insert(header::LAST_MODIFIED, v);
    }
    r
}

fn with_header(mut r: Response, k: &'static str, v: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(v) {
        r.headers_mut()
            .insert(axum::http::HeaderName::from_static(k), v);
    }
    r
}

/// `Some(content-type)` when the Accept header asks for the raw media type.
fn raw_media(accept: &str) -> Option<&'static str> {
    if accept.contains("vnd.github.v3.raw") {
        Some("application/vnd.github.v3.raw; charset=utf-8")
    } else if accept.contains("vnd.github.raw") {
        Some("application/vnd.github.raw; charset=utf-8")
    } else {
        None
    }
}

fn node_id(kind: &str, id: impl std::fmt::Display) -> String {
    b64(format!("{kind}{id}").as_bytes())
}

fn repo_api(base: &str, r: &RepoRef) -> String {
    format!("{base}/repos/{}/{}", r.owner.login, r.name)
}

fn repo_html(base: &str, r: &RepoRef) -> String {
    format!("{base}/{}/{}", r.owner.login, r.name)
}

fn owner_node_id(o: &Owner) -> String {
    match o.kind() {
        OwnerType::Organization => node_id("012:Organization", o.id()),
        OwnerType::User => node_id("04:User", o.id()),
    }
}

/// The "simple user" object GitHub embeds as `owner`.
fn owner_json(base: &str, o: &Owner) -> Value {
    let l = &o.login;
    let id = o.id();
    json!({
        "login": l,
        "id": id,
        "node_id": owner_node_id(o),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": format!("{base}/users/{l}"),
        "html_url": format!("{base}/{l}"),
        "followers_url": format!("{base}/users/{l}/followers"),
        "following_url": format!("{base}/users/{l}/following{{/other_user}}"),
        "gists_url": format!("{base}/users/{l}/gists{{/gist_id}}"),
        "starred_url": format!("{base}/users/{l}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{base}/users/{l}/subscriptions"),
        "organizations_url": format!("{base}/users/{l}/orgs"),
        "repos_url": format!("{base}/users/{l}/repos"),
        "events_url": format!("{base}/users/{l}/events{{/privacy}}"),
        "received_events_url": format!("{base}/users/{l}/received_events"),
        "type": o.kind().as_str(),
        "user_view_type": "public",
        "site_admin": false,
    })
}

fn license_json(spdx: Option<&str>) -> Value {
    let Some(spdx) = spdx else {
        return Value::Null;
    };
    let name = match spdx {
        "MIT" => "MIT License",
        "Apache-2.0" => "Apache License 2.0",
        "GPL-3.0" => "GNU General Public License v3.0",
        "GPL-2.0" => "GNU General Public License v2.0",
        "LGPL-3.0" => "GNU Lesser General Public License v3.0",
        "LGPL-2.1" => "GNU Lesser General Public License v2.1",
        "AGPL-3.0" => "GNU Affero General Public License v3.0",
        "BSD-3-Clause" => "BSD 3-Clause \"New\" or \"Revised\" License",
        "BSD-2-Clause" => "BSD 2-Clause \"Simplified\" License",
        "MPL-2.0" => "Mozilla Public License 2.0",
        "Unlicense" => "The Unlicense",
        "ISC" => "ISC License",
        "NOASSERTION" => "Other",
        other => other,
    };
    if spdx == "NOASSERTION" {
        return json!({"key": "other", "name": "Other", "spdx_id": "NOASSERTION", "url": null,
                      "node_id": node_id("07:License", 0)});
    }
    let key = spdx.to_lowercase();
    json!({
        "key": key,
        "name": name,
        "spdx_id": spdx,
        "url": format!("https://api.github.com/licenses/{key}"),
        "node_id": node_id("07:License", util::fnv64(key.as_bytes()) % 100),
    })
}

/// The repository object (list form; `full` adds the single-repo fields).
fn repo_json(base: &str, r: &RepoRef, authed: bool, full: bool) -> Value {
    let api = repo_api(base, r);
    let html = repo_html(base, r);
    let m = &r.meta;
    let stars = m.stargazers_count.unwrap_or(0);
    let forks = m.forks_count.unwrap_or(0);
    let issues = m.open_issues_count.unwrap_or(0);
    let mut v = json!({
        "id": r.id(),
        "node_id": node_id("010:Repository", r.id()),
        "name": r.name,
        "full_name": r.full_name(),
        "private": r.private(),
        "owner": owner_json(base, &r.owner),
        "html_url": html,
        "description": m.description,
        "fork": r.fork(),
        "url": api,
        "forks_url": format!("{api}/forks"),
        "keys_url": format!("{api}/keys{{/key_id}}"),
        "collaborators_url": format!("{api}/collaborators{{/collaborator}}"),
        "teams_url": format!("{api}/teams"),
        "hooks_url": format!("{api}/hooks"),
        "issue_events_url": format!("{api}/issues/events{{/number}}"),
        "events_url": format!("{api}/events"),
        "assignees_url": format!("{api}/assignees{{/user}}"),
        "branches_url": format!("{api}/branches{{/branch}}"),
        "tags_url": format!("{api}/tags"),
        "blobs_url": format!("{api}/git/blobs{{/sha}}"),
        "git_tags_url": format!("{api}/git/tags{{/sha}}"),
        "git_refs_url": format!("{api}/git/refs{{/sha}}"),
        "trees_url": format!("{api}/git/trees{{/sha}}"),
        "statuses_url": format!("{api}/statuses/{{sha}}"),
        "languages_url": format!("{api}/languages"),
        "stargazers_url": format!("{api}/stargazers"),
        "contributors_url": format!("{api}/contributors"),
        "subscribers_url": format!("{api}/subscribers"),
        "subscription_url": format!("{api}/subscription"),
        "commits_url": format!("{api}/commits{{/sha}}"),
        "git_commits_url": format!("{api}/git/commits{{/sha}}"),
        "comments_url": format!("{api}/comments{{/number}}"),
        "issue_comment_url": format!("{api}/issues/comments{{/number}}"),
        "contents_url": format!("{api}/contents/{{+path}}"),
        "compare_url": format!("{api}/compare/{{base}}...{{head}}"),
        "merges_url": format!("{api}/merges"),
        "archive_url": format!("{api}/{{archive_format}}{{/ref}}"),
        "downloads_url": format!("{api}/downloads"),
        "issues_url": format!("{api}/issues{{/number}}"),
        "pulls_url": format!("{api}/pulls{{/number}}"),
        "milestones_url": format!("{api}/milestones{{/number}}"),
        "notifications_url": format!("{api}/notifications{{?since,all,participating}}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "releases_url": format!("{api}/releases{{/id}}"),
        "deployments_url": format!("{api}/deployments"),
        "created_at": iso8601(r.created_at()),
        "updated_at": iso8601(r.updated_at()),
        "pushed_at": iso8601(r.pushed_at()),
        "git_url": format!("git://{}/{}/{}.git", base.trim_start_matches("http://"), r.owner.login, r.name),
        "ssh_url": format!("git@{}:{}/{}.git", base.trim_start_matches("http://"), r.owner.login, r.name),
        "clone_url": format!("{html}.git"),
        "svn_url": html,
        "homepage": m.homepage,
        "size": r.size_kb(),
        "stargazers_count": stars,
        "watchers_count": stars,
        "language": m.language,
        "has_issues": true,
        "has_projects": true,
        "has_downloads": true,
        "has_wiki": true,
        "has_pages": false,
        "has_discussions": false,
        "forks_count": forks,
        "mirror_url": null,
        "archived": m.archived.unwrap_or(false),
        "disabled": m.disabled.unwrap_or(false),
        "open_issues_count": issues,
        "license": license_json(m.license.as_deref()),
        "allow_forking": true,
        "is_template": m.is_template.unwrap_or(false),
        "web_commit_signoff_required": false,
        "topics": m.topics.clone().unwrap_or_default(),
        "visibility": r.visibility(),
        "forks": forks,
        "open_issues": issues,
        "watchers": stars,
        "default_branch": git::default_branch(&r.git_dir),
    });
    let o = v.as_object_mut().expect("object");
    if authed {
        o.insert(
            "permissions".into(),
            json!({"admin": false, "maintain": false, "push": false, "triage": false, "pull": true}),
        );
    }
    if full {
        if authed {
            o.insert("temp_clone_token".into(), json!(""));
        }
        for (k, val) in [
            ("allow_squash_merge", true),
            ("allow_merge_commit", true),
            ("allow_rebase_merge", true),
            ("allow_auto_merge", false),
            ("delete_branch_on_merge", false),
            ("allow_update_branch", false),
            ("use_squash_pr_title_as_default", false),
        ] {
            o.insert(k.into(), json!(val));
        }
        o.insert(
            "squash_merge_commit_message".into(),
            json!("COMMIT_MESSAGES"),
        );
        o.insert(
            "squash_merge_commit_title".into(),
            json!("COMMIT_OR_PR_TITLE"),
        );
        o.insert("merge_commit_message".into(), json!("PR_TITLE"));
        o.insert("merge_commit_title".into(), json!("MERGE_MESSAGE"));
        if r.owner.kind() == OwnerType::Organization {
            o.insert("organization".into(), owner_json(base, &r.owner));
        }
        o.insert("network_count".into(), json!(forks));
        o.insert("subscribers_count".into(), json!(0));
    }
    v
}

/// A repository the caller may see, with its git handle.
struct Ctxt {
    base: String,
    repo: RepoRef,
    git: Arc<git::Repo>,
}

fn open(sh: &Shared, ctx: &ReqCtx, owner: &str, name: &str) -> Result<Ctxt, Response> {
    let repo = store::find_repo(&sh.root, owner, name).ok_or_else(not_found)?;
    if repo.private() && !ctx.authed {
        return Err(not_found());
    }
    if repo.blocked() {
        let body = json!({
            "message": "Repository access blocked",
            "block": {
                "reason": "tos",
                "created_at": iso8601(repo.updated_at()),
                "html_url": "https://github.com/tos",
            },
        });
        let mut r = (StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS, body.to_string()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        return Err(r);
    }
    let git = sh.git(&repo.git_dir);
    Ok(Ctxt {
        base: ctx.base.clone(),
        repo,
        git,
    })
}

impl Ctxt {
    fn api(&self) -> String {
        repo_api(&self.base, &self.repo)
    }
    fn html(&self) -> String {
        repo_html(&self.base, &self.repo)
    }

    /// Does the repository have no commits at all?
    async fn is_empty(&self) -> Result<bool, Response> {
        if self.git.info("HEAD").await.map_err(internal)?.is_some() {
            return Ok(false);
        }
        Ok(self.git.refs("refs/").await.map_err(internal)?.is_empty())
    }

    async fn ensure_nonempty(&self, doc: &str) -> Result<(), Response> {
        if self.is_empty().await? {
            return Err(empty_repo(doc));
        }
        Ok(())
    }

    async fn resolve(&self, rev: &str) -> Result<Option<String>, Response> {
        if !valid_rev(rev) {
            return Ok(None);
        }
        self.git.resolve_commit(rev).await.map_err(internal)
    }

    async fn load_commit(&self, sha: &str) -> Result<Commit, Response> {
        self.git
            .commit(sha)
            .await
            .map_err(internal)?
            .ok_or_else(not_found)
    }

    fn sig_json(s: &git::Signature) -> Value {
        json!({"name": s.name, "email": s.email, "date": iso8601(s.time)})
    }

    fn verification() -> Value {
        json!({"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null})
    }

    fn parents_json(&self, c: &Commit) -> Value {
        let api = self.api();
        let html = self.html();
        Value::Array(
            c.parents
                .iter()
                .map(|p| {
                    json!({
                        "sha": p,
                        "url": format!("{api}/commits/{p}"),
                        "html_url": format!("{html}/commit/{p}"),
                    })
                })
                .collect(),
        )
    }

    /// The object of `GET /repos/{o}/{r}/commits/{ref}` (without files).
    fn commit_json(&self, c: &Commit) -> Value {
        let api = self.api();
        let html = self.html();
        let sha = &c.sha;
        json!({
            "sha": sha,
            "node_id": node_id("06:Commit", sha),
            "commit": {
                "author": Self::sig_json(&c.author),
                "committer": Self::sig_json(&c.committer),
                "message": c.message,
                "tree": {"sha": c.tree, "url": format!("{api}/git/trees/{}", c.tree)},
                "url": format!("{api}/git/commits/{sha}"),
                "comment_count": 0,
                "verification": Self::verification(),
            },
            "url": format!("{api}/commits/{sha}"),
            "html_url": format!("{html}/commit/{sha}"),
            "comments_url": format!("{api}/commits/{sha}/comments"),
            "author": null,
            "committer": null,
            "parents": self.parents_json(c),
        })
    }

    /// `stats` and `files` of a commit, from `git diff-tree` (cached).
    async fn commit_files(&self, c: &Commit) -> Result<Value, Response> {
        if let Some(v) = self.git.cached_diff(&c.sha) {
            return Ok(v);
        }
        let mut args = vec![
            "diff-tree",
            "-r",
            "-z",
            "--no-commit-id",
            "--raw",
            "--numstat",
        ];
        let first_parent;
        if let Some(p) = c.parents.first() {
            first_parent = p.clone();
            args.push(&first_parent);
        } else {
            args.push("--root");
        }
        args.push(&c.sha);
        let out = self.git.run(&args).await.map_err(internal)?;
        let toks: Vec<&[u8]> = out.split(|b| *b == 0).collect();
        let mut raw: Vec<(String, String, String)> = Vec::new(); // status, sha, path
        let mut num: HashMap<String, (u64, u64)> = HashMap::new();
        let mut i = 0;
        while i < toks.len() {
            let t = toks[i];
            if t.is_empty() {
                i += 1;
                continue;
            }
            if t[0] == b':' {
                let f: Vec<&str> = std::str::from_utf8(t).unwrap_or("").split(' ').collect();
                let path = toks
                    .get(i + 1)
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .unwrap_or_default();
                if f.len() >= 5 {
                    let status = f[4].chars().next().unwrap_or('M');
                    let sha = if status == 'D' { f[2] } else { f[3] };
                    raw.push((status.to_string(), sha.to_string(), path));
                }
                i += 2;
            } else {
                let s = String::from_utf8_lossy(t);
                let mut parts = s.splitn(3, '\t');
                let a = parts.next().unwrap_or("-").parse().unwrap_or(0);
                let d = parts.next().unwrap_or("-").parse().unwrap_or(0);
                let p = parts.next().unwrap_or("").to_string();
                num.insert(p, (a, d));
                i += 1;
            }
        }
        let api = self.api();
        let html = self.html();
        let (mut ta, mut td) = (0u64, 0u64);
        let mut files = Vec::new();
        for (status, sha, path) in &raw {
            let (a, d) = num.get(path).copied().unwrap_or((0, 0));
            ta += a;
            td += d;
            if files.len() >= 300 {
                continue;
            }
            let status = match status.as_str() {
                "A" => "added",
                "D" => "removed",
                "T" => "changed",
                _ => "modified",
            };
            let ep = percent_encode_path(path);
            files.push(json!({
                "sha": sha,
                "filename": path,
                "status": status,
                "additions": a,
                "deletions": d,
                "changes": a + d,
                "blob_url": format!("{html}/blob/{}/{ep}", c.sha),
                "raw_url": format!("{html}/raw/{}/{ep}", c.sha),
                "contents_url": format!("{api}/contents/{ep}?ref={}", c.sha),
            }));
        }
        let v = json!({
            "stats": {"total": ta + td, "additions": ta, "deletions": td},
            "files": files,
        });
        self.git.cache_diff(&c.sha, v.clone());
        Ok(v)
    }
}

/// Pagination parameters and GitHub's `Link` header.
struct Page {
    per_page: usize,
    page: usize,
}

fn page_params(q: &HashMap<String, String>) -> Page {
    let per_page = q
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .map(|n| if n == 0 { 30 } else { n.min(100) })
        .unwrap_or(30);
    let page = q
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    Page { per_page, page }
}

/// Slices `items` and builds the Link header (`prev`, `next`, `last`,
/// `first`, in GitHub's order) pointing at `link_base` with the request's
/// query (minus `page`) plus `page=N`.
fn paginate<T>(
    items: Vec<T>,
    q: &HashMap<String, String>,
    ctx: &ReqCtx,
    link_base: &str,
) -> (Vec<T>, Option<String>) {
    let p = page_params(q);
    let total = items.len();
    let last = total.div_ceil(p.per_page).max(1);
    let start = (p.page - 1).saturating_mul(p.per_page);
    let slice: Vec<T> = items.into_iter().skip(start).take(p.per_page).collect();
    let kept: Vec<&str> = ctx
        .query
        .split('&')
        .filter(|kv| !kv.is_empty() && kv.split('=').next() != Some("page"))
        .collect();
    let url = |n: usize| {
        let mut qs = kept.join("&");
        if !qs.is_empty() {
            qs.push('&');
        }
        format!("<{link_base}?{qs}page={n}>")
    };
    let mut links = Vec::new();
    if p.page > 1 {
        links.push(format!("{}; rel=\"prev\"", url((p.page - 1).min(last))));
    }
    if p.page < last {
        links.push(format!("{}; rel=\"next\"", url(p.page + 1)));
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    if p.page > 1 {
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    let link = if links.is_empty() {
        None
    } else {
        Some(links.join(", "))
    };
    (slice, link)
}

fn with_link(r: Response, link: Option<String>) -> Response {
    match link {
        Some(l) => with_header(r, "link", &l),
        None => r,
    }
}

// ---------------------------------------------------------------------------
// Owners and repository lists

async fn rate_limit(State(sh): Sh, Extension(ctx): Ctx, req: Request) -> Response {
    let bucket = crate::server::bucket_of(&sh, req.headers());
    let v = sh.rate_view(&bucket);
    let core = json!({"limit": v.limit, "used": v.used, "remaining": v.remaining(), "reset": v.reset, "resource": "core"});
    let reset = util::now_epoch() + 60;
    let other = |name: &str, limit: u32| json!({"limit": limit, "used": 0, "remaining": limit, "reset": reset, "resource": name});
    let body = json!({
        "resources": {
            "core": core,
            "search": other("search", if ctx.authed { 30 } else { 10 }),
            "graphql": other("graphql", if ctx.authed { 5000 } else { 0 }),
            "integration_manifest": other("integration_manifest", 5000),
            "source_import": other("source_import", 100),
            "code_scanning_upload": other("code_scanning_upload", 1000),
            "actions_runner_registration": other("actions_runner_registration", 10000),
            "scim": other("scim", 15000),
            "dependency_snapshots": other("dependency_snapshots", 100),
            "code_search": other("code_search", 10),
            "code_scanning_autofix": other("code_scanning_autofix", 10),
        },
        "rate": core,
    });
    let mut r = json_ok(&body);
    r.headers_mut().remove(header::ETAG);
    with_header(r, "cache-control", "no-cache")
}

fn org_json(base: &str, o: &Owner, public_repos: usize, private_repos: usize) -> Value {
    let l = &o.login;
    let id = o.id();
    let created = o
        .meta
        .created_at
        .clone()
        .unwrap_or_else(|| "2020-01-01T00:00:00Z".to_string());
    json!({
        "login": l,
        "id": id,
        "node_id": owner_node_id(o),
        "url": format!("{base}/orgs/{l}"),
        "repos_url": format!("{base}/orgs/{l}/repos"),
        "events_url": format!("{base}/orgs/{l}/events"),
        "hooks_url": format!("{base}/orgs/{l}/hooks"),
        "issues_url": format!("{base}/orgs/{l}/issues"),
        "members_url": format!("{base}/orgs/{l}/members{{/member}}"),
        "public_members_url": format!("{base}/orgs/{l}/public_members{{/member}}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "description": o.meta.description,
        "name": o.meta.name,
        "company": null,
        "blog": "",
        "location": null,
        "email": null,
        "twitter_username": null,
        "is_verified": false,
        "has_organization_projects": true,
        "has_repository_projects": true,
        "public_repos": public_repos,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "html_url": format!("{base}/{l}"),
        "created_at": created,
        "updated_at": created,
        "archived_at": null,
        "type": "Organization",
        "web_commit_signoff_required": false,
        "total_private_repos": private_repos,
        "owned_private_repos": private_repos,
    })
}

fn user_json(base: &str, o: &Owner, public_repos: usize) -> Value {
    let mut v = owner_json(base, o);
    let created = o
        .meta
        .created_at
        .clone()
        .unwrap_or_else(|| "2020-01-01T00:00:00Z".to_string());
    let m = v.as_object_mut().expect("object");
    for (k, val) in [
        ("name", json!(o.meta.name)),
        ("company", Value::Null),
        ("blog", json!("")),
        ("location", Value::Null),
        ("email", Value::Null),
        ("hireable", Value::Null),
        ("bio", json!(o.meta.description)),
        ("twitter_username", Value::Null),
        ("public_repos", json!(public_repos)),
        ("public_gists", json!(0)),
        ("followers", json!(0)),
        ("following", json!(0)),
        ("created_at", json!(created)),
        ("updated_at", json!(created)),
    ] {
        m.insert(k.into(), val);
    }
    v
}

fn repo_counts(o: &Owner) -> (usize, usize) {
    let repos = store::repos_of(o);
    let private = repos.iter().filter(|r| r.private()).count();
    (repos.len() - private, private)
}

async fn get_org(State(sh): Sh, Extension(ctx): Ctx, Path(org): Path<String>) -> Response {
    match store::find_owner(&sh.root, &org) {
        Some(o) if o.kind() == OwnerType::Organization => {
            let (public, private) = repo_counts(&o);
            let private = if ctx.authed { private } else { 0 };
            let updated = o
                .meta
                .created_at
                .as_deref()
                .and_then(util::parse_iso8601)
                .unwrap_or(1_577_836_800);
            with_last_modified(json_ok(&org_json(&ctx.base, &o, public, private)), updated)
        }
        _ => not_found(),
    }
}

async fn get_user(State(sh): Sh, Extension(ctx): Ctx, Path(user): Path<String>) -> Response {
    match store::find_owner(&sh.root, &user) {
        Some(o) => {
            let (public, _) = repo_counts(&o);
            json_ok(&user_json(&ctx.base, &o, public))
        }
        None => not_found(),
    }
}

async fn list_repos(ctx: &ReqCtx, q: &HashMap<String, String>, o: Owner, org: bool) -> Response {
    let ty = q
        .get("type")
        .map(String::as_str)
        .unwrap_or(if org { "all" } else { "owner" });
    let mut repos: Vec<RepoRef> = store::repos_of(&o)
        .into_iter()
        .filter(|r| ctx.authed || !r.private())
        .filter(|r| match ty {
            "public" => !r.private(),
            "private" => r.private(),
            "forks" => r.fork(),
            "sources" => !r.fork(),
            "member" => false,
            _ => true,
        })
        .collect();
    let sort =
        q.get("sort")
            .map(String::as_str)
            .unwrap_or(if org { "created" } else { "full_name" });
    let desc = match q.get("direction").map(String::as_str) {
        Some("asc") => false,
        Some("desc") => true,
        _ => sort != "full_name",
    };
    let key = |r: &RepoRef| -> i64 {
        match sort {
            "updated" => r.updated_at(),
            "pushed" => r.pushed_at(),
            "full_name" => 0,
            _ => r.created_at(),
        }
    };
    let mut keyed: Vec<(i64, String, RepoRef)> = repos
        .drain(..)
        .map(|r| (key(&r), r.name.to_lowercase(), r))
        .collect();
    keyed.sort_by(|a, b| {
        let primary = if desc { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) };
        let by_name = if desc && sort == "full_name" {
            b.1.cmp(&a.1)
        } else {
            a.1.cmp(&b.1)
        };
        primary.then(by_name)
    });
    let repos: Vec<RepoRef> = keyed.into_iter().map(|(_, _, r)| r).collect();
    let link_base = if org {
        format!("{}/organizations/{}/repos", ctx.base, o.id())
    } else {
        format!("{}/user/{}/repos", ctx.base, o.id())
    };
    let (page, link) = paginate(repos, q, ctx, &link_base);
    let body = Value::Array(
        page.iter()
            .map(|r| repo_json(&ctx.base, r, ctx.authed, false))
            .collect(),
    );
    with_link(json_ok(&body), link)
}

async fn list_org_repos(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path(org): Path<String>,
    Query(q): Q,
) -> Response {
    match store::find_owner(&sh.root, &org) {
        Some(o) if o.kind() == OwnerType::Organization => list_repos(&ctx, &q, o, true).await,
        _ => not_found(),
    }
}

async fn list_user_repos(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path(user): Path<String>,
    Query(q): Q,
) -> Response {
    match store::find_owner(&sh.root, &user) {
        Some(o) => list_repos(&ctx, &q, o, false).await,
        None => not_found(),
    }
}

async fn get_repo(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    let c = match open(&sh, &ctx, &owner, &repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let v = repo_json(&c.base, &c.repo, ctx.authed, true);
    with_last_modified(json_ok(&v), c.repo.updated_at())
}

// ---------------------------------------------------------------------------
// Commits, branches, refs, tags

const DOC_COMMIT: &str = "https://docs.github.com/rest/commits/commits#get-a-commit";

async fn get_commit(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path((owner, repo, reference)): Path<(String, String, String)>,
) -> Response {
    let c = match open(&sh, &ctx, &owner, &repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = c.ensure_nonempty(DOC_COMMIT).await {
        return r;
    }
    let sha = match c.resolve(&reference).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("No commit found for SHA: {reference}"),
                DOC_COMMIT,
            );
        }
        Err(r) => return r,
    };
    if ctx.accept.contains("application/vnd.github.sha") {
        let mut r = Response::new(Body::from(sha.clone()));
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.github.sha; charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(&format!("\"{sha}\"")) {
            h.insert(header::ETAG, v);
        }
        return with_header(r, "x-github-media-type", "github.v3; param=sha");
    }
    let commit = match c.load_commit(&sha).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut v = c.commit_json(&commit);
    match c.commit_files(&commit).await {
        Ok(extra) => {
            if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
                for (k, val) in e {
                    o.insert(k.clone(), val.clone());
                }
            }
        }
        Err(r) => return r,
    }
    with_last_modified(json_ok(&v), commit.committer.time)
}

async fn list_branches(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    let c = match open(&sh, &ctx, &owner, &repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let refs = match c.git.refs("refs/heads/").await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let api = c.api();
    let items: Vec<Value> = refs
        .iter()
        .map(|r| {
            let name = r.name.trim_start_matches("refs/heads/");
            json!({
                "name": name,
                "commit": {"sha": r.commit(), "url": format!("{api}/commits/{}", r.commit())},
                "protected": false,
                "protection": {
                    "enabled": false,
                    "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
                },
                "protection_url": format!("{api}/branches/{}/protection", percent_encode_path(name)),
            })
        })
        .collect();
    let link_base = format!("{}/repositories/{}/branches", ctx.base, c.repo.id());
    let (page, link) = paginate(items, &q, &ctx, &link_base);
    with_link(json_ok(&Value::Array(page)), link)
}

async fn get_branch(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path((owner, repo, branch)): Path<(String, String, String)>,
) -> Response {
    let c = match open(&sh, &ctx, &owner, &repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let doc = "https://docs.github.com/rest/branches/branches#get-a-branch";
    let sha = match c.resolve(&format!("refs/heads/{branch}")).await {
        Ok(Some(s)) if valid_rev(&branch) => s,
        Ok(_) => return error(StatusCode::NOT_FOUND, "Branch not found", doc),
        Err(r) => return r,
    };
    let commit = match c.load_commit(&sha).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let api = c.api();
    let v = json!({
        "name": branch,
        "commit": c.commit_json(&commit),
        "_links": {
            "self": format!("{api}/branches/{}", percent_encode_path(&branch)),
            "html": format!("{}/tree/{}", c.html(), percent_encode_path(&branch)),
        },
        "protected": false,
        "protection": {
            "enabled": false,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": format!("{api}/branches/{}/protection", percent_encode_path(&branch)),
    });
    json_ok(&v)
}

async fn list_tags(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    let c = match open(&sh, &ctx, &owner, &repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut refs = match c.git.refs("refs/tags/").await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    refs.reverse();
    let api = c.api();
    let items: Vec<Value> = refs
        .iter()
        .map(|r| {
            let name = r.name.trim_start_matches("refs/tags/");
            json!({
                "name": name,
                "zipball_url": format!("{api}/zipball/refs/tags/{name}"),
                "tarball_url": format!("{api}/tarball/refs/tags/{name}"),
                "commit": {"sha": r.commit(), "url": format!("{api}/commits/{}", r.commit())},
                "node_id": node_id("03:Ref", format!("{}:{}", c.repo.id(), r.name)),
            })
        })
        .collect();
    let link_base = format!("{}/repositories/{}/tags", ctx.base, c.repo.id());
    let (page, link) = paginate(items, &q, &ctx, &link_base);
    with_link(json_ok(&Value::Array(page)), link)
}

fn ref_json(c: &Ctxt, r: &git::RefInfo) -> Value {
    let api = c.api();
    let kind = if r.kind == "tag" { "tag" } else { "commit" };
    let obj_url = if kind == "tag" {
        format!("{api}/git/tags/{}", r.oid)
    } else {
        format!("{api}/git/commits/{}", r.oid)
    };
    let short = r.name.trim_start_matches("refs/");
    json!({
        "ref": r.name,
        "node_id": node_id("REF_", format!("{}:{}", c.repo.id(), r.name)),
        "url": format!("{api}/git/refs/{}", percent_encode_path(short)),
        "object": {"sha": r.oid, "type": kind, "url": obj_url},
    })
}

const DOC_REF: &str = "https://docs.github.com/rest/git/refs#get-a-reference";

async fn refs_for(c: &Ctxt) -> Result<Vec<git::RefInfo>, Response> {
    c.ensure_nonempty(DOC_REF).await?;
    c.git.refs("refs/").await.map_err(internal)
}

async fn get_ref(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path((owner, repo, reference)): Path<(String, String, String)>,
) -> Response {
    let c = match open(&sh, &ctx, &owner, &repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let refs = match refs_for(&c).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let full = format!("refs/{}", reference.trim_end_matches('/'));
    match refs.iter().find(|r| r.name == full) {
        Some(r) => json_ok(&ref_json(&c, r)),
        None => error(StatusCode::NOT_FOUND, "Not Found", DOC_REF),
    }
}

async fn list_refs_all(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    let c = match open(&sh, &ctx, &owner, &repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let refs = match refs_for(&c).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    json_ok(&Value::Array(
        refs.iter().map(|r| ref_json(&c, r)).collect(),
    ))
}

/// Legacy `git/refs/{ref}`: an exact match gives an object, a prefix match
/// an array.
async fn get_refs_legacy(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path((owner, repo, reference)): Path<(String, String, String)>,
) -> Response {
    let c = match open(&sh, &ctx, &owner, &repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let refs = match refs_for(&c).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let want = format!("refs/{}", reference.trim_end_matches('/'));
    if let Some(r) = refs.iter().find(|r| r.name == want) {
        return json_ok(&ref_json(&c, r));
    }
    let pre = format!("{want}/");
    let m: Vec<Value> = refs
        .iter()
        .filter(|r| r.name.starts_with(&pre))
        .map(|r| ref_json(&c, r))
        .collect();
    if m.is_empty() {
        error(StatusCode::NOT_FOUND, "Not Found", DOC_REF)
    } else {
        json_ok(&Value::Array(m))
    }
}

async fn matching_refs(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path((owner, repo, reference)): Path<(String, String, String)>,
) -> Response {
    let c = match open(&sh, &ctx, &owner, &repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let refs = match refs_for(&c).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let pre = format!("refs/{reference}");
    json_ok(&Value::Array(
        refs.iter()
            .filter(|r| r.name.starts_with(&pre))
            .map(|r| ref_json(&c, r))
            .collect(),
    ))
}

async fn get_git_commit(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path((owner, repo, sha)): Path<(String, String, String)>,
) -> Response {
    let c = match open(&sh, &ctx, &owner, &repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = c
        .ensure_nonempty("https://docs.github.com/rest/git/commits#get-a-commit-object")
        .await
    {
        return r;
    }
    if !git::is_hex(&sha) || sha.len() < 4 {
        return not_found();
    }
    let commit = match c.git.info(&sha).await {
        Ok(Some(i)) if i.kind == "commit" => match c.load_commit(&i.oid).await {
            Ok(x) => x,
            Err(r) => return r,
        },
        Ok(_) => return not_found(),
        Err(e) => return internal(e),
    };
    let api = c.api();
    let s = &commit.sha;
    let v = json!({
        "sha": s,
        "node_id": node_id("06:Commit", s),
        "url": format!("{api}/git/commits/{s}"),
        "html_url": format!("{}/commit/{s}", c.html()),
        "author": Ctxt::sig_json(&commit.author),
        "committer": Ctxt::sig_json(&commit.committer),
        "tree": {"sha": commit.tree, "url": format!("{api}/git/trees/{}", commit.tree)},
        "message": commit.message,
        "parents": c.parents_json(&commit),
        "verification": Ctxt::verification(),
    });
    with_last_modified(json_ok(&v), commit.committer.time)
}

// ---------------------------------------------------------------------------
// Trees and blobs

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn join(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    if prefix.is_empty() {
        return name.to_vec();
    }
    let mut p = prefix.to_vec();
    p.push(b'/');
    p.extend_from_slice(name);
    p
}

async fn get_tree(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    Query(q): Q,
) -> Response {
    let c = match open(&sh, &ctx, &owner, &repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = c
        .ensure_nonempty("https://docs.github.com/rest/git/trees#get-a-tree")
        .await
    {
        return r;
    }
    if !valid_rev(&sha) {
        return not_found();
    }
    // GitHub: any value of `recursive` (even 0 or false) enables recursion.
    let recursive = q.contains_key("recursive");
    let threshold = sh.rt().truncate_threshold;
    let tree_oid = match c.git.info(&format!("{sha}^{{tree}}")).await {
        Ok(Some(i)) if i.kind == "tree" => i.oid,
        Ok(_) => return not_found(),
        Err(e) => return internal(e),
    };
    let root = match c.git.tree(&tree_oid).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(),
        Err(e) => return internal(e),
    };
    let mut out: Vec<(Vec<u8>, TreeEntry)> = Vec::new();
    let mut truncated = false;
    let mut stack: Vec<(Vec<u8>, std::vec::IntoIter<TreeEntry>)> =
        vec![(Vec::new(), root.into_iter())];
    while !stack.is_empty() {
        let next = {
            let (prefix, it) = stack.last_mut().expect("non-empty");
            it.next().map(|e| (join(prefix, &e.name), e))
        };
        let Some((path, e)) = next else {
            stack.pop();
            continue;
        };
        if out.len() >= threshold {
            truncated = true;
            break;
        }
        let sub = if recursive && e.kind() == "tree" {
            match c.git.tree(&e.oid).await {
                Ok(Some(t)) => Some(t),
                Ok(None) => None,
                Err(err) => return internal(err),
            }
        } else {
            None
        };
        out.push((path.clone(), e));
        if let Some(t) = sub {
            stack.push((path, t.into_iter()));
        }
    }
    let blob_oids: Vec<String> = out
        .iter()
        .filter(|(_, e)| e.kind() == "blob")
        .map(|(_, e)| e.oid.clone())
        .collect();
    let sizes = match c.git.blob_sizes(&blob_oids).await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let api = c.api();
    let mut sizes = sizes.into_iter();
    let entries: Vec<Value> = out
        .iter()
        .map(|(path, e)| {
            let mut v = json!({
                "path": lossy(path),
                "mode": e.mode_str(),
                "type": e.kind(),
                "sha": e.oid,
            });
            let o = v.as_object_mut().expect("object");
            match e.kind() {
                "blob" => {
                    o.insert("size".into(), json!(sizes.next().unwrap_or(0)));
                    o.insert("url".into(), json!(format!("{api}/git/blobs/{}", e.oid)));
                }
                "tree" => {
                    o.insert("url".into(), json!(format!("{api}/git/trees/{}", e.oid)));
                }
                _ => {}
            }
            v
        })
        .collect();
    let v = json!({
        "sha": tree_oid,
        "url": format!("{api}/git/trees/{tree_oid}"),
        "tree": entries,
        "truncated": truncated,
    });
    json_ok(&v)
}

/// Raw bytes of a blob: small ones from the batch process, large ones
/// streamed from `git cat-file blob` (never fully buffered).
async fn blob_body(c: &Ctxt, oid: &str, size: u64) -> Result<Body, Response> {
    if size <= STREAM_THRESHOLD {
        let data = c
            .git
            .read_kind(oid, "blob")
            .await
            .map_err(internal)?
            .ok_or_else(not_found)?;
        return Ok(Body::from(data));
    }
    let mut cmd = git::git_tokio(&c.git.path);
    cmd.args(["cat-file", "blob", oid])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().map_err(internal)?;
    let stdout = child.stdout.take().ok_or_else(|| internal("no stdout"))?;
    let stream = tokio_util::io::ReaderStream::with_capacity(stdout, 64 * 1024).map(move |r| {
        let _keep_alive = &child;
        r
    });
    Ok(Body::from_stream(stream))
}

fn raw_response(body: Body, size: u64, ct: &'static str, etag: &str) -> Response {
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        h.insert(header::ETAG, v);
    }
    with_header(r, "x-github-media-type", "github.v3; param=raw")
}

async fn get_blob(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path((owner, repo, sha)): Path<(String, String, String)>,
) -> Response {
    let c = match open(&sh, &ctx, &owner, &repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let doc = "https://docs.github.com/rest/git/blobs#get-a-blob";
    if let Err(r) = c.ensure_nonempty(doc).await {
        return r;
    }
    if !is_full_sha(&sha) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The sha parameter must be exactly 40 characters and contain only [0-9a-f].",
            doc,
        );
    }
    let sha = sha.to_lowercase();
    let info = match c.git.info(&sha).await {
        Ok(Some(i)) if i.kind == "blob" => i,
        Ok(_) => return error(StatusCode::NOT_FOUND, "Not Found", doc),
        Err(e) => return internal(e),
    };
    if let Some(ct) = raw_media(&ctx.accept) {
        return match blob_body(&c, &sha, info.size).await {
            Ok(b) => raw_response(b, info.size, ct, &sha),
            Err(r) => r,
        };
    }
    if info.size > BLOB_JSON_MAX {
        // GitHub: "This endpoint supports blobs up to 100 megabytes".
        let body = json!({
            "message": "Sorry, this blob is too large to process.",
            "errors": [{"resource": "Blob", "field": "data", "code": "too_large"}],
            "documentation_url": doc,
            "status": "403",
        });
        let mut r = (StatusCode::FORBIDDEN, body.to_string()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        return r;
    }
    let data = match c.git.read_kind(&sha, "blob").await {
        Ok(Some(d)) => d,
        Ok(None) => return not_found(),
        Err(e) => return internal(e),
    };
    let v = json!({
        "sha": sha,
        "node_id": node_id("04:Blob", &sha),
        "size": info.size,
        "url": format!("{}/git/blobs/{sha}", c.api()),
        "content": b64_github(&data),
        "encoding": "base64",
    });
    json_ok(&v)
}

// ---------------------------------------------------------------------------
// Contents

const DOC_CONTENTS: &str = "https://docs.github.com/rest/repos/contents#get-repository-content";

struct Found {
    entry: TreeEntry,
    path: Vec<u8>,
}

/// Walks `components` from tree `root`. `Ok(None)` if absent.
async fn walk(c: &Ctxt, root: &str, components: &[Vec<u8>]) -> Result<Option<Found>, Response> {
    let mut tree = root.to_string();
    let mut path = Vec::new();
    let mut found: Option<TreeEntry> = None;
    for (i, comp) in components.iter().enumerate() {
        let entries = match c.git.tree(&tree).await.map_err(internal)? {
            Some(e) => e,
            None => return Ok(None),
        };
        let Some(e) = entries.into_iter().find(|e| &e.name == comp) else {
            return Ok(None);
        };
        path = join(&path, comp);
        if i + 1 < components.len() {
            if e.kind() != "tree" {
                return Ok(None);
            }
            tree = e.oid.clone();
        }
        found = Some(e);
    }
    Ok(found.map(|entry| Found { entry, path }))
}

fn split_path(p: &[u8]) -> Vec<Vec<u8>> {
    p.split(|b| *b == b'/')
        .filter(|s| !s.is_empty())
        .map(|s| s.to_vec())
        .collect()
}

fn content_type_of(e: &TreeEntry) -> &'static str {
    match e.mode & 0o170000 {
        0o040000 => "dir",
        0o120000 => "symlink",
        0o160000 => "submodule",
        _ => "file",
    }
}

struct ContentCtx<'a> {
    c: &'a Ctxt,
    reference: String,
}

impl ContentCtx<'_> {
    fn urls(&self, path: &str, e: &TreeEntry) -> (String, Value, String, Value) {
        let api = self.c.api();
        let ep = percent_encode_path(path);
        let r = &self.reference;
        let url = format!("{api}/contents/{ep}?ref={}", percent_encode_path(r));
        let kind = content_type_of(e);
        let git_url = match kind {
            "dir" | "submodule" => json!(format!("{api}/git/trees/{}", e.oid)),
            _ => json!(format!("{api}/git/blobs/{}", e.oid)),
        };
        let html_url = match kind {
            "dir" => format!("{}/tree/{r}/{ep}", self.c.html()),
            _ => format!("{}/blob/{r}/{ep}", self.c.html()),
        };
        let download = match kind {
            "file" | "symlink" => json!(format!(
                "{}/_raw/{}/{}/{r}/{ep}",
                self.c.base, self.c.repo.owner.login, self.c.repo.name
            )),
            _ => Value::Null,
        };
        (url, git_url, html_url, download)
    }

    fn entry_json(&self, path: &[u8], e: &TreeEntry, size: u64, kind: &str) -> Value {
        let p = lossy(path);
        let (url, git_url, html_url, download) = self.urls(&p, e);
        json!({
            "type": kind,
            "size": size,
            "name": lossy(&e.name),
            "path": p,
            "sha": e.oid,
            "url": url,
            "git_url": git_url,
            "html_url": html_url,
            "download_url": download,
            "_links": {"self": url, "git": git_url, "html": html_url},
        })
    }
}

async fn get_contents_root(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    contents_impl(&sh, &ctx, &owner, &repo, Vec::new(), &q).await
}

async fn get_contents(State(sh): Sh, Extension(ctx): Ctx, Query(q): Q, req: Request) -> Response {
    // Decode the raw path ourselves so that non-UTF-8 names are reachable.
    let raw = req.uri().path().trim_start_matches('/');
    let parts: Vec<&str> = raw.splitn(5, '/').collect();
    if parts.len() < 5 {
        return not_found();
    }
    let owner = lossy(&util::percent_decode(parts[1]));
    let repo = lossy(&util::percent_decode(parts[2]));
    contents_impl(&sh, &ctx, &owner, &repo, util::percent_decode(parts[4]), &q).await
}

async fn gitmodules_url(c: &Ctxt, root_tree: &str, path: &[u8]) -> Option<String> {
    let f = walk(c, root_tree, &[b".gitmodules".to_vec()])
        .await
        .ok()??;
    let data = c.git.read_kind(&f.entry.oid, "blob").await.ok()??;
    let text = String::from_utf8_lossy(&data);
    let want = String::from_utf8_lossy(path).into_owned();
    let mut cur_path: Option<String> = None;
    let mut cur_url: Option<String> = None;
    let mut result = None;
    let mut flush = |p: &mut Option<String>, u: &mut Option<String>| {
        if p.as_deref() == Some(want.as_str()) && result.is_none() {
            result = u.clone();
        }
        *p = None;
        *u = None;
    };
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            flush(&mut cur_path, &mut cur_url);
        } else if let Some((k, v)) = l.split_once('=') {
            match k.trim() {
                "path" => cur_path = Some(v.trim().to_string()),
                "url" => cur_url = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    flush(&mut cur_path, &mut cur_url);
    result
}

/// Resolves a symlink's target inside the repository, if it names a
/// regular file (GitHub then serves that file instead of the link).
async fn follow_symlink(
    c: &Ctxt,
    root_tree: &str,
    link_path: &[u8],
    target: &[u8],
) -> Option<Found> {
    if target.starts_with(b"/") {
        return None;
    }
    let mut comps = split_path(link_path);
    comps.pop();
    for part in target.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                comps.pop()?;
            }
            p => comps.push(p.to_vec()),
        }
    }
    let f = walk(c, root_tree, &comps).await.ok()??;
    (content_type_of(&f.entry) == "file").then_some(f)
}

async fn contents_impl(
    sh: &Shared,
    ctx: &ReqCtx,
    owner: &str,
    repo: &str,
    path: Vec<u8>,
    q: &HashMap<String, String>,
) -> Response {
    let c = match open(sh, ctx, owner, repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = c.ensure_nonempty(DOC_CONTENTS).await {
        return r;
    }
    let reference = q
        .get("ref")
        .filter(|r| !r.is_empty())
        .cloned()
        .unwrap_or_else(|| git::default_branch(&c.repo.git_dir));
    let sha = match c.resolve(&reference).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                &format!("No commit found for the ref {reference}"),
                DOC_CONTENTS,
            );
        }
        Err(r) => return r,
    };
    let commit = match c.load_commit(&sha).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cc = ContentCtx { c: &c, reference };
    let comps = split_path(&path);
    let target: Found = if comps.is_empty() {
        Found {
            entry: TreeEntry {
                mode: 0o040000,
                name: Vec::new(),
                oid: commit.tree.clone(),
            },
            path: Vec::new(),
        }
    } else {
        match walk(&c, &commit.tree, &comps).await {
            Ok(Some(f)) => f,
            Ok(None) => return error(StatusCode::NOT_FOUND, "Not Found", DOC_CONTENTS),
            Err(r) => return r,
        }
    };
    let raw_ct = raw_media(&ctx.accept);
    match content_type_of(&target.entry) {
        "dir" => {
            let entries = match c.git.tree(&target.entry.oid).await {
                Ok(Some(e)) => e,
                Ok(None) => return not_found(),
                Err(e) => return internal(e),
            };
            let blob_oids: Vec<String> = entries
                .iter()
                .filter(|e| e.kind() == "blob")
                .map(|e| e.oid.clone())
                .collect();
            let sizes = match c.git.blob_sizes(&blob_oids).await {
                Ok(s) => s,
                Err(e) => return internal(e),
            };
            let mut sizes = sizes.into_iter();
            let items: Vec<Value> = entries
                .iter()
                .map(|e| {
                    let size = if e.kind() == "blob" {
                        sizes.next().unwrap_or(0)
                    } else {
                        0
                    };
                    // GitHub lists submodules as "file" in directory listings.
                    let kind = match content_type_of(e) {
                        "submodule" => "file",
                        k => k,
                    };
                    cc.entry_json(&join(&target.path, &e.name), e, size, kind)
                })
                .collect();
            if ctx.accept.contains("vnd.github.object") {
                let mut v = cc.entry_json(&target.path, &target.entry, 0, "dir");
                if let Some(o) = v.as_object_mut() {
                    o.insert("entries".into(), Value::Array(items));
                }
                return contents_json(&v);
            }
            contents_json(&Value::Array(items))
        }
        "submodule" => {
            let url = gitmodules_url(&c, &commit.tree, &target.path).await;
            let mut v = cc.entry_json(&target.path, &target.entry, 0, "submodule");
            if let Some(o) = v.as_object_mut() {
                o.insert("submodule_git_url".into(), json!(url));
            }
            contents_json(&v)
        }
        kind => {
            let mut file = target;
            if kind == "symlink" {
                let link = match c.git.read_kind(&file.entry.oid, "blob").await {
                    Ok(Some(d)) => d,
                    Ok(None) => return not_found(),
                    Err(e) => return internal(e),
                };
                match follow_symlink(&c, &commit.tree, &file.path, &link).await {
                    Some(f) => file = f,
                    None => {
                        if let Some(ct) = raw_ct {
                            let n = link.len() as u64;
                            return raw_response(Body::from(link), n, ct, &file.entry.oid);
                        }
                        let mut v =
                            cc.entry_json(&file.path, &file.entry, link.len() as u64, "symlink");
                        if let Some(o) = v.as_object_mut() {
                            o.insert("target".into(), json!(lossy(&link)));
                        }
                        return contents_json(&v);
                    }
                }
            }
            let size = match c
                .git
                .blob_sizes(std::slice::from_ref(&file.entry.oid))
                .await
            {
                Ok(s) => s[0],
                Err(e) => return internal(e),
            };
            if let Some(ct) = raw_ct {
                return match blob_body(&c, &file.entry.oid, size).await {
                    Ok(b) => raw_response(b, size, ct, &file.entry.oid),
                    Err(r) => r,
                };
            }
            let (content, encoding) = if size <= CONTENTS_INLINE_MAX {
                match c.git.read_kind(&file.entry.oid, "blob").await {
                    Ok(Some(d)) => (b64_github(&d), "base64"),
                    Ok(None) => return not_found(),
                    Err(e) => return internal(e),
                }
            } else {
                (String::new(), "none")
            };
            let mut v = cc.entry_json(&file.path, &file.entry, size, "file");
            if let Some(o) = v.as_object_mut() {
                o.insert("content".into(), json!(content));
                o.insert("encoding".into(), json!(encoding));
            }
            contents_json(&v)
        }
    }
}

// ---------------------------------------------------------------------------
// Archives

async fn tarball_default(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    tarball_impl(&sh, &ctx, &owner, &repo, None).await
}

async fn tarball(
    State(sh): Sh,
    Extension(ctx): Ctx,
    Path((owner, repo, reference)): Path<(String, String, String)>,
) -> Response {
    tarball_impl(&sh, &ctx, &owner, &repo, Some(reference)).await
}

/// `GET /repos/{o}/{r}/tarball[/{ref}]`: 302 to the codeload host (here a
/// path on the same server). Like GitHub, a branch name redirects to
/// `legacy.tar.gz/refs/heads/{branch}` (resolved when downloading), a tag to
/// `refs/tags/{tag}`, and a SHA to itself.
async fn tarball_impl(
    sh: &Shared,
    ctx: &ReqCtx,
    owner: &str,
    repo: &str,
    reference: Option<String>,
) -> Response {
    let c = match open(sh, ctx, owner, repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let doc = "https://docs.github.com/rest/repos/contents#download-a-repository-archive-tar";
    if let Err(r) = c.ensure_nonempty(doc).await {
        return r;
    }
    let reference = reference.unwrap_or_else(|| git::default_branch(&c.repo.git_dir));
    if !valid_rev(&reference) {
        return not_found();
    }
    let target = if matches!(
        c.resolve(&format!("refs/heads/{reference}")).await,
        Ok(Some(_))
    ) {
        format!("refs/heads/{reference}")
    } else if matches!(
        c.resolve(&format!("refs/tags/{reference}")).await,
        Ok(Some(_))
    ) {
        format!("refs/tags/{reference}")
    } else {
        match c.resolve(&reference).await {
            Ok(Some(_)) => reference.clone(),
            Ok(None) => return not_found(),
            Err(r) => return r,
        }
    };
    let mut location = format!(
        "{}/_codeload/{}/{}/legacy.tar.gz/{}",
        c.base,
        c.repo.owner.login,
        c.repo.name,
        percent_encode_path(&target)
    );
    if c.repo.private() {
        location.push_str(&format!(
            "?token={}",
            sh.codeload_token(&c.repo.full_name())
        ));
    }
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::FOUND;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html;charset=utf-8"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, must-revalidate, max-age=0"),
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    r
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut r = (status, text.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Checks access for the non-API hosts (codeload, raw): a private repo
/// needs an accepted token or a codeload token from a redirect.
fn open_download(
    sh: &Shared,
    req_headers: &axum::http::HeaderMap,
    q: &HashMap<String, String>,
    owner: &str,
    repo: &str,
) -> Result<Ctxt, Response> {
    let r = store::find_repo(&sh.root, owner, repo)
        .ok_or_else(|| plain(StatusCode::NOT_FOUND, "404: Not Found"))?;
    if r.private() {
        let by_token = q
            .get("token")
            .is_some_and(|t| sh.codeload_token_ok(t, &r.full_name()));
        let by_auth = crate::server::bucket_of(sh, req_headers) != "anon";
        if !by_token && !by_auth {
            return Err(plain(StatusCode::NOT_FOUND, "404: Not Found"));
        }
    }
    if r.blocked() {
        return Err(plain(
            StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            "451: Unavailable For Legal Reasons",
        ));
    }
    let git = sh.git(&r.git_dir);
    Ok(Ctxt {
        base: String::new(),
        repo: r,
        git,
    })
}

async fn codeload(
    State(sh): Sh,
    Path((owner, repo, reference)): Path<(String, String, String)>,
    Query(q): Q,
    req: Request,
) -> Response {
    let c = match open_download(&sh, req.headers(), &q, &owner, &repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let sha = match c.resolve(&reference).await {
        Ok(Some(s)) => s,
        Ok(None) => return plain(StatusCode::NOT_FOUND, "404: Not Found"),
        Err(r) => return r,
    };
    let prefix = format!("{}-{}-{}", c.repo.owner.login, c.repo.name, &sha[..7]);
    let mut cmd = git::git_tokio(&c.git.path);
    cmd.arg("archive")
        .arg("--format=tar.gz")
        .arg(format!("--prefix={prefix}/"))
        .arg(&sha)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = match cmd.spawn() {
        Ok(ch) => ch,
        Err(e) => return internal(e),
    };
    let Some(stdout) = child.stdout.take() else {
        return internal("no stdout");
    };
    let stream = tokio_util::io::ReaderStream::with_capacity(stdout, 64 * 1024).map(move |r| {
        let _keep_alive = &child;
        r
    });
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-gzip"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename={prefix}.tar.gz")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{}\"", util::sha256_hex(prefix.as_bytes())))
    {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("Authorization,Accept-Encoding,Origin"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("https://render.githubusercontent.com"),
    );
    r
}

/// `download_url` target (GitHub's raw.githubusercontent.com): `{ref}/{path}`,
/// where the ref is the longest prefix that resolves.
async fn raw_file(State(sh): Sh, Query(q): Q, req: Request) -> Response {
    let raw = req.uri().path().trim_start_matches('/');
    let segs: Vec<&str> = raw.splitn(4, '/').collect();
    if segs.len() < 4 {
        return plain(StatusCode::NOT_FOUND, "404: Not Found");
    }
    let owner = lossy(&util::percent_decode(segs[1]));
    let repo = lossy(&util::percent_decode(segs[2]));
    let c = match open_download(&sh, req.headers(), &q, &owner, &repo) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let rest = util::percent_decode(segs[3]);
    let parts = split_path(&rest);
    for split in (1..parts.len()).rev() {
        let reference = parts[..split]
            .iter()
            .map(|p| lossy(p))
            .collect::<Vec<_>>()
            .join("/");
        let Ok(Some(sha)) = c.resolve(&reference).await else {
            continue;
        };
        let Ok(commit) = c.load_commit(&sha).await else {
            continue;
        };
        if let Ok(Some(f)) = walk(&c, &commit.tree, &parts[split..]).await
            && f.entry.kind() == "blob"
        {
            let size = match c.git.blob_sizes(std::slice::from_ref(&f.entry.oid)).await {
                Ok(s) => s[0],
                Err(e) => return internal(e),
            };
            return match blob_body(&c, &f.entry.oid, size).await {
                Ok(b) => {
                    let mut r = raw_response(b, size, "text/plain; charset=utf-8", &f.entry.oid);
                    r.headers_mut().remove("x-github-media-type");
                    r
                }
                Err(r) => r,
            };
        }
        return plain(StatusCode::NOT_FOUND, "404: Not Found");
    }
    plain(StatusCode::NOT_FOUND, "404: Not Found")
}

pub(crate) async fn fallback() -> Response {
    not_found()
}
