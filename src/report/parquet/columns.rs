//! A table filled row by row into typed columns and written a row group at a time
//! ([`GROUP_ROWS`]) into one Parquet file with the `parquet` crate's low-level writer (no Arrow: flowcheck's rows go straight into Parquet columns,
//! with their definition and repetition levels computed here).
//!
//! A table is a list of leaf columns, declared up front (`schema.rs`: a table with no rows
//! is still a file with every column) and filled by every row in the declared order. A column is a top-level value (required or optional), a list of values,
//! or a field of a list of structs (consecutive fields of one `group` make one
//! `list<struct>`). Lists are never null (an empty list is written as one); their elements
//! may be optional inside a struct.
//!
//! Values are stored typed, strings in one byte buffer per column: building a table of
//! 200,000 rows allocates per column, not per value, and the writer takes the strings as
//! slices of that buffer.

use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::Compression;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::ColumnPath;

use super::schema::{self, Col, Kind, Shape};

/// One value of a column (a string is borrowed: the column copies its bytes).
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Str(&'a str),
    I32(i32),
    I64(i64),
    F64(f64),
    Bool(bool),
}

/// A column's values, typed as the writer takes them.
#[derive(Debug, Default)]
struct Store {
    /// String bytes, one after the other; `ends[i]` is where value `i` ends.
    bytes: Vec<u8>,
    ends: Vec<usize>,
    i32s: Vec<i32>,
    i64s: Vec<i64>,
    f64s: Vec<f64>,
    bools: Vec<bool>,
}

impl Store {
    #[inline]
    fn push(&mut self, v: Value<'_>) {
        match v {
            Value::Str(x) => {
                self.bytes.extend_from_slice(x.as_bytes());
                self.ends.push(self.bytes.len());
            }
            Value::I32(x) => self.i32s.push(x),
            Value::I64(x) => self.i64s.push(x),
            Value::F64(x) => self.f64s.push(x),
            Value::Bool(x) => self.bools.push(x),
        }
    }

    /// The strings as byte arrays that share one buffer (a copy of the column's, which is
    /// kept for the next row group), into `arrays`.
    fn byte_arrays(&self, arrays: &mut Vec<ByteArray>) {
        arrays.clear();
        let buf = Bytes::copy_from_slice(&self.bytes);
        let mut start = 0;
        arrays.extend(self.ends.iter().map(|&end| {
            let v = ByteArray::from(buf.slice(start..end));
            start = end;
            v
        }));
    }

    /// Empties the store, keeping its room.
    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.i32s.clear();
        self.i64s.clear();
        self.f64s.clear();
        self.bools.clear();
    }
}

struct Column {
    name: &'static str,
    kind: Kind,
    shape: Shape,
    values: Store,
    def: Vec<i16>,
    rep: Vec<i16>,
}

impl Column {
    /// An empty column of the declaration `c`, with room for `rows` rows.
    fn new(c: &Col, rows: usize) -> Column {
        let n = rows;
        let mut values = Store::default();
        match c.kind {
            Kind::Str | Kind::Name => {
                values.ends.reserve(n);
                values.bytes.reserve(n * 8);
            }
            Kind::I32 => values.i32s.reserve(n),
            Kind::I64 | Kind::Timestamp => values.i64s.reserve(n),
            Kind::F64 => values.f64s.reserve(n),
            Kind::Bool => values.bools.reserve(n),
        }
        let levels = |used: bool| Vec::with_capacity(if used { n } else { 0 });
        Column {
            name: c.name,
            kind: c.kind,
            shape: c.shape,
            values,
            def: levels(c.shape != Shape::Top { optional: false }),
            rep: levels(!matches!(c.shape, Shape::Top { .. })),
        }
    }

    /// Empties the column, keeping its room.
    fn clear(&mut self) {
        self.values.clear();
        self.def.clear();
        self.rep.clear();
    }

