//! HTTP plumbing: accept loop, routing, and the middleware that models
//! GitHub's auth, rate limits, conditional requests, headers and faults.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use futures_util::StreamExt;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tower::ServiceExt;

use crate::api;
use crate::rng::Rng;
use crate::state::{FaultKind, RateView, Shared};
use crate::util;

/// Lets a handler close its connection without answering.
#[derive(Clone)]
pub(crate) struct ConnCtl(Arc<Notify>);

impl ConnCtl {
    pub fn kill(&self) {
        self.0.notify_one();
    }
}

/// Per-request facts computed by the middleware, for the handlers.
pub(crate) struct ReqCtx {
    /// `http://host:port`, from the request's Host header.
    pub base: String,
    /// An accepted token was presented.
    pub authed: bool,
    /// The request's Accept header.
    pub accept: String,
    /// Raw query string (for pagination links).
    pub query: String,
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    api::routes()
        .route("/_fakehub/stats", get(ctl_stats))
        .route("/_fakehub/reset-stats", post(ctl_reset_stats))
        .route("/_fakehub/latency", post(ctl_latency))
        .route(
            "/_fakehub/faults",
            post(ctl_add_fault).delete(ctl_clear_faults),
        )
        .route("/_fakehub/rate-limit", post(ctl_rate_limit))
        .route("/_fakehub/tokens", post(ctl_add_token))
        .route("/_fakehub/app", post(ctl_app))
        .route("/_fakehub/truncate-threshold", post(ctl_truncate))
        .fallback(api::fallback)
        .layer(axum::middleware::from_fn_with_state(shared.clone(), api_mw))
        .layer(compression(shared.clone()))
        .with_state(shared)
}

/// gzip like GitHub when the client accepts it (switchable at run time);
/// never for archives (already gzip) or 304s.
fn compression(
    shared: Arc<Shared>,
) -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{DefaultPredicate, Predicate as _};
    let when = move |status: StatusCode,
                     _: axum::http::Version,
                     h: &HeaderMap,
                     _: &axum::http::Extensions| {
        shared.gzip.load(std::sync::atomic::Ordering::Relaxed)
            && status != StatusCode::NOT_MODIFIED
            && !h
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| {
                    ct.starts_with("application/x-gzip") || ct.starts_with("application/x-git-")
                })
    };
    tower_http::compression::CompressionLayer::new()
        .gzip(true)
        .no_br()
        .no_deflate()
        .no_zstd()
        .quality(tower_http::CompressionLevel::Fastest)
        .compress_when(DefaultPredicate::new().and(when))
}

/// Serves until `shutdown` fires.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let app = router(shared.clone());
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let (stream, _) = match accepted {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let ctl = ConnCtl(Arc::new(Notify::new()));
            let ctl2 = ctl.clone();
            let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ctl2.clone());
                // Before routing: id-based URLs become name-based ones.
                if let Some(u) = rewrite_ids(&shared, req.uri()) {
                    *req.uri_mut() = u;
                }
                app.clone().oneshot(req.map(Body::new))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                _ = ctl.0.notified() => {}
            }
        });
    }
}

// ---------------------------------------------------------------------------
// Route classification and id-based URL rewriting

/// The stats route name for a path (see [`crate::ROUTES`]).
pub(crate) fn classify(path: &str) -> &'static str {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if crate::githttp::is_git_path(&segs) {
        return crate::githttp::ROUTE;
    }
    match segs.as_slice() {
        ["orgs" | "users", _] => "owner",
        ["orgs" | "users" | "organizations" | "user", _, "repos"] => "repo_list",
        ["rate_limit"] => "rate_limit",
        ["_codeload", ..] => "codeload",
        ["repos", _, _] | ["repos", _, _, ""] => "repo",
        ["repos", _, _, rest @ ..] => match rest {
            ["commits", r, ..] if !r.is_empty() => "commit",
            ["branches", ..] => "branch",
            ["git", "ref" | "refs" | "matching-refs", ..] => "ref",
            ["git", "commits", _, ..] => "git_commit",
            ["git", "trees", _, ..] => "tree",
            ["git", "blobs", _, ..] => "blob",
            ["contents", ..] => "contents",
            ["tarball", ..] => "tarball",
            ["tags"] => "tags",
            _ => "other",
        },
        _ => "other",
    }
}

