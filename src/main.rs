//! The `flowcheck` command: parses flags, runs the library, prints, maps the outcome to an
//! exit code (0 analysed, 1 a `--fail-on` verdict was found, 2 usage error or damaged input).

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

use flowcheck::filter::{Expr, Subject};
use flowcheck::point::{resolve_inputs_with, ReadOptions, ResolveOptions};
use flowcheck::report::{folder, html, json, text, Analysis};
use flowcheck::verdict::Verdict;
use flowcheck::window::{parse_time, Window};

#[path = "cli/json_file.rs"]
mod json_file;
#[path = "cli/progress.rs"]
mod progress;

use json_file::JsonFile;
use progress::ProgressDisplay;

/// An allocation refused ends the run with status 2 and a message (see `flowcheck::oom`).
#[global_allocator]
static ALLOCATOR: flowcheck::oom::ExitOnOom = flowcheck::oom::ExitOnOom;

/// Rebuild the ICMP, TCP and UDP conversations in captures taken at one or several points
/// of a network, and tell which took an asymmetric path.
#[derive(Parser, Debug)]
#[command(name = "flowcheck", version, about, long_about = None)]
#[command(
    after_help = "CAPTURE is a pcap/pcapng file (gzip, zstd and lz4 are read directly), a folder of them \
(each file is a capture point named after its file stem), NAME=PATH, or - (standard input).\n\n\
FILTER words (tcpdump's, on the client and server before NAT): host, src host, dst host, \
net CIDR, port, src/dst port, portrange LOW-HIGH, tcp, udp, icmp, icmp6, ip, ip6, \
verdict VERDICT; and/&&, or/||, not/!, parentheses. Example: -f 'host 10.100.204.2 and \
not icmp6'.\n\n\
Exit status: 0 analysed; 1 a conversation has a --fail-on verdict; 2 usage error, a \
capture was unreadable or damaged (what could be read is still reported), or a route file was \
bad (the analysis then runs without routes)."
)]
struct Cli {
    /// Capture files, folders of captures, NAME=PATH, or - for standard input.
    #[arg(required_unless_present_any = ["completions", "man"], value_name = "CAPTURE")]
    captures: Vec<OsString>,

    /// Report only the conversations this tcpdump-style expression selects (everything is
    /// still read and correlated).
    #[arg(short, long, value_name = "FILTER", allow_hyphen_values = true)]
    filter: Option<String>,

    /// Report only conversations that end at or after TIME (RFC 3339 or epoch seconds, on
    /// the aligned timeline).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    from: Option<String>,

    /// Report only conversations that start at or before TIME.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    to: Option<String>,

    /// Read folders of captures recursively (point names are the paths below the folder).
    #[arg(short, long)]
    recursive: bool,

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

    /// Most flows tracked in the whole run, shared by the capture points; packets of further
    /// flows are counted and reported, not tracked.
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

    /// Route tables as the Azure CLI prints them (repeatable): a folder, a file named after
    /// its capture point, or POINT=FILE. Without it, a capture folder's routes/ is read.
    #[arg(long, value_name = "PATH")]
    routes: Vec<String>,

    /// The capture point that hosts an address (repeatable), when the captures do not say:
    /// POINT=IP.
    #[arg(long, value_name = "POINT=IP")]
    host: Vec<String>,
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // one error prefix for every message
            let text = e.render().to_string();
            eprint!(
                "flowcheck: {}",
                text.strip_prefix("error: ").unwrap_or(&text)
            );
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return ExitCode::SUCCESS;
            }
            // The message may quote a path given on the command line.
            eprintln!(
                "flowcheck: {}",
                text::clip(&text::sanitize(&e.to_string()), MESSAGE)
            );
            ExitCode::from(2)
        }
    }
}

/// The route files of `--routes` and of every capture folder's `routes/`. A bad file is
/// reported (naming the file and the line or JSON path) and the analysis runs without routes:
/// the second value is then true (exit status 2, as for a damaged capture).
fn read_routes(cli: &Cli) -> (Option<flowcheck::routes::RouteSet>, bool) {
    use flowcheck::routes::{load, RouteArg};
    // --routes replaces the capture folders' own routes/
    let args: Vec<RouteArg> = if cli.routes.is_empty() {
        cli.captures
            .iter()
            .map(std::path::Path::new)
            .filter(|p| p.is_dir() && p.join("routes").is_dir())
            .map(|p| RouteArg::Path(p.join("routes")))
            .collect()
    } else {
        cli.routes.iter().map(|s| RouteArg::parse(s)).collect()
    };
    if args.is_empty() {
        return (None, false);
    }
    match load(&args) {
        Ok(set) => (Some(set), false),
        Err(e) => {
            eprintln!(
                "flowcheck: routes: {} (the analysis runs without routes)",
                text::sanitize(&e.to_string())
            );
            (None, true)
        }
    }
}

