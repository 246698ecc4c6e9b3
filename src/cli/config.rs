//! What the flags ask for, checked and opened before anything is read: [`Config`].

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use flowcheck::filter::{Expr, Subject};
use flowcheck::point::{resolve_inputs_with, PointInput, ResolveOptions};
use flowcheck::report::{folder, html, text, Analysis};
use flowcheck::verdict::Verdict;
use flowcheck::window::{parse_time, Window};

use super::json_file::JsonFile;
use super::{Cli, MESSAGE};

/// A verdict named on the command line (`--fail-on`): the library's verdicts, by their names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VerdictArg {
    Asymmetric,
    Bypassed,
    Unanswered,
    Incomplete,
    Symmetric,
}

impl From<VerdictArg> for Verdict {
    fn from(v: VerdictArg) -> Verdict {
        match v {
            VerdictArg::Asymmetric => Verdict::Asymmetric,
            VerdictArg::Bypassed => Verdict::Bypassed,
            VerdictArg::Unanswered => Verdict::Unanswered,
            VerdictArg::Incomplete => Verdict::Incomplete,
            VerdictArg::Symmetric => Verdict::Symmetric,
        }
    }
}

/// Parses one `--fail-on` word: a [`VerdictArg`] name, spaces around it ignored
/// (`--fail-on 'asymmetric, bypassed'`); the error names the verdicts.
#[derive(Clone)]
pub struct VerdictParser;

impl clap::builder::TypedValueParser for VerdictParser {
    type Value = VerdictArg;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<VerdictArg, clap::Error> {
        let Some(word) = value.to_str() else {
            // what clap says of any other flag's value that is not UTF-8
            use clap::error::{ContextKind, ContextValue, ErrorKind};
            let mut e = clap::Error::new(ErrorKind::InvalidUtf8).with_cmd(cmd);
            let usage = cmd.clone().render_usage();
            e.insert(ContextKind::Usage, ContextValue::StyledStr(usage));
            return Err(e);
        };
        VerdictArg::from_str(word.trim(), false).map_err(|_| {
            let all: Vec<&str> = Verdict::ALL.iter().map(|v| v.name()).collect();
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!(
                    "--fail-on: unknown verdict '{}' (one of: {})\n",
                    text::sanitize(word),
                    all.join(", ")
                ),
            )
        })
    }
}

/// Why the run stops before reading anything: a usage error (exit status 2, the message
/// printed), or an output that could not be opened.
pub enum Stop {
    Usage(String),
    Io(std::io::Error),
}

impl From<std::io::Error> for Stop {
    fn from(e: std::io::Error) -> Stop {
        Stop::Io(e)
    }
}

/// Where the JSON document goes.
pub enum JsonOut {
    None,
    Stdout,
    File(JsonFile),
}

/// Everything the run needs besides the plain flags, validated, and the outputs opened.
pub struct Config {
    pub flags: Cli,
    pub fail_on: Vec<Verdict>,
    pub narrowing: Narrowing,
    pub inputs: Vec<PointInput>,
    pub hosts: Vec<(String, std::net::IpAddr)>,
    pub routes: Option<flowcheck::routes::RouteSet>,
    /// A route file was bad: the analysis runs without routes, and exits with status 2.
    pub routes_failed: bool,
    pub report_name: String,
    pub report_folder: Option<folder::ReportFolder>,
    pub json: JsonOut,
    pub csv_file: Option<std::fs::File>,
}

