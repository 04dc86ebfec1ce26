//! GitHub Apps, as GitHub serves them: `GET /orgs/{org}/installation`,
//! `/users/{user}/installation` and `/repos/{owner}/{repo}/installation` (the installation
//! on an owner), and `POST /app/installations/{id}/access_tokens` (an installation token),
//! each authenticated with the App's JWT: RS256 with the App's key, `iss` the app id,
//! `exp` in the future and at most 10 minutes after `iat`. The App is installed on every
//! owner under the root; its tokens are accepted like configured ones until they expire
//! (then 401 "Bad credentials", counted in `Stats::expired_tokens`).

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::json;

use crate::server::{Auth, DOCS, error, parse_auth};
use crate::state::Shared;

/// The longest JWT life GitHub accepts (plus the minute `iat` may be backdated).
const MAX_JWT_LIFE: u64 = 10 * 60 + 60;

#[derive(serde::Deserialize)]
struct Claims {
    iat: u64,
    exp: u64,
}

enum Route<'a> {
    Installation { owner: &'a str },
    AccessToken { id: &'a str },
}

fn route<'a>(method: &Method, path: &'a str) -> Option<Route<'a>> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        (&Method::GET, ["orgs" | "users", owner, "installation"])
        | (&Method::GET, ["repos", owner, _, "installation"]) => {
            Some(Route::Installation { owner })
        }
        (&Method::POST, ["app", "installations", id, "access_tokens"]) => {
            Some(Route::AccessToken { id })
        }
        _ => None,
    }
}

fn unauthorized(message: &str) -> Response {
    error(StatusCode::UNAUTHORIZED, message, DOCS)
}

/// Checks the request's JWT against the App; the refusal as GitHub words it otherwise.
#[allow(clippy::result_large_err)] // a refusal is the response itself
fn verify(sh: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let Some(app) = sh.app.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
        return Err(error(StatusCode::NOT_FOUND, "Not Found", DOCS));
    };
    let Auth::Token(jwt) = parse_auth(headers) else {
        return Err(unauthorized("A JSON web token could not be decoded"));
    };
    let key = DecodingKey::from_rsa_pem(app.public_key_pem.as_bytes())
        .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "bad app key", DOCS))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[app.id.as_str()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss"]);
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<Claims>(&jwt, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => unauthorized(
                "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
            ),
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => {
                unauthorized("'Issuer' claim ('iss') must be an Integer")
            }
            _ => unauthorized("A JSON web token could not be decoded"),
        })?
        .claims;
    if claims.exp.saturating_sub(claims.iat) > MAX_JWT_LIFE {
        return Err(unauthorized(
            "'Expiration time' claim ('exp') is too far in the future",
        ));
    }
    Ok(())
}

fn installation_id(sh: &Shared, owner: &str) -> Option<u64> {
    let owner = owner.to_ascii_lowercase();
    let exists = std::fs::read_dir(&sh.root)
        .ok()?
        .flatten()
        .any(|e| e.file_name().to_string_lossy().to_ascii_lowercase() == owner);
    if !exists {
        return None;
    }
    let mut ids = sh.installations.lock().unwrap_or_else(|e| e.into_inner());
    let next = 1000 + ids.len() as u64;
    Some(*ids.entry(owner).or_insert(next))
}

fn token(sh: &Shared) -> String {
    let seed = format!("{}-{:?}", sh.next_request_id(), SystemTime::now());
    let digest = <sha2::Sha256 as sha2::Digest>::digest(seed.as_bytes());
    let alnum: String = digest
        .iter()
        .map(|b| {
            char::from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[*b as usize % 62],
            )
        })
        .take(36)
        .collect();
    format!("ghs_{alnum}")
}

/// The answer to an App route, or `None` for any other request.
pub(crate) fn handle(
    sh: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Option<Response> {
    let route = route(method, path)?;
    if let Err(refused) = verify(sh, headers) {
        return Some(refused);
    }
    let app = sh.app.lock().unwrap_or_else(|e| e.into_inner()).clone()?;
    Some(match route {
        Route::Installation { owner } => match installation_id(sh, owner) {
            Some(id) => axum::Json(json!({
                "id": id,
                "app_id": app.id.parse::<u64>().ok(),
                "app_slug": "heimdall-test",
                "target_type": "Organization",
                "account": {"login": owner},
                "repository_selection": "all",
                "permissions": {"contents": "read", "metadata": "read"},
                "events": [],
            }))
            .into_response(),
            None => error(StatusCode::NOT_FOUND, "Not Found", DOCS),
        },
        Route::AccessToken { id } => {
            let known = id.parse::<u64>().ok().is_some_and(|id| {
                sh.installations
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .any(|v| *v == id)
            });
            if !known {
                return Some(error(StatusCode::NOT_FOUND, "Not Found", DOCS));
            }
            let token = token(sh);
            let expires = SystemTime::now() + app.token_ttl;
            sh.app_tokens
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(token.clone(), expires);
            sh.counters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .stats
                .app_tokens_issued += 1;
            let expires_at = humantime_rfc3339(expires);
            (
                StatusCode::CREATED,
                axum::Json(json!({
                    "token": token,
                    "expires_at": expires_at,
                    "permissions": {"contents": "read", "metadata": "read"},
                    "repository_selection": "all",
                })),
            )
                .into_response()
        }
    })
}

/// `2016-07-11T22:14:10Z`, as GitHub writes `expires_at`.
fn humantime_rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64;
    crate::util::iso8601(secs)
}
