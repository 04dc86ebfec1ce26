//! Turning GitHub's tree listings into validated tree objects.
//!
//! A recursive listing (`?recursive=1`) is split back into one [`Tree`] per directory,
//! keyed by its SHA, so trees are stored once however many commits and repos share them.
//! Entries GitHub (or anything pretending to be it) sends that could escape a directory
//! or confuse a filesystem are dropped with a logged reason: empty names, `.`, `..`,
//! names with NUL, names longer than 255 bytes, unknown modes, bad SHAs, duplicates.

use std::collections::{BTreeMap, HashMap};

use super::types::wire::{TreeItem, TreeResponse};
use super::types::{Mode, Tree, TreeEntry};
use crate::oid::Sha;

/// Linux's NAME_MAX: a longer component cannot be a file name.
pub const MAX_NAME_BYTES: usize = 255;

/// Why a tree entry was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    BadName(String),
    BadMode(String),
    BadSha(String),
    TypeMismatch(String),
    Duplicate(String),
    Orphan(String),
}

/// Checks one path component from the network.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains('\0')
        && name.len() <= MAX_NAME_BYTES
}

fn short(text: &str) -> String {
    let mut out: String = text.chars().take(80).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out.escape_debug().to_string()
}

/// Parses one item's mode, type and sha, checking that mode and type agree.
fn parse_item(item: &TreeItem) -> Result<(Mode, Sha), Refusal> {
    let mode = Mode::parse(&item.mode).ok_or_else(|| Refusal::BadMode(short(&item.mode)))?;
    if mode.object_type() != item.kind {
        return Err(Refusal::TypeMismatch(format!(
            "{} has mode {} but type {}",
            short(&item.path),
            item.mode,
            short(&item.kind)
        )));
    }
    let sha = Sha::parse(&item.sha).map_err(|_| Refusal::BadSha(short(&item.sha)))?;
    Ok((mode, sha))
}

/// The result of splitting a listing: the trees, and what was refused.
#[derive(Debug, Default)]
pub struct Split {
    pub trees: Vec<Tree>,
    pub refused: Vec<Refusal>,
}

/// Splits a listing of tree `root` into one tree per directory. A non-recursive listing
/// yields exactly the root tree: its subtrees' entries are unknown, so no tree object is
/// made for them (an empty one would be a lie stored forever under their SHA).
pub fn split_listing(root: Sha, response: &TreeResponse, recursive: bool) -> Split {
    let mut refused = Vec::new();
    // Directory path ("" for the root) -> its SHA.
    let mut dir_sha: HashMap<String, Sha> = HashMap::new();
    dir_sha.insert(String::new(), root);
    // Directory path -> entries by name.
    let mut dirs: HashMap<String, BTreeMap<String, TreeEntry>> = HashMap::new();
    dirs.insert(String::new(), BTreeMap::new());
    let mut parsed = Vec::with_capacity(response.tree.len());
    // Paths already taken: a duplicate is refused here, before a second tree entry of
    // the same path could claim the directory's SHA (its children would then be stored
    // under the refused twin's SHA, which may be another repository's tree).
    let mut taken = std::collections::HashSet::with_capacity(response.tree.len());
    for item in &response.tree {
        let (parent, name) = match item.path.rsplit_once('/') {
            Some((parent, name)) => (parent, name),
            None => ("", item.path.as_str()),
        };
        if !item.path.split('/').all(valid_name) {
            refused.push(Refusal::BadName(short(&item.path)));
            continue;
        }
        match parse_item(item) {
            Ok(_) if taken.contains(item.path.as_str()) => {
                refused.push(Refusal::Duplicate(short(&item.path)));
            }
            Ok((mode, sha)) => {
                taken.insert(item.path.as_str());
                if mode == Mode::Tree && recursive {
                    dir_sha.insert(item.path.clone(), sha);
                    dirs.entry(item.path.clone()).or_default();
                }
                parsed.push((parent.to_string(), name.to_string(), mode, sha, item.size));
            }
            Err(refusal) => refused.push(refusal),
        }
    }
    for (parent, name, mode, sha, size) in parsed {
        let Some(entries) = dirs.get_mut(&parent) else {
            refused.push(Refusal::Orphan(short(&format!("{parent}/{name}"))));
            continue;
        };
        let size = if mode.is_blob() { size.unwrap_or(0) } else { 0 };
        entries.insert(
            name.clone(),
            TreeEntry {
                name,
                mode,
                sha,
                size,
            },
        );
    }
    let mut trees = Vec::with_capacity(dirs.len());
    let mut seen = std::collections::HashSet::new();
    for (path, entries) in dirs {
        let Some(sha) = dir_sha.get(&path).copied() else {
            continue;
        };
        // Two directories with identical content share one tree object.
        if !seen.insert(sha) {
            continue;
        }
        trees.push(Tree {
            sha,
            entries: entries.into_values().collect(),
        });
    }
    for refusal in &refused {
        tracing::warn!(tree = %root, ?refusal, "refused a tree entry from GitHub");
    }
    Split { trees, refused }
}