    /// The column's path in the schema, as the writer's per-column properties name it.
    fn path(&self) -> ColumnPath {
        let parts: &[&str] = match self.shape {
            Shape::Top { .. } => &[self.name],
            Shape::List => &[self.name, "list", "element"],
            Shape::Field { group, .. } => &[group, "list", "element", self.name],
        };
        ColumnPath::new(parts.iter().map(|p| p.to_string()).collect())
    }
}

/// How the pages are compressed: not at all (see the module header of `parquet`).
const COMPRESSION: Compression = Compression::UNCOMPRESSED;

/// Rows per row group: a table is written a group at a time as it fills, so that its
/// memory stays bounded and is reused (DuckDB's own writer uses groups of 122,880 rows).
pub const GROUP_ROWS: usize = 65_536;

/// The file being written.
type Writer = SerializedFileWriter<std::io::BufWriter<std::fs::File>>;

/// A table being filled row by row and written to its file a row group at a time.
pub struct Table {
    /// The declared columns, every one made (and given room for a group's rows) up front.
    columns: Vec<Column>,
    /// Index of the next column the current row fills.
    cursor: usize,
    /// Where a value goes that does not fit the declaration (then `misfit` names it and
    /// [`Table::finish`] fails): a fill that differs from the schema is a bug, reported, not
    /// a panic.
    spare: Column,
    misfit: Option<&'static str>,
    writer: Writer,
    /// Rows of the current group; the group is written when it has `group_rows`.
    rows: usize,
    group_rows: usize,
    /// Row groups written.
    groups: usize,
    /// The first error of writing a group (the next groups are not written).
    failed: Option<ParquetError>,
    /// Reused for the strings of each column written.
    arrays: Vec<ByteArray>,
}

impl Table {
    /// A table of the columns `schema` declares, to be written as the Parquet message
    /// `message` into `out`; `rows`: how many rows it will have (room is made for at most
    /// a group of them).
    pub fn new(
        schema: &[Col],
        message: &str,
        out: std::fs::File,
        rows: usize,
    ) -> Result<Table, ParquetError> {
        Table::with_groups(schema, message, out, rows, GROUP_ROWS)
    }

    /// [`Table::new`] with row groups of `group_rows` rows.
    fn with_groups(
        schema: &[Col],
        message: &str,
        out: std::fs::File,
        rows: usize,
        group_rows: usize,
    ) -> Result<Table, ParquetError> {
        let group_rows = group_rows.max(1);
        let columns: Vec<Column> = schema
            .iter()
            .map(|c| Column::new(c, rows.min(group_rows)))
            .collect();
        let writer = writer(&columns, message, out)?;
        Ok(Table {
            columns,
            cursor: 0,
            spare: Column::new(&schema::SPARE, 0),
            misfit: None,
            writer,
            rows: 0,
            group_rows,
            groups: 0,
            failed: None,
            arrays: Vec::new(),
        })
    }

    /// Ends the current row (which must have filled every column).
    #[inline]
    pub fn end_row(&mut self) {
        if self.cursor != self.columns.len() {
            self.misfit
                .get_or_insert("(a row that fills fewer columns)");
        }
        self.cursor = 0;
        self.rows += 1;
        if self.rows == self.group_rows {
            self.write_group();
        }
    }

    /// Writes the rows filled so far as one row group and empties the columns.
    fn write_group(&mut self) {
        if self.failed.is_none() && self.misfit.is_none() {
            if let Err(e) = self.try_write_group() {
                self.failed = Some(e);
            }
        }
        self.columns.iter_mut().for_each(Column::clear);
        self.spare.clear();
        self.rows = 0;
        self.groups += 1;
    }

    fn try_write_group(&mut self) -> Result<(), ParquetError> {
        let mut group = self.writer.next_row_group()?;
        let mut columns = self.columns.iter();
        while let Some(mut w) = group.next_column()? {
            let c = columns.next().ok_or_else(|| {
                ParquetError::General("more columns in the schema than declared".into())
            })?;
            write_column(w.untyped(), c, &mut self.arrays)?;
            w.close()?;
        }
        group.close()?;
        Ok(())
    }

