//! Who requests are made as: nobody, a token, or a GitHub App's installations.
//!
//! An App (`HEIMDALL_APP_ID` + `HEIMDALL_APP_KEY_FILE`) signs a JWT (RS256, `iat` 60 s in
//! the past for clock drift, `exp` 9 minutes on, `iss` the app id) and exchanges it at
//! `POST /app/installations/{id}/access_tokens` for an installation token, used like any
//! token for the API and for git over HTTPS. The installation is the configured one, else
//! the owner's (`GET /orgs/{org}/installation`, then `/users/{user}/installation`), once
//! per owner. A token is renewed before it runs out (a quarter of its life, at most five
//! minutes, before `expires_at`), so requests do not fail on expiry; one the API rejects
//! anyway is dropped and the next request gets a fresh one. Neither the key, the JWT nor
//! a token is written anywhere or logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use serde::{Deserialize, Serialize};

use super::error::RemoteError;
use crate::config::{AppCredentials, Settings, Token};
use crate::logging::error_chain;

/// The most a token is renewed ahead of its expiry.
const RENEW_AHEAD_MAX: Duration = Duration::from_secs(5 * 60);
/// A JWT's life: GitHub accepts at most 10 minutes.
const JWT_LIFE: Duration = Duration::from_secs(9 * 60);
/// `iat` this far in the past, as GitHub advises against clock drift.
const JWT_BACKDATE: Duration = Duration::from_secs(60);
/// Largest answer read from the App endpoints.
const MAX_ANSWER: usize = 64 * 1024;

/// How requests authenticate.
#[derive(Clone, Default)]
pub enum Credentials {
    #[default]
    Anonymous,
    Token(Token),
    App(Arc<AppAuth>),
}

impl Credentials {
    /// From the settings: the App when one is configured, else the token, if any.
    pub fn from_settings(settings: &Settings) -> Result<Credentials, RemoteError> {
        match (&settings.app, &settings.token) {
            (Some(app), _) => Ok(Credentials::App(Arc::new(AppAuth::new(app, settings)?))),
            (None, Some(token)) => Ok(Credentials::Token(token.clone())),
            (None, None) => Ok(Credentials::Anonymous),
        }
    }

    /// The token for a request about `owner`'s resources (`None` for anonymous requests).
    pub async fn token(&self, owner: Option<&str>) -> Result<Option<Token>, RemoteError> {
        match self {
            Credentials::Anonymous => Ok(None),
            Credentials::Token(token) => Ok(Some(token.clone())),
            Credentials::App(app) => app.token(owner).await.map(Some),
        }
    }

    /// `token` was rejected (401): an App forgets it, so the next request gets a new one.
    pub fn rejected(&self, token: &Token) {
        if let Credentials::App(app) = self {
            app.forget(token);
        }
    }
}

/// The owner a REST path is about: `/repos/{owner}/..`, `/orgs/{owner}/..`, `/users/{owner}..`.
pub fn owner_of_path(path: &str) -> Option<&str> {
    let mut parts = path.trim_start_matches('/').split(['/', '?']);
    match parts.next()? {
        "repos" | "orgs" | "users" => parts.next().filter(|o| !o.is_empty()),
        _ => None,
    }
}

struct Issued {
    token: Token,
    expires_at: SystemTime,
    renew_at: SystemTime,
}

/// A GitHub App's installation tokens.
pub struct AppAuth {
    app_id: String,
    key: EncodingKey,
    fixed_installation: Option<u64>,
    base: String,
    http: reqwest::Client,
    installations: Mutex<HashMap<String, u64>>,
    tokens: Mutex<HashMap<u64, Arc<Issued>>>,
    /// One exchange at a time per process (renewals of many requests coalesce).
    exchange: tokio::sync::Mutex<()>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iat: u64,
    exp: u64,
    iss: &'a str,
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
}

#[derive(Deserialize)]
struct AccessToken {
    token: String,
    expires_at: String,
}

