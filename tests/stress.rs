//! Load: 64 readers doing random stats, listings, full reads and random-offset reads over
//! a 20,000-file repository on a daemon-served mount (`heimdall mount`, as users get it),
//! every answer checked against a `git clone` of the same repository from fakehub; then
//! the same load on that checkout, for an operations-per-second comparison.
//!
//! Knobs (environment): `HEIMDALL_STRESS_SECS` (length of each of the two runs, default
//! [`DEFAULT_SECS`]), `HEIMDALL_STRESS_SEED` (repository and op sequence, default 1),
//! `HEIMDALL_STRESS_LATENCY_MS` (fakehub's added latency, default
//! [`DEFAULT_LATENCY_MS`]), `HEIMDALL_STRESS_HYDRATE_THRESHOLD` (the mount's
//! `--hydrate-threshold`, default 0). `scripts/stress.sh` runs this test full length in
//! release mode and shows the table it prints.
//!
//! The model every answer is checked against is read from the checkout before the load
//! (paths, kinds, sizes, executable bits, link targets, listings and every file's bytes);
//! the checkout run checks the same model, so both runs do exactly the same work.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::{Hub, TEST_TOKEN, TestMount};
use fakehub::repo;
use fakehub::rng::Rng;

/// Files in the repository (the figure).
const FILES: usize = 20_000;
/// Concurrent readers (the figure).
const READERS: usize = 64;
/// Length of each run in CI: long enough for thousands of cold reads, short enough that
/// the whole test stays well under 90 s; `scripts/stress.sh` runs 60 s.
const DEFAULT_SECS: u64 = 8;
/// Added fakehub latency: a cold read is a real round trip with requests in flight
/// together, as on GitHub (where it is 10-20 times longer).
const DEFAULT_LATENCY_MS: u64 = 5;
/// Half the file picks go to this many files (all the large ones among them): most
/// reads are then warm, and at the start many readers want the same missing blob.
const HOT_FILES: usize = 256;
/// Files of [`LARGE_MIN`]..[`LARGE_MAX`] bytes; half the random-offset reads go to them.
const LARGE_FILES: usize = 16;
const LARGE_MIN: u64 = 512 << 10;
const LARGE_MAX: u64 = 2 << 20;
/// Longest a random-offset read asks for.
const MAX_PREAD: u64 = 128 << 10;
/// The daemon's RSS samples from this fraction of the run on count as after warm-up.
const WARMUP_FRACTION: f64 = 0.25;
/// ... and at least this many seconds in: listings link every entry they show
/// (READDIRPLUS), so the nodes of the whole tree come in the first seconds of the walk.
/// Measured in a 24 s run of a debug build on 2 cores: 124 MiB at 2 s, then 141-146 MiB
/// from 3 s to the end; an 8 s run measured from 2 s saw that first climb as growth.
const WARMUP_MIN_SECS: f64 = 4.0;
/// How much the daemon's RSS may grow after warm-up. Touching the rest of the files
/// adds inodes (the kernel keeps looked-up names for a day) and store handles; that is
/// bounded by the repository, a few MiB for 20,000 files. A leak per request over tens
/// of thousands of requests goes past it.
const RSS_GROWTH_BOUND_KIB: u64 = 48 << 10;
/// How often the daemon's RSS is sampled.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// How long after the end of a run every reader must have stopped; past it the test
/// fails as a deadlock instead of hanging.
const STOP_GRACE: Duration = Duration::from_secs(30);
/// Problems described in the failure message (all are counted).
const PROBLEMS_SHOWN: usize = 20;

/// Requests an hour fakehub allows: more than every blob of the repo, several times.
const RATE_LIMIT: u32 = 1_000_000;

const OWNER: &str = "acme";
const REPO: &str = "stress";

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a number")),
        Err(_) => default,
    }
}

// ---------------------------------------------------------------------------------------
// The repository

const WORDS: &[&str] = &[
    "heimdall", "bifrost", "tree", "blob", "commit", "lazy", "fuse", "inode", "cache", "fetch",
    "ref", "mount", "read", "stat", "owner", "repo", "path", "sha", "bytes", "load",
];

/// Text of exactly `size` bytes: numbered lines of words, different for every file.
fn text(id: usize, size: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 80);
    let mut line = 0;
    while out.len() < size {
        out.extend_from_slice(format!("{id}:{line}").as_bytes());
        for _ in 0..rng.range(3, 12) {
            out.push(b' ');
            out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
        }
        out.push(b'\n');
        line += 1;
    }
    out.truncate(size);
    out
}