    /// The column the row fills next, which must be declared `name`, `kind`, `shape`.
    #[inline]
    fn column(&mut self, name: &'static str, kind: Kind, shape: Shape) -> &mut Column {
        let i = self.cursor;
        self.cursor += 1;
        let fits = matches!(self.columns.get(i), Some(c) if c.kind == kind && c.shape == shape);
        if !fits {
            return self.misfit(name);
        }
        let c = &mut self.columns[i];
        debug_assert_eq!(c.name, name, "column {i} is declared under another name");
        c
    }

    #[cold]
    #[inline(never)]
    fn misfit(&mut self, name: &'static str) -> &mut Column {
        self.misfit.get_or_insert(name);
        &mut self.spare
    }

    /// A required top-level string, written by `write` straight into the column.
    #[inline]
    pub fn text(&mut self, name: &'static str, write: impl FnOnce(&mut Vec<u8>)) {
        let c = self.column(name, Kind::Str, Shape::Top { optional: false });
        write(&mut c.values.bytes);
        c.values.ends.push(c.values.bytes.len());
    }

    /// A required top-level value.
    #[inline]
    pub fn value(&mut self, name: &'static str, kind: Kind, v: Value<'_>) {
        self.column(name, kind, Shape::Top { optional: false })
            .values
            .push(v);
    }

    /// An optional top-level value.
    #[inline]
    pub fn optional(&mut self, name: &'static str, kind: Kind, v: Option<Value<'_>>) {
        let c = self.column(name, kind, Shape::Top { optional: true });
        c.def.push(i16::from(v.is_some()));
        if let Some(v) = v {
            c.values.push(v);
        }
    }

