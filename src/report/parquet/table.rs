//! A table written into its Parquet file: its row groups filled and encoded on worker
//! threads (each worker a [`Group`] of [`GROUP_ROWS`] rows at a time, the next group
//! number taken in order), each written into the file by the worker that filled it, in
//! order, straight from the group's buffers; then the footer, which the `parquet` crate
//! writes from the metadata gathered ([`ParquetMetaDataWriter`]).
//!
//! A worker that has filled group `i` waits until group `i - 1` is in the file, writes its
//! own, and only then starts another ([`Turn`]): at most one group per worker is in memory,
//! and no column chunk is copied on its way to the file. Before, each chunk was assembled
//! in a buffer of its own, then copied through the crate's file writer (`append_column`:
//! a copy into a small buffer and another into the file's): three copies of the 97 MB the
//! two large tables of the 2 GB benchmark capture take, and fresh memory for the chunks of
//! the groups in flight. The files are byte for byte the same.

use std::io::Write;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use parquet::errors::ParquetError;
use parquet::file::metadata::{
    FileMetaData, ParquetMetaData, ParquetMetaDataWriter, RowGroupMetaData,
};
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::{ColumnDescPtr, SchemaDescPtr, SchemaDescriptor};

use super::columns::{schema_text, Group, GROUP_ROWS};
use super::schema::Col;

/// Fills a group with the rows of a range of the table's items.
pub type Fill<'a> = dyn Fn(&mut Group, Range<usize>) + Sync + 'a;

/// The file writer's column descriptors of the table `schema` declares.
#[cfg(test)]
pub fn descriptors(
    schema: &[Col],
    message: &str,
) -> Result<Vec<parquet::schema::types::ColumnDescPtr>, ParquetError> {
    use parquet::schema::types::SchemaDescriptor;
    let root = Arc::new(parse_message_type(&schema_text(schema, message))?);
    Ok(SchemaDescriptor::new(root).columns().to_vec())
}

/// Writes the table `schema` declares, of `rows` rows that `fill` makes, as the Parquet
/// message `message` into `out`, on `workers` threads (at least one).
pub fn write(
    out: &std::fs::File,
    schema: &[Col],
    message: &str,
    rows: usize,
    workers: usize,
    fill: &Fill<'_>,
) -> Result<(), ParquetError> {
    write_groups(out, schema, message, rows, GROUP_ROWS, workers, fill)
}

/// [`write`] with groups of `group_rows` rows.
fn write_groups(
    file: &std::fs::File,
    schema: &[Col],
    message: &str,
    rows: usize,
    group_rows: usize,
    workers: usize,
    fill: &Fill<'_>,
) -> Result<(), ParquetError> {
    let root = Arc::new(parse_message_type(&schema_text(schema, message))?);
    let descr = Arc::new(SchemaDescriptor::new(root));
    let group_rows = group_rows.max(1);
    // a table without rows is one empty group: every column is in the file
    let groups = rows.div_ceil(group_rows).max(1);
    let job = Job {
        schema,
        descrs: descr.columns().to_vec(),
        descr: descr.clone(),
        rows,
        group_rows,
        groups,
        fill,
    };
    // written over the old file in place, then cut after the footer
    crate::report::write_over(file, |pages| {
        pages.write_all(MAGIC)?;
        let out = Mutex::new(FileOut {
            out: pages,
            at: MAGIC.len() as u64,
            groups: Vec::with_capacity(groups),
        });
        job.run(&out, workers.clamp(1, groups))?;
        let out = out.into_inner().unwrap_or_else(PoisonError::into_inner);
        out.footer(descr, rows)
    })
}

/// A table to fill and write: its columns and rows, cut into groups.
struct Job<'a, 'f> {
    schema: &'a [Col],
    descr: SchemaDescPtr,
    descrs: Vec<ColumnDescPtr>,
    rows: usize,
    group_rows: usize,
    groups: usize,
    fill: &'a Fill<'f>,
}

