//! The `flowcheck` command: parses flags, runs the library, prints, maps the outcome to an
//! exit code (0 analysed, 1 a `--fail-on` verdict was found, 2 usage error or damaged input).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

use flowcheck::point::{resolve_inputs, Progress, ReadOptions};
use flowcheck::report::{html, json, text, PageWriter};
use flowcheck::verdict::Verdict;

/// Rebuild the ICMP, TCP and UDP conversations in captures taken at one or several points
/// of a network, and tell which took an asymmetric path.
#[derive(Parser, Debug)]
#[command(name = "flowcheck", version, about, long_about = None)]
#[command(
    after_help = "CAPTURE is a pcap/pcapng file (gzip is read directly), a folder of them \
(each file is a capture point named after its file stem), or NAME=PATH.\n\n\
Exit status: 0 analysed; 1 a conversation has a --fail-on verdict; 2 usage error or a \
capture was unreadable or damaged (what could be read is still reported)."
)]
struct Cli {
    /// Capture files, folders of captures, or NAME=PATH.
    #[arg(required_unless_present_any = ["completions", "man"], value_name = "CAPTURE")]
    captures: Vec<String>,

    /// Write the flowcheck/1 JSON document to FILE ('-' for standard output).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Write one Zeek conn.log per capture point (DIR/POINT.conn.log), with each flow's
    /// verdict and conversation in the extra columns _verdict and _conversation.
    #[arg(long, value_name = "DIR")]
    zeek: Option<PathBuf>,

    /// Write DIR/points.parquet, DIR/flows.parquet and DIR/conversations.parquet (the JSON's
    /// three arrays, for DuckDB, pandas or Spark).
    #[arg(long, value_name = "DIR")]
    parquet: Option<PathBuf>,

    /// Write the conversations to FILE as CSV (RFC 4180), one row each.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,

    /// Print the shell completion script for SHELL and exit.
    #[arg(long, value_name = "SHELL", exclusive = true)]
    completions: Option<Shell>,

    /// Print the man page (roff, for `man -l -`) and exit.
    #[arg(long, exclusive = true)]
    man: bool,

    /// Exit with status 1 when a conversation has one of these verdicts
    /// (asymmetric, bypassed, unanswered, incomplete, symmetric; comma-separated).
    #[arg(long, value_name = "VERDICT[,..]", value_delimiter = ',')]
    fail_on: Vec<String>,

    /// A capture point every unicast conversation should cross (repeatable): one captured
    /// elsewhere but never there is judged 'bypassed'.
    #[arg(long, value_name = "POINT")]
    expect_via: Vec<String>,

    /// Take every capture point's clock as right: skip the clock offset estimation.
    #[arg(long)]
    assume_synced: bool,

    /// Most conversations listed per verdict in the summary (0: all).
    #[arg(long, default_value_t = 20, value_name = "N")]
    limit: usize,

    /// Most flows tracked per capture point; packets of further flows are counted, not tracked.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    max_flows: usize,

    /// When to colour the summary.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,

    /// Print no terminal summary.
    #[arg(short, long)]
    quiet: bool,

    /// Write the HTML report (index.html and its SVG pictures) to DIR
    /// [default: reports/NAME, NAME from the capture folder or file, or "combined"].
    #[arg(long, value_name = "DIR", conflicts_with = "no_report")]
    report: Option<PathBuf>,

    /// Write no HTML report.
    #[arg(long)]
    no_report: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    fn generator(self) -> clap_complete::Shell {
        match self {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
        }
    }
}

/// `--completions` and `--man`: printed from the flag definitions above.
fn print_generated(cli: &Cli) -> std::io::Result<bool> {
    use clap::CommandFactory;
    let mut out = std::io::stdout().lock();
    if let Some(shell) = cli.completions {
        clap_complete::generate(
            shell.generator(),
            &mut Cli::command(),
            "flowcheck",
            &mut out,
        );
    } else if cli.man {
        clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    } else {
        return Ok(false);
    }
    out.flush()?;
    Ok(true)
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return ExitCode::SUCCESS;
            }
            // The message may quote a path given on the command line.
            eprintln!("flowcheck: {}", text::sanitize(&e.to_string()));
            ExitCode::from(2)
        }
    }
}

