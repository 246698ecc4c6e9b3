//! Hostile captures: each case is built here (a few bytes of headers with lying lengths, never
//! a 4 GB file), run through the real binary under a time limit, and must end in a clear
//! error that names the file and the byte, or in a documented, bounded behaviour; the packets
//! before the problem are still reported. Then the regression inputs of the fuzzers
//! (tests/regressions/), each named for the bug it found.

mod common;

use common::TempDir;
use flowcheck::testkit::{self, udp_bytes, Ng, Pcap, MAGIC_NS};

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Files and runs

/// Everything a hostile case may take: well under a second each on any machine.
const LIMIT: Duration = Duration::from_secs(20);

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
    took: Duration,
    /// Processor time the run used (user and system), whatever else the machine was doing:
    /// what the complexity bounds below are checked on.
    cpu: Duration,
}

/// Reaps the child `pid` if it has ended, without blocking: its exit code (-1 for a signal)
/// and the processor time it used.
fn reap(pid: u32) -> Option<(i32, Duration)> {
    let pid = libc::pid_t::try_from(pid).expect("a pid");
    let mut status: libc::c_int = 0;
    // SAFETY: wait4 writes only into the two out-parameters, both valid for its whole call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
    assert!(r >= 0, "wait4: {}", std::io::Error::last_os_error());
    if r == 0 {
        return None;
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Some((code, time(usage.ru_utime) + time(usage.ru_stime)))
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}); stderr: {}; stdout: {}",
                self.stderr,
                String::from_utf8_lossy(&self.stdout[..self.stdout.len().min(2000)])
            )
        })
    }
}

/// Runs `flowcheck ARGS...` in a temporary folder (so that nothing it writes by default lands
/// in the project), feeding `stdin`, and kills it when it takes longer than [`LIMIT`]. The
/// child is reaped by [`reap`] (wait4, for its processor time), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: Option<Vec<u8>>) -> Run {
    let cwd = TempDir::new("cwd");
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowcheck"))
        .args(args)
        .current_dir(cwd.path())
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the flowcheck binary runs");
    let feeder = child.stdin.take().zip(stdin).map(|(mut pipe, bytes)| {
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let out_pipe = child.stdout.take();
    let err_pipe = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(mut p) = out_pipe {
            let _ = std::io::Read::read_to_end(&mut p, &mut v);
        }
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(mut p) = err_pipe {
            let _ = std::io::Read::read_to_end(&mut p, &mut v);
        }
        v
    });
    let (code, cpu) = loop {
        if let Some(ended) = reap(child.id()) {
            break ended;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("flowcheck {:?} did not finish within {LIMIT:?}", os(args));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "flowcheck panicked on {:?}: {stderr}",
        os(args)
    );
    Run {
        code,
        stdout,
        stderr,
        took: start.elapsed(),
        cpu,
    }
}

fn os<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Vec<OsString> {
    args.iter().map(|a| a.as_ref().to_owned()).collect()
}

/// `flowcheck PATH --json - --quiet`: the run and the JSON document.
fn analyse(path: &Path) -> (Run, Value) {
    analyse_args(&[path.as_os_str()])
}

fn analyse_args<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (Run, Value) {
    let mut a = os(args);
    a.extend(["--json".into(), "-".into(), "--quiet".into()]);
    let r = run(&a, None);
    let doc = r.json();
    (r, doc)
}

/// Checks a damaged capture's outcome: exit 2, damage at `offset` whose reason contains
/// `reason`, the file and the byte named on stderr, and `before` packets still read.
fn assert_damaged(path: &Path, offset: u64, reason: &str, before: u64) -> (Run, Value) {
    let (r, doc) = analyse(path);
    let p = &doc["points"][0];
    assert_eq!(r.code, 2, "damaged input exits 2; stderr: {}", r.stderr);
    assert_eq!(
        p["damage"]["offset"], offset,
        "damage offset: {}",
        p["damage"]
    );
    let why = p["damage"]["reason"].as_str().unwrap_or_default();
    assert!(why.contains(reason), "reason {why:?} lacks {reason:?}");
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    assert!(
        r.stderr.contains(name) && r.stderr.contains(&format!("byte {offset}")),
        "stderr must name the file and the byte: {}",
        r.stderr
    );
    assert_eq!(p["packets"], before, "packets read before the damage");
    assert!(r.took < LIMIT);
    (r, doc)
}

