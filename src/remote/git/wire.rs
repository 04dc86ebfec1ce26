//! git's protocol v2 `fetch` command on the wire: the request body we send and the
//! sections of the answer, ending in the pack (side band 1), with gix-packetline doing
//! the pkt-line framing and side-band demultiplexing.
//!
//! See gitprotocol-v2(5): a request is `command=fetch`, capabilities, a delimiter, then
//! arguments (`want`, `deepen`, `filter`, `done`) and a flush. Because we always send
//! `done`, the answer has no acknowledgments: an optional `shallow-info` section, then
//! `packfile` and the pack multiplexed on side bands (1 data, 2 progress, 3 error).

use std::io::{self, BufRead, Read};

use gix_packetline::blocking_io::StreamingPeekableIter;
use gix_packetline::{PacketLineRef, blocking_io::encode};

use crate::oid::Sha;

/// What one fetch asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSpec {
    /// Object ids wanted: commits, trees or blobs (any reachable id: partial clones
    /// depend on GitHub serving those).
    pub wants: Vec<Sha>,
    /// `deepen N` (shallow): with a commit want, only its own trees, not its history.
    pub depth: Option<u32>,
    /// A partial-clone filter such as `blob:none`.
    pub filter: Option<&'static str>,
}

impl FetchSpec {
    /// Every tree of `commit` and nothing else: `deepen 1`, `filter blob:none`.
    pub fn trees_of(commit: Sha) -> FetchSpec {
        FetchSpec {
            wants: vec![commit],
            depth: Some(1),
            filter: Some("blob:none"),
        }
    }

    /// Exactly these objects (blobs, usually).
    pub fn objects(wants: Vec<Sha>) -> FetchSpec {
        FetchSpec {
            wants,
            depth: None,
            filter: None,
        }
    }

    /// The commit object alone: `deepen 1`, `filter tree:0`.
    pub fn commit_only(commit: Sha) -> FetchSpec {
        FetchSpec {
            wants: vec![commit],
            depth: Some(1),
            filter: Some("tree:0"),
        }
    }

    /// The whole of `commit`'s tree: `deepen 1`, no filter.
    pub fn whole(commit: Sha) -> FetchSpec {
        FetchSpec {
            wants: vec![commit],
            depth: Some(1),
            filter: None,
        }
    }
}

/// The request body of a protocol v2 `fetch`.
pub fn fetch_request(spec: &FetchSpec, agent: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + spec.wants.len() * 50);
    let line = |out: &mut Vec<u8>, text: &str| {
        encode::data_to_write(text.as_bytes(), &mut *out).expect("writing to a Vec");
    };
    line(&mut out, "command=fetch\n");
    line(&mut out, &format!("agent={agent}\n"));
    line(&mut out, "object-format=sha1\n");
    encode::delim_to_write(&mut out).expect("writing to a Vec");
    line(&mut out, "no-progress\n");
    line(&mut out, "ofs-delta\n");
    for want in &spec.wants {
        line(&mut out, &format!("want {want}\n"));
    }
    if let Some(depth) = spec.depth {
        line(&mut out, &format!("deepen {depth}\n"));
    }
    if let Some(filter) = spec.filter {
        line(&mut out, &format!("filter {filter}\n"));
    }
    line(&mut out, "done\n");
    encode::flush_to_write(&mut out).expect("writing to a Vec");
    out
}

/// The request body of a protocol v2 `ls-refs` for refs starting with `prefixes`, with
/// symbolic refs' targets and annotated tags' peeled commits.
pub fn ls_refs_request(prefixes: &[String], agent: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let line = |out: &mut Vec<u8>, text: &str| {
        encode::data_to_write(text.as_bytes(), &mut *out).expect("writing to a Vec");
    };
    line(&mut out, "command=ls-refs\n");
    line(&mut out, &format!("agent={agent}\n"));
    line(&mut out, "object-format=sha1\n");
    encode::delim_to_write(&mut out).expect("writing to a Vec");
    line(&mut out, "symrefs\n");
    line(&mut out, "peel\n");
    for prefix in prefixes {
        line(&mut out, &format!("ref-prefix {prefix}\n"));
    }
    encode::flush_to_write(&mut out).expect("writing to a Vec");
    out
}

/// One ref of an `ls-refs` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefLine {
    pub name: String,
    pub id: Sha,
    /// The commit an annotated tag points at.
    pub peeled: Option<Sha>,
}

/// Parses an `ls-refs` answer: `<id> <name>[ symref-target:<t>][ peeled:<id>]` lines,
/// then a flush.
pub fn parse_ls_refs(body: &[u8]) -> Result<Vec<RefLine>, WireError> {
    let mut lines = StreamingPeekableIter::new(body, &[PacketLineRef::Flush], false);
    lines.fail_on_err_lines(true);
    let mut out = Vec::new();
    while let Some(line) = lines.read_line() {
        let line = line
            .map_err(io_error)?
            .map_err(|e| WireError::Malformed(e.to_string()))?;
        let text = line.as_bstr().map(|b| b.to_vec()).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let mut parts = text.trim_end().split(' ');
        let (Some(id), Some(name)) = (parts.next(), parts.next()) else {
            return Err(WireError::Malformed(format!("ref line {text:?}")));
        };
        let Ok(id) = Sha::parse(id) else {
            // `unborn HEAD` of an empty repository, or an id we do not read.
            continue;
        };
        let peeled = parts
            .find_map(|p| p.strip_prefix("peeled:"))
            .and_then(|p| Sha::parse(p).ok());
        out.push(RefLine {
            name: name.to_string(),
            id,
            peeled,
        });
    }
    if lines.stopped_at() != Some(PacketLineRef::Flush) {
        return Err(WireError::Malformed("the ref list broke off".into()));
    }
    Ok(out)
}

