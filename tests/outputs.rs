//! The outputs never harm anything else (issue 20, items 2 and 3): `--json` inside the report
//! folder or on a capture (even through a hard link) is refused before anything is read; the
//! report goes only into a new, empty or flowcheck-made folder, never through a symbolic link.
//! Every test snapshots the whole temporary tree and checks that nothing outside the asked
//! paths changed.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::TempDir;

/// Every entry under `root` (links not followed): path -> content, link target or "dir".
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir)
            .expect("a readable folder")
            .flatten()
        {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).expect("an entry");
            let what = if meta.file_type().is_symlink() {
                let t = std::fs::read_link(&p).expect("a link");
                format!("link {}", t.display()).into_bytes()
            } else if meta.is_dir() {
                todo.push(p.clone());
                b"dir".to_vec()
            } else {
                std::fs::read(&p).expect("a readable file")
            };
            out.insert(p, what);
        }
    }
    out
}

/// The paths whose entry differs between two snapshots (added, removed or changed).
fn changed(a: &BTreeMap<PathBuf, Vec<u8>>, b: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A temporary tree with one capture in it.
fn tree(tag: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(tag);
    let cap = dir.path().join("hub-nva.pcap");
    std::fs::copy(common::captures().join("hub-nva.pcap"), &cap).expect("a capture copy");
    (dir, cap)
}

fn run(args: &[&Path]) -> common::Run {
    let a: Vec<&std::ffi::OsStr> = args.iter().map(|p| p.as_os_str()).collect();
    common::flowcheck(&a)
}

#[test]
fn json_inside_the_report_folder_is_refused_before_anything_is_read() {
    let (dir, cap) = tree("json-in-report");
    let rep = dir.path().join("rep");
    // a report folder flowcheck made, then --json on its page, on a ladder, on a new file
    let first = run(&[&cap, Path::new("--report"), &rep, Path::new("--quiet")]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    for json in [
        rep.join("index.html"),
        rep.join("ladder-9.svg"),
        rep.join("new.json"),
        dir.path().join("rep/./sub/../x.json"),
    ] {
        let before = snapshot(dir.path());
        let r = run(&[
            &cap,
            Path::new("--json"),
            &json,
            Path::new("--report"),
            &rep,
        ]);
        assert_eq!(r.code, 2, "{}: {}", json.display(), r.stderr);
        assert!(
            r.stderr.contains("inside the report folder"),
            "{}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "nothing was analysed: {}", r.stdout);
        assert_eq!(
            changed(&before, &snapshot(dir.path())),
            Vec::<PathBuf>::new()
        );
    }
    // a folder that does not exist yet: refused too, and not made
    let later = dir.path().join("later");
    let r = run(&[
        &cap,
        Path::new("--json"),
        &later.join("index.html"),
        Path::new("--report"),
        &later,
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!later.exists());
}

#[test]
fn json_that_is_a_hard_link_to_a_capture_is_refused() {
    let (dir, cap) = tree("json-hard-link");
    let link = dir.path().join("out.json");
    std::fs::hard_link(&cap, &link).expect("a hard link");
    let before = snapshot(dir.path());
    let r = run(&[&cap, Path::new("--json"), &link, Path::new("--no-report")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("one of the captures") && r.stderr.contains("out.json"),
        "{}",
        r.stderr
    );
    assert_eq!(
        changed(&before, &snapshot(dir.path())),
        Vec::<PathBuf>::new()
    );
    // the same through the folder that holds the capture
    let r = run(&[
        dir.path(),
        Path::new("--json"),
        &link,
        Path::new("--no-report"),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(
        changed(&before, &snapshot(dir.path())),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn a_folder_of_the_users_is_refused_and_left_as_it_was() {
    let (dir, cap) = tree("users-folder");
    let rep = dir.path().join("mine");
    std::fs::create_dir_all(&rep).unwrap();
    std::fs::write(rep.join("index.html"), "my page").unwrap();
    std::fs::write(rep.join("ladder-3.svg"), "my ladder").unwrap();
    std::fs::write(rep.join("matrix.svg"), "my matrix").unwrap();
    let before = snapshot(dir.path());
    let r = run(&[&cap, Path::new("--report"), &rep, Path::new("--quiet")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("mine") && r.stderr.contains("not a report folder"),
        "the error names the folder: {}",
        r.stderr
    );
    assert_eq!(
        changed(&before, &snapshot(dir.path())),
        Vec::<PathBuf>::new()
    );
}

#[cfg(unix)]
#[test]
fn links_in_the_report_folder_are_never_followed() {
    let (dir, cap) = tree("report-links");
    let rep = dir.path().join("rep");
    let first = run(&[&cap, Path::new("--report"), &rep, Path::new("--quiet")]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let precious = dir.path().join("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    std::fs::remove_file(rep.join("index.html")).unwrap();
    std::os::unix::fs::symlink(&precious, rep.join("index.html")).unwrap();
    std::fs::remove_file(rep.join("matrix.svg")).unwrap();
    let dangling = dir.path().join("created-through-a-link");
    std::os::unix::fs::symlink(&dangling, rep.join("matrix.svg")).unwrap();
    std::fs::write(rep.join("notes.txt"), "mine").unwrap();
    let before = snapshot(dir.path());
    let r = run(&[&cap, Path::new("--report"), &rep, Path::new("--quiet")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
    assert!(
        !dangling.exists(),
        "a dangling link's target is not created"
    );
    for name in ["index.html", "matrix.svg"] {
        let m = std::fs::symlink_metadata(rep.join(name)).unwrap();
        assert!(m.is_file(), "{name} is now a file of the report");
    }
    // only the two replaced links changed (the marker and pictures are rewritten the same)
    let diff = changed(&before, &snapshot(dir.path()));
    assert_eq!(diff, vec![rep.join("index.html"), rep.join("matrix.svg")]);
    assert_eq!(std::fs::read(rep.join("notes.txt")).unwrap(), b"mine");
}

#[test]
fn a_report_folder_that_is_a_file_is_a_clear_error() {
    let (dir, cap) = tree("report-file");
    let rep = dir.path().join("rep");
    std::fs::write(&rep, "a file").unwrap();
    let before = snapshot(dir.path());
    let r = run(&[&cap, Path::new("--report"), &rep, Path::new("--quiet")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a folder"), "{}", r.stderr);
    assert_eq!(
        changed(&before, &snapshot(dir.path())),
        Vec::<PathBuf>::new()
    );
}
