//! A table built column by column, then written as one Parquet file with the `parquet`
//! crate's low-level writer (no Arrow: flowcheck's rows go straight into Parquet columns,
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

use super::schema::{self, Col};

/// A Parquet physical type with its annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text (addresses, reasons, IDs): plain-encoded.
    Str,
    /// A string from a small set (point, protocol, verdict, rule names): dictionary-encoded.
    Name,
    I32,
    I64,
    F64,
    Bool,
    /// int64 microseconds since the epoch, UTC (see [`Table::time`]).
    Timestamp,
}

impl Kind {
    fn schema(self) -> &'static str {
        match self {
            Kind::Str | Kind::Name => "binary",
            Kind::I32 => "int32",
            Kind::I64 => "int64",
            Kind::F64 => "double",
            Kind::Bool => "boolean",
            Kind::Timestamp => "int64",
        }
    }

    fn annotation(self) -> &'static str {
        match self {
            Kind::Str | Kind::Name => " (STRING)",
            Kind::Timestamp => " (TIMESTAMP(MICROS,true))",
            _ => "",
        }
    }
}

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

    /// The strings as byte arrays that share one buffer.
    fn byte_arrays(&mut self) -> Vec<ByteArray> {
        let buf = Bytes::from(std::mem::take(&mut self.bytes));
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let v = ByteArray::from(buf.slice(start..end));
                start = end;
                v
            })
            .collect()
    }
}

/// Where a column sits in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Top {
        optional: bool,
    },
    List,
    /// A field of the list of structs named by the group.
    Field {
        group: &'static str,
        optional: bool,
    },
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

/// A table being filled row by row.
pub struct Table {
    /// The declared columns, every one made (and given room for its rows) up front.
    columns: Vec<Column>,
    /// Index of the next column the current row fills.
    cursor: usize,
    /// Where a value goes that does not fit the declaration (then `misfit` names it and
    /// [`Table::write`] fails): a fill that differs from the schema is a bug, reported, not
    /// a panic.
    spare: Column,
    misfit: Option<&'static str>,
}

impl Table {
    /// A table of the columns `schema` declares, for `rows` rows.
    pub fn new(schema: &[Col], rows: usize) -> Table {
        Table {
            columns: schema.iter().map(|c| Column::new(c, rows)).collect(),
            cursor: 0,
            spare: Column::new(&schema::SPARE, 0),
            misfit: None,
        }
    }

    /// Ends the current row (which must have filled every column).
    #[inline]
    pub fn end_row(&mut self) {
        if self.cursor != self.columns.len() {
            self.misfit
                .get_or_insert("(a row that fills fewer columns)");
        }
        self.cursor = 0;
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

    /// The schema, as Parquet's message type text.
    fn schema(&self, message: &str) -> String {
        let mut s = format!("message {message} {{\n");
        let mut open: Option<&str> = None;
        for c in &self.columns {
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

    /// Writes the table as one Parquet file (one row group, uncompressed pages),
    /// through a buffer: the writer's page headers and pages are many small writes.
    pub fn write(self, message: &str, out: std::fs::File) -> Result<(), ParquetError> {
        if let Some(name) = self.misfit {
            return Err(ParquetError::General(format!(
                "column {name}: the row does not fill the declared columns in order"
            )));
        }
        // small writes (page headers, the footer) are gathered; a page, at least this large
        // when the writer cuts it at its size limit, goes to the file without being copied
        let out = std::io::BufWriter::with_capacity(64 << 10, out);
        let schema = Arc::new(parse_message_type(&self.schema(message))?);
        let mut props = WriterProperties::builder()
            .set_compression(COMPRESSION)
            .set_created_by(format!("flowcheck {}", env!("CARGO_PKG_VERSION")))
            .set_dictionary_enabled(false)
            .set_statistics_enabled(EnabledStatistics::None);
        for c in &self.columns {
            if c.kind == Kind::Name {
                props = props.set_column_dictionary_enabled(c.path(), true);
            }
            if c.kind == Kind::Timestamp {
                props = props.set_column_statistics_enabled(c.path(), EnabledStatistics::Chunk);
            }
        }
        let props = Arc::new(props.build());
        let mut writer = SerializedFileWriter::new(out, schema, props)?;
        let mut group = writer.next_row_group()?;
        let mut columns = self.columns.into_iter();
        while let Some(mut w) = group.next_column()? {
            let mut c = columns.next().ok_or_else(|| {
                ParquetError::General("more columns in the schema than built".into())
            })?;
            write_column(w.untyped(), &mut c)?;
            w.close()?;
        }
        group.close()?;
        // writes the footer, then hands the buffer back to be flushed
        let mut out = writer.into_inner()?;
        std::io::Write::flush(&mut out)?;
        Ok(())
    }
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
    c: &mut Column,
) -> Result<(), ParquetError> {
    use parquet::column::writer::ColumnWriter as W;
    let (def, rep) = levels(c.shape, &c.def, &c.rep);
    let v = &mut c.values;
    match (w, c.kind) {
        (W::ByteArrayColumnWriter(w), Kind::Str | Kind::Name) => {
            w.write_batch(&v.byte_arrays(), def, rep)?
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

    fn written(t: Table, tag: &str) -> Result<u64, ParquetError> {
        let path =
            std::env::temp_dir().join(format!("flowcheck-{}-{tag}.parquet", std::process::id()));
        let file = std::fs::File::create(&path)?;
        let r = t.write("t", file);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let _ = std::fs::remove_file(&path);
        r.map(|()| len)
    }

    #[test]
    fn a_table_without_rows_declares_its_columns() {
        let t = Table::new(SCHEMA, 0);
        assert!(t.schema("t").contains("required int64 n;"));
        assert!(t.schema("t").contains("optional binary s (STRING);"));
        assert!(written(t, "empty").unwrap() > 0);
    }

    #[test]
    fn a_row_that_differs_from_the_declaration_is_an_error_not_a_file() {
        let mut t = Table::new(SCHEMA, 1);
        t.value("n", Kind::I64, Value::I64(1));
        t.optional("s", Kind::Str, Some(s("x")));
        t.end_row();
        assert!(written(t, "ok").is_ok());
        let mut t = Table::new(SCHEMA, 1);
        t.value("n", Kind::I64, Value::I64(1));
        t.end_row();
        assert!(written(t, "short").is_err());
        let mut t = Table::new(SCHEMA, 1);
        t.optional("n", Kind::I64, None);
        t.optional("s", Kind::Str, None);
        t.end_row();
        assert!(written(t, "shape").is_err());
    }
}
