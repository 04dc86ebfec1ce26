#![allow(dead_code)]

use std::path::Path;

use fakehub::{Config, FakeHub};
use reqwest::header::HeaderMap;

pub const TOKEN: &str = "ghp_fakehubtesttoken";

/// A temp root and a server with one accepted token.
pub fn hub() -> (tempfile::TempDir, FakeHub) {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = FakeHub::spawn(
        dir.path(),
        Config {
            tokens: vec![TOKEN.to_string()],
            ..Config::default()
        },
    )
    .expect("spawn");
    (dir, hub)
}

/// A client that sees responses exactly as sent: no automatic `Accept-Encoding` or
/// decompression, even when the workspace build unifies reqwest's `gzip` feature on
/// (heimdall enables it); tests that want gzip ask for it explicitly.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(500)])
            )
        })
    }
    pub fn header(&self, k: &str) -> Option<String> {
        self.headers
            .get(k)
            .map(|v| v.to_str().unwrap_or("").to_string())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// GET `url` (absolute, or a path on `hub`) with extra headers.
pub async fn get(hub: &FakeHub, url: &str, headers: &[(&str, &str)]) -> Resp {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        format!("{}{url}", hub.url())
    };
    let mut rb = client().get(&url);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.bytes().await.expect("body").to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

pub async fn get_auth(hub: &FakeHub, url: &str) -> Resp {
    get(hub, url, &[("authorization", &format!("Bearer {TOKEN}"))]).await
}

/// Runs git in a bare repo and returns stdout.
pub fn git(git_dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = fakehub::git::git_command(git_dir)
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Parses a Link header into (rel, url) pairs.
pub fn links(link: &str) -> Vec<(String, String)> {
    link.split(',')
        .filter_map(|part| {
            let part = part.trim();
            let url = part.strip_prefix('<')?.split('>').next()?.to_string();
            let rel = part.split("rel=\"").nth(1)?.split('"').next()?.to_string();
            Some((rel, url))
        })
        .collect()
}