// ---------------------------------------------------------------------------------------------
// Packets and capture files

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, payload: &[u8]) -> Vec<u8> {
    let total = u16::try_from(20 + payload.len()).unwrap_or(u16::MAX);
    let mut v = vec![0x45, 0];
    v.extend_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&[0, 0, 64, proto, 0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(payload);
    v
}

/// Ethernet II with the given ether type.
fn ethernet(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    testkit::ethernet([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], ether_type, payload)
}

/// A UDP datagram from 10.0.0.1:`sport` to 10.0.0.2:53 in Ethernet.
fn datagram(sport: u16) -> Vec<u8> {
    ethernet(
        0x0800,
        &ipv4(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            17,
            sport,
            &udp_bytes(sport, 53, b"query"),
        ),
    )
}

/// pcapng, little endian: a section header (version 1), then the blocks the test adds.
fn section() -> Ng {
    Ng::new().shb(false, 1, &[])
}

// ---------------------------------------------------------------------------------------------
// Lying lengths

#[test]
fn a_record_claiming_4_gb_is_an_error_after_the_packets_before_it() {
    let dir = TempDir::new("4gb");
    let good = Pcap::le_us(1)
        .packet(1, 0, &datagram(1000))
        .packet(2, 0, &datagram(1001));
    let at = good.len();
    let bytes = good.raw(3, 0, u32::MAX, u32::MAX, &[0; 64]).bytes();
    let path = dir.file("claims-4gb.pcap", &bytes);
    let (_, doc) = assert_damaged(&path, at, "larger than", 2);
    assert_eq!(doc["points"][0]["decoded"], 2);
    assert_eq!(doc["flows"].as_array().map(Vec::len), Some(2));

    // The same lie in pcapng: a block of 4 GB, and a packet of 4 GB inside a small block.
    let ng = section()
        .idb(1, 0, &[])
        .packet(0, 1_000_000, &datagram(1000));
    let at = ng.len();
    let mut huge_block = ng.as_bytes().to_vec();
    huge_block.extend_from_slice(&6u32.to_le_bytes());
    huge_block.extend_from_slice(&0xffff_fffcu32.to_le_bytes());
    huge_block.extend_from_slice(&[0; 64]);
    let path = dir.file("block-claims-4gb.pcapng", &huge_block);
    assert_damaged(&path, at, "larger than", 1);

    let mut body = Vec::new();
    for w in [0u32, 0, 2_000_000, u32::MAX, u32::MAX] {
        body.extend_from_slice(&w.to_le_bytes());
    }
    body.extend_from_slice(&[0; 16]);
    let bytes = ng.block(6, &body).bytes();
    let path = dir.file("packet-claims-4gb.pcapng", &bytes);
    assert_damaged(&path, at, "runs past the block", 1);

    // And behind gzip: the offset counts decompressed bytes.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).expect("gzip in memory");
    let path = dir.file("packet-claims-4gb.pcapng.gz", &gz.finish().expect("gzip"));
    assert_damaged(&path, at, "runs past the block", 1);
}

#[test]
fn a_million_interface_descriptions_stop_at_the_65536_limit() {
    let dir = TempDir::new("idb");
    let head = section()
        .idb(1, 0, &[])
        .packet(0, 1_000_000, &datagram(1000));
    let first_idb_at = head.len();
    let idb = Ng::new().idb(1, 0, &[]).bytes();
    let mut bytes = head.bytes();
    bytes.reserve(idb.len() * 1_000_000);
    for _ in 0..1_000_000 {
        bytes.extend_from_slice(&idb);
    }
    let path = dir.file("million-idbs.pcapng", &bytes);
    // One interface came before the packet: the 65,536th of the million is one too many.
    let at = first_idb_at + 65_535 * idb.len() as u64;
    let (r, _) = assert_damaged(&path, at, "too many interfaces", 1);
    assert!(
        r.cpu < Duration::from_secs(10),
        "took {:?} of processor time",
        r.cpu
    );
}

#[test]
fn block_lengths_that_loop_back_or_stand_still_are_errors() {
    let dir = TempDir::new("loop");
    let ng = section()
        .idb(1, 0, &[])
        .packet(0, 1_000_000, &datagram(1000));
    let at = ng.len();
    // A length of 0 (or anything below the 12-byte minimum) would re-read the same block
    // forever; a "negative" length would step back into the file.
    for (len, reason) in [
        (0u32, "below 12"),
        (8, "below 12"),
        (0xffff_fff4, "larger than"), // -12 as i32
        (13, "multiple of 4"),
    ] {
        let mut bytes = ng.as_bytes().to_vec();
        bytes.extend_from_slice(&6u32.to_le_bytes());
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&ng.as_bytes()[..64]); // something that looks like blocks behind it
        let path = dir.file(&format!("block-length-{len}.pcapng"), &bytes);
        assert_damaged(&path, at, reason, 1);
    }
    // The trailing copy of the length disagrees.
    let mut bytes = section().idb(1, 0, &[]).packet(0, 1, &datagram(1)).bytes();
    let end = bytes.len();
    bytes[end - 4..].copy_from_slice(&16u32.to_le_bytes());
    let path = dir.file("trailing-length.pcapng", &bytes);
    let at = section().idb(1, 0, &[]).len();
    assert_damaged(&path, at, "trailing total length", 0);
}