/// Builds `acme/stress`: [`FILES`] files and symlinks in ~600 nested directories (up to
/// 7 deep, one directory of ~2,000 entries), sizes from empty to a few MiB, a few
/// executables, odd names, relative links to files and directories, dangling links.
/// Returns the commit and the bytes of file content written.
fn build_repo(root: &Path, seed: u64) -> (String, u64) {
    let mut rng = Rng::new(seed, 0);
    let mut dirs: Vec<(String, usize)> = vec![(String::new(), 0)];
    for k in 1..600 {
        let (parent, depth) = loop {
            let candidate = &dirs[rng.below(dirs.len())];
            if candidate.1 < 6 {
                break candidate.clone();
            }
        };
        let name = match k % 50 {
            7 => format!("dïr {k}"),
            13 => format!("pkg.{k}"),
            _ => format!("d{k}"),
        };
        dirs.push((join(&parent, &name), depth + 1));
    }
    let big_dir = "d1/crowded".to_string();
    let mut r = repo::create(root, OWNER, REPO).unwrap();
    let mut bytes = 0u64;
    // Regular files so far: links point at these, so stat follows one link at most.
    let mut regular: Vec<String> = Vec::with_capacity(FILES);
    for i in 0..FILES {
        let dir = if rng.below(100) < 10 {
            &big_dir
        } else {
            &dirs[rng.below(dirs.len())].0
        };
        let ext = [".py", ".txt", ".md", ".json", ".rs", ""][rng.below(6)];
        let name = match i % 400 {
            3 => format!("ünïcödé {i}{ext}"),
            5 => format!("with space {i}{ext}"),
            _ => format!("f{i}{ext}"),
        };
        let path = join(dir, &name);
        let roll = rng.below(100);
        if i % (FILES / LARGE_FILES) == 1 {
            let size = rng.range(LARGE_MIN, LARGE_MAX);
            r.large_file(&path, size, seed ^ i as u64);
            bytes += size;
        } else if roll < 1 && !regular.is_empty() {
            // A relative link to an earlier file or to a directory, or a dangling one.
            let depth = dir.matches('/').count() + usize::from(!dir.is_empty());
            let up = "../".repeat(depth);
            let target = match rng.below(4) {
                0 => format!("{up}{}", dirs[rng.below(dirs.len())].0),
                1 => format!("no/such/file{i}"),
                _ => format!("{up}{}", regular[rng.below(regular.len())]),
            };
            let target = if target.is_empty() {
                ".".into()
            } else {
                target
            };
            r.symlink(&path, target);
            continue;
        } else if roll < 3 {
            r.empty_file(&path);
        } else if roll < 6 {
            let body = text(i, rng.range(20, 4000) as usize, &mut rng);
            bytes += body.len() as u64;
            r.executable(&path, [b"#!/bin/sh\n".as_slice(), &body].concat());
        } else if roll < 10 {
            let size = rng.range(16 << 10, 48 << 10);
            r.large_file(&path, size, seed ^ i as u64);
            bytes += size;
        } else {
            let size = if roll < 75 {
                rng.range(1, 2048)
            } else {
                rng.range(2048, 8 << 10)
            };
            r.write(&path, text(i, size as usize, &mut rng));
            bytes += size;
        }
        regular.push(path);
    }
    (r.commit("stress").unwrap(), bytes)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// `git clone` over fakehub's smart HTTP: a checkout as a user would make it.
fn clone(hub: &Hub, into: &Path) {
    let out = Command::new("git")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .arg("-c")
        .arg(format!(
            "http.extraHeader=Authorization: Bearer {TEST_TOKEN}"
        ))
        .args(["clone", "-q"])
        .arg(format!("{}/{OWNER}/{REPO}.git", hub.url()))
        .arg(into)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git clone failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// The model: what every operation must answer, read from the checkout

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    File,
    Dir,
    Symlink,
}

/// What `stat`/`lstat` must say: directory sizes differ between filesystems and file
/// permissions differ by design (0444 on the mount), so kind, size and the executable bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Attr {
    kind: Kind,
    size: Option<u64>,
    exec: bool,
}

impl Attr {
    fn of(meta: &std::fs::Metadata) -> Attr {
        let ft = meta.file_type();
        let kind = if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_dir() {
            Kind::Dir
        } else {
            assert!(ft.is_file(), "unexpected file type {ft:?}");
            Kind::File
        };
        Attr {
            kind,
            size: (kind != Kind::Dir).then_some(meta.len()),
            exec: kind == Kind::File && meta.permissions().mode() & 0o111 != 0,
        }
    }
}

struct Entry {
    rel: PathBuf,
    lstat: Attr,
    /// `stat` through links; `Err` for dangling ones.
    stat: Result<Attr, ErrorKind>,
    content: Option<Vec<u8>>,
    target: Option<PathBuf>,
    listing: Option<Vec<(OsString, Kind)>>,
}

struct Model {
    entries: Vec<Entry>,
    files: Vec<usize>,
    dirs: Vec<usize>,
    links: Vec<usize>,
    hot: Vec<usize>,
    large: Vec<usize>,
    bytes: u64,
}