/// A one-line progress indicator on stderr (a terminal), shown once reading has taken more
/// than a second, erased when done.
struct ProgressDisplay {
    counters: std::sync::Arc<Progress>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProgressDisplay {
    fn start(inputs: &[flowcheck::point::PointInput]) -> ProgressDisplay {
        use std::sync::atomic::Ordering::Relaxed;
        let total: u64 = inputs
            .iter()
            .filter_map(|i| std::fs::metadata(&i.path).ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum();
        let counters = std::sync::Arc::new(Progress::default());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (c, st) = (counters.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let mut shown = false;
            while !st.load(Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(200));
                let elapsed = start.elapsed().as_secs_f64();
                if elapsed < 1.0 || st.load(Relaxed) {
                    continue;
                }
                let bytes = c.bytes_read.load(Relaxed);
                let frames = c.frames_read.load(Relaxed);
                // gzip inputs count decompressed bytes: the share is an estimate, capped
                let pct = if total > 0 {
                    format!(" ({:.0}%)", (bytes as f64 / total as f64 * 100.0).min(99.0))
                } else {
                    String::new()
                };
                eprint!(
                    "\rflowcheck: read {:.2} GB{pct}, {:.1} M packets, {:.2} GB/s\x1b[K",
                    bytes as f64 / 1e9,
                    frames as f64 / 1e6,
                    bytes as f64 / 1e9 / elapsed
                );
                shown = true;
            }
            if shown {
                eprint!("\r\x1b[K");
            }
        });
        ProgressDisplay {
            counters,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The `--json` output file: opened (created if needed) before the analysis, so that a path
/// that cannot be written fails at once, and written over in place afterwards.
///
/// The old content is not emptied first: the new document is written from the first byte over
/// the old one, and a regular file is then cut to the new length. Rewriting pages the file
/// already has is cheaper than freeing them and allocating new ones, and a file emptied and
/// written again makes ext4 force the whole file's block allocation when it is closed
/// (`auto_da_alloc`): 0.08 s for a 276 MB document.
struct JsonFile {
    path: PathBuf,
    file: std::fs::File,
    /// A regular file (not a FIFO, a terminal or /dev/null): it has a length to cut.
    regular: bool,
}

impl JsonFile {
    fn open(path: &std::path::Path) -> std::io::Result<JsonFile> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| json_context(path, e))?;
        let regular = file
            .metadata()
            .map_err(|e| json_context(path, e))?
            .is_file();
        Ok(JsonFile {
            path: path.to_path_buf(),
            file,
            regular,
        })
    }

    /// Writes the document, then cuts what is left of the old content. On a write error the
    /// file is cut after the bytes written, so nothing of the old document stays behind.
    fn write(self, analysis: &flowcheck::report::Analysis) -> std::io::Result<()> {
        let mut pages = PageWriter::new(&self.file);
        let wrote = json::write(analysis, std::io::BufWriter::new(&mut pages));
        let cut = if self.regular {
            self.file.set_len(pages.written())
        } else {
            Ok(())
        };
        wrote.and(cut).map_err(|e| json_context(&self.path, e))
    }
}

fn json_context(path: &std::path::Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("--json {}: {e}", path.display()))
}

/// Opens an export file before the analysis (a path that cannot be written fails at once),
/// refusing one of the captures being read.
fn open_export_file(
    flag: &str,
    path: &std::path::Path,
    inputs: &[flowcheck::point::PointInput],
) -> std::io::Result<std::fs::File> {
    let context = |e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("{flag} {}: {e}", path.display()))
    };
    if let Ok(target) = std::fs::canonicalize(path) {
        if inputs
            .iter()
            .any(|i| std::fs::canonicalize(&i.path).is_ok_and(|p| p == target))
        {
            return Err(context(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "is one of the captures to read (it would be overwritten)",
            )));
        }
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(context)
}

/// `--zeek`, `--parquet`, `--csv`.
fn write_exports(
    cli: &Cli,
    analysis: &flowcheck::report::Analysis,
    csv_file: Option<std::fs::File>,
    lap: &mut flowcheck::timings::Lap,
) -> std::io::Result<()> {
    use flowcheck::report::{csv, parquet, zeek};
    if let Some(dir) = &cli.zeek {
        zeek::write_dir(analysis, dir)?;
        lap.mark("zeek");
    }
    if let Some(dir) = &cli.parquet {
        parquet::write_dir(analysis, dir)?;
        lap.mark("parquet");
    }
    if let (Some(file), Some(path)) = (csv_file, &cli.csv) {
        let context = |e: std::io::Error| {
            std::io::Error::new(e.kind(), format!("--csv {}: {e}", path.display()))
        };
        if file.metadata().is_ok_and(|m| m.is_file()) {
            file.set_len(0).map_err(context)?;
        }
        csv::write(analysis, &file).map_err(context)?;
        lap.mark("csv");
    }
    Ok(())
}

fn usage(msg: String) -> std::io::Result<u8> {
    eprintln!("flowcheck: {msg}");
    Ok(2)
}

