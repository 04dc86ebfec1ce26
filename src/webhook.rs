//! `heimdall webhook`: a receiver for GitHub's push webhooks, so a mount shows a pushed
//! branch at once instead of after its `--ref-ttl`.
//!
//! Every request must carry `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the
//! raw body under the shared secret; it is checked in constant time (`hmac`'s
//! `verify_slice`) before the body is even parsed. Unsigned or wrongly signed requests get
//! 401 and change nothing; bodies over the limit get 413 without being read; a body that
//! does not arrive within [`BODY_TIMEOUT`] gets 408. A verified `push` is handed to a
//! [`PushSink`] (the CLI's marks the ref for a poll in the index and tells the daemon,
//! whose mounts re-resolve it); `ping` answers `pong`; other events are acknowledged and
//! ignored. Neither the secret nor signatures are ever logged.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{KeyInit, Mac};
use serde::Deserialize;

use crate::namespace::{valid_owner, valid_ref, valid_repo};

/// Largest body accepted by default. GitHub caps payloads at 25 MB, but a push payload
/// past a few megabytes means hundreds of commits, and only its ref matters here.
pub const DEFAULT_MAX_BODY: u64 = 5 << 20;

/// Longest a client may take to send its body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a secret file may be.
const MAX_SECRET: u64 = 4096;

/// A push GitHub announced: `reference` is the branch or tag name (`refs/heads/` or
/// `refs/tags/` removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub owner: String,
    pub repo: String,
    pub reference: String,
    /// The ref was deleted by the push.
    pub deleted: bool,
}

/// What a verified push does; returns how many mounted repo roots were re-resolved.
#[async_trait::async_trait]
pub trait PushSink: Send + Sync {
    async fn pushed(&self, push: &Push) -> Result<usize, String>;
}

/// The receiver's configuration and where pushes go.
pub struct Receiver {
    secret: Vec<u8>,
    max_body: u64,
    sink: Arc<dyn PushSink>,
}

impl Receiver {
    pub fn new(secret: Vec<u8>, max_body: u64, sink: Arc<dyn PushSink>) -> Receiver {
        Receiver {
            secret,
            max_body,
            sink,
        }
    }
}

/// Reads a webhook secret: the file's content without a trailing newline. Refuses an
/// empty or oversized file; warns when other users can read it.
pub fn read_secret(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use anyhow::{Context, bail};
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the secret file `{}`", path.display()))?;
    let mode = file.metadata()?.permissions().mode();
    let mut secret = Vec::new();
    file.take(MAX_SECRET + 1).read_to_end(&mut secret)?;
    if secret.len() as u64 > MAX_SECRET {
        bail!(
            "the secret file `{}` is longer than {MAX_SECRET} bytes",
            path.display()
        );
    }
    while secret.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        secret.pop();
    }
    if secret.is_empty() {
        bail!("the secret file `{}` is empty", path.display());
    }
    if mode & 0o077 != 0 {
        tracing::warn!(
            file = %path.display(),
            "the webhook secret file can be read by other users; chmod 600 it"
        );
    }
    Ok(secret)
}

/// Whether `signature` (the `X-Hub-Signature-256` header) is `body`'s HMAC-SHA256 under
/// `secret`, compared in constant time.
pub fn verify(secret: &[u8], body: &[u8], signature: Option<&[u8]>) -> bool {
    let Some(hex_digest) = signature.and_then(|s| s.strip_prefix(b"sha256=")) else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

#[derive(Deserialize)]
struct PushPayload {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(default)]
    deleted: bool,
    repository: RepositoryPayload,
}

#[derive(Deserialize)]
struct RepositoryPayload {
    full_name: String,
}

/// The push a `push` event's body announces. GitHub sends either the JSON itself
/// (`application/json`) or a form with a `payload` field.
pub fn parse_push(body: &[u8], form: bool) -> Result<Push, String> {
    let json = if form {
        url::form_urlencoded::parse(body)
            .find(|(key, _)| key == "payload")
            .map(|(_, value)| value.into_owned().into_bytes())
            .ok_or("a form body without a `payload` field")?
    } else {
        body.to_vec()
    };
    let payload: PushPayload =
        serde_json::from_slice(&json).map_err(|e| format!("not a push payload: {e}"))?;
    let (owner, repo) = payload
        .repository
        .full_name
        .split_once('/')
        .ok_or("`repository.full_name` is not OWNER/REPO")?;
    let reference = payload
        .reference
        .strip_prefix("refs/heads/")
        .or_else(|| payload.reference.strip_prefix("refs/tags/"))
        .unwrap_or(&payload.reference);
    if !valid_owner(owner) || !valid_repo(repo) || !valid_ref(reference) {
        return Err("the repository or ref name is not valid".into());
    }
    Ok(Push {
        owner: owner.to_string(),
        repo: repo.to_string(),
        reference: reference.to_string(),
        deleted: payload.deleted,
    })
}

