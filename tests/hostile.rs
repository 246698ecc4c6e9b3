//! Hostile inputs, second round (issue 20): memory across points, and the smaller cases of
//! item 6. Each runs the real binary on captures it writes.

mod common;
#[path = "common/manyflows.rs"]
mod manyflows;

use common::TempDir;

/// `--max-flows` bounds the whole run: three points of one-packet flows, each alone over the
/// cap, share it; what was left out is in the JSON (per point and in all) and on the terminal.
#[test]
fn max_flows_is_the_runs_total_and_what_was_left_out_is_reported() {
    let dir = TempDir::new("budget");
    manyflows::write_all(dir.path(), 20_000, 3).expect("captures");
    let (run, doc) = common::analyse(&[
        dir.path().as_os_str(),
        "--max-flows".as_ref(),
        "25000".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let points = doc["points"].as_array().expect("points");
    let flows: u64 = points
        .iter()
        .map(|p| p["flows"].as_u64().unwrap_or(0))
        .sum();
    let left_out: u64 = points
        .iter()
        .map(|p| p["packets_over_flow_cap"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(flows, 25_000, "the run's total, shared by the points");
    assert_eq!(
        left_out,
        60_000 - 25_000,
        "every packet is tracked or counted"
    );
    assert_eq!(doc["summary"]["packets_over_flow_cap"], left_out);
    assert!(points
        .iter()
        .all(|p| p["flow_table_out_of_memory"] == false));
    let text = common::flowcheck(&[
        dir.path().as_os_str(),
        "--max-flows".as_ref(),
        "25000".as_ref(),
    ]);
    assert!(
        text.stdout.contains("flow cap reached") && text.stdout.contains("whole run"),
        "{}",
        text.stdout
    );
}

/// Under an address-space limit too small for what `--max-flows` allows, the run ends with
/// status 2 and a message, never a signal (SIGABRT, as Rust aborts by default).
#[cfg(target_os = "linux")]
#[test]
fn running_out_of_memory_is_exit_status_2_with_a_message() {
    use std::os::unix::process::ExitStatusExt;
    let dir = TempDir::new("oom");
    manyflows::write_all(dir.path(), 300_000, 2).expect("captures");
    let Ok(prlimit) = which("prlimit") else {
        eprintln!("prlimit not found: skipped");
        return;
    };
    let out = std::process::Command::new(prlimit)
        .arg("--as=300000000")
        .arg(env!("CARGO_BIN_EXE_flowcheck"))
        .arg(dir.path())
        .args(["--no-report", "--quiet", "--max-flows", "10000000"])
        .output()
        .expect("prlimit runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), None, "ended by a signal: {stderr}");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("out of memory"), "{stderr}");
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}