#[test]
fn a_capture_cut_at_any_byte_keeps_every_whole_record_before_the_cut() {
    use flowcheck::capture::CaptureReader;
    /// (frames read, error offset) for the first `cut` bytes.
    fn read(bytes: &[u8]) -> (Vec<Vec<u8>>, Option<u64>) {
        let mut frames = Vec::new();
        let end = match CaptureReader::from_reader(Box::new(std::io::Cursor::new(bytes.to_vec()))) {
            Err(e) => Some(e.offset),
            Ok(mut r) => loop {
                match r.next_frame() {
                    Ok(Some(f)) => frames.push(f.data.to_vec()),
                    Ok(None) => break None,
                    Err(e) => break Some(e.offset),
                }
            },
        };
        (frames, end)
    }
    let packets: Vec<Vec<u8>> = (0..5).map(|i| datagram(1000 + i)).collect();
    let mut pcap = Pcap::le_us(1);
    let pcap_head = pcap.len();
    let mut pcap_ends = Vec::new();
    for p in &packets {
        pcap = pcap.packet(1, 0, p);
        pcap_ends.push(pcap.len());
    }
    let mut ng = section().idb(1, 0, &[]);
    let ng_head = ng.len();
    let mut ng_ends = Vec::new();
    for p in &packets {
        ng = ng.packet(0, 1, p);
        ng_ends.push(ng.len());
    }
    for (bytes, head, ends) in [
        (pcap.bytes(), pcap_head, pcap_ends),
        (ng.bytes(), ng_head, ng_ends),
    ] {
        for cut in 0..bytes.len() {
            let (frames, end) = read(&bytes[..cut]);
            let whole = ends.iter().filter(|&&e| e <= cut as u64).count();
            assert_eq!(
                frames.len(),
                whole,
                "cut at {cut}: every whole record is read"
            );
            assert_eq!(frames[..], packets[..whole], "cut at {cut}");
            // Cut exactly between records is a clean end; inside a record, damage at its
            // start. (Inside the file header: an error, or a clean end between pcapng's
            // section and interface blocks.)
            let start = if whole == 0 { head } else { ends[whole - 1] };
            if cut as u64 == start {
                assert_eq!(end, None, "cut at {cut}");
            } else if cut as u64 > start {
                assert_eq!(
                    end,
                    Some(start),
                    "cut at {cut}: damage where the record starts"
                );
            }
        }
    }
    // gzip cut anywhere: what is read is a prefix of the packets, never less than with a
    // shorter cut.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut plain = Pcap::le_us(1);
    for p in &packets {
        plain = plain.packet(1, 0, p);
    }
    gz.write_all(plain.as_bytes()).expect("gzip in memory");
    let gz = gz.finish().expect("gzip");
    let mut before = 0;
    for cut in 0..gz.len() {
        let (frames, end) = read(&gz[..cut]);
        assert!(
            frames.len() >= before,
            "cut at {cut}: fewer frames than a shorter cut"
        );
        assert_eq!(frames[..], packets[..frames.len()], "cut at {cut}");
        assert!(
            end.is_some(),
            "cut at {cut} of the gzip stream: no damage reported"
        );
        before = frames.len();
    }
}

// ---------------------------------------------------------------------------------------------
// Time