fn run(cli: Cli) -> std::io::Result<u8> {
    if print_generated(&cli)? {
        return Ok(0);
    }
    // validate everything before reading anything
    let mut fail_on = Vec::new();
    for v in &cli.fail_on {
        match Verdict::from_name(v.trim()) {
            Some(v) => fail_on.push(v),
            None => {
                let all: Vec<&str> = Verdict::ALL.iter().map(|v| v.name()).collect();
                return usage(format!(
                    "--fail-on: unknown verdict '{}' (one of: {})",
                    text::sanitize(v),
                    all.join(", ")
                ));
            }
        }
    }
    if cli.max_flows == 0 {
        return usage("--max-flows must be at least 1".into());
    }
    let inputs = match resolve_inputs(&cli.captures) {
        Ok(i) => i,
        Err(e) => return usage(text::sanitize(&e.to_string())),
    };
    for p in &cli.expect_via {
        if !inputs.iter().any(|i| &i.name == p) {
            let all: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
            return usage(format!(
                "--expect-via: no capture point named '{}' (points: {})",
                text::sanitize(p),
                text::sanitize(&all.join(", "))
            ));
        }
    }
    let report_name = html::default_name(&cli.captures);
    let report_dir = match (&cli.report, cli.no_report) {
        (_, true) => None,
        (Some(dir), false) => Some(dir.clone()),
        (None, false) => Some(PathBuf::from("reports").join(&report_name)),
    };
    // the JSON file is opened before reading, so that a path that cannot be written fails at
    // once rather than after minutes of analysis
    let json_to_stdout = cli.json.as_deref() == Some(std::path::Path::new("-"));
    let json_file = match &cli.json {
        Some(path) if !json_to_stdout => {
            if let Ok(target) = std::fs::canonicalize(path) {
                if inputs
                    .iter()
                    .any(|i| std::fs::canonicalize(&i.path).is_ok_and(|p| p == target))
                {
                    return usage(format!(
                        "--json {}: is one of the captures to read (it would be overwritten)",
                        text::sanitize(&path.display().to_string())
                    ));
                }
            }
            Some(JsonFile::open(path)?)
        }
        _ => None,
    };
    let csv_file = match &cli.csv {
        Some(path) => Some(open_export_file("--csv", path, &inputs)?),
        None => None,
    };
    for (flag, dir) in [("--zeek", &cli.zeek), ("--parquet", &cli.parquet)] {
        if let Some(dir) = dir {
            flowcheck::report::export::create_dir(flag, dir)?;
        }
    }
    let progress =
        (!cli.quiet && std::io::stderr().is_terminal()).then(|| ProgressDisplay::start(&inputs));
    let opts = ReadOptions {
        max_flows: cli.max_flows,
        progress: progress.as_ref().map(|p| p.counters.clone()),
        ..ReadOptions::default()
    };
    let aopts = flowcheck::AnalyseOptions {
        assume_synced: cli.assume_synced,
        expect_via: cli.expect_via.clone(),
        // the traces are drawn in the report only
        without_traces: report_dir.is_none(),
    };
    let analysis = flowcheck::analyse_with(&inputs, &opts, &aopts);
    drop(progress);

    let mut lap = flowcheck::timings::Lap::new("");
    if let Some(f) = json_file {
        f.write(&analysis)?;
        lap.mark("json");
    } else if json_to_stdout {
        let stdout = std::io::stdout();
        json::write(&analysis, std::io::BufWriter::new(stdout.lock()))?;
        lap.mark("json");
    }
    write_exports(&cli, &analysis, csv_file, &mut lap)?;
    if !cli.quiet {
        let to_terminal = if json_to_stdout {
            std::io::stderr().is_terminal()
        } else {
            std::io::stdout().is_terminal()
        };
        let color = match cli.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        let topts = text::TextOptions {
            color,
            limit: cli.limit,
            ..text::TextOptions::default()
        };
        let mut buf = Vec::new();
        text::write(&analysis, &topts, &mut buf)?;
        if json_to_stdout {
            std::io::stderr().write_all(&buf)?;
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(&buf)?;
            out.flush()?;
        }
    }
    if let Some(dir) = &report_dir {
        let opts = html::ReportOptions::new(&report_name);
        let index = html::write_report(&analysis, dir, &opts)
            .map_err(|e| std::io::Error::new(e.kind(), format!("report: {e}")))?;
        if !cli.quiet {
            let line = format!("report: {}", text::sanitize(&index.display().to_string()));
            if json_to_stdout {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
    }
    for p in &analysis.points {
        if let Some(d) = &p.summary.damage {
            let path = text::sanitize(&p.summary.path.display().to_string());
            let reason = text::sanitize(&d.reason);
            if p.summary.format.is_empty() {
                // Never recognised as a capture: nothing was read.
                eprintln!(
                    "flowcheck: {path}: unreadable at byte {}: {reason}",
                    d.offset
                );
            } else {
                eprintln!(
                    "flowcheck: {path}: damaged at byte {}: {reason} (packets before it were \
                     analysed)",
                    d.offset
                );
            }
        }
    }
    let code = if analysis.damaged() {
        2
    } else if analysis
        .conversations
        .iter()
        .any(|(_, j)| fail_on.contains(&j.verdict))
    {
        1
    } else {
        0
    };
    // the process ends here: freeing hundreds of thousands of flows and conversations one by
    // one would only delay the exit (tens of milliseconds on a large capture)
    std::mem::forget(analysis);
    Ok(code)
}