impl Job<'_, '_> {
    /// Fills and writes every group into `out` on `workers` threads, each group written by
    /// its worker in turn.
    fn run<W: Write + Send>(
        &self,
        out: &Mutex<FileOut<'_, W>>,
        workers: usize,
    ) -> Result<(), ParquetError> {
        let next = AtomicUsize::new(0);
        let turn = Turn::default();
        let failed: Mutex<Option<ParquetError>> = Mutex::new(None);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    let _stop = StopOnPanic(&turn);
                    if let Err(e) = self.work(out, &next, &turn) {
                        failed
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .get_or_insert(e);
                        turn.stop();
                    }
                });
            }
        });
        if let Some(e) = failed.into_inner().unwrap_or_else(PoisonError::into_inner) {
            return Err(e);
        }
        if turn.lock().placed != self.groups {
            return Err(ParquetError::General(
                "a worker ended before its row group was written".into(),
            ));
        }
        Ok(())
    }

    /// One worker: takes the next group, fills it, waits for its turn and writes it, until
    /// no group is left or the writing stopped.
    fn work<W: Write + Send>(
        &self,
        out: &Mutex<FileOut<'_, W>>,
        next: &AtomicUsize,
        turn: &Turn,
    ) -> Result<(), ParquetError> {
        let mut group = Group::new(self.schema, self.rows.min(self.group_rows));
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= self.groups {
                return Ok(());
            }
            let start = i * self.group_rows;
            (self.fill)(&mut group, start..self.rows.min(start + self.group_rows));
            if !turn.wait_for(i) {
                return Ok(());
            }
            let mut out = out.lock().unwrap_or_else(PoisonError::into_inner);
            out.place(&mut group, &self.descr, &self.descrs)?;
            drop(out);
            turn.placed(i + 1);
        }
    }
}

/// Parquet's magic number, at both ends of the file.
const MAGIC: &[u8] = b"PAR1";

/// The file being written: where its next byte goes, and its row groups so far.
struct FileOut<'a, W: Write> {
    out: &'a mut W,
    at: u64,
    groups: Vec<RowGroupMetaData>,
}

impl<W: Write> FileOut<'_, W> {
    /// Writes the rows `group` holds as the next row group, and empties it.
    fn place(
        &mut self,
        group: &mut Group,
        descr: &SchemaDescPtr,
        descrs: &[ColumnDescPtr],
    ) -> Result<(), ParquetError> {
        let start = self.at;
        let rows = group.rows();
        let (columns, len) = group.write(descrs, &mut *self.out, start)?;
        self.at += len;
        let meta = RowGroupMetaData::builder(descr.clone())
            .set_column_metadata(columns)
            .set_total_byte_size(len as i64)
            .set_num_rows(rows as i64)
            .set_ordinal(i32::try_from(self.groups.len()).unwrap_or(i32::MAX))
            .set_file_offset(start as i64)
            .build()?;
        self.groups.push(meta);
        Ok(())
    }

    /// The footer: the file's metadata (written by the crate), its length, the magic number.
    fn footer(self, descr: SchemaDescPtr, rows: usize) -> Result<(), ParquetError> {
        let created_by = format!("flowcheck {}", env!("CARGO_PKG_VERSION"));
        // format version 1, as the crate's writer gives by default (no page index here)
        let file = FileMetaData::new(1, rows as i64, Some(created_by), None, descr, None);
        let meta = ParquetMetaData::new(file, self.groups);
        ParquetMetaDataWriter::new(&mut *self.out, &meta).finish()?;
        self.out.flush()?;
        Ok(())
    }
}

/// Whose turn it is to place a group: the groups placed so far, or the writing stopped.
#[derive(Default)]
struct Turn {
    state: Mutex<TurnState>,
    /// Signalled when a group is placed or the writing stops.
    changed: Condvar,
}

#[derive(Default)]
struct TurnState {
    placed: usize,
    stop: bool,
}

