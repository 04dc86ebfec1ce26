//! Extended attributes: `user.heimdall.sha` (the git object's id) and `user.heimdall.url`
//! (where GitHub shows it) on everything under a commit.

use super::errno::{Errno, FsResult};
use crate::namespace::RepoContext;
use crate::oid::Sha;

pub const XATTR_SHA: &str = "user.heimdall.sha";
pub const XATTR_URL: &str = "user.heimdall.url";

/// A git object under a commit, as its attributes describe it.
pub struct Object<'a> {
    pub repo: &'a RepoContext,
    pub sha: Sha,
    /// Its path in the repository (empty for the root tree).
    pub path: &'a str,
    pub is_dir: bool,
}

/// The value of attribute `name` of `object`; `web_url` is github.com or the Enterprise
/// host.
pub fn value(name: &str, web_url: &str, object: &Object) -> FsResult<Vec<u8>> {
    match name {
        XATTR_SHA => Ok(object.sha.to_hex().into_bytes()),
        XATTR_URL => {
            let kind = if object.is_dir { "tree" } else { "blob" };
            let repo = object.repo;
            let mut url = format!(
                "{web_url}/{}/{}/{kind}/{}",
                repo.spec.owner, repo.spec.repo, repo.commit.sha
            );
            if !object.path.is_empty() {
                url.push('/');
                url.push_str(object.path);
            }
            Ok(url.into_bytes())
        }
        _ => Err(Errno(libc::ENODATA)),
    }
}

/// `listxattr` of an object under a commit: the names, each NUL-terminated.
pub fn names() -> Vec<u8> {
    format!("{XATTR_SHA}\0{XATTR_URL}\0").into_bytes()
}