#[test]
fn nanosecond_time_stamps_out_of_range_are_normalised_and_counted() {
    let dir = TempDir::new("ts");
    // Classic pcap, nanosecond magic: a sub-second field of 10^9 and above is invalid; the
    // frame takes the previous frame's time.
    let bytes = Pcap::new(MAGIC_NS, false, 65535, 1)
        .packet(1_700_000_000, 5, &datagram(1))
        .packet(1_700_000_001, 1_000_000_000, &datagram(2))
        .packet(1_700_000_002, u32::MAX, &datagram(3))
        .bytes();
    let path = dir.file("ns-out-of-range.pcap", &bytes);
    let (r, doc) = analyse(&path);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p = &doc["points"][0];
    assert_eq!(p["packets"], 3);
    assert_eq!(p["timestamp_fixups"], 2);
    assert_eq!(p["first_ts"], "1700000000.000000005");
    assert_eq!(p["last_ts"], "1700000000.000000005");

    // pcapng: a count of 2^64-1 nanoseconds, an if_tsoffset of i64::MAX and of i64::MIN
    // seconds, and 2^-127 s units: clamped to 1823..2116 and counted, never wrapped.
    let ns: &[u8] = &[9];
    let bytes = section()
        .idb(1, 0, &[(9, ns)])
        .idb(1, 0, &[(9, ns), (14, &i64::MAX.to_le_bytes())])
        .idb(1, 0, &[(9, ns), (14, &i64::MIN.to_le_bytes())])
        .idb(1, 0, &[(9, &[0x80 | 127])])
        .packet(0, u64::MAX, &datagram(1))
        .packet(1, 5, &datagram(2))
        .packet(2, 5, &datagram(3))
        .packet(3, u64::MAX, &datagram(4))
        .bytes();
    let path = dir.file("ng-ts-out-of-range.pcapng", &bytes);
    let (r, doc) = analyse(&path);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p = &doc["points"][0];
    assert_eq!(p["packets"], 4);
    assert_eq!(p["timestamp_fixups"], 3);
    assert_eq!(p["first_ts"], "-4611686019.572612097");
    assert_eq!(p["last_ts"], "4611686018.427387903");
    // The terminal summary prints those dates too.
    let r = run(&[path.as_os_str()], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("1823-"), "{text}");
}

