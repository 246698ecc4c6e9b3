//! folder: where the report is written, without harming anything else.
//!
//! A report goes only into a folder that is new, empty, or one flowcheck wrote before: such a
//! folder holds a marker, [`MARKER`], listing the files flowcheck wrote there. Any other folder
//! with something in it is refused with an error naming it (it is the user's: writing
//! `index.html` or `matrix.svg` there would overwrite their files without a word). In a
//! folder of its own, flowcheck replaces the files its marker lists, removes those of them
//! this run does not write again (a ladder no longer drawn), and leaves every other file
//! alone; a file it is about to write that the marker does not list is the user's, and is
//! refused too.
//!
//! Files are never written through a symbolic link: each is written to a temporary file
//! created new in the folder (`O_CREAT | O_EXCL`, which fails on any existing name,
//! dangling links included), then renamed over its name. The rename replaces the directory
//! entry: a link of that name is replaced, its target never touched, and a hard link to
//! another file (a capture) loses only this name.
//!
//! The marker is written before the files (listing the files of the earlier run and of this
//! one) and again after them (this run's only), so that a run stopped halfway leaves a folder
//! that the next run still recognises.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The marker file of a report folder.
pub const MARKER: &str = ".flowcheck-report";
const MARKER_HEADER: &str =
    "# files flowcheck wrote in this report folder; its next run replaces or removes them\n";

/// Why a report folder cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{}: not a report folder of flowcheck's and not empty (it holds {}); give --report a \
         new or empty folder",
        .0.display(),
        .1
    )]
    NotOurs(PathBuf, String),
    #[error(
        "{}: {} was not written by flowcheck; it is left alone (give --report another folder)",
        .0.display(),
        .1
    )]
    ForeignFile(PathBuf, String),
    #[error("{}: exists and is not a folder", .0.display())]
    NotAFolder(PathBuf),
}

impl FolderError {
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            FolderError::Io { source, .. } => source.kind(),
            FolderError::NotAFolder(_) => io::ErrorKind::NotADirectory,
            FolderError::NotOurs(..) | FolderError::ForeignFile(..) => io::ErrorKind::AlreadyExists,
        }
    }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> FolderError + '_ {
    move |source| FolderError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A name flowcheck writes in a report folder: `index.html` or a lowercase `.svg` picture.