impl Model {
    fn read(checkout: &Path, seed: u64) -> Model {
        let mut entries = Vec::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            let mut listing = Vec::new();
            for e in std::fs::read_dir(checkout.join(&rel)).unwrap() {
                let e = e.unwrap();
                if rel.as_os_str().is_empty() && e.file_name() == ".git" {
                    continue;
                }
                let child = rel.join(e.file_name());
                let lstat = Attr::of(&e.metadata().unwrap());
                listing.push((e.file_name(), lstat.kind));
                match lstat.kind {
                    Kind::Dir => stack.push(child),
                    _ => entries.push(Entry::read(checkout, child, lstat)),
                }
            }
            listing.sort();
            let attr = Attr::of(&std::fs::symlink_metadata(checkout.join(&rel)).unwrap());
            let mut dir = Entry::read(checkout, rel, attr);
            dir.listing = Some(listing);
            entries.push(dir);
        }
        entries.sort_by(|a, b| a.rel.cmp(&b.rel));
        let of = |kind| -> Vec<usize> {
            (0..entries.len())
                .filter(|&i| entries[i].lstat.kind == kind)
                .collect()
        };
        let (files, dirs, links) = (of(Kind::File), of(Kind::Dir), of(Kind::Symlink));
        let size = |i: usize| entries[i].lstat.size.unwrap_or(0);
        let large: Vec<usize> = files
            .iter()
            .copied()
            .filter(|&i| size(i) >= LARGE_MIN)
            .collect();
        let mut rng = Rng::new(seed, 1);
        let mut hot = large.clone();
        while hot.len() < HOT_FILES {
            hot.push(files[rng.below(files.len())]);
        }
        let bytes = files.iter().map(|&i| size(i)).sum();
        Model {
            entries,
            files,
            dirs,
            links,
            hot,
            large,
            bytes,
        }
    }
}

