//! pages: a writer that hands the kernel whole pages.
//!
//! Writing part of a file page that is not in the page cache makes the kernel read the old
//! page from disk first. [`PageWriter`] makes every write but the last start and end on a
//! page boundary, so a document written over an old file (see the binary's `--json`) never
//! reads the old one back.
//!
//! [`write_over`] writes a whole output (`--json`, `--csv`, the Zeek logs, the Parquet
//! files) over the old file of that name in place, through a [`PageWriter`], and cuts what is
//! left of the old content after. Emptying the old file first (as `File::create` does) makes
//! the kernel free its pages and allocate new ones, and ext4 write the whole file out when it
//! is closed (`auto_da_alloc`: a file emptied and written again is flushed at its close).
//! Measured on the 2 GB benchmark capture's three exports (175 MB): that flush alone was 9 %
//! of the export phase's samples in `perf`, and the phase fell from 0.27 s to 0.23 s (best of
//! 7, alternated) when the files were written over instead.

use std::fs::File;
use std::io::{self, IoSlice, Write};

/// The page size the writes are aligned to (4 KiB, the x86-64 and common arm64 page; on a
/// system with larger pages the writes are still whole 4 KiB blocks).
pub const PAGE: usize = 4096;

/// Writes to `out` in multiples of [`PAGE`] from the start: the bytes that do not fill a page
/// wait in a carry buffer and go out in front of the next call's bytes in one vectored
/// write, so at most a page is copied per call. [`flush`](Write::flush) writes what is left.
/// Counts the bytes that reached `out`, also when a write fails.
pub struct PageWriter<W: Write> {
    out: W,
    carry: Vec<u8>,
    written: u64,
}

impl<W: Write> PageWriter<W> {
    pub fn new(out: W) -> PageWriter<W> {
        PageWriter {
            out,
            carry: Vec::with_capacity(PAGE),
            written: 0,
        }
    }

    /// Bytes that reached the underlying writer.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes the carry then `rest`, whole, however the writer splits them.
    fn write_both(&mut self, mut rest: &[u8]) -> io::Result<()> {
        let mut carry_done = 0;
        while carry_done < self.carry.len() || !rest.is_empty() {
            let parts = [
                IoSlice::new(self.carry.get(carry_done..).unwrap_or(&[])),
                IoSlice::new(rest),
            ];
            let n = match self.out.write_vectored(&parts) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.written += n as u64;
            let from_carry = n.min(self.carry.len() - carry_done);
            carry_done += from_carry;
            rest = rest.get(n - from_carry..).unwrap_or(&[]);
        }
        self.carry.clear();
        Ok(())
    }
}

impl<W: Write> Write for PageWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let total = self.carry.len() + buf.len();
        if total < PAGE {
            self.carry.extend_from_slice(buf);
            return Ok(buf.len());
        }
        let (now, later) = buf.split_at(total / PAGE * PAGE - self.carry.len());
        self.write_both(now)?;
        self.carry.extend_from_slice(later);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_both(&[])?;
        self.out.flush()
    }
}

/// Writes `file` from its first byte with `write`, over what it holds, through a
/// [`PageWriter`] (flushed here), then cuts a regular file after the bytes written: the new
/// content, and nothing of the old, also when `write` fails (then after the bytes that
/// reached the file). A pipe or a terminal is written the same way and not cut.
pub fn write_over<E: From<io::Error>>(
    file: &File,
    write: impl FnOnce(&mut PageWriter<&File>) -> Result<(), E>,
) -> Result<(), E> {
    let regular = file.metadata()?.is_file();
    if regular {
        // from the first byte, wherever an earlier write left the file's position
        io::Seek::rewind(&mut &*file)?;
    }
    let mut pages = PageWriter::new(file);
    let wrote = write(&mut pages).and_then(|()| pages.flush().map_err(E::from));
    // cut also after a failure: what reached the file, and nothing of the old content
    let cut = match regular {
        true => file.set_len(pages.written()),
        false => Ok(()),
    };
    wrote?;
    Ok(cut?)
}

