//! git's smart HTTP protocol (`git clone http://HOST/{owner}/{repo}.git`),
//! served by running `git http-backend` as a CGI program.
//!
//! Only fetching is served (`git-upload-pack`, protocol v0 to v2, with partial-clone
//! filters and wants of any object id, as GitHub serves them); pushes answer 403. Like
//! GitHub, a missing or private repository asks an anonymous client for
//! credentials (401 with `WWW-Authenticate`), and a token is accepted as
//! Basic auth (`x-access-token:<token>`, any user name) or as a Bearer
//! token.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::server::{self, Auth, ConnCtl};
use crate::state::{FaultKind, Shared};

/// The stats route name of these requests.
pub(crate) const ROUTE: &str = "git_http";

/// Whether `segs` (the path's segments) address git's HTTP protocol:
/// `{owner}/{repo}[.git]/info/refs` or `{owner}/{repo}[.git]/git-upload-pack`
/// (or `git-receive-pack`, refused).
pub(crate) fn is_git_path(segs: &[&str]) -> bool {
    match segs {
        [o, r, "info", "refs"] | [o, r, "git-upload-pack" | "git-receive-pack"] => {
            *o != "repos" && !o.is_empty() && !o.starts_with('_') && !r.is_empty()
        }
        _ => false,
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut r = Response::new(Body::from(format!("{text}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn ask_credentials() -> Response {
    let mut r = plain(StatusCode::UNAUTHORIZED, "Authentication required");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"GitHub\""),
    );
    r
}

/// Answers one git HTTP request (the middleware has counted it and applied
/// the latency). Injected faults apply as to any route.
pub(crate) async fn handle(sh: Arc<Shared>, req: Request, path_q: &str) -> Response {
    let mut post_fault = None;
    match sh.take_fault(ROUTE, path_q) {
        None => {}
        Some(FaultKind::Status { status, message }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let msg =
                message.unwrap_or_else(|| status.canonical_reason().unwrap_or("Error").to_string());
            return plain(status, &msg);
        }
        Some(FaultKind::DropConnection) => {
            if let Some(c) = req.extensions().get::<ConnCtl>().cloned() {
                c.kill();
                std::future::pending::<()>().await;
            }
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "drop failed");
        }
        Some(FaultKind::Stall { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(FaultKind::SecondaryRateLimit { retry_after }) => {
            let mut r = plain(StatusCode::FORBIDDEN, "secondary rate limit");
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
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
    let resp = serve(&sh, req).await;
    match post_fault {
        Some(kind) => server::body_fault(resp, kind),
        None => resp,
    }
}

async fn serve(sh: &Arc<Shared>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (owner, repo, tail) = match segs.as_slice() {
        [o, r, "info", "refs"] => (*o, *r, "info/refs"),
        [o, r, svc] => (*o, *r, *svc),
        _ => return plain(StatusCode::NOT_FOUND, "Not Found"),
    };
    let repo = repo.strip_suffix(".git").unwrap_or(repo);
    let query = req.uri().query().unwrap_or("").to_string();
    let service = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("service="))
        .unwrap_or("");
    let method = req.method().clone();
    match (tail, &method) {
        ("info/refs", &Method::GET | &Method::HEAD) if service == "git-upload-pack" => {}
        ("info/refs", &Method::GET | &Method::HEAD) if service == "git-receive-pack" => {
            return plain(
                StatusCode::FORBIDDEN,
                "Write access is not served by fakehub",
            );
        }
        // GitHub serves no dumb protocol.
        ("info/refs", &Method::GET | &Method::HEAD) => {
            return plain(
                StatusCode::FORBIDDEN,
                "Please upgrade your git client (smart HTTP only)",
            );
        }
        ("git-upload-pack", &Method::POST) => {}
        ("git-receive-pack", _) => {
            return plain(
                StatusCode::FORBIDDEN,
                "Write access is not served by fakehub",
            );
        }
        _ => return plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
    }

    let authed = match server::parse_auth(req.headers()) {
        Auth::None => false,
        Auth::Token(t) if sh.token_accepted(&t) => true,
        Auth::Token(_) | Auth::Malformed => {
            let mut r = ask_credentials();
            *r.body_mut() = Body::from(
                "Invalid username or token. Password authentication is not supported for Git operations.\n",
            );
            return r;
        }
    };
    let Some(found) = crate::store::find_repo(&sh.root, owner, repo) else {
        return if authed {
            plain(StatusCode::NOT_FOUND, "Repository not found.")
        } else {
            ask_credentials()
        };
    };
    if found.private() && !authed {
        return ask_credentials();
    }
    if found.blocked() {
        return plain(
            StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            "Repository access blocked",
        );
    }

    let root = project_root(&sh.root);
    let path_info = format!("/{}/{}.git/{tail}", found.owner.login, found.name);
    let headers = req.headers().clone();
    let header = |k: HeaderName| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut cmd = std::process::Command::new("git");
    crate::git::sanitize(&mut cmd);
    cmd.arg("-c")
        .arg("safe.directory=*")
        .arg("-c")
        .arg("uploadpack.allowFilter=true")
        .arg("-c")
        .arg("uploadpack.allowAnySHA1InWant=true")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", &root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", &path_info)
        .env("QUERY_STRING", &query)
        .env("REQUEST_METHOD", method.as_str())
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("GATEWAY_INTERFACE", "CGI/1.1");
    if let Some(v) = header(header::CONTENT_TYPE) {
        cmd.env("CONTENT_TYPE", v);
    }
    if let Some(v) = header(header::CONTENT_ENCODING) {
        cmd.env("HTTP_CONTENT_ENCODING", v);
    }
    if let Some(v) = header(HeaderName::from_static("git-protocol")) {
        cmd.env("HTTP_GIT_PROTOCOL", v);
    }
    let post = method == Method::POST;
    cmd.stdin(if post { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return internal(format!("git http-backend: {e}")),
    };
    if let Some(mut stderr) = child.stderr.take() {
        tokio::spawn(async move {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s).await;
            if !s.trim().is_empty() {
                tracing::debug!("git http-backend: {}", s.trim());
            }
        });
    }
    if let Some(mut stdin) = child.stdin.take() {
        let mut body = req.into_body().into_data_stream();
        let plain = header(header::CONTENT_ENCODING).is_none();
        let stats = Arc::clone(sh);
        tokio::spawn(async move {
            // The first bytes of a plain request, to count what fetches ask for.
            let mut seen = Vec::new();
            while let Some(Ok(chunk)) = body.next().await {
                if plain && seen.len() < MAX_CLASSIFIED {
                    seen.extend_from_slice(&chunk[..chunk.len().min(MAX_CLASSIFIED - seen.len())]);
                }
                if stdin.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            let _ = stdin.shutdown().await;
            if let Some((kind, wants)) = classify_fetch(&seen) {
                stats.count_git_fetch(kind, wants);
            }
        });
    }
    let Some(stdout) = child.stdout.take() else {
        return internal("no stdout");
    };
    let mut out = BufReader::with_capacity(64 * 1024, stdout);

    // The CGI response header: `Name: value` lines, then an empty line.
    let mut resp = Response::new(Body::empty());
    let mut line = Vec::new();
    loop {
        line.clear();
        match out.read_until(b'\n', &mut line).await {
            Ok(0) => return internal("git http-backend answered nothing"),
            Ok(_) => {}
            Err(e) => return internal(e),
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            break;
        }
        let Some((k, v)) = text.split_once(':') else {
            return internal(format!("bad CGI header line {text:?}"));
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("status") {
            let code = v.split_whitespace().next().and_then(|c| c.parse().ok());
            *resp.status_mut() = code
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        } else if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::from_str(v)) {
            resp.headers_mut().append(k, v);
        }
    }
    resp.headers_mut()
        .insert(header::SERVER, HeaderValue::from_static("fakehub"));
    let stream = tokio_util::io::ReaderStream::with_capacity(out, 64 * 1024).map(move |r| {
        let _keep_alive = &child;
        r
    });
    *resp.body_mut() = Body::from_stream(stream);
    resp
}

/// Request bytes looked at to classify a fetch.
const MAX_CLASSIFIED: usize = 1 << 20;

/// What a protocol v2 `fetch` request asks for (see [`crate::Stats::git_fetches`]), and
/// how many objects it wants.
fn classify_fetch(body: &[u8]) -> Option<(&'static str, u64)> {
    let text = String::from_utf8_lossy(body);
    if !text.contains("command=fetch") {
        return None;
    }
    let wants = text.matches("want ").count() as u64;
    let kind = if text.contains("filter blob:none") {
        "trees"
    } else if text.contains("filter tree:0") {
        "commit"
    } else if text.contains("deepen ") {
        "whole"
    } else {
        "objects"
    };
    Some((kind, wants))
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!("fakehub git http: {e}");
    plain(StatusCode::INTERNAL_SERVER_ERROR, "Server Error")
}

/// The project root `git http-backend` resolves `PATH_INFO` against.
fn project_root(root: &Path) -> std::path::PathBuf {
    std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf())
}