fn answer(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "message": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The HTTP service: every path takes POSTed deliveries.
pub fn router(receiver: Arc<Receiver>) -> axum::Router {
    axum::Router::new().fallback(receive).with_state(receiver)
}

/// Serves deliveries on `listener` until the task is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    receiver: Arc<Receiver>,
) -> std::io::Result<()> {
    axum::serve(listener, router(receiver)).await
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method != Method::POST {
        return answer(StatusCode::METHOD_NOT_ALLOWED, "deliveries are POSTed");
    }
    let delivery = text(&headers, "x-github-delivery")
        .unwrap_or("-")
        .to_string();
    let declared =
        text(&headers, header::CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > receiver.max_body) {
        tracing::warn!(%delivery, bytes = declared, "webhook body over the limit refused");
        return answer(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    }
    let limit = usize::try_from(receiver.max_body).unwrap_or(usize::MAX);
    let body = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, limit)).await {
        Err(_) => return answer(StatusCode::REQUEST_TIMEOUT, "body too slow"),
        Ok(Err(_)) => {
            tracing::warn!(%delivery, "webhook body over the limit or broken; refused");
            return answer(StatusCode::PAYLOAD_TOO_LARGE, "body too large or broken");
        }
        Ok(Ok(body)) => body,
    };
    let signature = headers.get("x-hub-signature-256").map(|v| v.as_bytes());
    if !verify(&receiver.secret, &body, signature) {
        tracing::warn!(%delivery, signed = signature.is_some(), "webhook delivery with a missing or wrong signature refused");
        return answer(
            StatusCode::UNAUTHORIZED,
            "missing or wrong X-Hub-Signature-256",
        );
    }
    let event = text(&headers, "x-github-event").unwrap_or("");
    match event {
        "ping" => answer(StatusCode::OK, "pong"),
        "push" => {
            let form = text(&headers, header::CONTENT_TYPE.as_str())
                .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
            let push = match parse_push(&body, form) {
                Ok(push) => push,
                Err(why) => {
                    tracing::warn!(%delivery, %why, "webhook push refused");
                    return answer(StatusCode::BAD_REQUEST, &why);
                }
            };
            match receiver.sink.pushed(&push).await {
                Ok(roots) => {
                    tracing::info!(%delivery, owner = %push.owner, repo = %push.repo, reference = %push.reference, roots, "push applied");
                    let body =
                        serde_json::json!({ "message": "refreshed", "roots": roots }).to_string();
                    (
                        StatusCode::ACCEPTED,
                        [(header::CONTENT_TYPE, "application/json")],
                        body,
                    )
                        .into_response()
                }
                Err(why) => {
                    tracing::warn!(%delivery, %why, "push not applied");
                    answer(StatusCode::SERVICE_UNAVAILABLE, &why)
                }
            }
        }
        _ => {
            tracing::debug!(%delivery, %event, "webhook event ignored");
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> Vec<u8> {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes())).into_bytes()
    }

    #[test]
    fn signatures_are_checked() {
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        // GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!".
        let documented = b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(verify(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            Some(documented)
        ));
        assert!(verify(b"s3cret", body, Some(&sign(b"s3cret", body))));
        assert!(!verify(b"s3cret", body, Some(&sign(b"other", body))));
        assert!(!verify(
            b"s3cret",
            b"tampered",
            Some(&sign(b"s3cret", body))
        ));
        assert!(!verify(b"s3cret", body, None));
        assert!(!verify(b"s3cret", body, Some(b"sha256=zz")));
        assert!(!verify(b"s3cret", body, Some(b"sha1=00")));
        let mut short = sign(b"s3cret", body);
        short.truncate(20);
        assert!(!verify(b"s3cret", body, Some(&short)));
    }

    #[test]
    fn push_payloads_name_the_ref() {
        let json = br#"{"ref":"refs/heads/feature/x","before":"0","after":"1","repository":{"name":"api","full_name":"acme/api"}}"#;
        let push = parse_push(json, false).unwrap();
        assert_eq!(
            push,
            Push {
                owner: "acme".into(),
                repo: "api".into(),
                reference: "feature/x".into(),
                deleted: false
            }
        );
        let tag = br#"{"ref":"refs/tags/v1","deleted":true,"repository":{"full_name":"acme/api"}}"#;
        assert_eq!(parse_push(tag, false).unwrap().reference, "v1");
        let form = format!(
            "payload={}",
            percent_encoding::utf8_percent_encode(
                std::str::from_utf8(json).unwrap(),
                percent_encoding::NON_ALPHANUMERIC
            )
        );
        assert_eq!(parse_push(form.as_bytes(), true).unwrap(), push);
        for bad in [
            &br#"{"ref":"refs/heads/main","repository":{"full_name":"acme"}}"#[..],
            br#"{"ref":"refs/heads/..","repository":{"full_name":"acme/api"}}"#,
            br#"{"ref":"refs/heads/main","repository":{"full_name":"acme/.."}}"#,
            br#"{"zen":"hi"}"#,
            b"[[[[",
        ] {
            assert!(
                parse_push(bad, false).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