/// Opens an export file before the analysis (a path that cannot be written fails at once),
/// refusing one that the report would overwrite or that is one of the captures.
fn open_export_file(
    flag: &str,
    path: &std::path::Path,
    report_dir: Option<&std::path::Path>,
    inputs: &[flowcheck::point::PointInput],
) -> Result<std::io::Result<std::fs::File>, String> {
    if let Some(msg) = output_conflict(flag, path, report_dir, inputs) {
        return Err(msg);
    }
    Ok(std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{flag} {}: {e}", path.display()))))
}

/// `--zeek`, `--parquet`, `--csv`, side by side (`export::write_all`).
fn write_exports(
    cli: &Cli,
    analysis: &Analysis,
    csv_file: Option<std::fs::File>,
    lap: &mut flowcheck::timings::Lap,
) -> std::io::Result<()> {
    use flowcheck::report::export::{write_all, Targets};
    let targets = Targets {
        zeek: cli.zeek.as_deref(),
        parquet: cli.parquet.as_deref(),
        csv: csv_file.zip(cli.csv.as_deref()),
    };
    if targets.zeek.is_some() || targets.parquet.is_some() || targets.csv.is_some() {
        write_all(analysis, targets)?;
        lap.mark("exports");
    }
    Ok(())
}

/// Most characters of an error message (a name of thousands of characters is clipped).
const MESSAGE: usize = 400;

fn usage(msg: String) -> std::io::Result<u8> {
    eprintln!("flowcheck: {}", text::clip(&msg, MESSAGE));
    Ok(2)
}

/// What `--filter`, `--from` and `--to` ask for, checked before anything is read.
struct Narrowing {
    filter: Option<(String, Expr)>,
    window: Window,
}

impl Narrowing {
    /// Parses the flags; the error is the usage message (for a filter, the expression with a
    /// caret under the offending word).
    fn parse(cli: &Cli) -> Result<Narrowing, String> {
        let filter = match &cli.filter {
            None => None,
            Some(f) => match Expr::parse(f) {
                Ok(e) => Some((f.clone(), e)),
                Err(e) => {
                    let mut msg = format!("--filter: {}", text::sanitize(&e.to_string()));
                    if let Some((word, at)) = e.word() {
                        let expr = text::sanitize(f);
                        // the caret line only when the expression prints as it was typed
                        if expr == *f && at > 0 {
                            let width = word.chars().count().max(1);
                            msg.push_str(&format!(
                                "\n  {expr}\n  {}{}",
                                " ".repeat(at - 1),
                                "^".repeat(width)
                            ));
                        }
                    }
                    return Err(msg);
                }
            },
        };
        let time = |flag: &str, v: &Option<String>| match v {
            None => Ok(None),
            Some(t) => parse_time(t)
                .map(Some)
                .map_err(|e| format!("{flag}: {}", text::sanitize(&e.to_string()))),
        };
        let window = Window {
            from: time("--from", &cli.from)?,
            to: time("--to", &cli.to)?,
        };
        if let (Some(f), Some(t)) = (window.from, window.to) {
            if f > t {
                return Err("--from is after --to: no conversation could be reported".into());
            }
        }
        Ok(Narrowing { filter, window })
    }

    /// Leaves out of the analysis's reports what the user did not ask for.
    fn apply(self, a: &mut Analysis) {
        let w = self.window;
        match &self.filter {
            Some((_, e)) => a.retain(|c, j| {
                w.overlaps(c.first_ts, c.last_ts) && e.matches(&Subject::of(c, j.verdict))
            }),
            None if !w.is_open() => a.retain(|c, _| w.overlaps(c.first_ts, c.last_ts)),
            None => {}
        }
        a.selection.expression = self.filter.map(|(text, _)| text);
        a.selection.window = w;
    }
}

/// Validates `--fail-on`.
fn fail_on_verdicts(names: &[String]) -> Result<Vec<Verdict>, String> {
    let mut fail_on = Vec::new();
    for v in names {
        match Verdict::from_name(v.trim()) {
            Some(v) => fail_on.push(v),
            None => {
                let all: Vec<&str> = Verdict::ALL.iter().map(|v| v.name()).collect();
                return Err(format!(
                    "--fail-on: unknown verdict '{}' (one of: {})",
                    text::sanitize(v),
                    all.join(", ")
                ));
            }
        }
    }
    Ok(fail_on)
}

/// `failing on asymmetric: 4 conversations, first icmp 10.100.204.2 -> 10.100.201.4 id 13`
/// (each `--fail-on` verdict found, in the verdicts' order), or None when none was found.
fn fail_reason(a: &Analysis, fail_on: &[Verdict]) -> Option<String> {
    let parts: Vec<String> = Verdict::ALL
        .into_iter()
        .filter(|v| fail_on.contains(v))
        .filter_map(|v| {
            let first = a.conversations.iter().find(|(_, j)| j.verdict == v)?;
            let n = a.count(v);
            Some(format!(
                "{}: {n} conversation{}, first {}",
                v.name(),
                if n == 1 { "" } else { "s" },
                text::sanitize(&text::conversation_title(&first.0))
            ))
        })
        .collect();
    (!parts.is_empty()).then(|| format!("failing on {}", parts.join("; ")))
}

/// The width to wrap the summary at: `COLUMNS` when set, the terminal's width on a terminal,
/// 100 otherwise.
fn summary_width(to_terminal: bool) -> usize {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
    {
        return n.max(40);
    }
    let size = if !to_terminal {
        None
    } else if std::io::stdout().is_terminal() {
        terminal_size::terminal_size_of(std::io::stdout())
    } else {
        terminal_size::terminal_size_of(std::io::stderr())
    };
    size.map_or(100, |(w, _)| usize::from(w.0).max(40))
}

/// Prints the terminal summary on standard output (standard error when the JSON goes to
/// standard output).
fn print_summary(cli: &Cli, analysis: &Analysis, json_to_stdout: bool) -> std::io::Result<()> {
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
        width: summary_width(to_terminal),
    };
    let mut buf = Vec::new();
    text::write(analysis, &topts, &mut buf)?;
    if json_to_stdout {
        std::io::stderr().write_all(&buf)
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(&buf)?;
        out.flush()
    }
}