    /// A time (nanoseconds since the epoch) as two columns, `names[0]` a timestamp in
    /// microseconds (rounded down) and `names[1]` the nanoseconds as an integer.
    #[inline]
    pub fn time(&mut self, names: [&'static str; 2], ns: i64) {
        self.value(names[0], Kind::Timestamp, micros(ns));
        self.value(names[1], Kind::I64, Value::I64(ns));
    }

    /// [`Table::time`] of an optional time.
    #[inline]
    pub fn time_optional(&mut self, names: [&'static str; 2], ns: Option<i64>) {
        self.optional(names[0], Kind::Timestamp, ns.map(micros));
        self.optional(names[1], Kind::I64, ns.map(Value::I64));
    }

    /// [`Table::time`] as two fields of the list of structs `group`.
    pub fn time_field(
        &mut self,
        group: &'static str,
        names: [&'static str; 2],
        ns: impl Iterator<Item = i64> + Clone,
    ) {
        let us = ns.clone().map(|t| Some(micros(t)));
        self.field(group, names[0], Kind::Timestamp, false, us);
        let ns = ns.map(|t| Some(Value::I64(t)));
        self.field(group, names[1], Kind::I64, false, ns);
    }

    /// A list of values (empty: an empty list).
    pub fn list<'v>(
        &mut self,
        name: &'static str,
        kind: Kind,
        items: impl IntoIterator<Item = Value<'v>>,
    ) {
        let c = self.column(name, kind, Shape::List);
        push_list(c, items.into_iter().map(Some), false);
    }

    /// One field of every element of the list of structs `group` (`items`: that field of
    /// each element, in order; `None` for an absent optional field).
    pub fn field<'v>(
        &mut self,
        group: &'static str,
        name: &'static str,
        kind: Kind,
        optional: bool,
        items: impl IntoIterator<Item = Option<Value<'v>>>,
    ) {
        let c = self.column(name, kind, Shape::Field { group, optional });
        push_list(c, items.into_iter(), optional);
    }

    /// Writes the last rows (a table without rows gets one empty group), then the footer.
    pub fn finish(mut self) -> Result<(), ParquetError> {
        if self.rows > 0 || self.groups == 0 {
            self.write_group();
        }
        if let Some(name) = self.misfit {
            return Err(ParquetError::General(format!(
                "column {name}: the row does not fill the declared columns in order"
            )));
        }
        if let Some(e) = self.failed {
            return Err(e);
        }
        // writes the footer, then hands the buffer back to be flushed
        let mut out = self.writer.into_inner()?;
        std::io::Write::flush(&mut out)?;
        Ok(())
    }
}

/// The schema of `columns`, as Parquet's message type text.
fn schema_text(columns: &[Column], message: &str) -> String {
    let mut s = format!("message {message} {{\n");
    let mut open: Option<&str> = None;
    for c in columns {
        let group = match c.shape {
            Shape::Field { group, .. } => Some(group),
            _ => None,
        };
        if open.is_some() && open != group {
            s.push_str("} } }\n");
            open = None;
        }
        if let (Some(g), None) = (group, open) {
            s.push_str(&format!(
                "required group {g} (LIST) {{ repeated group list {{ required group element {{\n"
            ));
            open = Some(g);
        }
        let leaf = |rep: &str| {
            format!(
                "{rep} {} {}{};\n",
                c.kind.schema(),
                c.name,
                c.kind.annotation()
            )
        };
        match c.shape {
            Shape::Top { optional } => {
                s.push_str(&leaf(if optional { "optional" } else { "required" }))
            }
            Shape::List => s.push_str(&format!(
                "required group {} (LIST) {{ repeated group list {{ required {} element{}; }} }}\n",
                c.name,
                c.kind.schema(),
                c.kind.annotation()
            )),
            Shape::Field { optional, .. } => {
                s.push_str(&leaf(if optional { "optional" } else { "required" }))
            }
        }
    }
    if open.is_some() {
        s.push_str("} } }\n");
    }
    s.push('}');
    s
}

/// The file writer for `columns`: uncompressed pages, dictionaries only for names,
/// statistics only on timestamps (see the module header of `parquet`), through a buffer.
fn writer(columns: &[Column], message: &str, out: std::fs::File) -> Result<Writer, ParquetError> {
    // small writes (page headers, the footer) are gathered; a page, at least this large
    // when the writer cuts it at its size limit, goes to the file without being copied
    let out = std::io::BufWriter::with_capacity(64 << 10, out);
    let schema = Arc::new(parse_message_type(&schema_text(columns, message))?);
    let mut props = WriterProperties::builder()
        .set_compression(COMPRESSION)
        .set_created_by(format!("flowcheck {}", env!("CARGO_PKG_VERSION")))
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::None);
    for c in columns {
        if c.kind == Kind::Name {
            props = props.set_column_dictionary_enabled(c.path(), true);
        }
        if c.kind == Kind::Timestamp {
            props = props.set_column_statistics_enabled(c.path(), EnabledStatistics::Chunk);
        }
    }
    SerializedFileWriter::new(out, schema, Arc::new(props.build()))
}

/// Appends one row's list to a list column: levels and the values present. An element is
/// defined at level 1, an optional field that is present at level 2; an empty list is one
/// entry at level 0.
fn push_list<'v>(c: &mut Column, items: impl Iterator<Item = Option<Value<'v>>>, optional: bool) {
    let mut any = false;
    for (k, item) in items.enumerate() {
        any = true;
        c.rep.push(i16::from(k > 0));
        c.def.push(1 + i16::from(optional && item.is_some()));
        if let Some(v) = item {
            c.values.push(v);
        }
    }
    if !any {
        c.rep.push(0);
        c.def.push(0);
    }
}

/// The definition and repetition levels the writer takes for a column of this shape.
fn levels<'c>(
    shape: Shape,
    def: &'c [i16],
    rep: &'c [i16],
) -> (Option<&'c [i16]>, Option<&'c [i16]>) {
    match shape {
        Shape::Top { optional: false } => (None, None),
        Shape::Top { optional: true } => (Some(def), None),
        Shape::List | Shape::Field { .. } => (Some(def), Some(rep)),
    }
}