#[test]
fn a_clock_that_goes_backwards_is_counted_and_every_packet_kept() {
    let dir = TempDir::new("clock");
    let bytes = Pcap::le_us(1)
        .packet(1_700_000_100, 0, &datagram(1))
        .packet(1_700_000_050, 0, &datagram(1))
        .packet(1_700_000_200, 0, &datagram(1))
        .packet(1_600_000_000, 0, &datagram(1))
        .bytes();
    let path = dir.file("backwards.pcap", &bytes);
    let (r, doc) = analyse(&path);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p = &doc["points"][0];
    assert_eq!(p["packets"], 4);
    assert_eq!(p["decoded"], 4);
    assert_eq!(p["clock_steps_back"], 2);
    assert_eq!(p["first_ts"], "1600000000.000000000");
    assert_eq!(p["last_ts"], "1700000200.000000000");
    let r = run(&[path.as_os_str()], None);
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("clock went backwards 2 times"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Deep packets

#[test]
fn two_thousand_vlan_tags_and_mpls_labels_are_bounded() {
    let dir = TempDir::new("vlan");
    let inner = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, 1, &udp_bytes(1, 53, b"x"));
    let mut tags = Vec::new();
    for _ in 0..2_000 {
        tags.extend_from_slice(&[0, 1, 0x81, 0x00]); // TCI, then the next ether type: 802.1Q
    }
    tags.extend_from_slice(&[0, 1, 0x08, 0x00]);
    tags.extend_from_slice(&inner);
    let vlans = ethernet(0x8100, &tags);
    let mut labels = Vec::new();
    for _ in 0..2_000 {
        labels.extend_from_slice(&[0, 0, 0x10, 64]); // label 1, not bottom of stack
    }
    labels.extend_from_slice(&[0, 0, 0x11, 64]);
    labels.extend_from_slice(&inner);
    let mpls = ethernet(0x8847, &labels);
    let bytes = Pcap::le_us(1)
        .packet(1, 0, &datagram(7))
        .packet(2, 0, &vlans)
        .packet(3, 0, &mpls)
        .bytes();
    let path = dir.file("deep-tags.pcap", &bytes);
    let (r, doc) = analyse(&path);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p = &doc["points"][0];
    assert_eq!(p["packets"], 3);
    assert_eq!(
        p["decoded"], 1,
        "past 8 tags / 16 labels a frame is not decoded"
    );
    assert_eq!(p["not_decoded"]["not_ip"], 2);
}

#[test]
fn tunnels_nested_100_deep_stop_at_8() {
    let dir = TempDir::new("tunnels");
    // IP-in-IP 100 deep; level i has the addresses 10.0.i.1 -> 10.0.i.2.
    let mut ipip = udp_bytes(4000, 53, b"innermost");
    let mut proto = 17;
    for level in (0..=100u8).rev() {
        ipip = ipv4([10, 0, level, 1], [10, 0, level, 2], proto, 1, &ipip);
        proto = 4;
    }
    // GRE 100 deep: each GRE header (no options) carries IPv4.
    let mut gre = udp_bytes(4000, 53, b"innermost");
    let mut proto = 17;
    for level in (0..=100u8).rev() {
        gre = ipv4([10, 1, level, 1], [10, 1, level, 2], proto, 1, &gre);
        let mut with_gre = vec![0, 0, 0x08, 0x00];
        with_gre.extend_from_slice(&gre);
        gre = with_gre;
        proto = 47;
    }
    let gre = gre.get(4..).unwrap_or_default().to_vec(); // the outer-most needs no GRE
    let bytes = Pcap::le_us(101)
        .packet(1, 0, &ipip)
        .packet(2, 0, &gre)
        .bytes();
    let path = dir.file("deep-tunnels.pcap", &bytes);
    let (r, doc) = analyse(&path);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(doc["points"][0]["decoded"], 2);
    let flows = doc["flows"].as_array().cloned().unwrap_or_default();
    let ends: Vec<(String, String)> = flows
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("a"), s("b"))
        })
        .collect();
    // Eight tunnels entered: the packet is the ninth IP header (level 8), kept as IP-in-IP
    // (protocol 4) or GRE (47) to the deeper levels it did not enter.
    assert!(
        ends.iter()
            .any(|(a, b)| a.contains("10.0.8.") && b.contains("10.0.8.")),
        "{ends:?}"
    );
    assert!(
        ends.iter()
            .any(|(a, b)| a.contains("10.1.8.") && b.contains("10.1.8.")),
        "{ends:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Names and files

#[test]
fn two_captures_with_the_same_point_name_are_a_usage_error() {
    let dir = TempDir::new("names");
    let a = dir.file("a.pcap", &Pcap::le_us(1).packet(1, 0, &datagram(1)).bytes());
    let b = dir.file("b.pcap", &Pcap::le_us(1).packet(1, 0, &datagram(2)).bytes());
    let mut arg_a = OsString::from("nva=");
    arg_a.push(&a);
    let mut arg_b = OsString::from("nva=");
    arg_b.push(&b);
    let r = run(&[arg_a, arg_b], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("two captures are named 'nva'"),
        "{}",
        r.stderr
    );
    // Two files whose names give the same point name.
    let sub = dir.path().join("other");
    std::fs::create_dir_all(&sub).expect("a folder");
    let a2 = sub.join("a.pcap.gz");
    std::fs::copy(&a, &a2).expect("a copy");
    let r = run(&[a.as_os_str(), a2.as_os_str()], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("two captures are named 'a'"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_folder_is_read_as_its_captures_and_an_empty_one_is_an_error() {
    let dir = TempDir::new("folder");
    let r = run(&[dir.path().as_os_str()], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("holds no pcap"), "{}", r.stderr);
    dir.file("notes.txt", b"not a capture");
    std::fs::create_dir_all(dir.path().join("sub.pcap")).expect("a folder named like a capture");
    let r = run(&[dir.path().as_os_str()], None);
    assert_eq!(r.code, 2, "a folder with no capture in it: {}", r.stderr);
    dir.file(
        "edge.pcap",
        &Pcap::le_us(1).packet(1, 0, &datagram(1)).bytes(),
    );
    let (r, doc) = analyse(dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(doc["points"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["points"][0]["name"], "edge");
}

#[cfg(unix)]
#[test]
fn a_fifo_is_read_as_a_stream_and_one_without_writer_is_refused_in_bounded_time() {
    let dir = TempDir::new("fifo");
    let capture = Pcap::le_us(1)
        .packet(1, 0, &datagram(1))
        .packet(2, 0, &datagram(2))
        .bytes();
    let fifo = dir.path().join("live.pcap");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: mkfifo is not available");
        return;
    }
    // A writer that opens the FIFO a little after flowcheck starts, as tcpdump -w would.
    let writer = {
        let (fifo, capture) = (fifo.clone(), capture.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(&fifo)
                .expect("open the FIFO for writing");
            f.write_all(&capture).expect("write the capture");
        })
    };
    let (r, doc) = analyse(&fifo);
    writer.join().expect("the writer");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(doc["points"][0]["packets"], 2);
    assert_eq!(doc["points"][0]["name"], "live");

    // No writer: refused after the wait (short here), not a hang.
    let opts = flowcheck::point::ReadOptions {
        fifo_wait: Duration::from_millis(300),
        ..flowcheck::point::ReadOptions::default()
    };
    let input = flowcheck::point::PointInput {
        name: "live".into(),
        path: fifo.clone(),
    };
    let start = Instant::now();
    let result = flowcheck::point::analyse_point(&input, &opts);
    assert!(start.elapsed() < Duration::from_secs(5));
    let damage = result.summary.damage.expect("refused");
    assert!(damage.reason.contains("no writer"), "{}", damage.reason);
    // Unblock the helper thread still waiting in open(): it gets a writer and gives up.
    drop(std::fs::OpenOptions::new().write(true).open(&fifo));

    // A pipe on standard input, as `tcpdump -w - | flowcheck /dev/stdin`.
    if Path::new("/dev/stdin").exists() {
        let r = run(&["/dev/stdin", "--json", "-", "--quiet"], Some(capture));
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.json()["points"][0]["packets"], 2);
    }
}

#[test]
fn unreadable_files_are_a_clear_error() {
    let dir = TempDir::new("unreadable");
    // A file whose every read fails: /proc/self/mem at offset 0 (no page is mapped there).
    let mem = Path::new("/proc/self/mem");
    if mem.exists() {
        let r = run(&[mem.as_os_str()], None);
        assert_eq!(r.code, 2);
        assert!(
            r.stderr.contains("/proc/self/mem") && r.stderr.contains("error"),
            "{}",
            r.stderr
        );
    }
    // Permissions: only meaningful when not root (root reads a mode-000 file anyway).
    let path = dir.file(
        "secret.pcap",
        &Pcap::le_us(1).packet(1, 0, &datagram(1)).bytes(),
    );
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root {
        eprintln!("skipped the mode-000 case: running as root, permissions do not stop reads");
    } else {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000))
                .expect("chmod 000");
            let r = run(&[path.as_os_str()], None);
            assert_eq!(r.code, 2);
            assert!(
                r.stderr.contains("secret.pcap") && r.stderr.contains("ermission denied"),
                "{}",
                r.stderr
            );
        }
    }
    // Not a capture at all.
    let path = dir.file("notes.pcap", b"hello, world\n");
    let (r, doc) = analyse(&path);
    assert_eq!(r.code, 2);
    assert!(
        doc["points"][0]["damage"]["reason"]
            .as_str()
            .is_some_and(|s| s.contains("not a pcap")),
        "{}",
        doc["points"][0]
    );
}

