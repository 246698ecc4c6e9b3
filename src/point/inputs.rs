//! inputs: what the user named on the command line, as capture points.
//!
//! A capture file, a folder of captures (one level, or every level with `-r`: points named by
//! their path below the folder), `NAME=PATH`, or `-` for standard input. Names are made of the
//! file names' bytes: what is not UTF-8 is kept as `\xNN`, so two such files never collide, and
//! `NAME=PATH` is split on bytes, so such a PATH can be named. Every mistake here is a usage
//! error ([`InputError`]) found before anything is read.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::PointInput;

/// Why the inputs could not be resolved (usage errors).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no such file", .0.display())]
    Missing(PathBuf),
    #[error("{}: the folder holds no pcap, pcapng, gzip, zstd or lz4 file", .0.display())]
    EmptyFolder(PathBuf),
    #[error(
        "{}: the folder holds no capture file, but its subfolders do ({}): -r reads them",
        .folder.display(), .subfolders.join(", ")
    )]
    OnlySubfolders {
        folder: PathBuf,
        /// The first few subfolders that hold captures, as the user would name them.
        subfolders: Vec<String>,
    },
    #[error("two captures are named '{name}' ({} and {}); name them with NAME=PATH",
        .first.display(), .second.display())]
    DuplicateName {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("'{0}': a point name must not be empty")]
    EmptyName(String),
}

/// How command-line arguments are turned into capture points.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResolveOptions {
    /// Read folders recursively (`-r`): point names are the paths below the folder.
    pub recursive: bool,
}

/// Folders deeper than this below a command-line folder are not read (`-r`).
const MAX_DEPTH: usize = 32;

/// Text for a name made of OS bytes: valid UTF-8 as is, every other byte as `\xNN`, so that
/// two names that differ in bytes that are not UTF-8 stay different (and say how).
pub fn os_text(s: &OsStr) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut out = String::new();
        for chunk in s.as_bytes().utf8_chunks() {
            out.push_str(chunk.valid());
            for b in chunk.invalid() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        s.to_string_lossy().into_owned()
    }
}

/// The point name for a capture file: its file name without `.gz` and the capture extension.
pub fn point_name(path: &Path) -> String {
    let mut name = path
        .file_name()
        .map(os_text)
        .unwrap_or_else(|| os_text(path.as_os_str()));
    for ext in [
        ".gz", ".zst", ".zstd", ".lz4", ".pcapng", ".pcap", ".cap", ".dmp",
    ] {
        if let Some(stem) = name.strip_suffix(ext) {
            if !stem.is_empty() {
                name = stem.to_string();
            }
        }
    }
    name
}

/// True when the file starts like a pcap, pcapng, gzip, zstd or lz4 file.
fn looks_like_capture(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    f.read_exact(&mut magic).is_ok() && crate::capture::starts_like_capture(&magic)
}

/// Splits `NAME=PATH` at its first `=` (bytes, so that a PATH that is not UTF-8 stays usable).
fn split_named(arg: &OsStr) -> Option<(OsString, OsString)> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        let b = arg.as_bytes();
        let k = b.iter().position(|&c| c == b'=')?;
        Some((
            OsString::from_vec(b[..k].to_vec()),
            OsString::from_vec(b[k + 1..].to_vec()),
        ))
    }
    #[cfg(not(unix))]
    {
        let (n, p) = arg.to_str()?.split_once('=')?;
        Some((n.into(), p.into()))
    }
}

/// Turns command-line arguments into capture points (see [`resolve_inputs_with`]), not
/// reading folders recursively.
pub fn resolve_inputs<S: AsRef<OsStr>>(args: &[S]) -> Result<Vec<PointInput>, InputError> {
    resolve_inputs_with(args, ResolveOptions::default())
}

