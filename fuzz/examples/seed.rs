//! Builds the seed corpora of the fuzz targets from the public captures in ../shared
//! (they are not committed here: public files stay in ../shared).
//!
//! `cargo run --release --example seed -- ../../shared corpus` (from fuzz/; `seed.sh` does it)
//! writes:
//! - `corpus/capture/` and `corpus/analyse/`: every file of `shared/corpus/files` and
//!   `shared/captures/*/`, cut to 64 KiB, plus a gzip-wrapped copy of each;
//! - `corpus/decode/`: up to 32 frames of each file, each prefixed with the link-type
//!   selector byte and the "uncaptured bytes" byte that the `decode` target reads.

use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flowcheck::capture::CaptureReader;

/// Must match `LINK_TYPES` in fuzz_targets/decode.rs.
const LINK_TYPES: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 3];
const MAX_SEED: usize = 64 << 10;
const FRAMES_PER_FILE: usize = 32;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(shared), Some(out)) = (args.get(1), args.get(2)) else {
        return Err("usage: seed SHARED_DIR OUT_DIR".into());
    };
    let shared = Path::new(shared);
    let out = Path::new(out);
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in fs::read_dir(shared.join("corpus/files"))? {
        files.push(entry?.path());
    }
    for stage in fs::read_dir(shared.join("captures"))? {
        let stage = stage?.path();
        if !stage.is_dir() {
            continue;
        }
        for entry in fs::read_dir(&stage)? {
            let p = entry?.path();
            if p.extension().is_some_and(|e| e == "pcap" || e == "pcapng") {
                files.push(p);
            }
        }
    }
    files.sort();
    for dir in ["capture", "analyse", "decode"] {
        fs::create_dir_all(out.join(dir))?;
    }
    let (mut seeds, mut frames_written) = (0, 0);
    for path in &files {
        let bytes = fs::read(path)?;
        let cut = &bytes[..bytes.len().min(MAX_SEED)];
        // Unique names: stage folders repeat file names.
        let name = path
            .strip_prefix(shared)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('/', "_");
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(cut)?;
        let gz = gz.finish()?;
        for dir in ["capture", "analyse"] {
            fs::write(out.join(dir).join(&name), cut)?;
            fs::write(out.join(dir).join(format!("{name}.gz")), &gz)?;
            seeds += 2;
        }
        let Ok(mut reader) = CaptureReader::from_reader(Box::new(Cursor::new(bytes))) else {
            continue;
        };
        let mut n = 0;
        while let Ok(Some(f)) = reader.next_frame() {
            if n == FRAMES_PER_FILE {
                break;
            }
            let Some(pick) = LINK_TYPES.iter().position(|&l| l == f.link_type) else {
                continue;
            };
            let mut seed = vec![pick as u8, 0];
            seed.extend_from_slice(f.data);
            fs::write(out.join("decode").join(format!("{name}-{n}")), seed)?;
            n += 1;
        }
        frames_written += n;
    }
    println!(
        "{} files: {seeds} capture/analyse seeds, {frames_written} decode seeds in {}",
        files.len(),
        out.display()
    );
    Ok(())
}