// ---------------------------------------------------------------------------------------------
// Memory bounds

#[test]
fn the_flow_cap_holds_and_is_reported() {
    let dir = TempDir::new("cap");
    let mut cap = Pcap::le_us(1);
    for sport in 0..50 {
        cap = cap.packet(1, sport, &datagram(2000 + sport as u16));
    }
    let path = dir.file("many-flows.pcap", cap.as_bytes());
    let (r, doc) = analyse_args(&[path.as_os_str(), "--max-flows".as_ref(), "10".as_ref()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p = &doc["points"][0];
    assert_eq!(doc["flows"].as_array().map(Vec::len), Some(10));
    assert_eq!(p["packets"], 50);
    assert_eq!(p["packets_over_flow_cap"], 40);
    let r = run(
        &[path.as_os_str(), "--max-flows".as_ref(), "10".as_ref()],
        None,
    );
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("flow cap reached: 40 packets"), "{text}");
    // Raised: every flow.
    let (_, doc) = analyse_args(&[path.as_os_str(), "--max-flows".as_ref(), "50".as_ref()]);
    assert_eq!(doc["flows"].as_array().map(Vec::len), Some(50));
    assert_eq!(doc["points"][0]["packets_over_flow_cap"], 0);
}

/// Runs flowcheck on `path` (no output kept) and returns its peak resident memory in KiB, read
/// from /proc while it runs (None where there is no /proc).
fn peak_rss_kib(path: &Path) -> Option<u64> {
    let cwd = TempDir::new("rss");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowcheck"))
        .arg(path)
        .args(["--json", "/dev/null", "--quiet", "--no-report"])
        .current_dir(cwd.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the flowcheck binary runs");
    let status = format!("/proc/{}/status", child.id());
    let start = Instant::now();
    let mut peak = None;
    while child.try_wait().expect("waiting for flowcheck").is_none() {
        assert!(start.elapsed() < LIMIT * 3, "flowcheck did not finish");
        let hwm = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        });
        peak = peak.max(hwm);
        std::thread::sleep(Duration::from_millis(2));
    }
    peak
}