fn epoch(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl AppAuth {
    pub fn new(app: &AppCredentials, settings: &Settings) -> Result<AppAuth, RemoteError> {
        let key =
            EncodingKey::from_rsa_pem(&app.key_pem).map_err(|e| RemoteError::BadCredentials {
                what: format!(
                    "the GitHub App key `{}` is not an RSA private key in PEM ({e})",
                    app.key_file.display()
                ),
            })?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("heimdall/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(settings.read_timeout)
            .build()
            .map_err(|e| RemoteError::Network {
                what: "building the GitHub App client".into(),
                message: error_chain(&e),
                attempts: 0,
            })?;
        Ok(AppAuth {
            app_id: app.app_id.clone(),
            key,
            fixed_installation: app.installation_id,
            base: settings.api_url.as_str().trim_end_matches('/').to_string(),
            http,
            installations: Mutex::default(),
            tokens: Mutex::default(),
            exchange: tokio::sync::Mutex::new(()),
        })
    }

    fn jwt(&self) -> Result<Token, RemoteError> {
        let now = SystemTime::now();
        let claims = Claims {
            iat: epoch(now - JWT_BACKDATE),
            exp: epoch(now + JWT_LIFE),
            iss: &self.app_id,
        };
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| RemoteError::BadCredentials {
                what: format!("signing the GitHub App's JWT ({e})"),
            })?;
        Ok(Token::new(jwt).expect("a JWT is never empty"))
    }

    /// A request to an App endpoint with the JWT; the answer's JSON, or `None` on 404.
    async fn app_request<T: serde::de::DeserializeOwned>(
        &self,
        post: bool,
        path: &str,
    ) -> Result<Option<T>, RemoteError> {
        let what = format!("{} {path}", if post { "POST" } else { "GET" });
        let url = format!("{}{path}", self.base);
        let request = if post {
            self.http.post(&url)
        } else {
            self.http.get(&url)
        };
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", self.jwt()?.expose()))
            .map_err(|_| RemoteError::BadCredentials { what: what.clone() })?;
        auth.set_sensitive(true);
        let answer = request
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .send()
            .await
            .map_err(|e| RemoteError::Network {
                what: what.clone(),
                message: error_chain(&e),
                attempts: 1,
            })?;
        let status = answer.status().as_u16();
        let body = answer.bytes().await.map_err(|e| RemoteError::Network {
            what: what.clone(),
            message: error_chain(&e),
            attempts: 1,
        })?;
        let message = || {
            serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or_default()
        };
        match status {
            200 | 201 if body.len() <= MAX_ANSWER => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| RemoteError::Corrupt {
                    what,
                    why: e.to_string(),
                }),
            404 => Ok(None),
            401 => Err(RemoteError::BadCredentials {
                what: format!("{what} (the GitHub App's JWT: {})", message()),
            }),
            403 => Err(RemoteError::Forbidden {
                what,
                message: message(),
            }),
            status => Err(RemoteError::Unexpected {
                what,
                status,
                message: message(),
            }),
        }
    }

    async fn installation(&self, owner: Option<&str>) -> Result<u64, RemoteError> {
        if let Some(id) = self.fixed_installation {
            return Ok(id);
        }
        let Some(owner) = owner.map(str::to_ascii_lowercase) else {
            // Not about an owner (the rate limit, say): any installation will do.
            if let Some(id) = self.installations.lock().expect("poisoned").values().next() {
                return Ok(*id);
            }
            return Err(RemoteError::BadCredentials {
                what: "a request about no owner needs HEIMDALL_APP_INSTALLATION_ID".into(),
            });
        };
        if let Some(id) = self.installations.lock().expect("poisoned").get(&owner) {
            return Ok(*id);
        }
        for kind in ["orgs", "users"] {
            let path = format!("/{kind}/{owner}/installation");
            if let Some(found) = self.app_request::<Installation>(false, &path).await? {
                self.installations
                    .lock()
                    .expect("poisoned")
                    .insert(owner, found.id);
                return Ok(found.id);
            }
        }
        Err(RemoteError::Forbidden {
            what: format!("GitHub App {}", self.app_id),
            message: format!("the App is not installed on `{owner}`"),
        })
    }

    fn current(&self, installation: u64) -> Option<Arc<Issued>> {
        let tokens = self.tokens.lock().expect("poisoned");
        tokens
            .get(&installation)
            .filter(|t| SystemTime::now() < t.renew_at)
            .cloned()
    }

    /// The installation token for `owner`, renewed ahead of its expiry.
    pub async fn token(&self, owner: Option<&str>) -> Result<Token, RemoteError> {
        let installation = self.installation(owner).await?;
        if let Some(issued) = self.current(installation) {
            return Ok(issued.token.clone());
        }
        let _one = self.exchange.lock().await;
        if let Some(issued) = self.current(installation) {
            return Ok(issued.token.clone());
        }
        let path = format!("/app/installations/{installation}/access_tokens");
        let answer: AccessToken =
            self.app_request(true, &path)
                .await?
                .ok_or_else(|| RemoteError::Forbidden {
                    what: format!("POST {path}"),
                    message: format!(
                        "installation {installation} of App {} does not exist",
                        self.app_id
                    ),
                })?;
        let token = Token::new(answer.token).ok_or_else(|| RemoteError::Corrupt {
            what: format!("POST {path}"),
            why: "an empty token".into(),
        })?;
        let now = SystemTime::now();
        let expires_at =
            humantime::parse_rfc3339(&answer.expires_at).unwrap_or(now + Duration::from_secs(3600));
        let life = expires_at.duration_since(now).unwrap_or_default();
        let renew_at = expires_at - (life / 4).min(RENEW_AHEAD_MAX);
        tracing::debug!(
            installation,
            expires_in_secs = life.as_secs(),
            "GitHub App installation token issued"
        );
        let issued = Arc::new(Issued {
            token: token.clone(),
            expires_at,
            renew_at,
        });
        self.tokens
            .lock()
            .expect("poisoned")
            .insert(installation, issued);
        Ok(token)
    }

    fn forget(&self, token: &Token) {
        self.tokens
            .lock()
            .expect("poisoned")
            .retain(|_, issued| &issued.token != token && issued.expires_at > SystemTime::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_their_owner() {
        assert_eq!(owner_of_path("/repos/acme/api/git/trees/x"), Some("acme"));
        assert_eq!(owner_of_path("/orgs/acme/repos?per_page=100"), Some("acme"));
        assert_eq!(owner_of_path("/users/octo"), Some("octo"));
        assert_eq!(owner_of_path("/rate_limit"), None);
        assert_eq!(owner_of_path("/repos/"), None);
    }
}