impl Entry {
    fn read(checkout: &Path, rel: PathBuf, lstat: Attr) -> Entry {
        let path = checkout.join(&rel);
        Entry {
            stat: std::fs::metadata(&path)
                .map(|m| Attr::of(&m))
                .map_err(|e| e.kind()),
            content: (lstat.kind == Kind::File).then(|| std::fs::read(&path).unwrap()),
            target: (lstat.kind == Kind::Symlink).then(|| std::fs::read_link(&path).unwrap()),
            listing: None,
            rel,
            lstat,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The load

#[derive(Clone, Copy, Debug)]
enum Op {
    Lstat,
    Stat,
    Readdir,
    Read,
    Pread,
    /// `posix_fadvise(DONTNEED)`, then a random-offset read: the pages are gone from the
    /// page cache, so on the mount the read reaches Heimdall even for a warm file.
    EvictedPread,
    Readlink,
    /// `lstat` of a name that does not exist, in a random directory.
    Missing,
}

/// The mix, in percent of operations.
const MIX: &[(Op, usize)] = &[
    (Op::Lstat, 22),
    (Op::Stat, 10),
    (Op::Readdir, 8),
    (Op::Read, 25),
    (Op::Pread, 15),
    (Op::EvictedPread, 8),
    (Op::Readlink, 6),
    (Op::Missing, 6),
];
const OPS: usize = 8;

/// Counters shared by the readers of one run.
struct Run {
    root: PathBuf,
    model: Arc<Model>,
    deadline: Instant,
    started: Instant,
    ops: [AtomicU64; OPS],
    errors: AtomicU64,
    mismatches: AtomicU64,
    problems: Mutex<Vec<String>>,
    /// Reads of a file nobody had read yet in this run (on the mount: a download).
    cold_reads: AtomicU64,
    /// Content of this entry was asked for (a read, a readlink, a stat through a link).
    touched: Vec<AtomicBool>,
    /// Each reader's current op (index into [`MIX`] << 32 | entry) and its start (ms).
    current: Vec<(AtomicU64, AtomicU64)>,
    max_op_micros: AtomicU64,
}

impl Run {
    fn new(root: PathBuf, model: Arc<Model>, secs: u64) -> Arc<Run> {
        let started = Instant::now();
        Arc::new(Run {
            touched: (0..model.entries.len())
                .map(|_| AtomicBool::new(false))
                .collect(),
            current: (0..READERS)
                .map(|_| (AtomicU64::new(u64::MAX), AtomicU64::new(0)))
                .collect(),
            root,
            model,
            deadline: started + Duration::from_secs(secs),
            started,
            ops: Default::default(),
            errors: AtomicU64::new(0),
            mismatches: AtomicU64::new(0),
            problems: Mutex::new(Vec::new()),
            cold_reads: AtomicU64::new(0),
            max_op_micros: AtomicU64::new(0),
        })
    }

    fn problem(&self, counter: &AtomicU64, what: String) {
        counter.fetch_add(1, Ordering::Relaxed);
        let mut problems = self.problems.lock().unwrap();
        if problems.len() < PROBLEMS_SHOWN {
            problems.push(what);
        }
    }

    /// An answer that should have been `expected`; an I/O error where success was
    /// expected is an error, any other difference a mismatch.
    fn check<T: PartialEq + std::fmt::Debug>(
        &self,
        op: Op,
        entry: &Entry,
        got: Result<T, std::io::Error>,
        expected: Result<T, ErrorKind>,
    ) {
        match (got, expected) {
            (Ok(got), Ok(expected)) if got == expected => {}
            (Err(e), Err(kind)) if e.kind() == kind => {}
            (Err(e), _) => self.problem(
                &self.errors,
                format!("{op:?} {}: error {e}", entry.rel.display()),
            ),
            (Ok(got), expected) => self.problem(
                &self.mismatches,
                format!(
                    "{op:?} {}: got {got:?}, expected {expected:?}",
                    entry.rel.display()
                ),
            ),
        }
    }

    fn touch(&self, i: usize) -> bool {
        !self.touched[i].swap(true, Ordering::Relaxed)
    }

    fn pick(&self, rng: &mut Rng, from: &[usize]) -> usize {
        from[rng.below(from.len())]
    }

    fn pick_file(&self, rng: &mut Rng) -> usize {
        let m = &self.model;
        if rng.below(2) == 0 {
            self.pick(rng, &m.hot)
        } else {
            self.pick(rng, &m.files)
        }
    }

    fn one(&self, reader: usize, rng: &mut Rng) {
        let m = &self.model;
        let mut roll = rng.below(100);
        let (slot, op) = MIX
            .iter()
            .enumerate()
            .find(|(_, (_, weight))| {
                let hit = roll < *weight;
                roll = roll.saturating_sub(*weight);
                hit
            })
            .map(|(slot, (op, _))| (slot, *op))
            .expect("the mix adds up to 100");
        let i = match op {
            Op::Lstat | Op::Stat | Op::Missing => rng.below(m.entries.len()),
            Op::Readdir => self.pick(rng, &m.dirs),
            Op::Readlink => self.pick(rng, &m.links),
            Op::Read => self.pick_file(rng),
            Op::Pread | Op::EvictedPread if rng.below(2) == 0 => self.pick(rng, &m.large),
            Op::Pread | Op::EvictedPread => self.pick_file(rng),
        };
        let began = Instant::now();
        let (current, since) = &self.current[reader];
        current.store(((slot as u64) << 32) | i as u64, Ordering::Relaxed);
        since.store(
            began.duration_since(self.started).as_millis() as u64,
            Ordering::Relaxed,
        );
        let entry = &m.entries[i];
        let path = self.root.join(&entry.rel);
        match op {
            Op::Lstat => self.check(
                op,
                entry,
                std::fs::symlink_metadata(&path).map(|m| Attr::of(&m)),
                Ok(entry.lstat),
            ),
            Op::Stat => {
                if entry.lstat.kind == Kind::Symlink {
                    self.touch(i);
                }
                self.check(
                    op,
                    entry,
                    std::fs::metadata(&path).map(|m| Attr::of(&m)),
                    entry.stat,
                )
            }
            Op::Missing => {
                let dir = if entry.lstat.kind == Kind::Dir {
                    path
                } else {
                    path.parent().unwrap().to_path_buf()
                };
                let got =
                    std::fs::symlink_metadata(dir.join(format!("missing-{}", rng.next_u64())))
                        .map(|m| Attr::of(&m));
                self.check(op, entry, got, Err(ErrorKind::NotFound));
            }
            Op::Readdir => match listing(&path, entry.rel.as_os_str().is_empty()) {
                Ok(got) if Some(&got) == entry.listing.as_ref() => {}
                Ok(got) => {
                    let expected = entry.listing.as_ref().unwrap();
                    let missing: Vec<_> = expected.iter().filter(|e| !got.contains(e)).collect();
                    let extra: Vec<_> = got.iter().filter(|e| !expected.contains(e)).collect();
                    self.problem(
                        &self.mismatches,
                        format!(
                            "Readdir {}: {} entries, expected {}; missing {missing:?}, extra {extra:?}",
                            entry.rel.display(),
                            got.len(),
                            expected.len()
                        ),
                    )
                }
                Err(e) => self.problem(
                    &self.errors,
                    format!("Readdir {}: error {e}", entry.rel.display()),
                ),
            },
            Op::Readlink => {
                self.touch(i);
                self.check(
                    op,
                    entry,
                    std::fs::read_link(&path),
                    Ok(entry.target.clone().unwrap()),
                )
            }
            Op::Read => {
                if self.touch(i) {
                    self.cold_reads.fetch_add(1, Ordering::Relaxed);
                }
                let expected = entry.content.as_deref().unwrap();
                match std::fs::read(&path) {
                    Ok(got) if got == expected => {}
                    Ok(got) => self.problem(
                        &self.mismatches,
                        format!(
                            "Read {}: {} bytes, expected {}; first difference at {:?}",
                            entry.rel.display(),
                            got.len(),
                            expected.len(),
                            got.iter().zip(expected).position(|(a, b)| a != b)
                        ),
                    ),
                    Err(e) => self.problem(
                        &self.errors,
                        format!("Read {}: error {e}", entry.rel.display()),
                    ),
                }
            }
            Op::Pread | Op::EvictedPread => {
                if self.touch(i) {
                    self.cold_reads.fetch_add(1, Ordering::Relaxed);
                }
                let expected = entry.content.as_deref().unwrap();
                let len = expected.len() as u64;
                // Sometimes at or past the end: a short read, or nothing.
                let offset = rng.range(0, len + 63);
                let want = rng.range(1, MAX_PREAD) as usize;
                let from = (offset.min(len)) as usize;
                let slice = &expected[from..(from + want).min(expected.len())];
                let got = pread(&path, offset, want, matches!(op, Op::EvictedPread));
                match got {
                    Ok(got) if got == slice => {}
                    Ok(got) => self.problem(
                        &self.mismatches,
                        format!(
                            "{op:?} {} at {offset} for {want}: {} bytes, expected {}; first difference at {:?}",
                            entry.rel.display(),
                            got.len(),
                            slice.len(),
                            got.iter().zip(slice).position(|(a, b)| a != b)
                        ),
                    ),
                    Err(e) => self.problem(
                        &self.errors,
                        format!("{op:?} {} at {offset}: error {e}", entry.rel.display()),
                    ),
                }
            }
        }
        self.ops[slot].fetch_add(1, Ordering::Relaxed);
        self.max_op_micros
            .fetch_max(began.elapsed().as_micros() as u64, Ordering::Relaxed);
        current.store(u64::MAX, Ordering::Relaxed);
    }

    /// What each reader still busy is doing, for a deadlock report.
    fn busy(&self) -> Vec<String> {
        let now = self.started.elapsed().as_millis() as u64;
        self.current
            .iter()
            .enumerate()
            .filter_map(|(reader, (current, since))| {
                let current = current.load(Ordering::Relaxed);
                (current != u64::MAX).then(|| {
                    let (slot, i) = ((current >> 32) as usize, (current & 0xFFFF_FFFF) as usize);
                    format!(
                        "reader {reader}: {:?} {} for {} ms",
                        MIX[slot].0,
                        self.model.entries[i].rel.display(),
                        now.saturating_sub(since.load(Ordering::Relaxed))
                    )
                })
            })
            .collect()
    }
}

/// Names and types in a directory, sorted; without the checkout's `.git` at the root.
fn listing(dir: &Path, is_root: bool) -> std::io::Result<Vec<(OsString, Kind)>> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if is_root && e.file_name() == ".git" {
            continue;
        }
        let ft = e.file_type()?;
        let kind = if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_dir() {
            Kind::Dir
        } else {
            Kind::File
        };
        names.push((e.file_name(), kind));
    }
    names.sort();
    Ok(names)
}

/// Up to `want` bytes at `offset`, as many reads as it takes (`pread` may return less).
fn pread(path: &Path, offset: u64, want: usize, evict: bool) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    if evict {
        use std::os::fd::AsRawFd;
        let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
    }
    let mut buf = vec![0u8; want];
    let mut got = 0;
    while got < want {
        match file.read_at(&mut buf[got..], offset + got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    buf.truncate(got);
    Ok(buf)
}

struct Outcome {
    ops: [u64; OPS],
    total: u64,
    secs: f64,
    errors: u64,
    mismatches: u64,
    problems: Vec<String>,
    cold_reads: u64,
    touched: u64,
    max_op_ms: f64,
    /// The daemon's RSS: (seconds into the run, KiB), every [`RSS_SAMPLE_EVERY`].
    rss: Vec<(f64, u64)>,
    /// Operations completed in each second of the run.
    ops_by_second: Vec<u64>,
    /// Times the kernel was told to drop its dentries and inodes during the run.
    reclaims: u64,
}

impl Outcome {
    fn per_sec(&self) -> f64 {
        self.total as f64 / self.secs
    }

    /// Operations per second over the last quarter of the run, when most reads are warm.
    fn per_sec_late(&self) -> f64 {
        let n = self.ops_by_second.len();
        let late = &self.ops_by_second[n - n.div_ceil(4)..];
        late.iter().sum::<u64>() as f64 / late.len() as f64
    }
}

/// Runs [`READERS`] readers over `root` for `secs`, sampling `daemon`'s RSS meanwhile;
/// `Err` with what the readers still busy are doing when they have not all stopped
/// [`STOP_GRACE`] after the end.
fn run_load(
    root: PathBuf,
    model: &Arc<Model>,
    secs: u64,
    seed: u64,
    daemon: Option<u32>,
) -> Result<Outcome, String> {
    let run = Run::new(root, Arc::clone(model), secs);
    let (done_tx, done_rx) = mpsc::channel();
    for reader in 0..READERS {
        let (run, done) = (Arc::clone(&run), done_tx.clone());
        std::thread::Builder::new()
            .name(format!("reader-{reader}"))
            .spawn(move || {
                let mut rng = Rng::new(seed, 2 + reader as u64);
                let finished = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    while Instant::now() < run.deadline {
                        run.one(reader, &mut rng);
                    }
                }));
                let _ = done.send(finished.is_ok());
            })
            .unwrap();
    }
    drop(done_tx);
    // The kernel drops unused dentries and inodes every HEIMDALL_STRESS_RECLAIM_MS (root
    // only), so the mount also gets FORGETs and fresh lookups of names it served before.
    let reclaims = Arc::new(AtomicU64::new(0));
    let reclaim_every = env_u64("HEIMDALL_STRESS_RECLAIM_MS", 1000);
    if reclaim_every > 0 {
        let (reclaims, deadline) = (Arc::clone(&reclaims), run.deadline);
        std::thread::spawn(move || {
            while Instant::now() + Duration::from_millis(reclaim_every) < deadline {
                std::thread::sleep(Duration::from_millis(reclaim_every));
                if std::fs::write("/proc/sys/vm/drop_caches", "2").is_ok() {
                    reclaims.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    let total = || {
        run.ops
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let (mut rss, mut ops_by_second) = (Vec::new(), Vec::new());
    let mut finished = 0;
    while Instant::now() < run.deadline && finished < READERS {
        if let Some(kib) = daemon.and_then(rss_kib) {
            rss.push((run.started.elapsed().as_secs_f64(), kib));
        }
        if run.started.elapsed().as_secs() >= ops_by_second.len() as u64 {
            ops_by_second.push(total());
        }
        match done_rx.recv_timeout(RSS_SAMPLE_EVERY) {
            Ok(true) => finished += 1,
            Ok(false) => return Err("a reader panicked (see its message above)".into()),
            Err(_) => {}
        }
    }
    ops_by_second.push(total());
    let ops_by_second = ops_by_second.windows(2).map(|w| w[1] - w[0]).collect();
    let give_up = run.deadline + STOP_GRACE;
    for _ in finished..READERS {
        let left = give_up.saturating_duration_since(Instant::now());
        match done_rx.recv_timeout(left) {
            Ok(true) => {}
            Ok(false) => return Err("a reader panicked (see its message above)".into()),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "readers still busy {STOP_GRACE:?} after the end of the run:\n  {}",
                    run.busy().join("\n  ")
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => unreachable!("every reader reports"),
        }
    }
    let ops = std::array::from_fn(|k| run.ops[k].load(Ordering::Relaxed));
    Ok(Outcome {
        total: ops.iter().sum(),
        ops,
        secs: run.started.elapsed().as_secs_f64(),
        errors: run.errors.load(Ordering::Relaxed),
        mismatches: run.mismatches.load(Ordering::Relaxed),
        problems: std::mem::take(&mut *run.problems.lock().unwrap()),
        cold_reads: run.cold_reads.load(Ordering::Relaxed),
        touched: run
            .touched
            .iter()
            .filter(|t| t.load(Ordering::Relaxed))
            .count() as u64,
        max_op_ms: run.max_op_micros.load(Ordering::Relaxed) as f64 / 1000.0,
        rss,
        ops_by_second,
        reclaims: reclaims.load(Ordering::Relaxed),
    })
}

// ---------------------------------------------------------------------------------------
// The daemon: memory, and failing instead of hanging

/// The anonymous part of `pid`'s RSS in KiB (its heap and stacks). Stored packs are
/// mapped read-only (gix-pack reads them through mmap): those file pages count in VmRSS,
/// are shared with the page cache and reclaimable, and are not what "flat memory" means.
fn rss_kib(pid: u32) -> Option<u64> {
    vm_field(pid, "RssAnon:")
}

fn vm_field(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .ok()
}

/// The daemon's threads and where they wait, its log's tail; then kills it, which
/// aborts the FUSE connection so that blocked readers return and the test can fail.
fn hung(mount: &TestMount, why: &str) -> ! {
    let mut report = format!("{why}\n-- daemon {} threads:\n", mount.pid);
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", mount.pid)) {
        for task in tasks.flatten() {
            let p = task.path();
            let read = |f: &str| std::fs::read_to_string(p.join(f)).unwrap_or_default();
            report += &format!(
                "  {} {} wchan={}\n",
                task.file_name().to_string_lossy(),
                read("comm").trim(),
                read("wchan").trim()
            );
        }
    }
    let log = mount.log();
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    report += &format!(
        "-- tail of daemon.log:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    unsafe { libc::kill(mount.pid as i32, libc::SIGKILL) };
    panic!("{report}");
}

/// Runs `f` on a thread; `None` if it has not returned within `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).ok()
}

// ---------------------------------------------------------------------------------------

#[test]
fn sixty_four_readers_on_twenty_thousand_files_get_checkout_bytes_with_flat_daemon_memory() {
    require_fuse!();
    let secs = env_u64("HEIMDALL_STRESS_SECS", DEFAULT_SECS);
    let seed = env_u64("HEIMDALL_STRESS_SEED", 1);
    let latency_ms = env_u64("HEIMDALL_STRESS_LATENCY_MS", DEFAULT_LATENCY_MS);
    let threshold = env_u64("HEIMDALL_STRESS_HYDRATE_THRESHOLD", 0).to_string();
    let t0 = Instant::now();

    let hub = Hub::new();
    let (commit, _) = build_repo(hub.path(), seed);
    let built = t0.elapsed();
    let work = tempfile::tempdir().unwrap();
    let checkout = work.path().join(REPO);
    clone(&hub, &checkout);
    let head = Command::new("git")
        .arg("-C")
        .arg(&checkout)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&head.stdout).trim(), commit);
    let model = Arc::new(Model::read(&checkout, seed));
    let prepared = t0.elapsed();
    assert!(
        model.files.len() + model.links.len() == FILES,
        "{} files and {} links in the checkout",
        model.files.len(),
        model.links.len()
    );

    hub.hub.set_latency(Duration::from_millis(latency_ms));
    // A full-length run downloads all 20,000 blobs one by one, past GitHub's 5,000
    // requests an hour (which fakehub models, and Heimdall then answers EAGAIN): this
    // test is about load, so the budget is lifted.
    hub.hub
        .set_rate_limit(RATE_LIMIT, Duration::from_secs(3600));
    // The mount as users get it: `heimdall mount`, served by the daemon (default open
    // mode, default concurrency). --hydrate-threshold 0 (unless asked otherwise) keeps
    // cold reads going all run long, one blob each, instead of one tarball at the start.
    let mount = TestMount::new(
        hub.cli(),
        &["--org", OWNER, "--hydrate-threshold", &threshold],
    );
    let root = mount.at(&format!("{OWNER}/{REPO}"));
    // The first look inside the repo resolves the branch and fetches the whole tree (one
    // request for 20,000 entries): a one-off per repo, done before the timed run.
    let first = Instant::now();
    let listed = {
        let root = root.clone();
        within(STOP_GRACE, move || {
            std::fs::read_dir(root).map(|d| d.count()).ok()
        })
    };
    assert!(
        matches!(listed, Some(Some(n)) if n > 0),
        "the repository lists: {listed:?}"
    );
    let first_listing = first.elapsed();
    hub.hub.reset_stats();

    let rss_before = rss_kib(mount.pid).expect("the daemon's RSS");
    let on_mount = run_load(root.clone(), &model, secs, seed, Some(mount.pid))
        .unwrap_or_else(|why| hung(&mount, &why));
    let samples = &on_mount.rss;
    let rss_hwm = vm_field(mount.pid, "VmHWM:").unwrap_or(0);
    let stats = hub.hub.stats();

    // The mount still answers, and unmounts cleanly.
    let after = {
        let (root, model) = (root.clone(), Arc::clone(&model));
        let status = mount.at(".status/mount.json");
        within(STOP_GRACE, move || {
            let big = &model.entries[model.large[0]];
            let same_bytes = std::fs::read(root.join(&big.rel)).ok() == big.content;
            let listing = std::fs::read_dir(&root).map(|d| d.count()).ok();
            let status = std::fs::read(status).ok();
            (same_bytes, listing, status)
        })
    };
    let (after_bytes, after_listing, status) =
        after.unwrap_or_else(|| hung(&mount, "the mount does not answer after the run"));
    let status = status.and_then(|s| serde_json::from_slice::<serde_json::Value>(&s).ok());
    let requests = status
        .as_ref()
        .map(|s| s["requests"].to_string())
        .unwrap_or_default();
    let forgets = status
        .as_ref()
        .and_then(|s| s["requests"]["forget"].as_u64())
        .unwrap_or(0);

    let on_checkout =
        run_load(checkout.clone(), &model, secs, seed, None).expect("the checkout run");

    let log = mount.log();
    let mnt = mount.path();
    let unmount = mount.cli.command(&["unmount", mnt.to_str().unwrap()]);
    let unmounted = within(STOP_GRACE, move || {
        let mut unmount = unmount;
        unmount
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    let started = Instant::now();
    while mount.server_alive() && started.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(50));
    }

    // RSS after warm-up: the samples from WARMUP_FRACTION of the run on (and
    // WARMUP_MIN_SECS at least, within the run).
    let warm_from = (secs as f64 * WARMUP_FRACTION)
        .max(WARMUP_MIN_SECS)
        .min(secs as f64 * 0.75);
    let after_warmup: Vec<u64> = samples
        .iter()
        .filter(|(t, _)| *t >= warm_from)
        .map(|&(_, kib)| kib)
        .collect();
    let rss_warm = *after_warmup.first().expect("RSS samples after warm-up");
    let rss_peak = *after_warmup.iter().max().unwrap();
    let rss_end = *after_warmup.last().unwrap();
    let mib = |kib: u64| kib as f64 / 1024.0;

    let names: Vec<String> = MIX.iter().map(|(op, _)| format!("{op:?}")).collect();
    println!();
    println!(
        "== stress: {} files and links ({:.0} MiB), {} dirs, {READERS} readers, {secs} s per run, seed {seed}, fakehub latency {latency_ms} ms, --hydrate-threshold {threshold}",
        FILES,
        mib(model.bytes / 1024),
        model.dirs.len()
    );
    println!(
        "   setup: repo built in {:.1} s, cloned and read in {:.1} s; first listing of the repo on the mount {:.1} s",
        built.as_secs_f64(),
        (prepared - built).as_secs_f64(),
        first_listing.as_secs_f64()
    );
    println!(
        "{:<10} {:>9} {:>9} {:>12} {:>7} {:>10} {:>10} {:>8} {:>9}",
        "run",
        "ops",
        "ops/s",
        "last 1/4 /s",
        "errors",
        "mismatches",
        "cold reads",
        "touched",
        "max op ms"
    );
    for (name, o) in [("mount", &on_mount), ("checkout", &on_checkout)] {
        println!(
            "{:<10} {:>9} {:>9.0} {:>12.0} {:>7} {:>10} {:>10} {:>8} {:>9.1}",
            name,
            o.total,
            o.per_sec(),
            o.per_sec_late(),
            o.errors,
            o.mismatches,
            o.cold_reads,
            o.touched,
            o.max_op_ms
        );
    }
    println!(
        "ops/s mount / checkout: {:.2}x over the whole run (cold and warm), {:.2}x over its last quarter",
        on_mount.per_sec() / on_checkout.per_sec(),
        on_mount.per_sec_late() / on_checkout.per_sec_late()
    );
    println!(
        "daemon RSS (MiB): before {:.1}, after warm-up ({warm_from:.1} s) {:.1}, peak after warm-up {:.1}, end {:.1}, VmHWM {:.1}; growth after warm-up {:+.1} (bound +{:.0})",
        mib(rss_before),
        mib(rss_warm),
        mib(rss_peak),
        mib(rss_end),
        mib(rss_hwm),
        mib(rss_peak) - mib(rss_warm),
        mib(RSS_GROWTH_BOUND_KIB)
    );
    println!(
        "ops by kind (mount): {}",
        names
            .iter()
            .zip(on_mount.ops)
            .map(|(n, c)| format!("{n} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "fakehub during the mount run: {} requests, {} blobs, {} trees",
        stats.requests,
        stats.route("blob"),
        stats.route("tree")
    );
    println!("FUSE requests the daemon answered: {requests}");
    let timeline: BTreeMap<u64, u64> = samples
        .iter()
        .map(|&(t, kib)| (t as u64, kib / 1024))
        .collect();
    println!("daemon RSS by second (MiB): {timeline:?}");
    println!("mount ops by second: {:?}", on_mount.ops_by_second);
    println!("checkout ops by second: {:?}", on_checkout.ops_by_second);

    for (name, o) in [("mount", &on_mount), ("checkout", &on_checkout)] {
        assert!(
            o.errors == 0 && o.mismatches == 0,
            "{name}: {} errors, {} mismatches:\n  {}",
            o.errors,
            o.mismatches,
            o.problems.join("\n  ")
        );
        assert!(
            o.total > READERS as u64,
            "{name}: only {} operations",
            o.total
        );
    }
    assert!(
        on_mount.cold_reads > 0,
        "the run read files never read before"
    );
    println!(
        "kernel reclaims during the mount run: {}; FORGETs the daemon answered: {forgets}",
        on_mount.reclaims
    );
    if on_mount.reclaims > 1 {
        assert!(
            forgets > 0,
            "the kernel dropped its inodes {} times, yet the daemon saw no FORGET",
            on_mount.reclaims
        );
    }
    let fetches = common::content_requests(&stats);
    assert!(
        fetches > 0 && fetches <= on_mount.touched,
        "one download per blob, however many readers want it: {fetches} blob requests or git fetches for {} entries whose content was read",
        on_mount.touched
    );
    assert!(
        rss_peak <= rss_warm + RSS_GROWTH_BOUND_KIB,
        "the daemon's RSS grew by {:.1} MiB after warm-up (bound {:.0} MiB)",
        mib(rss_peak) - mib(rss_warm),
        mib(RSS_GROWTH_BOUND_KIB)
    );
    assert!(
        after_bytes,
        "the mount serves a large file right after the run"
    );
    assert_eq!(
        after_listing,
        Some(model.entries[model.dirs[0]].listing.as_ref().unwrap().len()),
        "the mount lists the repository's root after the run"
    );
    assert!(!log.contains("panicked"), "the daemon panicked:\n{log}");
    assert_eq!(unmounted, Some(true), "`heimdall unmount` after the run");
    assert!(!mount.is_mounted(), "no mount left");
    assert!(!mount.server_alive(), "the daemon exits once unmounted");
}
