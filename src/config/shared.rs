//! The shared cache's settings (`--shared-cache`, see `crate::shared`).

use std::time::Duration;

use url::Url;

pub const SHARED_CACHE_ENV: &str = "HEIMDALL_SHARED_CACHE";
pub const SHARED_CACHE_PRIVATE_ENV: &str = "HEIMDALL_SHARED_CACHE_PRIVATE";
/// Per-request timeout of the shared cache, in milliseconds (default 2000).
pub const SHARED_CACHE_TIMEOUT_ENV: &str = "HEIMDALL_SHARED_CACHE_TIMEOUT_MS";

/// Where the shared cache is and what goes into it (see `crate::shared`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedCacheConfig {
    /// `s3://bucket/prefix`, `gs://`, `az://`, `http(s)://`, `file:///path`; never with
    /// credentials in it (those come from the store's own environment).
    pub url: Url,
    /// Upload content of private repositories too (`--shared-cache-private`).
    pub private: bool,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// A shared cache URL: one of the schemes `object_store` serves, no credentials.
pub fn parse_shared_cache_url(text: &str) -> Result<Url, String> {
    let invalid = |why: &str| why.to_string();
    let url = Url::parse(text).map_err(|e| invalid(&format!("not a URL: {e}")))?;
    if url.password().is_some() || !url.username().is_empty() {
        // Not echoed: the URL holds a secret.
        return Err(invalid(
            "credentials in the URL are refused (use the store's environment, e.g. AWS_ACCESS_KEY_ID)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(&format!("`{url}`: no query or fragment")));
    }
    match url.scheme() {
        "s3" | "s3a" | "gs" | "az" | "abfs" | "abfss" | "azure" | "http" | "https" | "file" => {
            Ok(url)
        }
        other => Err(invalid(&format!(
            "`{url}`: scheme `{other}` is not served (s3, gs, az, http, https, file)"
        ))),
    }
}

/// The shared cache from its option (or `HEIMDALL_SHARED_CACHE`), if any.
pub(super) fn resolve(
    url: Option<String>,
    private: bool,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<SharedCacheConfig>, String> {
    let Some(text) = url.or_else(|| var(SHARED_CACHE_ENV)) else {
        return Ok(None);
    };
    Ok(Some(SharedCacheConfig {
        url: parse_shared_cache_url(&text)?,
        private: private || var(SHARED_CACHE_PRIVATE_ENV).is_some_and(|v| v != "0"),
        timeout: var(SHARED_CACHE_TIMEOUT_ENV)
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&ms| ms > 0)
            .map_or(Duration::from_secs(2), Duration::from_millis),
    }))
}

/// What a daemon needs to open the same shared cache (see `Settings::daemon_env`).
pub(super) fn daemon_env(config: &SharedCacheConfig) -> [(&'static str, String); 3] {
    [
        (SHARED_CACHE_ENV, config.url.to_string()),
        (
            SHARED_CACHE_PRIVATE_ENV,
            u8::from(config.private).to_string(),
        ),
        (
            SHARED_CACHE_TIMEOUT_ENV,
            config.timeout.as_millis().to_string(),
        ),
    ]
}
