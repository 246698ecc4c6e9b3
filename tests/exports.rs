//! The exports other tools read: Community IDs in the JSON, `--zeek` conn.logs, `--csv`,
//! `--parquet` (checked with DuckDB when its Python module is installed), the shell
//! completions and man page; and captures compressed with the `zstd` and `lz4` commands.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{analyse, captures, flowcheck, flowcheck_in, shared, TempDir};
use serde_json::Value;

/// The flow of a `--json` document that `pick` chooses (panics when there is none).
fn flow(doc: &Value, pick: impl Fn(&Value) -> bool) -> &Value {
    doc["flows"]
        .as_array()
        .and_then(|flows| flows.iter().find(|f| pick(f)))
        .expect("the flow is in the document")
}

/// Community IDs of real conversations and flows, computed with the reference implementation
/// (the `communityid` Python package, seed 0) from their tuples.
#[test]
fn community_ids_equal_the_reference_implementation() {
    let (_, doc) = analyse(&[captures().join("stage3")]);
    let by_id: BTreeMap<u64, &Value> = doc["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_u64().unwrap(), c))
        .collect();
    let known = [
        (21, "1:kNpu6nktKST+zfHHfbHAVIFqXfM="), // icmp 10.100.201.4 -> 10.100.202.4 echo
        (26, "1:5lzpnKhf1LvZK0YhFz2HPnWEpoU="), // icmp 10.100.204.2 -> 10.100.201.4 echo
        (27, "1:AjhSkyIUEGjYU59ZKncJrrHXBqM="), // icmp 10.100.204.2 -> 10.100.202.4 echo
        (28, "1:5gTdEnIu0qP06K7b0TCM49Jsk8U="), // tcp 10.100.204.2:36016 -> .201.4:8080
        (29, "1:3mAGPtS6TwiXxMA/pO5TpCU9vhs="), // tcp 10.100.201.4:35100 -> .202.4:8080
        (30, "1:ykhIsta85qY3o9KC3gJAT8r7Sfg="), // udp 10.100.204.2:40001 -> .201.4:5353
        (31, "1:FGygbqVbFdkGguOBEUflEzDn+6M="), // udp 10.100.201.4:40002 -> .202.4:5353
    ];
    for (id, want) in known {
        assert_eq!(by_id[&id]["community_id"], want, "conversation {id}");
    }
    // A flow keeps its own tuple at each point: after hub-nva's source NAT, conversation
    // 29 is 10.100.200.68:35100 -> 10.100.202.4:8080.
    let natted = flow(&doc, |f| {
        f["point"] == "spoke2-vm" && f["a"] == "10.100.200.68:35100"
    });
    assert_eq!(natted["community_id"], "1:eNF1s5b32PEjR5giFVQU8ghP1M8=");

    // An echo flow whose only packet is a reply hashes from the requester, as every other
    // tool does (test_fragroute.pcap: 10.34.0.1 replies to 10.31.0.1).
    let file = shared().join("corpus/files/test_fragroute.pcap");
    let (_, doc) = analyse(&[file]);
    let reply = flow(&doc, |f| f["a"] == "10.31.0.1" && f["b"] == "10.34.0.1");
    assert_eq!(reply["packets_ab"], 0);
    assert_eq!(reply["community_id"], "1:Nz9KgDbYGg3tccHSpWRE9BefLEg=");
}

/// Analyses lab stage 3 with `flag OUT` (OUT in a fresh temporary folder): the folder (kept
/// while the caller holds it), OUT, and the JSON document of the same run.
fn stage3_with(flag: &str, out_name: &str) -> (TempDir, std::path::PathBuf, Value) {
    let out = TempDir::new(out_name);
    let target = out.path().join(out_name);
    let (run, doc) = analyse(&[
        captures().join("stage3").into_os_string(),
        flag.into(),
        target.clone().into_os_string(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    (out, target, doc)
}

/// Splits a Zeek TSV log into its header lines (`#name` -> value) and rows.
fn parse_zeek(text: &str) -> (Vec<(String, String)>, Vec<Vec<String>>) {
    let mut header = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('#') {
            let (k, v) = if rest.starts_with("separator ") {
                rest.split_once(' ').unwrap()
            } else {
                rest.split_once('\t').unwrap_or((rest, ""))
            };
            header.push((k.to_string(), v.to_string()));
        } else {
            rows.push(line.split('\t').map(String::from).collect());
        }
    }
    (header, rows)
}

/// True when `v` is a valid value of Zeek type `ty` (or unset).
fn zeek_value_ok(ty: &str, v: &str) -> bool {
    if v == "-" {
        return true;
    }
    let decimal6 = |v: &str| {
        v.split_once('.').is_some_and(|(s, f)| {
            s.parse::<i64>().is_ok() && f.len() == 6 && f.parse::<u32>().is_ok()
        })
    };
    match ty {
        "time" | "interval" => decimal6(v),
        "string" => !v.is_empty() && !v.contains('\t'),
        "addr" => v.parse::<std::net::IpAddr>().is_ok(),
        "port" => v.parse::<u16>().is_ok(),
        "count" => v.parse::<u64>().is_ok(),
        "bool" => v == "T" || v == "F",
        "enum" => ["tcp", "udp", "icmp", "unknown_transport"].contains(&v),
        "set[string]" => v == "(empty)" || !v.is_empty(),
        _ => false,
    }
}

#[test]
fn zeek_logs_parse_as_zeek_tsv_and_tcp_states_are_zeeks() {
    let (_out, dir, doc) = stage3_with("--zeek", "zeek");
    let mut rows_seen = 0;
    let mut tcp = BTreeMap::new();
    for point in ["hub-nva", "spoke1-vm", "spoke2-vm", "vpn-client"] {
        let text = std::fs::read_to_string(dir.join(format!("{point}.conn.log"))).unwrap();
        let (header, rows) = parse_zeek(&text);
        let keys: Vec<&str> = header.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "separator",
                "set_separator",
                "empty_field",
                "unset_field",
                "path",
                "open",
                "fields",
                "types",
                "close"
            ]
        );
        assert_eq!(header[0].1, "\\x09");
        assert_eq!(header[4].1, "conn");
        let fields: Vec<&str> = header[6].1.split('\t').collect();
        let types: Vec<&str> = header[7].1.split('\t').collect();
        assert_eq!(fields.len(), 24);
        assert_eq!(types.len(), fields.len());
        assert_eq!(&fields[..3], ["ts", "uid", "id.orig_h"]);
        assert_eq!(&fields[21..], ["community_id", "_verdict", "_conversation"]);
        assert!(text.ends_with('\n') && header[8].1.len() == 19);
        let flows_here = doc["flows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["point"] == point)
            .count();
        assert_eq!(rows.len(), flows_here, "{point}: one row per flow");
        for row in &rows {
            assert_eq!(row.len(), fields.len(), "{point}: {row:?}");
            for ((name, ty), v) in fields.iter().zip(&types).zip(row) {
                assert!(zeek_value_ok(ty, v), "{point}: {name} ({ty}) = {v:?}");
            }
            let col = |n: &str| row[fields.iter().position(|f| *f == n).unwrap()].as_str();
            if col("proto") == "tcp" {
                let key = format!("{point} {}:{}", col("id.orig_h"), col("id.orig_p"));
                tcp.insert(
                    key,
                    (col("conn_state").to_string(), col("history").to_string()),
                );
            }
            // the verdict is the one of the conversation the JSON gives the same id
            let conv = &doc["conversations"][col("_conversation").parse::<usize>().unwrap() - 1];
            assert_eq!(conv["verdict"], col("_verdict"));
        }
        rows_seen += rows.len();
    }
    assert_eq!(rows_seen, doc["flows"].as_array().unwrap().len());
    // What Zeek writes for the lab's TCP conversations, worked out from their packets (see
    // the README): SYN, SYN-ACK, ACK, request, ACK, response, server FIN, client FIN.
    let normal = ("SF".to_string(), "ShADadfF".to_string());
    assert_eq!(tcp["spoke1-vm 10.100.201.4:35100"], normal);
    assert_eq!(tcp["spoke2-vm 10.100.200.68:35100"], normal);
    assert_eq!(tcp["hub-nva 10.100.201.4:35100"], normal);
    assert_eq!(tcp["vpn-client 10.100.204.2:36016"], normal);
    // hub-nva saw only the server's side of the asymmetric one: a SYN-ACK, then data and a
    // FIN; Zeek flips it (source port 8080 is a likely server port) and says SHR.
    assert_eq!(
        tcp["hub-nva 10.100.204.2:36016"],
        ("SHR".into(), "^hadf".into())
    );
}

/// The strings of a JSON array joined by a space (as the CSV and DuckDB print a path).
fn joined(list: &Value) -> String {
    let items: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    items.join(" ")
}

/// A minimal RFC 4180 reader: rows of fields (quoted fields may hold commas, quotes, CRLF).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

#[test]
fn csv_has_one_rfc_4180_row_per_conversation() {
    let (_out, file, doc) = stage3_with("--csv", "c.csv");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.split_terminator('\n').all(|l| l.ends_with('\r')),
        "CRLF line ends"
    );
    let rows = parse_csv(&text);
    let convs = doc["conversations"].as_array().unwrap();
    assert_eq!(rows.len(), convs.len() + 1);
    let head = &rows[0];
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    for (row, c) in rows[1..].iter().zip(convs) {
        assert_eq!(row.len(), head.len());
        assert_eq!(row[col("id")], c["id"].to_string());
        assert_eq!(row[col("verdict")], c["verdict"].as_str().unwrap());
        assert_eq!(
            row[col("community_id")],
            c["community_id"].as_str().unwrap()
        );
        assert_eq!(row[col("reason")], c["reason"].as_str().unwrap());
        assert_eq!(row[col("first_ts")], c["first_ts"].as_str().unwrap());
        assert_eq!(row[col("forward_path")], joined(&c["forward_path"]));
    }
    // the reasons hold commas: those fields are quoted
    assert!(text.contains(",\"1 request, one-way by nature"));
}

/// Runs a DuckDB query through its Python module; `None` when it is not installed.
fn duckdb(sql: &str) -> Option<String> {
    let script =
        format!("import duckdb\nfor row in duckdb.sql({sql:?}).fetchall(): print(*row, sep='|')");
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'duckdb'") {
        return None;
    }
    assert!(out.status.success(), "duckdb failed on {sql}: {stderr}");
    Some(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

#[test]
fn parquet_files_read_in_duckdb_as_the_json_says() {
    if duckdb("select 1").is_none() {
        eprintln!("skipped: DuckDB's Python module is not installed (pip install duckdb; .ci/run installs it)");
        return;
    }
    let (_out, dir, doc) = stage3_with("--parquet", "pq");
    let file = |t: &str| dir.join(format!("{t}.parquet")).display().to_string();
    for (table, key) in [
        ("points", "points"),
        ("flows", "flows"),
        ("conversations", "conversations"),
    ] {
        let n = duckdb(&format!("select count(*) from '{}'", file(table))).unwrap();
        assert_eq!(n, doc[key].as_array().unwrap().len().to_string(), "{table}");
    }
    // the issue's own query: verdicts
    let got = duckdb(&format!(
        "select verdict, count(*) from '{}' group by 1 order by 1",
        file("conversations")
    ))
    .unwrap();
    let want: Vec<String> = doc["summary"]["verdicts"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, n)| n.as_u64() != Some(0))
        .map(|(v, n)| format!("{v}|{n}"))
        .collect();
    assert_eq!(got.lines().collect::<Vec<_>>(), want);
    // a sample of values: conversation 29, its time to the nanosecond (and as a timestamp, to
    // the microsecond), lists and structs
    let c = &doc["conversations"][28];
    let got = duckdb(&format!(
        "select id, community_id, first_ts_ns, epoch_us(first_ts), \
         array_to_string(forward_path, ' '), points[1].point, forward_hops[2].ttl_out, \
         nat[1].\"to\" from '{}' where id = 29",
        file("conversations")
    ))
    .unwrap();
    let ns = c["first_ts"].as_str().unwrap().replace('.', "");
    let ns = ns.trim_start_matches('0');
    let want = format!(
        "29|{}|{}|{}|{}|{}|{}|{}",
        c["community_id"].as_str().unwrap(),
        ns,
        &ns[..ns.len() - 3],
        joined(&c["forward_path"]),
        c["points"][0]["point"].as_str().unwrap(),
        c["forward_hops"][1]["ttl_out"],
        c["nat"][0]["to"].as_str().unwrap(),
    );
    assert_eq!(got, want);
    // every flow's community ID and packet counts, as a set
    let got = duckdb(&format!(
        "select point, a, b, packets_ab, packets_ba, community_id from '{}' order by all",
        file("flows")
    ))
    .unwrap();
    let mut want: Vec<String> = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}|{}|{}|{}|{}|{}",
                f["point"].as_str().unwrap(),
                f["a"].as_str().unwrap(),
                f["b"].as_str().unwrap(),
                f["packets_ab"],
                f["packets_ba"],
                f["community_id"].as_str().unwrap()
            )
        })
        .collect();
    want.sort();
    let mut got: Vec<&str> = got.lines().collect();
    got.sort();
    assert_eq!(got, want);
}