/// Why an answer is not a pack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("the server sent an error: {0}")]
    Remote(String),
    #[error("malformed answer: {0}")]
    Malformed(String),
    #[error("the answer broke off: {0}")]
    Io(String),
}

/// Reads the sections of a fetch answer from `body` up to the pack, then hands `use_pack`
/// a reader of the pack bytes alone (side band 1; progress is dropped, an error band
/// ends the read with an error).
pub fn read_pack<T>(
    body: impl Read,
    use_pack: impl FnOnce(&mut dyn BufRead) -> T,
) -> Result<T, WireError> {
    let mut lines = StreamingPeekableIter::new(
        body,
        &[PacketLineRef::Delimiter, PacketLineRef::Flush],
        false,
    );
    lines.fail_on_err_lines(true);
    loop {
        match lines.read_line() {
            None => match lines.stopped_at() {
                Some(PacketLineRef::Delimiter) => lines.reset(),
                _ => return Err(WireError::Malformed("no packfile section".into())),
            },
            Some(Err(e)) => return Err(io_error(e)),
            Some(Ok(Err(e))) => return Err(WireError::Malformed(e.to_string())),
            Some(Ok(Ok(line))) => {
                let text = line.as_bstr().map(|b| b.to_vec()).unwrap_or_default();
                let text = String::from_utf8_lossy(&text);
                let text = text.trim_end();
                if text == "packfile" {
                    break;
                }
                // `shallow-info` and its `shallow <id>` lines, `acknowledgments`, `ready`,
                // `wanted-refs`, `packfile-uris`: nothing we act on.
            }
        }
    }
    lines.reset_with(&[PacketLineRef::Flush]);
    let mut remote_error = None;
    let result = {
        let mut pack = lines.as_read_with_sidebands(|is_error, text: &[u8]| {
            if is_error {
                remote_error = Some(String::from_utf8_lossy(text).trim().to_string());
            }
            std::ops::ControlFlow::Continue(())
        });
        use_pack(&mut pack)
    };
    if let Some(message) = remote_error {
        return Err(WireError::Remote(message));
    }
    Ok(result)
}

fn io_error(e: io::Error) -> WireError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<gix_packetline::read::Error>())
    {
        Some(remote) => WireError::Remote(remote.message.to_string()),
        None => WireError::Io(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode::data_to_write(text, &mut out).unwrap();
        out
    }

    #[test]
    fn a_request_names_every_want_and_ends_in_done() {
        let a = Sha::parse("1111111111111111111111111111111111111111").unwrap();
        let body = fetch_request(&FetchSpec::trees_of(a), "git/heimdall");
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with("0012command=fetch\n"), "{text}");
        assert!(text.contains("0001"), "{text}");
        assert!(text.contains(&format!("0032want {a}\n")), "{text}");
        assert!(text.contains("000ddeepen 1\n") && text.contains("0015filter blob:none\n"));
        assert!(text.ends_with("0009done\n0000"), "{text}");
    }

    #[test]
    fn ls_refs_answers_parse_with_peeled_tags() {
        let a = "1111111111111111111111111111111111111111";
        let b = "2222222222222222222222222222222222222222";
        let mut answer = pkt(format!("{a} HEAD symref-target:refs/heads/main\n").as_bytes());
        answer.extend(pkt(format!("{b} refs/tags/v1 peeled:{a}\n").as_bytes()));
        answer.extend(pkt(b"unborn refs/heads/x\n"));
        answer.extend(b"0000");
        let refs = parse_ls_refs(&answer).unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].name, "HEAD");
        assert_eq!(refs[1].peeled, Some(Sha::parse(a).unwrap()));
        assert!(parse_ls_refs(&pkt(format!("{a} HEAD\n").as_bytes())).is_err());
    }

    #[test]
    fn the_pack_is_band_one_after_the_packfile_line() {
        let mut answer = pkt(b"shallow-info\n");
        answer.extend(pkt(b"shallow 1111111111111111111111111111111111111111\n"));
        answer.extend(b"0001");
        answer.extend(pkt(b"packfile\n"));
        answer.extend(pkt(b"\x02counting objects\n"));
        answer.extend(pkt(b"\x01PACK"));
        answer.extend(pkt(b"\x01rest"));
        answer.extend(b"0000");
        let got = read_pack(&answer[..], |r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            v
        })
        .unwrap();
        assert_eq!(got, b"PACKrest");
    }

    #[test]
    fn error_lines_and_error_bands_are_errors() {
        let answer = pkt(b"ERR upload-pack: not our ref 1111\n");
        let got = read_pack(&answer[..], |_| ());
        assert!(matches!(got, Err(WireError::Remote(m)) if m.contains("not our ref")));
        let mut answer = pkt(b"packfile\n");
        answer.extend(pkt(b"\x03fatal: out of memory\n"));
        answer.extend(b"0000");
        let got = read_pack(&answer[..], |r| {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
        });
        assert!(matches!(got, Err(WireError::Remote(m)) if m.contains("out of memory")));
        let answer = pkt(b"acknowledgments\n");
        assert!(matches!(
            read_pack(&answer[..], |_| ()),
            Err(WireError::Malformed(_) | WireError::Io(_))
        ));
    }
}