impl Config {
    /// Checks every flag before anything is read, in the order the user meets the errors:
    /// the narrowing, the limits, the captures, the points named, the outputs.
    pub fn new(flags: Cli) -> Result<Config, Stop> {
        let fail_on = flags.fail_on.iter().map(|&v| v.into()).collect();
        let narrowing = Narrowing::parse(&flags).map_err(Stop::Usage)?;
        if flags.max_flows == 0 {
            return Err(Stop::Usage("--max-flows must be at least 1".into()));
        }
        let ropts = ResolveOptions {
            recursive: flags.recursive,
        };
        let inputs = resolve_inputs_with(&flags.captures, ropts)
            .map_err(|e| Stop::Usage(text::sanitize(&e.to_string())))?;
        if flags.captures.iter().any(|c| c == "-") && std::io::stdin().is_terminal() {
            return Err(Stop::Usage(
                "-: standard input is a terminal: pipe a capture into it".into(),
            ));
        }
        check_expect_via(&flags.expect_via, &inputs).map_err(Stop::Usage)?;
        let hosts = flags
            .host
            .iter()
            .map(|h| flowcheck::routes::parse_host(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Stop::Usage(text::sanitize(&e.to_string())))?;
        let (routes, routes_failed) = read_routes(&flags);
        let report_name = html::default_name(&flags.captures);
        let report_dir = match (&flags.report, flags.no_report) {
            (_, true) => None,
            (Some(dir), false) => Some(dir.clone()),
            (None, false) => Some(PathBuf::from("reports").join(&report_name)),
        };
        let (json, report_folder, csv_file) = open_outputs(&flags, report_dir.as_deref(), &inputs)?;
        Ok(Config {
            flags,
            fail_on,
            narrowing,
            inputs,
            hosts,
            routes,
            routes_failed,
            report_name,
            report_folder,
            json,
            csv_file,
        })
    }
}

/// `--expect-via`: each a capture point's name.
fn check_expect_via(expect_via: &[String], inputs: &[PointInput]) -> Result<(), String> {
    for p in expect_via {
        if !inputs.iter().any(|i| &i.name == p) {
            let all: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(format!(
                "--expect-via: no capture point named '{}' (points: {})",
                text::sanitize(p),
                text::sanitize(&all.join(", "))
            ));
        }
    }
    Ok(())
}

/// The outputs, checked and opened before anything is read: neither may overwrite the other
/// or a capture, the report folder must be one flowcheck may write into, and a file that cannot
/// be written fails at once rather than after minutes of analysis.
fn open_outputs(
    flags: &Cli,
    report_dir: Option<&Path>,
    inputs: &[PointInput],
) -> Result<(JsonOut, Option<folder::ReportFolder>, Option<std::fs::File>), Stop> {
    let json_to_stdout = flags.json.as_deref() == Some(Path::new("-"));
    if let (Some(path), false) = (&flags.json, json_to_stdout) {
        if let Some(msg) = output_conflict("--json", path, report_dir, inputs) {
            return Err(Stop::Usage(msg));
        }
    }
    let report_folder = match report_dir.map(folder::ReportFolder::prepare) {
        // the default folder is a by-product: the run goes on without it
        Some(Err(e)) if flags.report.is_none() => {
            eprintln!(
                "flowcheck: warning: no report written: {} (--report DIR writes it elsewhere, \
                 --no-report skips it)",
                text::clip(&text::sanitize(&e.to_string()), MESSAGE)
            );
            None
        }
        Some(Err(e)) => {
            let msg = format!("--report: {}", text::sanitize(&e.to_string()));
            return Err(Stop::Usage(msg));
        }
        Some(Ok(f)) => Some(f),
        None => None,
    };
    let json = match &flags.json {
        Some(_) if json_to_stdout => JsonOut::Stdout,
        Some(path) => JsonOut::File(JsonFile::open(path)?),
        None => JsonOut::None,
    };
    let csv_file = match &flags.csv {
        Some(path) => Some(open_export_file("--csv", path, report_dir, inputs)??),
        None => None,
    };
    for (flag, dir) in [("--zeek", &flags.zeek), ("--parquet", &flags.parquet)] {
        if let Some(dir) = dir {
            flowcheck::report::export::create_dir(flag, dir)?;
        }
    }
    Ok((json, report_folder, csv_file))
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
            .map(Path::new)
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
    path: &Path,
    report_dir: Option<&Path>,
    inputs: &[PointInput],
) -> Result<std::io::Result<std::fs::File>, Stop> {
    if let Some(msg) = output_conflict(flag, path, report_dir, inputs) {
        return Err(Stop::Usage(msg));
    }
    // written over in place after the analysis (`report::write_over`)
    Ok(flowcheck::report::open_over(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{flag} {}: {e}", path.display()))))
}

/// Refuses, before anything is read, an output FILE (`--json`, `--csv`) that the report would
/// overwrite or that is one of the captures (the same file, hard links included).
fn output_conflict(
    flag: &str,
    path: &Path,
    report_dir: Option<&Path>,
    inputs: &[PointInput],
) -> Option<String> {
    let captures: Vec<&Path> = inputs.iter().map(|i| i.path.as_path()).collect();
    let shown = |p: &Path| text::sanitize(&p.display().to_string());
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

/// What `--filter`, `--from` and `--to` ask for, checked before anything is read.
pub struct Narrowing {
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
    pub fn apply(self, a: &mut Analysis) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::builder::TypedValueParser;

    fn parse(word: &str) -> Result<VerdictArg, String> {
        let cmd = clap::Command::new("flowcheck");
        VerdictParser
            .parse_ref(&cmd, None, std::ffi::OsStr::new(word))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn fail_on_takes_every_verdict_by_its_name() {
        for v in Verdict::ALL {
            assert_eq!(parse(v.name()).map(Verdict::from), Ok(v));
        }
        // spaces around a word, as in --fail-on 'asymmetric, bypassed'
        assert_eq!(parse(" bypassed "), Ok(VerdictArg::Bypassed));
        for bad in ["", "Asymmetric", "asym"] {
            assert_eq!(
                parse(bad),
                Err(format!(
                    "error: --fail-on: unknown verdict '{bad}' (one of: asymmetric, bypassed, \
                     unanswered, incomplete, symmetric)\n"
                ))
            );
        }
    }
}