/// Writes a built column into the column writer of its type.
fn write_column(
    w: &mut parquet::column::writer::ColumnWriter<'_>,
    c: &Column,
    arrays: &mut Vec<ByteArray>,
) -> Result<(), ParquetError> {
    use parquet::column::writer::ColumnWriter as W;
    let (def, rep) = levels(c.shape, &c.def, &c.rep);
    let v = &c.values;
    match (w, c.kind) {
        (W::ByteArrayColumnWriter(w), Kind::Str | Kind::Name) => {
            v.byte_arrays(arrays);
            w.write_batch(arrays, def, rep)?
        }
        (W::Int32ColumnWriter(w), Kind::I32) => w.write_batch(&v.i32s, def, rep)?,
        (W::Int64ColumnWriter(w), Kind::I64 | Kind::Timestamp) => {
            w.write_batch(&v.i64s, def, rep)?
        }
        (W::DoubleColumnWriter(w), Kind::F64) => w.write_batch(&v.f64s, def, rep)?,
        (W::BoolColumnWriter(w), Kind::Bool) => w.write_batch(&v.bools, def, rep)?,
        _ => {
            return Err(ParquetError::General(format!(
                "column {}: the schema's type differs from the values'",
                c.name
            )))
        }
    };
    Ok(())
}

/// A string value.
pub fn s(v: &str) -> Value<'_> {
    Value::Str(v)
}

/// Nanoseconds since the epoch as a timestamp value in microseconds, rounded down (towards
/// the past, also before 1970).
fn micros(ns: i64) -> Value<'static> {
    Value::I64(ns.div_euclid(1_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &[Col] = &[
        Col {
            name: "n",
            kind: Kind::I64,
            shape: Shape::Top { optional: false },
        },
        Col {
            name: "s",
            kind: Kind::Str,
            shape: Shape::Top { optional: true },
        },
    ];

    /// A table written to a temporary file: what `fill` wrote, then the file's row groups
    /// and rows (read back with the crate's reader), or the error.
    fn written(
        tag: &str,
        group_rows: usize,
        fill: impl FnOnce(&mut Table),
    ) -> Result<(usize, i64), ParquetError> {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let path =
            std::env::temp_dir().join(format!("flowcheck-{}-{tag}.parquet", std::process::id()));
        let file = std::fs::File::create(&path)?;
        let mut t = Table::with_groups(SCHEMA, "t", file, 4, group_rows)?;
        fill(&mut t);
        let r = t.finish().and_then(|()| {
            let reader = SerializedFileReader::new(std::fs::File::open(&path)?)?;
            let meta = reader.metadata();
            Ok((meta.num_row_groups(), meta.file_metadata().num_rows()))
        });
        let _ = std::fs::remove_file(&path);
        r
    }

    fn row(t: &mut Table, n: i64) {
        t.value("n", Kind::I64, Value::I64(n));
        t.optional("s", Kind::Str, (n % 2 == 0).then(|| s("even")));
        t.end_row();
    }

    #[test]
    fn a_table_without_rows_declares_its_columns() {
        let columns: Vec<Column> = SCHEMA.iter().map(|c| Column::new(c, 0)).collect();
        let text = schema_text(&columns, "t");
        assert!(text.contains("required int64 n;"), "{text}");
        assert!(text.contains("optional binary s (STRING);"), "{text}");
        assert_eq!(written("empty", 2, |_| {}).unwrap(), (1, 0));
    }

    #[test]
    fn rows_are_written_a_group_at_a_time() {
        let got = written("groups", 2, |t| (0..5).for_each(|n| row(t, n))).unwrap();
        assert_eq!(got, (3, 5));
        let got = written("one", 8, |t| (0..5).for_each(|n| row(t, n))).unwrap();
        assert_eq!(got, (1, 5));
    }

    #[test]
    fn a_row_that_differs_from_the_declaration_is_an_error_not_a_file() {
        assert!(written("ok", 2, |t| row(t, 1)).is_ok());
        let short = written("short", 2, |t| {
            t.value("n", Kind::I64, Value::I64(1));
            t.end_row();
        });
        assert!(short.is_err());
        let shape = written("shape", 2, |t| {
            t.optional("n", Kind::I64, None);
            t.optional("s", Kind::Str, None);
            t.end_row();
        });
        assert!(shape.is_err());
    }
}