/// A capture with no packet: the three exports are still files their readers take, with
/// every column and no row (a Parquet table used to get its columns from its first row, and
/// DuckDB refuses a file without columns).
#[test]
fn an_empty_capture_gives_exports_with_every_column_and_no_row() {
    let out = TempDir::new("empty-exports");
    let (pq, zeek, csv) = (
        out.path().join("pq"),
        out.path().join("z"),
        out.path().join("c.csv"),
    );
    let empty = shared().join("corpus/files/empty.pcap");
    let run = flowcheck(&[
        empty.into_os_string(),
        "--parquet".into(),
        pq.clone().into_os_string(),
        "--zeek".into(),
        zeek.clone().into_os_string(),
        "--csv".into(),
        csv.clone().into_os_string(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(parse_csv(&text).len(), 1, "only the header row: {text}");
    let log = std::fs::read_to_string(zeek.join("empty.conn.log")).unwrap();
    let (header, rows) = parse_zeek(&log);
    assert!(rows.is_empty(), "{rows:?}");
    assert!(header.iter().any(|(k, _)| k == "close"), "{header:?}");
    if duckdb("select 1").is_none() {
        eprintln!("skipped the Parquet part: DuckDB's Python module is not installed");
        return;
    }
    let file = |t: &str| pq.join(format!("{t}.parquet")).display().to_string();
    // (table, rows, a column it must have)
    for (table, rows, column) in [
        ("points", "1", "matched_packets"),
        ("flows", "0", "community_id"),
        ("conversations", "0", "verdict"),
    ] {
        let n = duckdb(&format!("select count(*) from '{}'", file(table))).unwrap();
        assert_eq!(n, rows, "{table}");
        let names = duckdb(&format!(
            "select column_name from (describe select * from '{}')",
            file(table)
        ))
        .unwrap();
        assert!(names.lines().any(|c| c == column), "{table}: {names}");
    }
    let columns = duckdb(&format!(
        "select count(*) from (describe select * from '{}')",
        file("conversations")
    ))
    .unwrap();
    assert_eq!(columns, "35", "conversations.parquet's top-level columns");
}

/// Compresses `src` into `dst` with the `zstd` or `lz4` command and extra `args`.
fn compress(tool: &str, args: &[&str], src: &std::path::Path, dst: &std::path::Path) {
    let mut cmd = std::process::Command::new(tool);
    cmd.args(["-q", "-f"]).args(args).arg(src);
    if tool == "zstd" {
        cmd.arg("-o");
    }
    let ok = cmd.arg(dst).status().unwrap();
    assert!(ok.success(), "{tool} compresses {}", src.display());
}

fn have(cmd: &str) -> bool {
    std::process::Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `zstd` / `lz4` copies of stage 3 give the same verdicts; a cut copy reports damage with
/// a byte offset and keeps what came before.
#[test]
fn zstd_and_lz4_captures_give_the_same_verdicts() {
    let verdicts = |doc: &Value| -> Vec<(String, String)> {
        doc["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["reason"].as_str().unwrap().to_string(),
                    c["verdict"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let (_, plain) = analyse(&[captures().join("stage3")]);
    for (tool, ext) in [("zstd", "zst"), ("lz4", "lz4")] {
        if !have(tool) {
            eprintln!(
                "skipped {tool}: the {tool} command is not installed (apt-get install {tool})"
            );
            continue;
        }
        let out = TempDir::new(tool);
        for entry in std::fs::read_dir(captures().join("stage3")).unwrap() {
            let src = entry.unwrap().path();
            if src.extension().is_some_and(|e| e == "pcap") {
                let dst = out.path().join(format!(
                    "{}.{ext}",
                    src.file_stem().unwrap().to_str().unwrap()
                ));
                // lz4: linked blocks, which refer to the blocks before them
                let args: &[&str] = if tool == "lz4" { &["-BD"] } else { &[] };
                compress(tool, args, &src, &dst);
            }
        }
        let (run, doc) = analyse(&[out.path()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(verdicts(&doc), verdicts(&plain), "{tool}");
        assert_eq!(doc["points"][0]["format"], format!("pcap+{tool}"));

        // A copy cut in the middle, of a capture large enough for many blocks (zstd's are at
        // most 128 KiB; lz4 is asked for 64 KiB ones).
        let big = shared().join("corpus/files/suricata_decode-sll2-02.pcap");
        let (_, whole_doc) = analyse(&[&big]);
        let total = whole_doc["points"][0]["packets"].as_u64().unwrap();
        let packed = out.path().join(format!("big.{ext}"));
        compress(
            tool,
            if tool == "lz4" { &["-B4"] } else { &[] },
            &big,
            &packed,
        );
        let whole = std::fs::read(&packed).unwrap();
        let cut = out.file(&format!("cut.{ext}"), &whole[..whole.len() / 2]);
        let run = flowcheck(&[
            cut.as_os_str(),
            "--json".as_ref(),
            "-".as_ref(),
            "-q".as_ref(),
        ]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("damaged at byte ")
                && run
                    .stderr
                    .contains(&format!("{tool}: compressed data cut short"))
                && run.stderr.contains("packets before it were analysed"),
            "{}",
            run.stderr
        );
        let doc = run.json();
        let packets = doc["points"][0]["packets"].as_u64().unwrap();
        assert!(
            packets > total / 4 && packets < total,
            "{packets} of {total} packets read"
        );
        assert!(doc["points"][0]["damage"]["offset"].as_u64().unwrap() > 24);
    }
}

#[test]
fn bzip2_and_xz_captures_are_refused_by_name() {
    let plain = std::fs::read(captures().join("hub-nva.pcap")).unwrap();
    let out = TempDir::new("bz2");
    for (tool, ext, name) in [("bzip2", "bz2", "bzip2"), ("xz", "xz", "xz")] {
        if !have(tool) {
            eprintln!("skipped {tool}: the {tool} command is not installed");
            continue;
        }
        let src = out.file("hub-nva.pcap", &plain);
        let ok = std::process::Command::new(tool)
            .args(["-k", "-f"])
            .arg(&src)
            .status()
            .unwrap();
        assert!(ok.success());
        let packed = out.path().join(format!("hub-nva.pcap.{ext}"));
        let run = flowcheck(&[packed.as_os_str()]);
        assert_eq!(run.code, 2);
        assert!(
            run.stderr
                .contains(&format!("{name}-compressed file: decompress it first")),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("first bytes"), "{}", run.stderr);
    }
}

#[test]
fn completions_and_man_page_come_from_the_flags() {
    let cases = [
        ("bash", "--zeek"),
        ("zsh", "#compdef flowcheck"),
        ("fish", "complete -c flowcheck"),
    ];
    for (shell, want) in cases {
        let run = flowcheck_in(Path::new("."), &["--completions", shell]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stdout.contains(want),
            "{shell}: {}",
            &run.stdout[..run.stdout.len().min(300)]
        );
        assert!(run.stdout.contains("parquet"), "{shell}");
    }
    let run = flowcheck_in(Path::new("."), &["--man"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.starts_with(".ie") || run.stdout.contains(".TH flowcheck"),
        "{}",
        &run.stdout[..200]
    );
    assert!(run.stdout.contains("\\-\\-csv"));
    // no capture needed for them, and they go alone
    let run = flowcheck(&["--man", "captures/hub-nva.pcap"]);
    assert_eq!(run.code, 2);
}

/// A `--filter` narrows the CSV as it narrows the JSON, and the ids stay those of the whole
/// analysis in both (the TCP conversation of the VPN client is 28 with or without a filter).
#[test]
fn a_filtered_csv_keeps_the_ids_of_the_whole_analysis() {
    let out = TempDir::new("export-filtered");
    let file = out.path().join("f.csv");
    let run = flowcheck(&[
        captures().join("stage3").as_os_str(),
        "--filter".as_ref(),
        "verdict asymmetric and tcp".as_ref(),
        "--csv".as_ref(),
        file.as_os_str(),
        "--zeek".as_ref(),
        out.path().join("zeek").as_os_str(),
        "--json".as_ref(),
        "-".as_ref(),
        "-q".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    let convs = doc["conversations"].as_array().expect("conversations");
    assert_eq!(convs.len(), 1, "{doc}");
    let rows = parse_csv(&std::fs::read_to_string(&file).expect("the CSV is written"));
    assert_eq!(rows.len(), 2, "a header and one row");
    let id = rows[0]
        .iter()
        .position(|h| h == "id")
        .expect("an id column");
    assert_eq!(rows[1][id], convs[0]["id"].to_string());
    assert_eq!(convs[0]["id"], 28);
    // the Zeek logs keep every flow; only the kept conversation's flows name it
    let log = std::fs::read_to_string(out.path().join("zeek/hub-nva.conn.log"))
        .expect("hub-nva's conn.log is written");
    let (head, zrows) = parse_zeek(&log);
    let fields: Vec<&str> = head
        .iter()
        .find(|(k, _)| k == "fields")
        .map(|(_, v)| v.split('\t').collect())
        .expect("a #fields line");
    let conv = fields
        .iter()
        .position(|f| *f == "_conversation")
        .expect("_conversation");
    let verdict = fields
        .iter()
        .position(|f| *f == "_verdict")
        .expect("_verdict");
    let named: Vec<(&str, &str)> = zrows
        .iter()
        .filter(|r| r[conv] != "-")
        .map(|r| (r[conv].as_str(), r[verdict].as_str()))
        .collect();
    assert!(!named.is_empty() && zrows.len() > named.len(), "{named:?}");
    assert!(
        named.iter().all(|&n| n == ("28", "asymmetric")),
        "{named:?}"
    );
}

#[test]
fn exports_written_over_older_larger_files_hold_only_the_new_content() {
    let run_into = |dir: &Path| {
        let run = flowcheck(&[
            captures().join("stage3").as_os_str(),
            "--csv".as_ref(),
            dir.join("c.csv").as_os_str(),
            "--zeek".as_ref(),
            dir.join("zeek").as_os_str(),
            "--parquet".as_ref(),
            dir.join("parquet").as_os_str(),
            "--no-report".as_ref(),
            "-q".as_ref(),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    };
    let fresh = TempDir::new("export-fresh");
    run_into(fresh.path());
    // the same run over files of an earlier run that are larger than the new ones
    let old = TempDir::new("export-over");
    let files = [
        "c.csv",
        "zeek/hub-nva.conn.log",
        "parquet/conversations.parquet",
        "parquet/flows.parquet",
    ];
    std::fs::create_dir_all(old.path().join("zeek")).expect("a folder");
    std::fs::create_dir_all(old.path().join("parquet")).expect("a folder");
    for f in files {
        std::fs::write(old.path().join(f), vec![b'x'; 3 << 20]).expect("an old file");
    }
    run_into(old.path());
    // Zeek's #open and #close lines hold the time of writing
    let timeless = |bytes: Vec<u8>| -> Vec<u8> {
        let text = String::from_utf8(bytes).expect("text");
        text.lines()
            .filter(|l| !l.starts_with("#open") && !l.starts_with("#close"))
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes()
    };
    for f in files {
        let new = std::fs::read(fresh.path().join(f)).expect("written");
        let over = std::fs::read(old.path().join(f)).expect("written over");
        let (new, over) = match f.ends_with(".log") {
            true => (timeless(new), timeless(over)),
            false => (new, over),
        };
        assert!(
            new == over,
            "{f}: {} bytes fresh, {} written over",
            new.len(),
            over.len()
        );
    }
}
