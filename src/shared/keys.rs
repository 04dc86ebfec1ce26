//! Where things live in the bucket, and how the bucket is opened from its URL.
//!
//! `s3://` and `s3a://` take the AWS environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL` for
//! S3-compatible stores, `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint, web identity
//! and instance metadata credentials); `gs://` the `GOOGLE_*` environment; `az://` the
//! `AZURE_*` environment; `http(s)://` is a WebDAV-style store (GET/PUT by key);
//! `file:///path` a directory (created if missing), e.g. on a shared file system.

use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path as Key;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use url::Url;

use crate::oid::Sha;

pub fn pack(commit: Sha, name: &str) -> String {
    format!("v1/packs/{commit}/{name}")
}

pub fn packs_of(commit: Sha) -> String {
    format!("v1/packs/{commit}")
}

pub fn blob(sha: Sha) -> String {
    format!("v1/blobs/{sha}")
}

pub fn commit(sha: Sha) -> String {
    format!("v1/commits/{sha}")
}

pub fn listing(commit: Sha) -> String {
    format!("v1/listings/{commit}.json")
}

pub fn patterns(version: u32, owner: &str, repo: &str, commit: Sha) -> String {
    format!(
        "v1/patterns/v{version}/{}/{}/{commit}.json",
        owner.to_ascii_lowercase(),
        repo.to_ascii_lowercase()
    )
}

/// An error's message without anything that could carry a secret (a query string of a
/// signed URL): the first line, with `?...` cut from every URL-looking word.
pub fn quiet_error(e: &object_store::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.split(' ')
        .map(|word| match word.find('?') {
            Some(at) if word.contains("://") => &word[..at],
            _ => word,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn env_pairs(prefix: &str) -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}

/// The store behind `url` and the key prefix (the URL's path).
pub fn open_store(url: &Url, timeout: Duration) -> Result<(Arc<dyn ObjectStore>, Key), String> {
    // Each request is bounded here and by the caller; a failing store is skipped (see
    // the breaker), not retried for minutes.
    let client = ClientOptions::new()
        .with_connect_timeout(timeout)
        .with_timeout(Duration::from_secs(300));
    let retry = RetryConfig {
        max_retries: 1,
        retry_timeout: timeout * 2,
        ..Default::default()
    };
    let err = |e: object_store::Error| quiet_error(&e);
    match url.scheme() {
        "file" => {
            let dir = url
                .to_file_path()
                .map_err(|()| "not a local path".to_string())?;
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                .map_err(err)?
                .with_automatic_cleanup(true);
            Ok((Arc::new(store), Key::default()))
        }
        "s3" | "s3a" => {
            let mut builder = object_store::aws::AmazonS3Builder::new()
                .with_client_options(client)
                .with_retry(retry);
            let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
            let env = |name: &str| std::env::var(name).ok();
            for (key, value) in super::aws::profile_settings(&env, home.as_deref())? {
                builder = builder.with_config(key, value);
            }
            for (key, value) in env_pairs("AWS_") {
                if let Ok(k) = key.parse() {
                    builder = builder.with_config(k, value);
                }
            }
            let store = builder.with_url(url.as_str()).build().map_err(err)?;
            Ok((Arc::new(store), prefix_of(url)?))
        }
        "gs" => {
            let mut builder = object_store::gcp::GoogleCloudStorageBuilder::new()
                .with_client_options(client)
                .with_retry(retry);
            for (key, value) in env_pairs("GOOGLE_") {
                if let Ok(k) = key.parse() {
                    builder = builder.with_config(k, value);
                }
            }
            let store = builder.with_url(url.as_str()).build().map_err(err)?;
            Ok((Arc::new(store), prefix_of(url)?))
        }
        "az" | "abfs" | "abfss" | "azure" => {
            let mut builder = object_store::azure::MicrosoftAzureBuilder::new()
                .with_client_options(client)
                .with_retry(retry);
            for (key, value) in env_pairs("AZURE_") {
                if let Ok(k) = key.parse() {
                    builder = builder.with_config(k, value);
                }
            }
            let store = builder.with_url(url.as_str()).build().map_err(err)?;
            Ok((Arc::new(store), prefix_of(url)?))
        }
        "http" | "https" => {
            let mut base = url.clone();
            base.set_path("");
            let store = object_store::http::HttpBuilder::new()
                .with_url(base.as_str())
                .with_client_options(client.with_allow_http(url.scheme() == "http"))
                .with_retry(retry)
                .build()
                .map_err(err)?;
            Ok((Arc::new(store), prefix_of(url)?))
        }
        other => Err(format!("scheme `{other}` is not served")),
    }
}

/// The key prefix a bucket URL names (`s3://bucket/team/heimdall` -> `team/heimdall`).
fn prefix_of(url: &Url) -> Result<Key, String> {
    let path = url.path().trim_matches('/');
    Key::parse(path).map_err(|e| format!("bad prefix `{path}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_what_they_hold() {
        let sha = Sha::parse("0123456789abcdef0123456789abcdef01234567").unwrap();
        assert_eq!(blob(sha), format!("v1/blobs/{sha}"));
        assert_eq!(
            pack(sha, "pack-x.pack"),
            format!("v1/packs/{sha}/pack-x.pack")
        );
        assert_eq!(
            patterns(1, "Acme", "API", sha),
            format!("v1/patterns/v1/acme/api/{sha}.json")
        );
        let url = Url::parse("s3://bucket/team/heimdall/").unwrap();
        assert_eq!(prefix_of(&url).unwrap().as_ref(), "team/heimdall");
    }
}