/// Turns command-line arguments into capture points. A folder contributes every file in it
/// that starts like a capture, sorted by name (with `recursive`, those of its subfolders too,
/// named by their path below it: `stage3/hub-nva`); `NAME=PATH` names a point; `-` is
/// standard input (point `stdin`). A path that does not exist is an error.
pub fn resolve_inputs_with<S: AsRef<OsStr>>(
    args: &[S],
    opts: ResolveOptions,
) -> Result<Vec<PointInput>, InputError> {
    let mut out: Vec<PointInput> = Vec::new();
    for arg in args {
        let arg = arg.as_ref();
        if arg == "-" {
            out.push(PointInput {
                name: "stdin".into(),
                path: PathBuf::from("/dev/stdin"),
            });
            continue;
        }
        let (name, path) = match split_named(arg) {
            Some((n, p)) if !Path::new(arg).exists() => {
                if n.is_empty() {
                    return Err(InputError::EmptyName(os_text(arg)));
                }
                (Some(os_text(&n)), PathBuf::from(p))
            }
            _ => (None, PathBuf::from(arg)),
        };
        // a dangling symlink exists as a link: let reading it say why it cannot be opened
        if std::fs::symlink_metadata(&path).is_err() {
            return Err(InputError::Missing(path));
        }
        if path.is_dir() {
            let mut files = Vec::new();
            let depth = if opts.recursive { MAX_DEPTH } else { 0 };
            captures_in(&path, depth, &mut files)?;
            if files.is_empty() {
                return Err(empty_folder(path));
            }
            for f in files {
                let name = match (opts.recursive, f.strip_prefix(&path)) {
                    (true, Ok(rel)) => relative_name(rel),
                    _ => point_name(&f),
                };
                out.push(PointInput { name, path: f });
            }
        } else {
            out.push(PointInput {
                name: name.unwrap_or_else(|| point_name(&path)),
                path,
            });
        }
    }
    let mut seen: std::collections::HashMap<&str, &Path> = std::collections::HashMap::new();
    for a in &out {
        if let Some(first) = seen.insert(&a.name, &a.path) {
            return Err(InputError::DuplicateName {
                name: a.name.clone(),
                first: first.to_path_buf(),
                second: a.path.clone(),
            });
        }
    }
    Ok(out)
}

/// `stage3/hub-nva` for `stage3/hub-nva.pcap` below the folder given.
fn relative_name(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .parent()
        .into_iter()
        .flat_map(|p| p.components())
        .map(|c| os_text(c.as_os_str()))
        .collect();
    parts.push(point_name(rel));
    parts.join("/")
}