/// One flow, a million packets, all with the same time stamp: nothing a flow table keeps per
/// packet may grow with them. (A real capture at 10 Gb/s holds a million packets in about
/// half a second; a hostile one may write them all at one instant.)
#[test]
fn a_million_packets_at_one_time_stamp_keep_memory_bounded() {
    let dir = TempDir::new("same-ts");
    let mut cap = Pcap::le_us(1);
    for i in 0..1_000_000u32 {
        let payload = i.to_be_bytes();
        let ip = ipv4(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            17,
            i as u16,
            &udp_bytes(1000, 53, &payload),
        );
        cap = cap.packet(1_700_000_000, 0, &ethernet(0x0800, &ip));
    }
    let path = dir.file("same-time-stamp.pcap", cap.as_bytes());
    let Some(peak) = peak_rss_kib(&path) else {
        eprintln!("skipped: no /proc to read the memory from");
        return;
    };
    assert!(
        peak < 100_000,
        "peak memory {peak} KiB for a 60 MB capture of one flow"
    );
}

/// A chain of 40,000 flows, each forwarded into the next (the same packet leaving with a TTL
/// one lower and other addresses): one conversation of 40,000 flows and as many NAT rewrites.
/// Correlating it must not take time quadratic in its size: four times the chain may cost at
/// most eight times the processor time (quadratic would be sixteen), on the run's own
/// processor time, not the wall clock, so a busy machine does not fail it.
#[test]
fn a_chain_of_forwarded_flows_is_correlated_in_bounded_time() {
    let small = forward_chain(10_000);
    let large = forward_chain(40_000);
    // under 10 ms the processor time is too coarse to compare
    let floor = Duration::from_millis(50);
    assert!(
        large <= small.max(floor) * 8,
        "40,000 flows took {large:?} of processor time, 10,000 took {small:?}"
    );
}