/// Only such names are taken from a marker (a crafted marker cannot make flowcheck remove
/// anything else).
pub fn is_report_file(name: &str) -> bool {
    name == "index.html"
        || name.strip_suffix(".svg").is_some_and(|stem| {
            !stem.is_empty()
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// A report folder checked for writing (see the module header).
#[derive(Debug)]
pub struct ReportFolder {
    dir: PathBuf,
    /// The files the marker of an earlier run lists.
    earlier: Vec<String>,
    /// Names present in the folder when it was checked.
    present: Vec<String>,
}

impl ReportFolder {
    /// Checks `dir`: missing (it is made by [`ReportFolder::write`]), empty, or marked.
    /// Nothing is written.
    pub fn prepare(dir: &Path) -> Result<ReportFolder, FolderError> {
        let missing = ReportFolder {
            dir: dir.to_path_buf(),
            earlier: Vec::new(),
            present: Vec::new(),
        };
        match std::fs::metadata(dir) {
            Ok(m) if !m.is_dir() => return Err(FolderError::NotAFolder(dir.to_path_buf())),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(missing),
            Err(e) => return Err(io_at(dir)(e)),
        }
        let mut present = Vec::new();
        for e in std::fs::read_dir(dir).map_err(io_at(dir))? {
            let e = e.map_err(io_at(dir))?;
            present.push(e.file_name().to_string_lossy().into_owned());
        }
        present.sort();
        let marker = dir.join(MARKER);
        let earlier = if present.iter().any(|n| n == MARKER) {
            read_marker(&marker)?
        } else if present.is_empty() {
            Vec::new()
        } else {
            let shown: Vec<&str> = present.iter().take(3).map(String::as_str).collect();
            let more = present.len().saturating_sub(3);
            let what = if more > 0 {
                format!("{} and {more} more", shown.join(", "))
            } else {
                shown.join(", ")
            };
            return Err(FolderError::NotOurs(dir.to_path_buf(), what));
        };
        Ok(ReportFolder {
            dir: dir.to_path_buf(),
            earlier,
            present,
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes `files` (name, content), replaces the marker, and removes the files of the
    /// earlier run this one did not write again. Refuses, before writing anything, a name
    /// present in the folder that the marker does not list.
    /// The folder is checked again first: the analysis took time, and the folder may have
    /// changed meanwhile.
    pub fn write(&self, files: &[(&str, &[u8])]) -> Result<(), FolderError> {
        std::fs::create_dir_all(&self.dir).map_err(io_at(&self.dir))?;
        let now = ReportFolder::prepare(&self.dir)?;
        for (name, _) in files {
            debug_assert!(is_report_file(name), "{name} is not a report file name");
            if now.present.iter().any(|p| p == name) && !now.earlier.iter().any(|e| e == name) {
                return Err(FolderError::ForeignFile(self.dir.clone(), name.to_string()));
            }
        }
        now.write_checked(files)
    }

    fn write_checked(&self, files: &[(&str, &[u8])]) -> Result<(), FolderError> {
        let mut both: Vec<&str> = self.earlier.iter().map(String::as_str).collect();
        both.extend(files.iter().map(|(n, _)| *n));
        self.write_marker(&both)?;
        for (name, content) in files {
            self.replace(name, content)?;
        }
        let now: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
        self.write_marker(&now)?;
        for stale in self.earlier.iter().filter(|e| !now.contains(&e.as_str())) {
            let path = self.dir.join(stale);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_at(&path)(e)),
                _ => {}
            }
        }
        Ok(())
    }

    fn write_marker(&self, names: &[&str]) -> Result<(), FolderError> {
        let mut text = String::from(MARKER_HEADER);
        let mut sorted = names.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        for n in sorted {
            text.push_str(n);
            text.push('\n');
        }
        self.replace(MARKER, text.as_bytes())
    }

    /// Writes `content` as `name` in the folder: a new temporary file, renamed over the name.
    fn replace(&self, name: &str, content: &[u8]) -> Result<(), FolderError> {
        let target = self.dir.join(name);
        let (tmp, mut file) = self.temporary()?;
        let wrote = file.write_all(content).and_then(|_| file.flush());
        drop(file);
        let done = wrote.and_then(|_| std::fs::rename(&tmp, &target));
        if let Err(e) = done {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_at(&target)(e));
        }
        Ok(())
    }

    /// A file created new (never through a link) under an unused name in the folder.
    fn temporary(&self) -> Result<(PathBuf, std::fs::File), FolderError> {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        loop {
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = self
                .dir
                .join(format!(".flowcheck-tmp-{}-{n}", std::process::id()));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(f) => return Ok((tmp, f)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_at(&tmp)(e)),
            }
        }
    }
}

/// The report file names a marker lists (other lines are ignored). The marker is read only
/// when it is a regular file: a link named like it is not flowcheck's.
fn read_marker(path: &Path) -> Result<Vec<String>, FolderError> {
    let meta = std::fs::symlink_metadata(path).map_err(io_at(path))?;
    if !meta.is_file() || meta.len() > 1 << 20 {
        let dir = path.parent().unwrap_or(path).to_path_buf();
        return Err(FolderError::ForeignFile(dir, MARKER.to_string()));
    }
    let text = std::fs::read(path).map_err(io_at(path))?;
    Ok(String::from_utf8_lossy(&text)
        .lines()
        .filter(|l| is_report_file(l))
        .map(String::from)
        .collect())
}

/// Why `--json FILE` would harm something the run reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonConflict {
    /// FILE lies inside the report folder (the report would overwrite or remove it).
    InsideReport,
    /// FILE is this capture (the same file, through a path, a link or a hard link).
    IsCapture(PathBuf),
}

/// `path` made absolute with its longest existing part resolved (links followed, as opening
/// it would) and the rest, which does not exist yet, appended with `..` taken lexically.
pub fn resolve(path: &Path) -> PathBuf {
    use std::path::Component;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let parts: Vec<Component> = abs.components().collect();
    for k in (1..=parts.len()).rev() {
        let Some(head) = parts.get(..k) else { continue };
        let Ok(mut out) = std::fs::canonicalize(head.iter().collect::<PathBuf>()) else {
            continue;
        };
        for c in parts.iter().skip(k) {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::Normal(n) => out.push(n),
                _ => {}
            }
        }
        return out;
    }
    abs
}

/// The same file: same device and inode (a hard link counts), else the same resolved path.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    resolve(a) == resolve(b)
}