/// The files of `dir` that start like a capture, sorted, and those of its subfolders down
/// to `depth` levels (subfolders that are symlinks are not followed: no loops).
fn captures_in(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let entries = std::fs::read_dir(dir).map_err(|source| InputError::Unreadable {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut here: Vec<(PathBuf, bool)> = entries
        .filter_map(|e| e.ok())
        .map(|e| {
            let real_dir = e.file_type().is_ok_and(|t| t.is_dir());
            (e.path(), real_dir)
        })
        .collect();
    here.sort();
    for (p, real_dir) in here {
        if real_dir {
            if depth > 0 {
                captures_in(&p, depth - 1, out)?;
            }
        } else if p.is_file() && looks_like_capture(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// The error for a folder without captures: says so, or that its subfolders hold some.
fn empty_folder(folder: PathBuf) -> InputError {
    let mut below = Vec::new();
    // unreadable subfolders only make the hint shorter
    let _ = captures_in(&folder, MAX_DEPTH, &mut below);
    let mut subfolders: Vec<String> = Vec::new();
    for f in &below {
        let Ok(rel) = f.strip_prefix(&folder) else {
            continue;
        };
        let Some(top) = rel.components().next() else {
            continue;
        };
        let top = os_text(top.as_os_str());
        if !subfolders.contains(&top) {
            subfolders.push(top);
        }
    }
    if subfolders.is_empty() {
        return InputError::EmptyFolder(folder);
    }
    if subfolders.len() > 4 {
        let more = subfolders.len() - 3;
        subfolders.truncate(3);
        subfolders.push(format!("{more} more"));
    }
    InputError::OnlySubfolders { folder, subfolders }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn point_names_drop_capture_extensions() {
        assert_eq!(point_name(Path::new("a/hub-nva.pcap")), "hub-nva");
        assert_eq!(point_name(Path::new("vpn.pcap.gz")), "vpn");
        assert_eq!(point_name(Path::new("vpn.pcap.zst")), "vpn");
        assert_eq!(point_name(Path::new("nva.lz4")), "nva");
        assert_eq!(point_name(Path::new("x.pcapng")), "x");
        assert_eq!(point_name(Path::new("noext")), "noext");
    }

    fn repo(p: &str) -> String {
        format!("{}/captures/{p}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn named_inputs_and_duplicate_names() {
        let args = vec![format!("nva={}", repo("hub-nva.pcap"))];
        let r = resolve_inputs(&args).unwrap();
        assert_eq!(r[0].name, "nva");
        let dup = vec![repo("stage3/hub-nva.pcap"), repo("stage4/hub-nva.pcap")];
        assert!(matches!(
            resolve_inputs(&dup),
            Err(InputError::DuplicateName { .. })
        ));
        assert!(matches!(
            resolve_inputs(&["=a.pcap".to_string()]),
            Err(InputError::EmptyName(_))
        ));
        let r = resolve_inputs(&["-"]).unwrap();
        assert_eq!(r[0].name, "stdin");
        assert_eq!(r[0].path, Path::new("/dev/stdin"));
    }

    #[test]
    fn a_missing_file_is_an_error_of_its_own() {
        let e = resolve_inputs(&["nope.pcap"]).unwrap_err();
        assert!(matches!(e, InputError::Missing(_)));
        assert_eq!(e.to_string(), "nope.pcap: no such file");
        let e = resolve_inputs(&["nva=nope.pcap"]).unwrap_err();
        assert_eq!(e.to_string(), "nope.pcap: no such file");
    }

    #[test]
    fn folders_of_folders_are_read_with_recursive_only() {
        let e = resolve_inputs(&[repo("shifted")]).unwrap_err();
        assert!(matches!(e, InputError::OnlySubfolders { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("but its subfolders do (stage0, stage1, stage2, 2 more)"),
            "{text}"
        );
        assert!(text.ends_with(": -r reads them"), "{text}");
        let empty = resolve_inputs(&[concat!(env!("CARGO_MANIFEST_DIR"), "/src")]);
        assert!(matches!(empty, Err(InputError::EmptyFolder(_))));
        let root = repo("");
        let all = resolve_inputs_with(&[&root], ResolveOptions { recursive: true }).unwrap();
        let names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
        assert!(names.contains(&"hub-nva"), "{names:?}");
        assert!(names.contains(&"stage3/hub-nva"), "{names:?}");
        assert!(names.contains(&"shifted/stage3/vpn-client"), "{names:?}");
        assert!(
            names.contains(&"variants/stage1-pcapng/hub-nva"),
            "{names:?}"
        );
        // a folder of captures reads the same either way
        let flat = resolve_inputs(&[repo("stage3")]).unwrap();
        let rec = resolve_inputs_with(&[repo("stage3")], ResolveOptions { recursive: true });
        assert_eq!(flat, rec.unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_keep_their_bytes() {
        use std::os::unix::ffi::OsStringExt;
        let dir = std::env::temp_dir().join(format!("flowcheck-nonutf8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let capture = std::fs::read(repo("hub-nva.pcap")).unwrap();
        let mut paths = Vec::new();
        for b in [0xe9u8, 0xff] {
            let name = OsString::from_vec([b"caf".as_slice(), &[b], b".pcap"].concat());
            let p = dir.join(name);
            std::fs::write(&p, &capture).unwrap();
            paths.push(p);
        }
        let r = resolve_inputs(&[&dir]);
        let names: Vec<String> = r.unwrap().into_iter().map(|i| i.name).collect();
        assert_eq!(names, ["caf\\xe9", "caf\\xff"]);
        // NAME=PATH names such a file
        let mut arg = OsString::from("nva=");
        arg.push(&paths[0]);
        let r = resolve_inputs(&[arg]).unwrap();
        assert_eq!((r[0].name.as_str(), &r[0].path), ("nva", &paths[0]));
        // and a NAME that is not UTF-8 keeps its bytes too
        let mut arg = OsString::from_vec(b"n\xe9=".to_vec());
        arg.push(&paths[1]);
        assert_eq!(resolve_inputs(&[arg]).unwrap()[0].name, "n\\xe9");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