/// Correlates a chain of `n` forwarded flows; the processor time it took.
fn forward_chain(n: u32) -> Duration {
    let dir = TempDir::new("chain");
    let mut cap = Pcap::le_us(1);
    let host = |i: u32| [10, 1 + (i >> 16) as u8, (i >> 8) as u8, i as u8];
    for i in 0..n {
        let payload = udp_bytes(1000, 53, &u64::from(i).to_be_bytes());
        let id = (i.wrapping_mul(7) + 1) as u16;
        let leg = |src: [u8; 4], ttl: u8| {
            let mut ip = ipv4(src, [192, 168, 0, 1], 17, id, &payload);
            ip[8] = ttl;
            ethernet(0x0800, &ip)
        };
        let (arriving, leaving) = (leg(host(i), 64), leg(host(i + 1), 63));
        cap = cap.packet(1, i, &arriving).packet(1, i, &leaving);
    }
    let path = dir.file("forward-chain.pcap", cap.as_bytes());
    let r = run(
        &[path.as_os_str(), "--json".as_ref(), "/dev/null".as_ref()],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.cpu
}

// ---------------------------------------------------------------------------------------------
// Escaping

#[test]
fn control_sequences_in_names_never_reach_the_terminal() {
    let dir = TempDir::new("escape");
    let evil = "x\x1b[31m\x1b]0;pwned\x07\u{9b}2J";
    let ok = dir.file(
        &format!("{evil}.pcap"),
        &Pcap::le_us(1).packet(1, 0, &datagram(1)).bytes(),
    );
    let damaged = dir.file(
        &format!("{evil}-cut.pcap"),
        &Pcap::le_us(1).raw(1, 0, 100, 100, &[0; 10]).bytes(),
    );
    let mut named = OsString::from(format!("{evil}nva="));
    named.push(&ok);
    let runs = [
        run(&[ok.as_os_str(), damaged.as_os_str()], None),
        run(&[named.as_os_str()], None),
        // Usage errors quote names too.
        run(&[named.as_os_str(), named.as_os_str()], None),
        run(&[ok.as_os_str(), "--fail-on".as_ref(), evil.as_ref()], None),
        run(
            &[
                ok.as_os_str(),
                "--json".as_ref(),
                dir.path().join(evil).join("x.json").as_os_str(),
            ],
            None,
        ),
    ];
    for r in &runs {
        let out = String::from_utf8_lossy(&r.stdout);
        for (what, s) in [("stdout", out.as_ref()), ("stderr", r.stderr.as_str())] {
            assert!(
                !s.contains('\x1b') && !s.contains('\u{9b}') && !s.contains('\x07'),
                "raw control character on {what}: {s:?}"
            );
        }
    }
    assert!(
        runs[0].stdout.windows(4).any(|w| w == b"\\x1b"),
        "escaped, not dropped"
    );
    // JSON escapes them its own way.
    let (_, doc) = analyse(&ok);
    assert_eq!(doc["points"][0]["name"].as_str(), Some(evil));
}

// ---------------------------------------------------------------------------------------------
// Fuzzer regressions

/// Every input a fuzzer ever found a bug with, named `TARGET-CAUSE.*`: `capture-` and
/// `analyse-` files are capture files, run through the binary (and, for `capture-`, read whole
/// and trickled through the library, which must agree); `decode-` files are the decode
/// target's input: a link-type selector byte, an "uncaptured bytes" byte, the frame.
#[test]
fn fuzzer_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    for path in &files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let bytes = std::fs::read(path).expect("a regression input");
        if name.starts_with("decode-") {
            decode_regression(&bytes);
            continue;
        }
        assert!(
            name.starts_with("capture-") || name.starts_with("analyse-"),
            "{name}: regression inputs are named TARGET-CAUSE"
        );
        let r = run(&[path.as_os_str(), "--json".as_ref(), "-".as_ref()], None);
        assert!(
            r.code == 0 || r.code == 2,
            "{name}: exit {}: {}",
            r.code,
            r.stderr
        );
        let doc = r.json();
        let p = &doc["points"][0];
        let not_decoded: u64 = p["not_decoded"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        assert_eq!(
            p["decoded"].as_u64().unwrap_or(0) + not_decoded,
            p["packets"].as_u64().unwrap_or(u64::MAX),
            "{name}: every frame accounted for"
        );
        if name.starts_with("capture-") {
            capture_regression(name, &bytes);
        }
    }
}

/// Reads `bytes` whole and 1..7 bytes per read: the frames and the error must agree.
fn capture_regression(name: &str, bytes: &[u8]) {
    use flowcheck::capture::CaptureReader;
    struct Trickle(std::io::Cursor<Vec<u8>>, usize);
    impl std::io::Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.1);
            self.0.read(&mut buf[..n])
        }
    }
    let read = |src: Box<dyn std::io::Read + Send>| {
        let mut frames = Vec::new();
        let end = match CaptureReader::from_reader(src) {
            Err(e) => Some((e.offset, e.kind.to_string())),
            Ok(mut r) => loop {
                match r.next_frame() {
                    Ok(Some(f)) => frames.push((f.ts_ns, f.link_type, f.wire_len, f.data.to_vec())),
                    Ok(None) => break None,
                    Err(e) => break Some((e.offset, e.kind.to_string())),
                }
            },
        };
        (frames, end)
    };
    let whole = read(Box::new(std::io::Cursor::new(bytes.to_vec())));
    for step in 1..=7 {
        let trickled = read(Box::new(Trickle(
            std::io::Cursor::new(bytes.to_vec()),
            step,
        )));
        assert_eq!(
            whole, trickled,
            "{name}: differs when read {step} bytes at a time"
        );
    }
}

fn decode_regression(bytes: &[u8]) {
    const LINK_TYPES: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 3];
    let (Some(&pick), Some(&uncaptured)) = (bytes.first(), bytes.get(1)) else {
        return;
    };
    let link_type = LINK_TYPES[usize::from(pick) % LINK_TYPES.len()];
    let frame = bytes.get(2..).unwrap_or_default();
    let wire_len = (frame.len() as u32).saturating_add(u32::from(uncaptured) * 64);
    let got = flowcheck::decode::decode(link_type, frame, wire_len);
    assert_eq!(got, flowcheck::decode::decode(link_type, frame, wire_len));
}