/// GitHub's pagination links use id-based URLs (`/organizations/{id}/repos`,
/// `/user/{id}/repos`, `/repositories/{id}/...`). Map them back to names.
fn rewrite_ids(shared: &Shared, uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let new_path = match segs.as_slice() {
        ["organizations", id, "repos"] => {
            let o = crate::store::owner_by_id(&shared.root, id.parse().ok()?)?;
            format!("/orgs/{}/repos", o.login)
        }
        ["user", id, "repos"] => {
            let o = crate::store::owner_by_id(&shared.root, id.parse().ok()?)?;
            format!("/users/{}/repos", o.login)
        }
        ["repositories", id, rest @ ..] => {
            let r = crate::store::repo_by_id(&shared.root, id.parse().ok()?)?;
            let mut p = format!("/repos/{}/{}", r.owner.login, r.name);
            for s in rest {
                p.push('/');
                p.push_str(s);
            }
            p
        }
        _ => return None,
    };
    let pq = match uri.query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path,
    };
    pq.parse().ok()
}

// ---------------------------------------------------------------------------
// Errors and common headers

pub(crate) const DOCS: &str = "https://docs.github.com/rest";

/// A GitHub error body: `{"message", "documentation_url", "status"}`.
pub(crate) fn error(status: StatusCode, message: &str, doc: &str) -> Response {
    let body = serde_json::json!({
        "message": message,
        "documentation_url": doc,
        "status": status.as_u16().to_string(),
    });
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

fn set(h: &mut HeaderMap, k: &'static str, v: impl AsRef<str>) {
    if let Ok(v) = HeaderValue::from_str(v.as_ref()) {
        h.insert(HeaderName::from_static(k), v);
    }
}

fn rate_headers(h: &mut HeaderMap, v: &RateView) {
    set(h, "x-ratelimit-limit", v.limit.to_string());
    set(h, "x-ratelimit-remaining", v.remaining().to_string());
    set(h, "x-ratelimit-reset", v.reset.to_string());
    set(h, "x-ratelimit-used", v.used.to_string());
    set(h, "x-ratelimit-resource", "core");
}

fn api_headers(h: &mut HeaderMap, request_id: &str, authed: bool) {
    if !h.contains_key("x-github-media-type") {
        set(h, "x-github-media-type", "github.v3; format=json");
    }
    set(h, "x-github-api-version-selected", "2022-11-28");
    set(h, "x-github-request-id", request_id);
    set(
        h,
        "access-control-expose-headers",
        "ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, Deprecation, Sunset",
    );
    set(h, "access-control-allow-origin", "*");
    set(h, "x-frame-options", "deny");
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-xss-protection", "0");
    set(h, "content-security-policy", "default-src 'none'");
    set(h, "server", "fakehub");
    if authed {
        set(h, "x-oauth-scopes", "repo");
        if !h.contains_key("x-accepted-oauth-scopes") {
            set(h, "x-accepted-oauth-scopes", "");
        }
    }
    h.append(
        header::VARY,
        HeaderValue::from_static("Accept-Encoding, Accept, X-Requested-With"),
    );
    if authed {
        h.append(
            header::VARY,
            HeaderValue::from_static("Accept, Authorization, Cookie, X-GitHub-OTP"),
        );
    }
}

/// The rate-limit bucket of a request: its token if accepted, else `anon`.
pub(crate) fn bucket_of(sh: &Shared, h: &HeaderMap) -> String {
    match parse_auth(h) {
        Auth::Token(t) if sh.token_accepted(&t) => t,
        _ => "anon".to_string(),
    }
}

pub(crate) enum Auth {
    None,
    Token(String),
    Malformed,
}

pub(crate) fn parse_auth(h: &HeaderMap) -> Auth {
    let Some(v) = h.get(header::AUTHORIZATION) else {
        return Auth::None;
    };
    let Ok(v) = v.to_str() else {
        return Auth::Malformed;
    };
    let v = v.trim();
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    let rest = rest.trim();
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" | "token" if !rest.is_empty() => Auth::Token(rest.to_string()),
        "basic" => {
            use base64::Engine as _;
            let Ok(dec) = base64::engine::general_purpose::STANDARD.decode(rest) else {
                return Auth::Malformed;
            };
            let s = String::from_utf8_lossy(&dec).into_owned();
            match s.split_once(':') {
                Some((_, pw)) if !pw.is_empty() => Auth::Token(pw.to_string()),
                _ => Auth::Malformed,
            }
        }
        _ => Auth::Malformed,
    }
}