/// The git id of a tree with these entries (its canonical encoding: `<mode> <name>\0<id>`
/// per entry, in git's order, where a directory sorts as if its name ended in `/`).
pub fn tree_id(tree: &Tree) -> Sha {
    let mut entries: Vec<&TreeEntry> = tree.entries.iter().collect();
    let key = |e: &TreeEntry| {
        let mut k = e.name.as_bytes().to_vec();
        if e.mode == Mode::Tree {
            k.push(b'/');
        }
        k
    };
    entries.sort_by_key(|e| key(e));
    let mut body = Vec::new();
    for e in entries {
        let mode = match e.mode {
            Mode::Tree => "40000",
            other => other.as_git(),
        };
        body.extend_from_slice(mode.as_bytes());
        body.push(b' ');
        body.extend_from_slice(e.name.as_bytes());
        body.push(0);
        body.extend_from_slice(e.sha.as_bytes());
    }
    use sha1::Digest;
    let mut hasher = sha1::Sha1::new();
    hasher.update(format!("tree {}\0", body.len()).as_bytes());
    hasher.update(&body);
    let digest: [u8; 20] = hasher.finalize().into();
    Sha::from_bytes(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str, mode: &str, kind: &str, sha: &str, size: Option<u64>) -> TreeItem {
        TreeItem {
            path: path.into(),
            mode: mode.into(),
            kind: kind.into(),
            sha: sha.into(),
            size,
        }
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "cccccccccccccccccccccccccccccccccccccccc";
    const R: &str = "1111111111111111111111111111111111111111";

    #[test]
    fn recursive_listing_splits_into_trees() {
        let response = TreeResponse {
            sha: R.into(),
            truncated: false,
            tree: vec![
                item("README.md", "100644", "blob", A, Some(12)),
                item("bin", "040000", "tree", B, None),
                item("bin/run", "100755", "blob", C, Some(3)),
                item("link", "120000", "blob", C, Some(7)),
                item("vendor", "160000", "commit", A, None),
            ],
        };
        let split = split_listing(Sha::parse(R).unwrap(), &response, true);
        assert!(split.refused.is_empty());
        assert_eq!(split.trees.len(), 2);
        let root = split.trees.iter().find(|t| t.sha.to_hex() == R).unwrap();
        let names: Vec<_> = root.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["README.md", "bin", "link", "vendor"]);
        assert_eq!(root.get("link").unwrap().mode, Mode::Symlink);
        assert_eq!(root.get("vendor").unwrap().mode, Mode::Submodule);
        assert_eq!(root.get("README.md").unwrap().size, 12);
        let bin = split.trees.iter().find(|t| t.sha.to_hex() == B).unwrap();
        assert_eq!(bin.entries[0].mode, Mode::Executable);
    }

    #[test]
    fn a_duplicate_directory_cannot_claim_its_twins_children() {
        // `src` twice: the second, refused, names another tree (say, another repo's).
        let response = TreeResponse {
            sha: R.into(),
            truncated: false,
            tree: vec![
                item("src", "040000", "tree", B, None),
                item("src", "040000", "tree", C, None),
                item("src/lib.rs", "100644", "blob", A, Some(3)),
            ],
        };
        let split = split_listing(Sha::parse(R).unwrap(), &response, true);
        assert_eq!(split.refused, [Refusal::Duplicate("src".into())]);
        let shas: Vec<String> = split.trees.iter().map(|t| t.sha.to_hex()).collect();
        assert!(shas.contains(&B.to_string()), "{shas:?}");
        assert!(
            !shas.contains(&C.to_string()),
            "nothing stored as {C}: {shas:?}"
        );
    }

    #[test]
    fn hostile_entries_are_refused() {
        let long = "x".repeat(256);
        let response = TreeResponse {
            sha: R.into(),
            truncated: false,
            tree: vec![
                item("..", "100644", "blob", A, Some(1)),
                item(".", "100644", "blob", A, Some(1)),
                item("a\0b", "100644", "blob", A, Some(1)),
                item(&long, "100644", "blob", A, Some(1)),
                item("weird", "100600", "blob", A, Some(1)),
                item("badsha", "100644", "blob", "../../etc/passwd", Some(1)),
                item("mismatch", "040000", "blob", A, None),
                item("ok", "100644", "blob", A, Some(1)),
                item("ok", "100644", "blob", B, Some(1)),
                item("missing/child", "100644", "blob", A, Some(1)),
                item("/abs", "100644", "blob", A, Some(1)),
                item("a//b", "100644", "blob", A, Some(1)),
            ],
        };
        let split = split_listing(Sha::parse(R).unwrap(), &response, true);
        assert_eq!(split.trees.len(), 1);
        let flat = split_listing(Sha::parse(R).unwrap(), &response, false);
        assert_eq!(
            flat.trees.len(),
            1,
            "no subtree objects from a flat listing"
        );
        let names: Vec<_> = split.trees[0]
            .entries
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, ["ok"]);
        assert_eq!(
            split.trees[0].entries[0].sha.to_hex(),
            A,
            "first duplicate wins"
        );
        assert_eq!(split.refused.len(), 11);
    }
}
