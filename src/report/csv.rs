//! `--csv FILE`: the conversations, one row each, for spreadsheets and `pandas.read_csv`.
//!
//! RFC 4180: a header row, comma-separated fields, CRLF line ends, and a field that holds a
//! comma, a double quote, CR or LF is enclosed in double quotes with its quotes doubled.
//! The columns are the conversation's scalar fields of the JSON (`conversations[]`), in the
//! same units (times as the JSON's seconds with nine decimals); lists of point names are
//! joined with a space (point names are file stems: a name with a space still reads back,
//! quoted, but is ambiguous in the list); an absent value is an empty field.

use std::io::{self, Write};

use super::json::{conversation_row, ConversationRow};
use super::Analysis;

/// The header row, in column order.
pub const COLUMNS: [&str; 27] = [
    "id",
    "proto",
    "client",
    "client_port",
    "server",
    "server_port",
    "icmp_id",
    "icmp_type",
    "icmp_code",
    "ip_proto",
    "verdict",
    "path_verdict",
    "bypassed",
    "client_rule",
    "first_ts",
    "last_ts",
    "packets",
    "forward_path",
    "reverse_path",
    "points",
    "lost_after",
    "lost_between",
    "lost_direction",
    "sampled_packets",
    "matched_packets",
    "community_id",
    "reason",
];

/// Writes the CSV document.
pub fn write(a: &Analysis, out: impl Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    let mut line = String::new();
    for (i, c) in COLUMNS.iter().enumerate() {
        push_field(&mut line, i, c);
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes())?;
    let names = a.point_names();
    for (i, (c, j)) in a.conversations.iter().enumerate() {
        let row = conversation_row(i + 1, c, j, a.reason(c, &names), &names);
        line.clear();
        for (k, field) in fields(&row).iter().enumerate() {
            push_field(&mut line, k, field);
        }
        line.push_str("\r\n");
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The row's fields, in [`COLUMNS`] order.
fn fields(r: &ConversationRow) -> [String; 27] {
    [
        r.id.to_string(),
        r.proto.to_string(),
        r.client.clone(),
        opt(r.client_port),
        r.server.clone(),
        opt(r.server_port),
        opt(r.icmp_id),
        opt(r.icmp_type),
        opt(r.icmp_code),
        opt(r.ip_proto),
        r.verdict.to_string(),
        r.path_verdict.to_string(),
        r.bypassed.join(" "),
        r.client_rule.to_string(),
        r.first_ts.clone(),
        r.last_ts.clone(),
        r.packets.to_string(),
        r.forward_path.join(" "),
        r.reverse_path.join(" "),
        r.points
            .iter()
            .map(|p| p.point.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        r.lost_after.clone().unwrap_or_default(),
        r.lost_between.as_ref().map(|b| b.join(" ")).unwrap_or_default(),
        opt(r.lost_direction),
        r.sampled_packets.to_string(),
        r.matched_packets.to_string(),
        r.community_id.clone().unwrap_or_default(),
        r.reason.clone(),
    ]
}

/// Appends field `index` of a row (a comma before all but the first), quoted when RFC 4180
/// asks it.
fn push_field(line: &mut String, index: usize, field: &str) {
    if index > 0 {
        line.push(',');
    }
    if field.contains([',', '"', '\r', '\n']) {
        line.push('"');
        line.push_str(&field.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_as_rfc_4180_says() {
        let mut line = String::new();
        for (i, f) in ["plain", "a,b", "say \"hi\"", "two\nlines", ""].iter().enumerate() {
            push_field(&mut line, i, f);
        }
        assert_eq!(line, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",");
    }
}