/// Opens `path` to be written over in place ([`write_over`]): created if missing, not
/// emptied.
pub fn open_over(path: &std::path::Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    /// Records each write; takes at most `max` bytes a call, and fails once `fail_after`
    /// bytes were taken.
    struct Recorder {
        data: Vec<u8>,
        calls: Vec<(usize, usize)>,
        max: usize,
        fail_after: usize,
    }

    impl Recorder {
        fn new(max: usize, fail_after: usize) -> Recorder {
            Recorder {
                data: Vec::new(),
                calls: Vec::new(),
                max,
                fail_after,
            }
        }
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            if self.data.len() >= self.fail_after {
                return Err(io::ErrorKind::StorageFull.into());
            }
            let start = self.data.len();
            let mut room = self.max.min(self.fail_after - start);
            for b in bufs {
                let take = b.len().min(room);
                self.data.extend_from_slice(&b[..take]);
                room -= take;
            }
            self.calls.push((start, self.data.len() - start));
            Ok(self.data.len() - start)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// `len` bytes cut into pieces of random sizes, from a byte to a few pages.
    fn pieces(rng: &mut Rng, len: usize) -> (Vec<u8>, Vec<usize>) {
        let data: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
        let mut cuts = Vec::new();
        let mut at = 0;
        while at < len {
            let n = match rng.below(3) {
                0 => 1 + rng.below(16) as usize,
                1 => 1 + rng.below(PAGE as u64) as usize,
                _ => 1 + rng.below(3 * PAGE as u64) as usize,
            }
            .min(len - at);
            cuts.push(n);
            at += n;
        }
        (data, cuts)
    }

    #[test]
    fn every_write_but_the_last_is_whole_pages_and_nothing_is_lost() {
        let mut rng = Rng(7);
        for round in 0..200 {
            let len = rng.below(40_000) as usize;
            let (data, cuts) = pieces(&mut rng, len);
            let mut w = PageWriter::new(Recorder::new(usize::MAX, usize::MAX));
            let mut at = 0;
            for n in cuts {
                assert_eq!(w.write(&data[at..at + n]).unwrap(), n);
                at += n;
            }
            w.flush().unwrap();
            assert_eq!(w.written(), data.len() as u64, "round {round}");
            let calls = &w.out.calls;
            assert_eq!(w.out.data, data, "round {round}");
            for &(start, len) in calls.iter().take(calls.len().saturating_sub(1)) {
                assert_eq!(start % PAGE, 0, "round {round}: a write starts mid-page");
                assert_eq!(len % PAGE, 0, "round {round}: a write ends mid-page");
            }
            assert!(calls.iter().all(|&(_, len)| len > 0));
        }
    }

    #[test]
    fn a_file_written_over_holds_the_new_content_only() {
        let dir = std::env::temp_dir().join(format!("fc-over-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out");
        std::fs::write(&path, vec![b'x'; 3 * PAGE + 10]).unwrap();
        let file = open_over(&path).unwrap();
        write_over(&file, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        // longer than the old content, in pieces
        let long: Vec<u8> = (0..5 * PAGE + 7).map(|i| i as u8).collect();
        write_over(&file, |w| {
            long.chunks(1000).try_for_each(|c| w.write_all(c))
        })
        .unwrap();
        assert!(
            std::fs::read(&path).unwrap() == long,
            "the longer content differs"
        );
        // a failure cuts after what reached the file: nothing of the old content stays
        let failed: io::Result<()> = write_over(&file, |w| {
            w.write_all(&[b'y'; PAGE + 1])?;
            Err(io::Error::other("stopped"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), vec![b'y'; PAGE]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn short_writes_are_resumed_and_a_failure_counts_what_reached_the_file() {
        let mut rng = Rng(8);
        for round in 0..100 {
            let (data, cuts) = pieces(&mut rng, 20_000);
            let max = 1 + rng.below(5000) as usize;
            let mut w = PageWriter::new(Recorder::new(max, usize::MAX));
            let mut at = 0;
            for n in cuts {
                w.write_all(&data[at..at + n]).unwrap();
                at += n;
            }
            w.flush().unwrap();
            assert_eq!(w.out.data, data, "round {round}, short writes of {max}");

            let fail_after = rng.below(20_000) as usize;
            let mut w = PageWriter::new(Recorder::new(max, fail_after));
            let failed = data
                .chunks(3000)
                .try_for_each(|c| w.write_all(c))
                .and_then(|()| w.flush());
            assert!(failed.is_err(), "round {round}: fails after {fail_after}");
            assert_eq!(w.written(), fail_after as u64, "round {round}");
            assert_eq!(w.out.data, data[..fail_after], "round {round}");
        }
    }
}