/// Writes the HTML report and says where. The default folder is a by-product: when it cannot
/// be written the run warns and goes on; a folder given with `--report` must be written.
fn write_report(
    cli: &Cli,
    analysis: &Analysis,
    folder: &folder::ReportFolder,
    name: &str,
    json_to_stdout: bool,
) -> std::io::Result<()> {
    let opts = html::ReportOptions::new(name);
    let index = match html::write_report(analysis, folder, &opts) {
        Ok(index) => index,
        Err(e) if cli.report.is_none() => {
            eprintln!(
                "flowcheck: warning: no report written: {} (--report DIR writes it elsewhere, \
                 --no-report skips it)",
                text::sanitize(&e.to_string())
            );
            return Ok(());
        }
        Err(e) => return Err(std::io::Error::new(e.kind(), format!("report: {e}"))),
    };
    if !cli.quiet {
        let line = format!("report: {}", text::sanitize(&index.display().to_string()));
        if json_to_stdout {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    Ok(())
}

/// Says on standard error which captures were damaged or unreadable.
fn print_damage(analysis: &Analysis) {
    for p in &analysis.points {
        if p.summary.gzip_trailing_zeros > 0 {
            // what gzip itself says of such a file (a warning, not damage)
            eprintln!(
                "flowcheck: {}: warning: decompression OK, {} trailing zero bytes ignored",
                text::clip(
                    &text::sanitize(&flowcheck::point::os_text(p.summary.path.as_os_str())),
                    MESSAGE
                ),
                p.summary.gzip_trailing_zeros
            );
        }
        if let Some(d) = &p.summary.damage {
            let path = text::sanitize(&flowcheck::point::os_text(p.summary.path.as_os_str()));
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
}

/// Refuses, before anything is read, an output FILE (`--json`, `--csv`) that the report would
/// overwrite or that is one of the captures (the same file, hard links included).
fn output_conflict(
    flag: &str,
    path: &std::path::Path,
    report_dir: Option<&std::path::Path>,
    inputs: &[flowcheck::point::PointInput],
) -> Option<String> {
    let captures: Vec<&std::path::Path> = inputs.iter().map(|i| i.path.as_path()).collect();
    let shown = |p: &std::path::Path| text::sanitize(&p.display().to_string());
    match folder::json_conflict(path, report_dir, &captures)? {
        folder::JsonConflict::InsideReport => Some(format!(
            "{flag} {}: is inside the report folder {} (the report would overwrite it); write \
             it elsewhere or give --report another folder",
            shown(path),
            shown(report_dir.unwrap_or(path))
        )),
        folder::JsonConflict::IsCapture(c) => {
            let same = if c == *path {
                String::new()
            } else {
                format!(": the same file as {}", shown(&c))
            };
            Some(format!(
                "{flag} {}: is one of the captures to read{same} (it would be overwritten)",
                shown(path)
            ))
        }
    }
}

fn run(cli: Cli) -> std::io::Result<u8> {
    if print_generated(&cli)? {
        return Ok(0);
    }
    // validate everything before reading anything
    let fail_on = match fail_on_verdicts(&cli.fail_on) {
        Ok(v) => v,
        Err(msg) => return usage(msg),
    };
    let narrowing = match Narrowing::parse(&cli) {
        Ok(n) => n,
        Err(msg) => return usage(msg),
    };
    if cli.max_flows == 0 {
        return usage("--max-flows must be at least 1".into());
    }
    let ropts = ResolveOptions {
        recursive: cli.recursive,
    };
    let inputs = match resolve_inputs_with(&cli.captures, ropts) {
        Ok(i) => i,
        Err(e) => return usage(text::sanitize(&e.to_string())),
    };
    if cli.captures.iter().any(|c| c == "-") && std::io::stdin().is_terminal() {
        return usage("-: standard input is a terminal: pipe a capture into it".into());
    }
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
    let mut hosts = Vec::new();
    for h in &cli.host {
        match flowcheck::routes::parse_host(h) {
            Ok(h) => hosts.push(h),
            Err(e) => return usage(text::sanitize(&e.to_string())),
        }
    }
    let (routes, routes_failed) = read_routes(&cli);
    let report_name = html::default_name(&cli.captures);
    let report_dir = match (&cli.report, cli.no_report) {
        (_, true) => None,
        (Some(dir), false) => Some(dir.clone()),
        (None, false) => Some(PathBuf::from("reports").join(&report_name)),
    };
    // the outputs are checked before anything is read: neither may overwrite the other or a
    // capture, and the report folder must be one flowcheck may write into
    let json_to_stdout = cli.json.as_deref() == Some(std::path::Path::new("-"));
    if let (Some(path), false) = (&cli.json, json_to_stdout) {
        if let Some(msg) = output_conflict("--json", path, report_dir.as_deref(), &inputs) {
            return usage(msg);
        }
    }
    let report_folder = match report_dir.as_deref().map(folder::ReportFolder::prepare) {
        // the default folder is a by-product: the run goes on without it
        Some(Err(e)) if cli.report.is_none() => {
            eprintln!(
                "flowcheck: warning: no report written: {} (--report DIR writes it elsewhere, \
                 --no-report skips it)",
                text::clip(&text::sanitize(&e.to_string()), MESSAGE)
            );
            None
        }
        Some(Err(e)) => return usage(format!("--report: {}", text::sanitize(&e.to_string()))),
        Some(Ok(f)) => Some(f),
        None => None,
    };
    // the JSON file is opened before reading, so that a path that cannot be written fails at
    // once rather than after minutes of analysis
    let json_file = match &cli.json {
        Some(path) if !json_to_stdout => Some(JsonFile::open(path)?),
        _ => None,
    };
    let csv_file = match &cli.csv {
        Some(path) => match open_export_file("--csv", path, report_dir.as_deref(), &inputs) {
            Ok(f) => Some(f?),
            Err(msg) => return usage(msg),
        },
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
        without_traces: report_folder.is_none(),
        routes,
        hosts,
    };
    let mut analysis = flowcheck::analyse_with(&inputs, &opts, &aopts);
    drop(progress);
    if let Some(r) = &analysis.routing {
        for note in &r.notes {
            eprintln!("flowcheck: routes: {}", text::sanitize(note));
        }
    }
    narrowing.apply(&mut analysis);

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
        print_summary(&cli, &analysis, json_to_stdout)?;
    }
    if let Some(folder) = &report_folder {
        write_report(&cli, &analysis, folder, &report_name, json_to_stdout)?;
    }
    print_damage(&analysis);
    let failing = fail_reason(&analysis, &fail_on);
    let code = if analysis.damaged() || routes_failed {
        2
    } else if failing.is_some() {
        1
    } else {
        0
    };
    // the last line on standard error, also under -q: why the exit status is 1
    if let (1, Some(why)) = (code, failing) {
        eprintln!("flowcheck: {why}");
    }
    // the process ends here: freeing hundreds of thousands of flows and conversations one by
    // one would only delay the exit (tens of milliseconds on a large capture)
    std::mem::forget(analysis);
    Ok(code)
}
