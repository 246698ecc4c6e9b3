//! The shape of the busiest stages, checked: inside `src/flow/`, `src/correlate/` and
//! `src/verdict/` no file imports in a circle (a module may use its parent; its siblings only
//! one way), and no file but the tests runs past 800 lines. Read from the source tree, like a
//! reviewer would.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The stages whose files are checked.
const FOLDERS: [&str; 3] = ["flow", "correlate", "verdict"];
const MAX_LINES: usize = 800;

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// `flow::table` for `src/flow/table.rs`, `correlate::build` for `src/correlate/build/mod.rs`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("a file under src/");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The modules a file's code (not its comments) names through `crate::` or `super::`
/// paths, each resolved to the longest known module.
fn uses(module: &[String], text: &str, known: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
        for (at, _) in line
            .match_indices("crate::")
            .chain(line.match_indices("super::"))
        {
            let path: String = line[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut segments = path.split("::").filter(|s| !s.is_empty());
            let mut base: Vec<String> = Vec::new();
            match segments.next() {
                Some("crate") => {}
                _ => {
                    base = module.to_vec();
                    base.pop();
                }
            }
            for s in segments {
                if s == "super" {
                    base.pop();
                } else {
                    base.push(s.to_string());
                }
            }
            while !base.is_empty() && !known.contains(&base) {
                base.pop();
            }
            out.insert(base);
        }
    }
    out
}

#[test]
fn flow_and_correlate_files_import_no_circle_and_stay_short() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    for folder in FOLDERS {
        files(&src.join(folder), &mut all);
    }
    let texts: BTreeMap<Vec<String>, String> = all
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "tests.rs"))
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("a readable source file");
            let lines = text.lines().count();
            assert!(lines <= MAX_LINES, "{} has {lines} lines", f.display());
            (module_of(&src, f), text)
        })
        .collect();
    let known: BTreeSet<Vec<String>> = texts.keys().cloned().collect();
    // edges between the files checked; a parent declaring its children is not an import
    let edges: BTreeMap<&Vec<String>, BTreeSet<Vec<String>>> = texts
        .iter()
        .map(|(m, text)| {
            let to = uses(m, text, &known)
                .into_iter()
                .filter(|t| t != m && !t.starts_with(m) && known.contains(t))
                .collect();
            (m, to)
        })
        .collect();
    // depth-first search for a way back to a module on the current path
    fn visit<'a>(
        m: &'a Vec<String>,
        edges: &'a BTreeMap<&Vec<String>, BTreeSet<Vec<String>>>,
        path: &mut Vec<&'a Vec<String>>,
        done: &mut BTreeSet<&'a Vec<String>>,
    ) {
        if let Some(at) = path.iter().position(|p| *p == m) {
            let circle: Vec<String> = path[at..].iter().map(|p| p.join("::")).collect();
            panic!("import circle: {} -> {}", circle.join(" -> "), m.join("::"));
        }
        if !done.insert(m) {
            return;
        }
        path.push(m);
        for next in edges.get(m).into_iter().flatten() {
            visit(next, edges, path, done);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for m in edges.keys() {
        visit(m, &edges, &mut Vec::new(), &mut done);
    }
    assert!(known.len() > 15, "only {} files found", known.len());
}