impl Turn {
    fn lock(&self) -> MutexGuard<'_, TurnState> {
        // no code panics while holding the lock; recover the state if it ever did
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until group `i` is the next to place: true, or false when the writing stopped.
    fn wait_for(&self, i: usize) -> bool {
        let mut s = self.lock();
        while !s.stop && s.placed < i {
            s = self.changed.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        !s.stop
    }

    fn placed(&self, placed: usize) {
        self.lock().placed = placed;
        self.changed.notify_all();
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.changed.notify_all();
    }
}

/// Stops the writing when a worker panics, so that no other worker waits for a group that
/// will never be placed (the panic itself reaches the caller through the scope).
struct StopOnPanic<'a>(&'a Turn);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::columns::{s, Value};
    use super::super::schema::{field, list, opt, top, Kind};
    use super::*;

    use super::super::columns::tests::SCHEMA;

    fn row(t: &mut Group, n: i64) {
        t.value("n", Kind::I64, Value::I64(n));
        t.optional("s", Kind::Str, (n % 2 == 0).then(|| s("even")));
        t.end_row();
    }

    /// A table of `rows` rows written to a temporary file on `workers` threads: its row
    /// groups, its rows, and its `n` column read back with the crate's reader; or the error.
    fn written(
        tag: &str,
        rows: usize,
        group_rows: usize,
        workers: usize,
        fill: &Fill<'_>,
    ) -> Result<(usize, i64, Vec<i64>), ParquetError> {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let path =
            std::env::temp_dir().join(format!("flowcheck-{}-{tag}.parquet", std::process::id()));
        // written over an older, larger file: what is left of it is cut
        std::fs::write(&path, vec![0xab; 1 << 20])?;
        let file = crate::report::open_over(&path)?;
        let r = write_groups(&file, SCHEMA, "t", rows, group_rows, workers, fill).and_then(|()| {
            let reader = SerializedFileReader::new(std::fs::File::open(&path)?)?;
            let meta = reader.metadata();
            let (groups, count) = (meta.num_row_groups(), meta.file_metadata().num_rows());
            let mut ns = Vec::new();
            for r in reader.get_row_iter(None)? {
                ns.push(parquet::record::RowAccessor::get_long(&r?, 0)?);
            }
            Ok((groups, count, ns))
        });
        let _ = std::fs::remove_file(&path);
        r
    }

    #[test]
    fn a_table_without_rows_is_one_empty_group() {
        let got = written("empty", 0, 2, 2, &|_, _| {}).unwrap();
        assert_eq!(got, (1, 0, vec![]));
    }

    #[test]
    fn groups_filled_on_several_workers_are_placed_in_order() {
        let fill = |t: &mut Group, r: Range<usize>| r.for_each(|n| row(t, n as i64));
        for workers in [1, 2, 3] {
            let got = written("groups", 5, 2, workers, &fill).unwrap();
            assert_eq!(got, (3, 5, vec![0, 1, 2, 3, 4]), "{workers} workers");
        }
        let got = written("one", 5, 8, 2, &fill).unwrap();
        assert_eq!(got, (1, 5, vec![0, 1, 2, 3, 4]));
    }

    /// A table of every shape and kind: names (a dictionary), free text, a list, a list of
    /// structs with an optional field, booleans, a timestamp, over several row groups.
    const NESTED: &[Col] = &[
        top("name", Kind::Name),
        opt("note", Kind::Str),
        list("ttls", Kind::I32),
        field("hops", "point", Kind::Name, false),
        field("hops", "delay", Kind::F64, true),
        top("up", Kind::Bool),
        top("ts", Kind::Timestamp),
    ];

    fn nested_row(t: &mut Group, n: usize) {
        nested_row_with(t, n, false);
    }

    /// [`nested_row`]; `lazy`: an empty list of hops through [`Group::empty_list`].
    fn nested_row_with(t: &mut Group, n: usize, lazy: bool) {
        let names = ["hub-nva", "spoke1", "vpn-client"];
        t.value("name", Kind::Name, s(names[n % 3]));
        t.optional(
            "note",
            Kind::Str,
            n.is_multiple_of(4).then(|| s("a quiet, odd row")),
        );
        t.list(
            "ttls",
            Kind::I32,
            (0..n % 3).map(|k| Value::I32(64 - k as i32)),
        );
        // empty in runs of several rows, and at the ends of row groups
        let hops = if n % 9 < 4 { 0 } else { n % 4 };
        if lazy && hops == 0 {
            t.empty_list("hops");
        } else {
            let point = (0..hops).map(|k| Some(s(names[(n + k) % 3])));
            t.field("hops", "point", Kind::Name, false, point);
            let delay = (0..hops).map(|k| (k % 2 == 1).then_some(Value::F64(k as f64 / 4.0)));
            t.field("hops", "delay", Kind::F64, true, delay);
        }
        t.value("up", Kind::Bool, Value::Bool(n % 3 != 1));
        t.value("ts", Kind::Timestamp, Value::I64(1_000_000 * n as i64 - 7));
        t.end_row();
    }

    #[test]
    fn empty_lists_counted_then_written_make_the_same_file() {
        let dir = std::env::temp_dir();
        let mut files = Vec::new();
        for lazy in [false, true] {
            let path = dir.join(format!(
                "flowcheck-{}-lazy-{lazy}.parquet",
                std::process::id()
            ));
            let file = std::fs::File::create(&path).unwrap();
            let fill = |t: &mut Group, r: Range<usize>| r.for_each(|n| nested_row_with(t, n, lazy));
            write_groups(&file, NESTED, "t", 47, 7, 2, &fill).unwrap();
            files.push(std::fs::read(&path).unwrap());
            std::fs::remove_file(&path).unwrap();
        }
        assert!(files[0] == files[1], "the files differ");
        // a list of structs that is not next is a misfit, not a chunk
        let descrs = descriptors(NESTED, "t").unwrap();
        let mut g = Group::new(NESTED, 1);
        g.value("name", Kind::Name, s("x"));
        g.empty_list("hops");
        assert!(g.write(&descrs, &mut Vec::new(), 0).is_err());
    }

    #[test]
    fn every_shape_reads_back_as_written() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        use parquet::record::Field;
        let path =
            std::env::temp_dir().join(format!("flowcheck-{}-nested.parquet", std::process::id()));
        let rows = 23;
        let file = std::fs::File::create(&path).unwrap();
        let fill = |t: &mut Group, r: Range<usize>| r.for_each(|n| nested_row(t, n));
        write_groups(&file, NESTED, "t", rows, 5, 2, &fill).unwrap();
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 5);
        let got: Vec<String> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                let cols: Vec<String> = r
                    .get_column_iter()
                    .map(|(_, f)| match f {
                        Field::TimestampMicros(us) => us.to_string(),
                        f => f.to_string(),
                    })
                    .collect();
                cols.join(" | ")
            })
            .collect();
        let _ = std::fs::remove_file(&path);
        let names = ["hub-nva", "spoke1", "vpn-client"];
        let want: Vec<String> = (0..rows)
            .map(|n| {
                let note = match n % 4 {
                    0 => "\"a quiet, odd row\"".to_string(),
                    _ => "null".to_string(),
                };
                let ttls: Vec<String> = (0..n % 3).map(|k| (64 - k).to_string()).collect();
                let hops = if n % 9 < 4 { 0 } else { n % 4 };
                let hops: Vec<String> = (0..hops)
                    .map(|k| {
                        let delay = match k % 2 {
                            1 => format!("{:?}", k as f64 / 4.0),
                            _ => "null".into(),
                        };
                        format!("{{point: \"{}\", delay: {delay}}}", names[(n + k) % 3])
                    })
                    .collect();
                format!(
                    "\"{}\" | {note} | [{}] | [{}] | {} | {}",
                    names[n % 3],
                    ttls.join(", "),
                    hops.join(", "),
                    n % 3 != 1,
                    1_000_000 * n as i64 - 7
                )
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_worker_holds_one_group_at_a_time() {
        use std::sync::atomic::AtomicBool;
        let zero_done = AtomicBool::new(false);
        let early = Mutex::new(Vec::new());
        let fill = |t: &mut Group, r: Range<usize>| {
            let group = r.start / 2;
            if group == 0 {
                std::thread::sleep(std::time::Duration::from_millis(200));
            } else if !zero_done.load(Ordering::SeqCst) {
                early.lock().unwrap().push(group);
            }
            r.for_each(|n| row(t, n as i64));
            if group == 0 {
                zero_done.store(true, Ordering::SeqCst);
            }
        };
        let got = written("gate", 20, 2, 2, &fill).unwrap();
        assert_eq!((got.0, got.1), (10, 20));
        assert_eq!(got.2, (0..20).collect::<Vec<i64>>());
        // 2 workers: group 1 may be filled while group 0 is, then waits for it to be
        // placed before its worker takes another
        let early = early.into_inner().unwrap();
        assert!(early.iter().all(|&g| g < 2), "{early:?}");
    }

    #[test]
    fn a_worker_that_panics_stops_the_others_instead_of_leaving_them_waiting() {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let fill = |t: &mut Group, r: Range<usize>| {
                if r.start == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    panic!("a fill that fails");
                }
                r.for_each(|n| row(t, n as i64));
            };
            let r = std::panic::catch_unwind(|| written("panic", 40, 2, 2, &fill));
            let _ = done.send(r.is_err());
        });
        let panicked = finished
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the table's writing hung after a worker panicked");
        assert!(panicked);
    }

    #[test]
    fn a_group_that_differs_from_the_declaration_fails_the_table() {
        let short = |t: &mut Group, r: Range<usize>| {
            for n in r {
                t.value("n", Kind::I64, Value::I64(n as i64));
                t.end_row();
            }
        };
        assert!(written("short", 5, 2, 2, &short).is_err());
    }
}
