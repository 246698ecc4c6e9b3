//! Helpers shared by the integration tests: where the shared material is, and running the
//! real binary.

#![allow(dead_code)]

pub mod browser;

use std::path::{Path, PathBuf};
use std::process::Command;

/// `../shared` next to the project; panics with a clear message when it is missing.
pub fn shared() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    assert!(
        p.join("corpus").is_dir() && p.join("captures").is_dir(),
        "these tests need the shared material at {} (../shared beside the project: \
         corpus/ and captures/); it is not committed to this repository",
        p.display()
    );
    p
}

/// The project's own sample captures.
pub fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

/// Result of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The JSON document printed on stdout.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}); stderr: {}\nstdout: {}",
                self.stderr,
                &self.stdout[..self.stdout.len().min(2000)]
            )
        })
    }
}

/// Runs `flowcheck ARGS...`, with `--no-report` added unless the arguments say where the
/// report goes (`--report DIR`) or already skip it: tests never write into the project's
/// `reports/` folder.
pub fn flowcheck<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let mut a: Vec<std::ffi::OsString> = args.iter().map(|s| s.as_ref().to_owned()).collect();
    if !a.iter().any(|x| x == "--report" || x == "--no-report") {
        a.push("--no-report".into());
    }
    flowcheck_in(Path::new(env!("CARGO_MANIFEST_DIR")), &a)
}

/// Runs `flowcheck ARGS...` exactly as given, in the folder `cwd`.
pub fn flowcheck_in<S: AsRef<std::ffi::OsStr>>(cwd: &Path, args: &[S]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_flowcheck"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        // the summary wraps at COLUMNS: the tests' own terminal must not change it
        .env_remove("COLUMNS")
        .output()
        .expect("the flowcheck binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs flowcheck with `--json - --quiet --no-report` on the arguments and returns the
/// document.
pub fn analyse<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (Run, serde_json::Value) {
    let mut a: Vec<std::ffi::OsString> = args.iter().map(|s| s.as_ref().to_owned()).collect();
    a.push("--json".into());
    a.push("-".into());
    a.push("--quiet".into());
    a.push("--no-report".into());
    let run = flowcheck(&a);
    let doc = run.json();
    (run, doc)
}

/// The conversation of a `--json` document matching a truth.json entry: same protocol,
/// client, server, and where given the ICMP id and ports.
pub fn find<'a>(
    doc: &'a serde_json::Value,
    want: &serde_json::Value,
) -> Option<&'a serde_json::Value> {
    doc["conversations"].as_array()?.iter().find(|c| {
        c["proto"] == want["proto"]
            && c["client"] == want["client"]
            && c["server"] == want["server"]
            && (want["icmp_id"].is_null() || c["icmp_id"] == want["icmp_id"])
            && (want["server_port"].is_null() || c["server_port"] == want["server_port"])
            && (want["client_port"].is_null() || c["client_port"] == want["client_port"])
    })
}

/// A capture folder's truth.json (what the lab says happened), read and parsed.
pub fn truth(folder: &Path) -> serde_json::Value {
    let p = folder.join("truth.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Checks every conversation of a truth.json against a `--json` document: found, with the
/// truth's verdict and forward and reverse points; returns each pair for further checks.
pub fn assert_matches_truth<'a>(
    doc: &'a serde_json::Value,
    truth: &'a serde_json::Value,
    label: &str,
) -> Vec<(&'a serde_json::Value, &'a serde_json::Value)> {
    let wants = truth["conversations"].as_array().map_or(&[][..], |v| v);
    assert!(
        !wants.is_empty(),
        "{label}: truth.json lists no conversation"
    );
    wants
        .iter()
        .map(|want| {
            let c = find(doc, want).unwrap_or_else(|| panic!("{label}: no conversation {want}"));
            assert_eq!(c["verdict"], want["verdict"], "{label}: {c}");
            for (path, points) in [
                ("forward_path", "forward_points"),
                ("reverse_path", "reverse_points"),
            ] {
                assert_eq!(sorted(&c[path]), sorted(&want[points]), "{label}: {c}");
            }
            (want, c)
        })
        .collect()
}

/// The strings of a JSON array, sorted (point lists compared as sets).
pub fn sorted(v: &serde_json::Value) -> Vec<String> {
    let mut s: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    s.sort();
    s
}

/// A fresh folder under the system's temporary folder, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "flowcheck-test-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("a temporary folder");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `bytes` to `name` in the folder.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).expect("a temporary file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
