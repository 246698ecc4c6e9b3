//! The `flowcheck` command: parses flags, runs the library, prints, maps the outcome to an
//! exit code (0 analysed, 1 a `--fail-on` verdict was found, 2 usage error or damaged input).
//!
//! The flags become a [`Config`] (src/cli/config.rs: everything checked and every output opened
//! before a capture is read); [`run`] then analyses, writes, and maps the [`Outcome`] to the
//! exit status.
#![deny(unsafe_code)]

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

use flowcheck::point::ReadOptions;
use flowcheck::report::{folder, html, json, text, Analysis};
use flowcheck::verdict::Verdict;

#[path = "cli/config.rs"]
mod config;
#[path = "cli/json_file.rs"]
mod json_file;
#[path = "cli/progress.rs"]
mod progress;

use config::{Config, JsonOut, Stop, VerdictArg, VerdictParser};
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
    #[arg(
        long,
        value_name = "VERDICT[,..]",
        value_delimiter = ',',
        value_parser = VerdictParser,
        hide_possible_values = true
    )]
    fail_on: Vec<VerdictArg>,

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

/// `--zeek`, `--parquet`, `--csv`, side by side (`bulk::write_all`).
fn write_exports(
    cli: &Cli,
    analysis: &Analysis,
    csv_file: Option<std::fs::File>,
    lap: &mut flowcheck::timings::Lap,
) -> std::io::Result<()> {
    use flowcheck::report::bulk::{write_all, Targets};
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
pub(crate) const MESSAGE: usize = 400;

fn usage(msg: String) -> std::io::Result<u8> {
    eprintln!("flowcheck: {}", text::clip(&msg, MESSAGE));
    Ok(2)
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

fn run(cli: Cli) -> std::io::Result<u8> {
    if print_generated(&cli)? {
        return Ok(0);
    }
    // validate everything before reading anything
    let config = match Config::new(cli) {
        Ok(config) => config,
        Err(Stop::Usage(msg)) => return usage(msg),
        Err(Stop::Io(e)) => return Err(e),
    };
    let (analysis, outcome) = analyse_and_write(config)?;
    // the process ends here: freeing hundreds of thousands of flows and conversations one by
    // one would only delay the exit (tens of milliseconds on a large capture)
    std::mem::forget(analysis);
    Ok(outcome.exit_code())
}

/// How a run that read its captures ends.
struct Outcome {
    /// A capture was damaged or unreadable, or a route file was bad.
    damaged: bool,
    /// Why the run fails on a `--fail-on` verdict, if it does.
    failing: Option<String>,
}

impl Outcome {
    /// 2 damaged input, 1 a `--fail-on` verdict, 0 otherwise; says on standard error, as its
    /// last line (also under -q), why the exit status is 1.
    fn exit_code(self) -> u8 {
        if self.damaged {
            return 2;
        }
        match self.failing {
            Some(why) => {
                eprintln!("flowcheck: {why}");
                1
            }
            None => 0,
        }
    }
}

/// Reads and judges the captures, then writes every output the flags ask for.
fn analyse_and_write(config: Config) -> std::io::Result<(Analysis, Outcome)> {
    let cli = &config.flags;
    let progress = (!cli.quiet && std::io::stderr().is_terminal())
        .then(|| ProgressDisplay::start(&config.inputs));
    let opts = ReadOptions {
        max_flows: cli.max_flows,
        progress: progress.as_ref().map(|p| p.counters.clone()),
        ..ReadOptions::default()
    };
    let aopts = flowcheck::AnalyseOptions {
        assume_synced: cli.assume_synced,
        expect_via: cli.expect_via.clone(),
        // the traces are drawn in the report only
        without_traces: config.report_folder.is_none(),
        routes: config.routes,
        hosts: config.hosts,
    };
    let mut analysis = flowcheck::analyse_with(&config.inputs, &opts, &aopts);
    drop(progress);
    if let Some(r) = &analysis.routing {
        for note in &r.notes {
            eprintln!("flowcheck: routes: {}", text::sanitize(note));
        }
    }
    config.narrowing.apply(&mut analysis);

    let mut lap = flowcheck::timings::Lap::new("");
    let json_to_stdout = matches!(config.json, JsonOut::Stdout);
    match config.json {
        JsonOut::File(f) => {
            f.write(&analysis)?;
            lap.mark("json");
        }
        JsonOut::Stdout => {
            let stdout = std::io::stdout();
            json::write(&analysis, std::io::BufWriter::new(stdout.lock()))?;
            lap.mark("json");
        }
        JsonOut::None => {}
    }
    write_exports(cli, &analysis, config.csv_file, &mut lap)?;
    if !cli.quiet {
        print_summary(cli, &analysis, json_to_stdout)?;
    }
    if let Some(folder) = &config.report_folder {
        write_report(cli, &analysis, folder, &config.report_name, json_to_stdout)?;
    }
    print_damage(&analysis);
    let outcome = Outcome {
        damaged: analysis.damaged() || config.routes_failed,
        failing: fail_reason(&analysis, &config.fail_on),
    };
    Ok((analysis, outcome))
}
