//! The repository builder (`fakehub::repo`), checked with git and through
//! the server.

mod common;

use std::time::Instant;

use common::{get, git, hub};
use fakehub::repo;

fn ls(git_dir: &std::path::Path, rev: &str) -> Vec<(String, Vec<u8>)> {
    let out = git(git_dir, &["ls-tree", "-r", "-z", "--full-tree", rev]);
    out.split(|b| *b == 0)
        .filter(|r| !r.is_empty())
        .map(|rec| {
            let tab = rec.iter().position(|b| *b == b'\t').unwrap();
            let mode = String::from_utf8_lossy(&rec[..6]).into_owned();
            (mode, rec[tab + 1..].to_vec())
        })
        .collect()
}

#[test]
fn modes_symlinks_submodules_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = repo::create(dir.path(), "o", "r").unwrap();
    r.write("a.txt", "a")
        .executable("run.sh", "#!/bin/sh\n")
        .symlink("rel", "a.txt")
        .symlink("abs", "/etc/passwd")
        .symlink("dangling", "../../nowhere")
        .submodule("sub/mod", "https://example.com/m.git", &"c".repeat(40))
        .empty_file("empty")
        .write("ünïcødé/日本.txt", "u")
        .write(b"bad-\xff\xfe.bin".as_slice(), "latin")
        .write("with space/and\"quote", "q");
    let sha = r.commit("all kinds").unwrap();
    assert_eq!(sha.len(), 40);
    let entries = ls(r.git_dir(), &sha);
    let mode_of = |p: &[u8]| {
        entries
            .iter()
            .find(|(_, path)| path == p)
            .map(|(m, _)| m.clone())
            .unwrap_or_else(|| panic!("{} missing", String::from_utf8_lossy(p)))
    };
    assert_eq!(mode_of(b"a.txt"), "100644");
    assert_eq!(mode_of(b"run.sh"), "100755");
    assert_eq!(mode_of(b"rel"), "120000");
    assert_eq!(mode_of(b"abs"), "120000");
    assert_eq!(mode_of(b"dangling"), "120000");
    assert_eq!(mode_of(b"sub/mod"), "160000");
    assert_eq!(mode_of(b"empty"), "100644");
    assert_eq!(mode_of("ünïcødé/日本.txt".as_bytes()), "100644");
    assert_eq!(mode_of(b"bad-\xff\xfe.bin"), "100644");
    assert_eq!(mode_of(b"with space/and\"quote"), "100644");
    assert_eq!(
        git(r.git_dir(), &["cat-file", "blob", &format!("{sha}:abs")]),
        b"/etc/passwd"
    );
    let gm = String::from_utf8(git(
        r.git_dir(),
        &["cat-file", "blob", &format!("{sha}:.gitmodules")],
    ))
    .unwrap();
    assert!(
        gm.contains("[submodule \"sub/mod\"]") && gm.contains("url = https://example.com/m.git")
    );
    assert_eq!(
        git(r.git_dir(), &["rev-parse", &format!("{sha}:sub/mod")]),
        format!("{}\n", "c".repeat(40)).as_bytes()
    );

    // Delete and commit again: the parent chain and removal are right.
    r.remove("a.txt").remove("sub/mod");
    let second = r.commit("remove").unwrap();
    assert_eq!(
        String::from_utf8(git(r.git_dir(), &["rev-parse", &format!("{second}^")]))
            .unwrap()
            .trim(),
        sha
    );
    let names: Vec<Vec<u8>> = ls(r.git_dir(), &second)
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert!(!names.contains(&b"a.txt".to_vec()));
    assert!(!names.contains(&b"sub/mod".to_vec()));
    assert!(names.contains(&b"run.sh".to_vec()));
}

#[tokio::test]
async fn non_utf8_and_unicode_names_through_the_api() {
    let (dir, hub) = hub();
    let mut r = repo::create(dir.path(), "o", "names").unwrap();
    r.write("ünïcødé.txt", "u")
        .write(b"bad-\xff.bin".as_slice(), "latin");
    r.commit("names").unwrap();
    let t = get(&hub, "/repos/o/names/git/trees/main", &[]).await.json();
    let paths: Vec<&str> = t["tree"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    // Non-UTF-8 bytes are rendered lossily (U+FFFD), like GitHub's JSON.
    assert!(paths.contains(&"bad-\u{FFFD}.bin"), "{paths:?}");
    assert!(paths.contains(&"ünïcødé.txt"));
    // Contents paths are percent-decoded to raw bytes, so such files are reachable.
    let raw = get(
        &hub,
        "/repos/o/names/contents/bad-%FF.bin",
        &[("accept", "application/vnd.github.raw")],
    )
    .await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.text(), "latin");
    let u = get(
        &hub,
        "/repos/o/names/contents/%C3%BCn%C3%AFc%C3%B8d%C3%A9.txt",
        &[],
    )
    .await;
    assert_eq!(u.status, 200);
    assert_eq!(u.json()["name"], "ünïcødé.txt");
}

