//! Headless Chromium for the report tests: finding a binary and running it on a page with
//! a deadline, its console collected.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A Chromium binary: $FLOWCHECK_CHROMIUM, else the first of the usual names on PATH.
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FLOWCHECK_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
        "chrome",
    ] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

pub struct Browser {
    pub bin: PathBuf,
}

impl Browser {
    /// Runs headless Chromium on `page` with `extra` flags; returns (stdout, console lines).
    pub fn run(&self, page: &Path, extra: &[String], scratch: &Path) -> (String, Vec<String>) {
        let profile = scratch.join(format!("profile-{}", extra.len()));
        let _ = std::fs::remove_dir_all(&profile);
        let mut cmd = std::process::Command::new(&self.bin);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("chromium starts");
        let deadline = Instant::now() + Duration::from_secs(120);
        // read both pipes on threads so a chatty browser cannot block on a full pipe
        let mut so = child.stdout.take().unwrap();
        let mut se = child.stderr.take().unwrap();
        let out_t = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut so, &mut s);
            s
        });
        let err_t = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut se, &mut s);
            s
        });
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("chromium did not finish within 120 s");
                }
            }
        }
        let stdout = out_t.join().unwrap_or_default();
        let stderr = err_t.join().unwrap_or_default();
        let console = stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
            .map(String::from)
            .collect();
        (stdout, console)
    }
}