/// Checks `--json FILE` against the report folder and the captures, before anything is read
/// or written.
pub fn json_conflict(
    json: &Path,
    report: Option<&Path>,
    captures: &[&Path],
) -> Option<JsonConflict> {
    if let Some(dir) = report {
        if resolve(json).starts_with(resolve(dir)) {
            return Some(JsonConflict::InsideReport);
        }
    }
    captures
        .iter()
        .find(|c| same_file(json, c))
        .map(|c| JsonConflict::IsCapture(c.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("flowcheck-folder-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    #[test]
    fn json_inside_the_report_or_on_a_capture_is_a_conflict() {
        let dir = temp("json");
        std::fs::create_dir_all(&dir).unwrap();
        let rep = dir.join("rep");
        let cap = dir.join("a.pcap");
        std::fs::write(&cap, "x").unwrap();
        let caps = [cap.as_path()];
        let inside = [
            rep.join("index.html"),
            rep.join("sub/../x.json"),
            dir.join("./rep"),
        ];
        for j in &inside {
            assert_eq!(
                json_conflict(j, Some(&rep), &caps),
                Some(JsonConflict::InsideReport),
                "{}",
                j.display()
            );
        }
        let beside = dir.join("rep.json");
        assert_eq!(json_conflict(&beside, Some(&rep), &caps), None);
        assert_eq!(
            json_conflict(&dir.join("rep/../x.json"), Some(&rep), &caps),
            None
        );
        let hard = dir.join("hard.json");
        std::fs::hard_link(&cap, &hard).unwrap();
        assert_eq!(
            json_conflict(&hard, Some(&rep), &caps),
            Some(JsonConflict::IsCapture(cap.clone()))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn report_file_names() {
        assert!(is_report_file("index.html"));
        assert!(is_report_file("ladder-12.svg"));
        assert!(is_report_file("matrix.svg"));
        assert!(!is_report_file("../x.svg"));
        assert!(!is_report_file("notes.txt"));
        assert!(!is_report_file(".svg"));
        assert!(!is_report_file(MARKER));
    }

    #[test]
    fn a_new_folder_is_made_marked_and_rewritten() {
        let dir = temp("new");
        let f = ReportFolder::prepare(&dir).unwrap();
        f.write(&[("index.html", b"a"), ("ladder-1.svg", b"b")])
            .unwrap();
        let marker = std::fs::read_to_string(dir.join(MARKER)).unwrap();
        assert!(marker.lines().any(|l| l == "ladder-1.svg"), "{marker}");
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let f = ReportFolder::prepare(&dir).unwrap();
        f.write(&[("index.html", b"c")]).unwrap();
        assert_eq!(std::fs::read(dir.join("index.html")).unwrap(), b"c");
        assert!(
            !dir.join("ladder-1.svg").exists(),
            "the stale ladder is removed"
        );
        assert_eq!(std::fs::read(dir.join("notes.txt")).unwrap(), b"mine");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !names.iter().any(|n| n.starts_with(".flowcheck-tmp")),
            "{names:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_folder_of_the_users_is_refused() {
        let dir = temp("users");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), "mine").unwrap();
        let e = ReportFolder::prepare(&dir).unwrap_err();
        assert!(matches!(e, FolderError::NotOurs(..)), "{e}");
        assert!(e.to_string().contains("index.html"), "{e}");
        assert_eq!(std::fs::read(dir.join("index.html")).unwrap(), b"mine");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_the_marker_does_not_list_is_refused() {
        let dir = temp("foreign");
        ReportFolder::prepare(&dir)
            .unwrap()
            .write(&[("index.html", b"a")])
            .unwrap();
        std::fs::write(dir.join("matrix.svg"), "mine").unwrap();
        let f = ReportFolder::prepare(&dir).unwrap();
        let e = f
            .write(&[("index.html", b"b"), ("matrix.svg", b"c")])
            .unwrap_err();
        assert!(matches!(e, FolderError::ForeignFile(..)), "{e}");
        assert_eq!(std::fs::read(dir.join("matrix.svg")).unwrap(), b"mine");
        assert_eq!(std::fs::read(dir.join("index.html")).unwrap(), b"a");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn links_in_the_folder_are_replaced_never_followed() {
        let dir = temp("links");
        let outside = temp("links-outside");
        std::fs::create_dir_all(&outside).unwrap();
        let target = outside.join("precious");
        std::fs::write(&target, "keep").unwrap();
        ReportFolder::prepare(&dir)
            .unwrap()
            .write(&[("index.html", b"a")])
            .unwrap();
        std::fs::remove_file(dir.join("index.html")).unwrap();
        std::os::unix::fs::symlink(&target, dir.join("index.html")).unwrap();
        std::os::unix::fs::symlink(outside.join("new"), dir.join("ladder-1.svg")).unwrap();
        let mut marker = std::fs::read_to_string(dir.join(MARKER)).unwrap();
        marker.push_str("ladder-1.svg\n");
        std::fs::write(dir.join(MARKER), marker).unwrap();
        ReportFolder::prepare(&dir)
            .unwrap()
            .write(&[("index.html", b"b"), ("ladder-1.svg", b"c")])
            .unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert!(
            !outside.join("new").exists(),
            "a dangling link's target is not created"
        );
        assert_eq!(std::fs::read(dir.join("index.html")).unwrap(), b"b");
        assert!(std::fs::symlink_metadata(dir.join("index.html"))
            .unwrap()
            .is_file());
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }
}