#[test]
fn two_thousand_files_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let mut r = repo::create(dir.path(), "o", "many").unwrap();
    for i in 0..2000 {
        r.write(
            format!("dir{:02}/file{i:04}.txt", i % 40),
            format!("content {i}\n"),
        );
    }
    r.commit("2000 files").unwrap();
    let took = t.elapsed();
    eprintln!("2,000-file repo built in {took:?}");
    assert!(took.as_secs_f64() < 5.0, "too slow: {took:?}");
    assert_eq!(ls(r.git_dir(), "main").len(), 2000);
}

#[test]
fn deterministic_shas_branches_tags_and_metadata() {
    let build = |root: &std::path::Path| {
        let mut r = repo::create(root, "o", "d").unwrap();
        r.write("x", "1");
        let a = r.commit("one").unwrap();
        r.write("x", "2");
        let b = r.commit("two").unwrap();
        (r, a, b)
    };
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let (mut r, a1, b1) = build(d1.path());
    let (_, a2, b2) = build(d2.path());
    assert_eq!(
        (a1.clone(), b1.clone()),
        (a2, b2),
        "same content and dates give same SHAs"
    );

    // Branches start from the current tip; commits go to the chosen branch.
    r.on_branch("topic");
    r.write("y", "topic");
    let t = r.commit("on topic").unwrap();
    assert_eq!(r.rev_parse("topic").unwrap().unwrap(), t);
    assert_eq!(r.rev_parse("main").unwrap().unwrap(), b1);
    assert_eq!(
        String::from_utf8(git(r.git_dir(), &["rev-parse", &format!("{t}^")]))
            .unwrap()
            .trim(),
        b1
    );
    r.create_branch("old", &a1).unwrap();
    assert_eq!(r.rev_parse("old").unwrap().unwrap(), a1);
    r.tag("light", &a1).unwrap();
    let obj = r.annotated_tag("heavy", &b1, "msg").unwrap();
    assert_eq!(
        String::from_utf8(git(r.git_dir(), &["cat-file", "-t", &obj]))
            .unwrap()
            .trim(),
        "tag"
    );
    assert_eq!(r.rev_parse("heavy").unwrap().unwrap(), b1);
    r.set_default_branch("topic").unwrap();
    assert_eq!(fakehub::git::default_branch(r.git_dir()), "topic");
    r.delete_branch("old").unwrap();
    assert!(r.rev_parse("refs/heads/old").unwrap().is_none());

    // Reopening continues the clock after the newest commit.
    let mut again = repo::open(d1.path(), "o", "d").unwrap();
    assert_eq!(again.branch(), "topic");
    again.write("z", "z");
    let z = again.commit("later").unwrap();
    let times =
        String::from_utf8(git(again.git_dir(), &["log", "-2", "--format=%ct", &z])).unwrap();
    let t: Vec<i64> = times.lines().map(|l| l.parse().unwrap()).collect();
    assert!(t[0] > t[1], "{t:?}");

    r.update_metadata(|m| {
        m.description = Some("desc".into());
        m.stargazers_count = Some(5);
    })
    .unwrap();
    assert_eq!(r.metadata().stargazers_count, Some(5));
}

#[test]
fn large_generated_file_is_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = repo::create(dir.path(), "o", "big").unwrap();
    r.large_file("big.bin", 8 * 1024 * 1024 + 3, 9);
    let sha = r.commit("big").unwrap();
    let size = String::from_utf8(git(
        r.git_dir(),
        &["cat-file", "-s", &format!("{sha}:big.bin")],
    ))
    .unwrap();
    assert_eq!(size.trim(), (8 * 1024 * 1024 + 3).to_string());
    let mut expected = Vec::new();
    repo::generated_bytes(8 * 1024 * 1024 + 3, 9, |c| {
        expected.extend_from_slice(c);
        Ok(())
    })
    .unwrap();
    assert!(
        git(
            r.git_dir(),
            &["cat-file", "blob", &format!("{sha}:big.bin")]
        ) == expected
    );
}