/// Weak comparison of an `If-None-Match` list against an ETag.
fn etag_matches(inm: &str, etag: &str) -> bool {
    let norm = |s: &str| s.trim().trim_start_matches("W/").trim().to_string();
    let e = norm(etag);
    inm.split(',').any(|t| {
        let t = t.trim();
        t == "*" || norm(t) == e
    })
}

// ---------------------------------------------------------------------------
// The middleware

async fn api_mw(State(sh): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/_fakehub/") {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let path_q = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let route = classify(&path);
    // Codeload and raw downloads are other hosts on GitHub: no API headers,
    // no rate limit, no 401 for a bad token.
    let codeload = route == "codeload" || path.starts_with("/_raw/");
    sh.count_request(route);

    let delay = {
        let mut rt = sh.rt();
        let jitter_ms = rt.jitter.as_millis() as usize;
        rt.latency + Duration::from_millis(rt.jitter_rng.below(jitter_ms) as u64)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    // git's HTTP protocol is github.com's, not the API's: no API headers,
    // no rate limit.
    if route == crate::githttp::ROUTE {
        return crate::githttp::handle(sh, req, &path_q).await;
    }

    let request_id = sh.next_request_id();
    let conn = req.extensions().get::<ConnCtl>().cloned();
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let gzip_ok = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|s| s.contains("gzip"));
    let inm = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let ims = req
        .headers()
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|h| h.to_str().ok())
        .and_then(util::parse_http_date);

    // A GitHub App's endpoints take the App's JWT, not a token.
    if let Some(answer) = crate::app::handle(&sh, req.method(), &path, req.headers()) {
        let mut answer = answer;
        api_headers(answer.headers_mut(), &request_id, true);
        return answer;
    }

    // Authentication.
    let token = match parse_auth(req.headers()) {
        Auth::None => None,
        Auth::Token(t) if sh.token_accepted(&t) => Some(t),
        Auth::Token(_) | Auth::Malformed if codeload => None,
        Auth::Token(_) | Auth::Malformed => {
            let mut r = error(StatusCode::UNAUTHORIZED, "Bad credentials", DOCS);
            let view = sh.rate_view("anon");
            rate_headers(r.headers_mut(), &view);
            api_headers(r.headers_mut(), &request_id, false);
            return r;
        }
    };
    let authed = token.is_some();
    let bucket = token.clone().unwrap_or_else(|| "anon".to_string());

    // Injected faults that act before the handler.
    let mut post_fault = None;
    match sh.take_fault(route, &path_q) {
        None => {}
        Some(FaultKind::Status { status, message }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let msg = message.unwrap_or_else(|| match status.as_u16() {
                502 => "Server Error".to_string(),
                503 => "Service Unavailable".to_string(),
                _ => status.canonical_reason().unwrap_or("Error").to_string(),
            });
            let mut r = error(status, &msg, DOCS);
            if !codeload {
                let view = sh.rate_view(&bucket);
                rate_headers(r.headers_mut(), &view);
                api_headers(r.headers_mut(), &request_id, authed);
            }
            return r;
        }
        Some(FaultKind::DropConnection) => {
            if let Some(c) = conn {
                c.kill();
                std::future::pending::<()>().await;
            }
            return error(StatusCode::INTERNAL_SERVER_ERROR, "drop failed", DOCS);
        }
        Some(FaultKind::Stall { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(FaultKind::SecondaryRateLimit { retry_after }) => {
            let msg = format!(
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID {request_id}."
            );
            let mut r = error(
                StatusCode::FORBIDDEN,
                &msg,
                "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            );
            set(r.headers_mut(), "retry-after", retry_after.to_string());
            if !codeload {
                let view = sh.rate_view(&bucket);
                rate_headers(r.headers_mut(), &view);
                api_headers(r.headers_mut(), &request_id, authed);
            }
            return r;
        }
        Some(
            k @ (FaultKind::TruncateBody { .. }
            | FaultKind::Corrupt
            | FaultKind::ReplaceBody { .. }
            | FaultKind::HugeBody { .. }),
        ) => post_fault = Some(k),
    }

    // Primary rate limit (codeload and /rate_limit are free, like GitHub's).
    let counts = !codeload && route != "rate_limit";
    if counts && let Err(view) = sh.rate_take(&bucket) {
        let (status, who) = {
            let rt = sh.rt();
            (
                if rt.status_429 {
                    StatusCode::TOO_MANY_REQUESTS
                } else {
                    StatusCode::FORBIDDEN
                },
                authed,
            )
        };
        let msg = if who {
            format!(
                "API rate limit exceeded for user ID {}. If you reach out to GitHub Support for help, please include the request ID {request_id}.",
                10_000 + util::fnv64(bucket.as_bytes()) % 90_000_000
            )
        } else {
            format!(
                "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.) If you reach out to GitHub Support for help, please include the request ID {request_id}."
            )
        };
        let mut r = error(
            status,
            &msg,
            "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        );
        rate_headers(r.headers_mut(), &view);
        api_headers(r.headers_mut(), &request_id, authed);
        return r;
    }

    let query = req.uri().query().unwrap_or("").to_string();
    req.extensions_mut().insert(Arc::new(ReqCtx {
        base: format!("http://{host}"),
        authed,
        accept,
        query,
    }));

    let mut resp = next.run(req).await;

    // Conditional requests.
    if resp.status() == StatusCode::OK {
        // GitHub's JSON ETags are weak when the body is compressed.
        if gzip_ok
            && let Some(e) = resp
                .headers()
                .get(header::ETAG)
                .and_then(|e| e.to_str().ok())
            && !e.starts_with("W/")
            && resp
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|c| c.to_str().ok())
                .is_some_and(|c| c.starts_with("application/json"))
        {
            let weak = format!("W/{e}");
            set(resp.headers_mut(), "etag", weak);
        }
        let etag = resp
            .headers()
            .get(header::ETAG)
            .and_then(|e| e.to_str().ok())
            .map(str::to_string);
        let last_mod = resp
            .headers()
            .get(header::LAST_MODIFIED)
            .and_then(|e| e.to_str().ok())
            .and_then(util::parse_http_date);
        let not_modified = match (&inm, &etag) {
            (Some(inm), Some(etag)) => etag_matches(inm, etag),
            (Some(_), None) => false,
            (None, _) => matches!((ims, last_mod), (Some(ims), Some(lm)) if lm <= ims),
        };
        if not_modified {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            for k in [
                header::ETAG,
                header::LAST_MODIFIED,
                header::CACHE_CONTROL,
                HeaderName::from_static("x-github-media-type"),
            ] {
                if let Some(v) = resp.headers().get(&k) {
                    r.headers_mut().insert(k, v.clone());
                }
            }
            resp = r;
        }
    }
    let not_modified = resp.status() == StatusCode::NOT_MODIFIED;
    if counts && not_modified {
        sh.rate_refund(&bucket);
    }
    sh.count_outcome(route, counts && !not_modified, not_modified);

    if !codeload {
        let view = sh.rate_view(&bucket);
        let h = resp.headers_mut();
        rate_headers(h, &view);
        api_headers(h, &request_id, authed);
        let ok = matches!(resp.status(), StatusCode::OK | StatusCode::NOT_MODIFIED);
        if ok && !resp.headers().contains_key(header::CACHE_CONTROL) {
            let cc = if authed {
                "private, max-age=60, s-maxage=60"
            } else {
                "public, max-age=60, s-maxage=60"
            };
            set(resp.headers_mut(), "cache-control", cc);
        }
    }

    match post_fault {
        Some(kind) => body_fault(resp, kind),
        None => resp,
    }
}

/// Applies a fault that acts on the response body (the others act before the
/// handler and leave the response alone).
pub(crate) fn body_fault(resp: Response, kind: FaultKind) -> Response {
    match kind {
        FaultKind::TruncateBody { after_bytes } => truncate(resp, after_bytes),
        FaultKind::Corrupt => corrupt(resp),
        FaultKind::ReplaceBody { body } => replace_body(resp, body),
        FaultKind::HugeBody {
            length,
            prefix,
            fill,
            gzip,
        } => huge_body(resp, Generated::new(length, prefix, fill, gzip)),
        FaultKind::Status { .. }
        | FaultKind::DropConnection
        | FaultKind::Stall { .. }
        | FaultKind::SecondaryRateLimit { .. } => resp,
    }
}

// ---------------------------------------------------------------------------
// Body faults

pub(crate) fn truncate(resp: Response, after: Option<u64>) -> Response {
    let (mut parts, body) = resp.into_parts();
    let exact = axum::body::HttpBody::size_hint(&body).exact();
    if let Some(n) = exact
        && !parts.headers.contains_key(header::CONTENT_LENGTH)
    {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = after.unwrap_or_else(|| match declared {
        Some(n) => (n / 2).max(1).min(n.saturating_sub(1)),
        None => 1024,
    });
    let inner = body.into_data_stream();
    let stream = futures_util::stream::unfold(
        (inner, 0u64, false),
        move |(mut inner, sent, done)| async move {
            if done {
                return None;
            }
            if sent >= limit {
                // Give hyper a moment to flush what was sent, then abort.
                tokio::time::sleep(Duration::from_millis(30)).await;
                return Some((
                    Err(io::Error::other("fakehub: injected truncation")),
                    (inner, sent, true),
                ));
            }
            match inner.next().await {
                Some(Ok(mut b)) => {
                    let room = (limit - sent) as usize;
                    if b.len() > room {
                        b.truncate(room);
                    }
                    let n = b.len() as u64;
                    Some((Ok::<Bytes, io::Error>(b), (inner, sent + n, false)))
                }
                Some(Err(e)) => Some((Err(io::Error::other(e)), (inner, sent, true))),
                None => {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    Some((
                        Err(io::Error::other("fakehub: injected truncation")),
                        (inner, sent, true),
                    ))
                }
            }
        },
    );
    Response::from_parts(parts, Body::from_stream(stream))
}

pub(crate) fn corrupt(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    if let Some(n) = axum::body::HttpBody::size_hint(&body).exact()
        && !parts.headers.contains_key(header::CONTENT_LENGTH)
    {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    let mut flipped = false;
    let stream = body.into_data_stream().map(move |chunk| {
        chunk.map(|b| {
            if flipped || b.is_empty() {
                return b;
            }
            flipped = true;
            let mut v = b.to_vec();
            let mid = v.len() / 2;
            v[mid] ^= 0xFF;
            Bytes::from(v)
        })
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

/// The response with `body` instead of its own: same status and headers,
/// Content-Length set to the new body's (or left out, as chunked, if the
/// original had none).
pub(crate) fn replace_body(resp: Response, body: Vec<u8>) -> Response {
    let (mut parts, _) = resp.into_parts();
    parts.headers.remove(header::CONTENT_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    Response::from_parts(parts, Body::from(body))
}

/// The response with a generated body of `body.length` bytes, streamed.
pub(crate) fn huge_body(resp: Response, body: Generated) -> Response {
    let (mut parts, _) = resp.into_parts();
    parts.headers.remove(header::CONTENT_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.length));
    let stream = futures_util::stream::unfold(body, |mut body| async move {
        let chunk = body.next_chunk()?;
        Some((Ok::<Bytes, io::Error>(chunk), body))
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

/// The bytes of a [`FaultKind::HugeBody`], made chunk by chunk as the client
/// reads them (so a client that stops reading stops the work too).
pub(crate) struct Generated {
    length: u64,
    sent: u64,
    prefix: Vec<u8>,
    /// Payload bytes produced so far (prefix first).
    produced: usize,
    fill: crate::state::Fill,
    gzip: bool,
    rng: Rng,
}

/// Payload bytes per chunk (and per stored deflate block, whose limit is 65,535).
const GENERATED_CHUNK: usize = 32 << 10;

impl Generated {
    pub fn new(length: u64, prefix: Vec<u8>, fill: crate::state::Fill, gzip: bool) -> Generated {
        Generated {
            length,
            sent: 0,
            prefix,
            produced: 0,
            fill,
            gzip,
            rng: Rng::new(0, 0),
        }
    }

    fn payload(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        if self.produced < self.prefix.len() {
            let end = (self.produced + n).min(self.prefix.len());
            out.extend_from_slice(&self.prefix[self.produced..end]);
        }
        let start = out.len();
        out.resize(n, 0);
        match self.fill {
            crate::state::Fill::Zeros => {}
            crate::state::Fill::Garbage => self.rng.fill(&mut out[start..]),
        }
        self.produced += n;
        out
    }

    fn next_chunk(&mut self) -> Option<Bytes> {
        let left = self.length - self.sent;
        if left == 0 {
            return None;
        }
        let mut chunk = Vec::with_capacity(GENERATED_CHUNK + 16);
        if self.gzip {
            if self.sent == 0 {
                // gzip header: deflate, no flags, no mtime, unknown OS.
                chunk.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
            }
            // A stored block that is not the last: BFINAL=0, BTYPE=00, LEN, NLEN.
            let len = GENERATED_CHUNK as u16;
            chunk.push(0);
            chunk.extend_from_slice(&len.to_le_bytes());
            chunk.extend_from_slice(&(!len).to_le_bytes());
        }
        let payload = self.payload(GENERATED_CHUNK);
        chunk.extend_from_slice(&payload);
        chunk.truncate(left.min(chunk.len() as u64) as usize);
        self.sent += chunk.len() as u64;
        Some(Bytes::from(chunk))
    }
}

// ---------------------------------------------------------------------------
// Control endpoints (not counted)

async fn ctl_stats(State(sh): State<Arc<Shared>>) -> Response {
    axum::Json(sh.stats()).into_response()
}

async fn ctl_reset_stats(State(sh): State<Arc<Shared>>) -> StatusCode {
    sh.reset_stats();
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
struct LatencyBody {
    ms: u64,
    #[serde(default)]
    jitter_ms: u64,
}

async fn ctl_latency(
    State(sh): State<Arc<Shared>>,
    axum::Json(b): axum::Json<LatencyBody>,
) -> StatusCode {
    let mut rt = sh.rt();
    rt.latency = Duration::from_millis(b.ms);
    rt.jitter = Duration::from_millis(b.jitter_ms);
    StatusCode::NO_CONTENT
}

async fn ctl_add_fault(
    State(sh): State<Arc<Shared>>,
    axum::Json(f): axum::Json<crate::Fault>,
) -> StatusCode {
    sh.inject(f);
    StatusCode::NO_CONTENT
}

async fn ctl_clear_faults(State(sh): State<Arc<Shared>>) -> StatusCode {
    sh.clear_faults();
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
struct RateBody {
    limit: u32,
    #[serde(default = "hour")]
    reset_after_secs: u64,
    #[serde(default)]
    anon_limit: Option<u32>,
    #[serde(default)]
    status_429: Option<bool>,
}

fn hour() -> u64 {
    3600
}

async fn ctl_rate_limit(
    State(sh): State<Arc<Shared>>,
    axum::Json(b): axum::Json<RateBody>,
) -> StatusCode {
    sh.set_rate_limit(b.limit, Duration::from_secs(b.reset_after_secs));
    if let Some(a) = b.anon_limit {
        sh.set_anon_rate_limit(a);
    }
    if let Some(s) = b.status_429 {
        sh.rt().status_429 = s;
    }
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
struct TokenBody {
    token: String,
}

async fn ctl_add_token(
    State(sh): State<Arc<Shared>>,
    axum::Json(b): axum::Json<TokenBody>,
) -> StatusCode {
    sh.rt().tokens.insert(b.token);
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
struct AppBody {
    /// How long the installation tokens issued from now on last.
    token_ttl_secs: u64,
}

async fn ctl_app(State(sh): State<Arc<Shared>>, axum::Json(b): axum::Json<AppBody>) -> StatusCode {
    match sh.app.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        Some(app) => {
            app.token_ttl = Duration::from_secs(b.token_ttl_secs);
            StatusCode::NO_CONTENT
        }
        None => StatusCode::CONFLICT,
    }
}

#[derive(serde::Deserialize)]
struct TruncBody {
    max_entries: usize,
}

async fn ctl_truncate(
    State(sh): State<Arc<Shared>>,
    axum::Json(b): axum::Json<TruncBody>,
) -> StatusCode {
    sh.rt().truncate_threshold = b.max_entries;
    StatusCode::NO_CONTENT
}

#[allow(dead_code)]
fn _assert_infallible(_: Infallible) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_routes() {
        assert_eq!(classify("/orgs/acme"), "owner");
        assert_eq!(classify("/users/bob"), "owner");
        assert_eq!(classify("/orgs/acme/repos"), "repo_list");
        assert_eq!(classify("/repos/a/b"), "repo");
        assert_eq!(classify("/repos/a/b/commits/main"), "commit");
        assert_eq!(classify("/repos/a/b/commits/feature/x"), "commit");
        assert_eq!(classify("/repos/a/b/branches"), "branch");
        assert_eq!(classify("/repos/a/b/branches/main"), "branch");
        assert_eq!(classify("/repos/a/b/git/ref/heads/main"), "ref");
        assert_eq!(classify("/repos/a/b/git/matching-refs/tags"), "ref");
        assert_eq!(classify("/repos/a/b/git/commits/abc"), "git_commit");
        assert_eq!(classify("/repos/a/b/git/trees/abc"), "tree");
        assert_eq!(classify("/repos/a/b/git/blobs/abc"), "blob");
        assert_eq!(classify("/repos/a/b/contents/x/y"), "contents");
        assert_eq!(classify("/repos/a/b/contents"), "contents");
        assert_eq!(classify("/repos/a/b/tarball"), "tarball");
        assert_eq!(classify("/repos/a/b/tarball/main"), "tarball");
        assert_eq!(classify("/_codeload/a/b/legacy.tar.gz/x"), "codeload");
        assert_eq!(classify("/rate_limit"), "rate_limit");
        assert_eq!(classify("/repos/a/b/tags"), "tags");
        assert_eq!(classify("/repos/a/b/issues"), "other");
        assert_eq!(classify("/"), "other");
        assert_eq!(classify("/acme/api.git/info/refs"), "git_http");
        assert_eq!(classify("/acme/api/info/refs"), "git_http");
        assert_eq!(classify("/acme/api.git/git-upload-pack"), "git_http");
        assert_eq!(classify("/acme/api/git-receive-pack"), "git_http");
        assert_eq!(classify("/repos/a/git-upload-pack"), "repo");
    }

    #[test]
    fn generated_bodies_have_their_length_and_shape() {
        let mut plain = Generated::new(70_000, b"abc".to_vec(), crate::state::Fill::Zeros, false);
        let mut all = Vec::new();
        while let Some(c) = plain.next_chunk() {
            all.extend_from_slice(&c);
        }
        assert_eq!(all.len(), 70_000);
        assert_eq!(&all[..4], b"abc\0");
        assert!(all[3..].iter().all(|&b| b == 0));

        let mut gz = Generated::new(100_000, b"xyz".to_vec(), crate::state::Fill::Garbage, true);
        let first = gz.next_chunk().unwrap();
        assert_eq!(&first[..3], &[0x1f, 0x8b, 8]);
        // The first stored block: BFINAL/BTYPE 0, LEN, NLEN, then the payload.
        let len = u16::from_le_bytes([first[11], first[12]]);
        let nlen = u16::from_le_bytes([first[13], first[14]]);
        assert_eq!((first[10], len, nlen), (0, GENERATED_CHUNK as u16, !len));
        assert_eq!(&first[15..18], b"xyz");
        let mut total = first.len();
        while let Some(c) = gz.next_chunk() {
            total += c.len();
        }
        assert_eq!(total, 100_000);
    }

    #[test]
    fn etags() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("W/\"abc\"", "\"abc\""));
        assert!(etag_matches("\"x\", W/\"abc\"", "W/\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }
}
