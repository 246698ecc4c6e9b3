//! The shape of the tree, checked as a reviewer would read it: no import circle between the
//! modules of `src/` (a module may use its parent and its own children; anything else only one
//! way round), no file past 800 lines before its tests, no function past 150 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 800;
const MAX_FN_LINES: usize = 150;

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

/// A file of tests only: `tests.rs` or anything under a `tests/` folder.
fn is_test_file(src: &Path, file: &Path) -> bool {
    let rel = file.strip_prefix(src).expect("a file under src/");
    rel.components().any(|c| c.as_os_str() == "tests") || rel.ends_with("tests.rs")
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

/// The code of a file before its `#[cfg(test)]` module, comments blanked.
fn code_before_tests(text: &str) -> Vec<String> {
    text.lines()
        .take_while(|l| !l.starts_with("#[cfg(test)]"))
        .map(|l| match l.find("//") {
            Some(at) if !l[..at].contains('"') => l[..at].to_string(),
            _ => l.to_string(),
        })
        .collect()
}

/// The modules a file's code names through `crate::` or `super::` paths (also inside
/// `use crate::{a::b, c}` lists), each resolved to the longest known module.
fn uses(
    module: &[String],
    code: &[String],
    known: &BTreeSet<Vec<String>>,
) -> BTreeSet<Vec<String>> {
    let text = code.join("\n");
    let mut out = BTreeSet::new();
    let resolve = |base: Vec<String>, out: &mut BTreeSet<Vec<String>>| {
        let mut base = base;
        while !base.is_empty() && !known.contains(&base) {
            base.pop();
        }
        out.insert(base);
    };
    for (at, _) in text
        .match_indices("crate::")
        .chain(text.match_indices("super::"))
    {
        let path: String = text[at..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let mut segments = path.split("::").filter(|s| !s.is_empty());
        let mut base: Vec<String> = Vec::new();
        if segments.next() != Some("crate") {
            base = module.to_vec();
            base.pop();
        }
        for s in segments {
            if s == "super" {
                base.pop();
            } else {
                base.push(s.to_string());
            }
        }
        // `use crate::{a, b::c}`: each item of the braces is a path of its own
        if path.ends_with("::") && text[at + path.len()..].starts_with('{') {
            let inner = &text[at + path.len() + 1..];
            let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
            for item in inner.split(',') {
                let mut b = base.clone();
                b.extend(
                    item.trim()
                        .split("::")
                        .filter(|s| !s.is_empty() && *s != "self")
                        .map(|s| s.trim().to_string()),
                );
                resolve(b, &mut out);
            }
        }
        resolve(base, &mut out);
    }
    out
}

/// The functions of `code` longer than `MAX_FN_LINES`: a line starting a `fn` and the line
/// where its braces close, strings and chars ignored.
fn long_functions(code: &[String]) -> Vec<(String, usize)> {
    let mut long = Vec::new();
    let mut depth: i64 = 0;
    let mut open: Vec<(String, usize, i64)> = Vec::new();
    for (i, line) in code.iter().enumerate() {
        let trimmed = line.trim_start();
        let starts_fn = [
            "fn ",
            "pub fn ",
            "pub(crate) fn ",
            "pub(super) fn ",
            "const fn ",
        ]
        .iter()
        .any(|p| trimmed.starts_with(p))
            || trimmed.contains(" fn ") && !trimmed.contains("Fn(");
        if starts_fn && !trimmed.trim_end().ends_with(';') {
            let name = trimmed
                .split("fn ")
                .nth(1)
                .unwrap_or("")
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            open.push((name, i, depth));
        }
        let mut in_str = false;
        let mut prev = ' ';
        for c in line.chars() {
            match c {
                '"' if prev != '\\' => in_str = !in_str,
                '{' if !in_str => depth += 1,
                '}' if !in_str => {
                    depth -= 1;
                    if open.last().is_some_and(|(_, _, d)| *d == depth) {
                        if let Some((name, start, _)) = open.pop() {
                            if i - start + 1 > MAX_FN_LINES {
                                long.push((name, i - start + 1));
                            }
                        }
                    }
                }
                _ => {}
            }
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
        }
        // a signature whose body never opened (trait method declarations across lines)
        if open.last().is_some_and(|(_, _, d)| *d == depth) && line.trim_end().ends_with(';') {
            open.pop();
        }
    }
    long
}

#[test]
fn no_import_circle_no_long_file_no_long_function() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut problems = Vec::new();
    let mut codes: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for f in all.iter().filter(|f| !is_test_file(&src, f)) {
        let text = std::fs::read_to_string(f).expect("a readable source file");
        let code = code_before_tests(&text);
        if code.len() > MAX_FILE_LINES {
            problems.push(format!(
                "{}: {} lines before its tests",
                f.display(),
                code.len()
            ));
        }
        for (name, lines) in long_functions(&code) {
            problems.push(format!("{}: fn {name} is {lines} lines", f.display()));
        }
        let m = module_of(&src, f);
        if m != ["lib"] && m != ["main"] && !m.starts_with(&["bin".to_string()]) {
            codes.insert(m, code);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let known: BTreeSet<Vec<String>> = codes.keys().cloned().collect();
    assert!(known.len() > 40, "only {} modules found", known.len());
    // edges between modules; a module naming its parent or its own children is no import
    let edges: BTreeMap<&Vec<String>, BTreeSet<Vec<String>>> = codes
        .iter()
        .map(|(m, code)| {
            let to = uses(m, code, &known)
                .into_iter()
                .filter(|t| !t.is_empty() && !t.starts_with(m) && !m.starts_with(t))
                .collect();
            (m, to)
        })
        .collect();
    /// Depth-first from `m`: every way back to a module on the current path is a circle.
    fn visit<'a>(
        m: &'a Vec<String>,
        edges: &'a BTreeMap<&Vec<String>, BTreeSet<Vec<String>>>,
        path: &mut Vec<&'a Vec<String>>,
        done: &mut BTreeSet<&'a Vec<String>>,
        circles: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|p| *p == m) {
            let circle: Vec<String> = path[at..].iter().map(|p| p.join("::")).collect();
            circles.push(format!(
                "import circle: {} -> {}",
                circle.join(" -> "),
                m.join("::")
            ));
            return;
        }
        if !done.insert(m) {
            return;
        }
        path.push(m);
        for next in edges.get(m).into_iter().flatten() {
            visit(next, edges, path, done, circles);
        }
        path.pop();
    }
    let mut circles = Vec::new();
    let mut done = BTreeSet::new();
    for m in edges.keys() {
        visit(m, &edges, &mut Vec::new(), &mut done, &mut circles);
    }
    // and between the stages themselves (`point::read` -> `coverage` -> `point::model` is a
    // circle even when no two files name each other both ways)
    let stage = |m: &Vec<String>| vec![m[0].clone()];
    let mut stages: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (m, to) in &edges {
        let from = stage(m);
        let entry = stages.entry(from.clone()).or_default();
        entry.extend(to.iter().map(stage).filter(|s| *s != from));
    }
    let stage_edges: BTreeMap<&Vec<String>, BTreeSet<Vec<String>>> =
        stages.iter().map(|(k, v)| (k, v.clone())).collect();
    let mut done = BTreeSet::new();
    for m in stage_edges.keys() {
        visit(m, &stage_edges, &mut Vec::new(), &mut done, &mut circles);
    }
    assert!(circles.is_empty(), "{}", circles.join("\n"));
}
