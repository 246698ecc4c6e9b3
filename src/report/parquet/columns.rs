//! A row group being filled row by row into typed columns ([`Group`]): each value is
//! encoded into its column's page as the row fills it (`page.rs`), and the filled group is
//! written as one column chunk per column ([`Group::write`]) into the file `table.rs` writes.
//!
//! A table is a list of leaf columns, declared up front (`schema.rs`: a table with no rows
//! is still a file with every column) and filled by every row in the declared order. A
//! column is a top-level value (required or optional), a list of values, or a field of a
//! list of structs (consecutive fields of one `group` make one `list<struct>`). Lists are
//! never null (an empty list is written as one); their elements may be optional inside a
//! struct.
//!
//! A group of rows allocates per column, not per value, and its room is reused by
//! the next group the same worker fills.

use parquet::errors::ParquetError;
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::schema::types::ColumnDescPtr;

use super::page::{self, ChunkOf, Encoded};
use super::schema::{self, Col, Kind, Shape};

/// One value of a column (a string is borrowed: the column copies its bytes).
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Str(&'a [u8]),
    /// A string that is a `&'static str` (a column of names finds it by its address).
    Static(&'static str),
    /// The name of the point at this place in `Analysis::points` (a column of names finds
    /// it by the place): the same place must always come with the same name.
    Point(usize, &'a [u8]),
    I32(i32),
    I64(i64),
    F64(f64),
    Bool(bool),
}

struct Column {
    name: &'static str,
    kind: Kind,
    shape: Shape,
    /// `tag(kind, shape)`.
    tag: u8,
    /// A field of a list of structs: the place of its group's first column, and how many
    /// columns the group has (else its own place, and 0).
    group_start: usize,
    group_len: usize,
    values: Encoded,
}

impl Column {
    /// An empty column of the declaration `c`, with room for `rows` rows.
    fn new(c: &Col, rows: usize) -> Column {
        // room for the PLAIN values (a column of names keeps its strings in its dictionary)
        let per_value = match c.kind {
            Kind::Name => 0,
            Kind::Str => 16,
            Kind::I32 => 4,
            Kind::I64 | Kind::Timestamp | Kind::F64 => 8,
            Kind::Bool => 1,
        };
        let mut values = match c.kind {
            Kind::Name => Encoded::with_dictionary(),
            _ => Encoded::default(),
        };
        values.data.reserve(rows * per_value);
        Column {
            name: c.name,
            kind: c.kind,
            shape: c.shape,
            tag: tag(c.kind, c.shape),
            group_start: 0,
            group_len: 0,
            values,
        }
    }

    #[inline(always)]
    fn put(&mut self, kind: Kind, v: Value<'_>) {
        let e = &mut self.values;
        match v {
            Value::Str(x) => e.str(x),
            Value::Static(x) => e.static_str(x),
            Value::Point(i, x) => e.point_str(i, x),
            Value::I32(x) => e.i32(x),
            // `kind` is the caller's constant (checked against the column's): only a
            // timestamp keeps its smallest and largest value, for its statistics
            Value::I64(x) if kind == Kind::Timestamp => e.timestamp(x),
            Value::I64(x) => e.i64(x),
            Value::F64(x) => e.f64(x),
            Value::Bool(x) => e.bool(x),
        }
    }

    /// Whether its pages have definition levels, and repetition levels.
    fn levels(&self) -> (bool, bool) {
        match self.shape {
            Shape::Top { optional } => (optional, false),
            Shape::List | Shape::Field { .. } => (true, true),
        }
    }
}

/// Rows per row group: a table is written a group at a time, each filled by one worker,
/// so that its memory stays bounded and is reused. 16,384 rather than DuckDB's 122,880:
/// measured fastest on the 2 GB benchmark capture (see the header of `parquet`).
pub const GROUP_ROWS: usize = 16_384;

/// A row group being filled row by row.
pub struct Group {
    /// The declared columns, every one made (and given room for a group's rows) up front.
    columns: Vec<Column>,
    /// Index of the next column the current row fills.
    cursor: usize,
    /// Where a value goes that does not fit the declaration (then `misfit` names it and
    /// [`Group::write`] fails): a fill that differs from the schema is a bug, reported,
    /// not a panic.
    spare: Column,
    misfit: Option<&'static str>,
    /// Rows filled.
    rows: usize,
    /// For a list of structs (by its first column): rows whose list was empty and whose
    /// entries are not yet in its columns ([`Group::empty_list`]): written in one run per
    /// column when the group's next list comes or the group ends.
    empty: Vec<u32>,
    /// Room for page headers and a dictionary's indices while the group is written.
    scratch: Vec<u8>,
}

impl Group {
    /// An empty group of the columns `schema` declares, with room for `rows` rows.
    pub fn new(schema: &[Col], rows: usize) -> Group {
        let mut columns: Vec<Column> = schema.iter().map(|c| Column::new(c, rows)).collect();
        // each list of structs: its consecutive columns of one group
        let mut i = 0;
        while i < columns.len() {
            let group = match columns[i].shape {
                Shape::Field { group, .. } => Some(group),
                _ => None,
            };
            let len = columns[i..]
                .iter()
                .take_while(
                    |c| matches!(c.shape, Shape::Field { group: g, .. } if Some(g) == group),
                )
                .count();
            for c in &mut columns[i..i + len.max(1)] {
                c.group_start = i;
                c.group_len = len;
            }
            i += len.max(1);
        }
        let empty = vec![0; columns.len()];
        Group {
            columns,
            cursor: 0,
            spare: Column::new(&schema::SPARE, 0),
            misfit: None,
            rows: 0,
            empty,
            scratch: Vec::new(),
        }
    }

    /// An empty list of structs `group`, whose columns come next (all of them are skipped):
    /// counted, and written into its columns later, in one run each (most conversations
    /// have no NAT and no ICMP error: those lists are empty row after row).
    #[inline(always)]
    pub fn empty_list(&mut self, group: &'static str) {
        let i = self.cursor;
        let fields = match self.columns.get(i) {
            Some(c)
                if c.group_start == i
                    && matches!(c.shape, Shape::Field { group: g, .. } if g == group) =>
            {
                c.group_len
            }
            _ => {
                self.misfit.get_or_insert(group);
                self.cursor += 1;
                return;
            }
        };
        self.cursor += fields;
        if let Some(n) = self.empty.get_mut(i) {
            *n += 1;
        }
    }

    /// Writes the empty lists counted for the list of structs whose first column is `start`.
    #[cold]
    #[inline(never)]
    fn write_empty(&mut self, start: usize) {
        let Some(n) = self.empty.get_mut(start).map(std::mem::take) else {
            return;
        };
        let len = self.columns.get(start).map_or(0, |c| c.group_len);
        for c in self.columns.iter_mut().skip(start).take(len) {
            c.values.rep.push_run(0, n);
            c.values.def.push_run(0, n);
            c.values.entries += u64::from(n);
        }
    }

    /// Ends the current row (which must have filled every column).
    #[inline(always)]
    pub fn end_row(&mut self) {
        if self.cursor != self.columns.len() {
            self.misfit
                .get_or_insert("(a row that fills fewer columns)");
        }
        self.cursor = 0;
        self.rows += 1;
    }

    /// Writes the rows filled as one column chunk per column (`descrs`: the columns as the
    /// file's schema describes them) to `out`, whose next byte is byte `at` of the file;
    /// returns the chunks' metadata and their length; then empties the group for the next
    /// rows.
    pub fn write(
        &mut self,
        descrs: &[ColumnDescPtr],
        out: &mut impl std::io::Write,
        at: u64,
    ) -> Result<(Vec<ColumnChunkMetaData>, u64), ParquetError> {
        for start in 0..self.empty.len() {
            if self.empty[start] > 0 {
                self.write_empty(start);
            }
        }
        let result = match self.misfit {
            Some(name) => Err(ParquetError::General(format!(
                "column {name}: the row does not fill the declared columns in order"
            ))),
            None if descrs.len() != self.columns.len() => Err(ParquetError::General(
                "the file's schema and the declared columns differ".into(),
            )),
            None => self.write_chunks(descrs, out, at),
        };
        // emptied also after a failure, as after the chunks were written
        self.columns.iter_mut().for_each(|c| c.values.clear());
        self.spare.values.clear();
        self.rows = 0;
        self.cursor = 0;
        result
    }

    /// [`Group::write`]'s chunks, one per column, in order.
    fn write_chunks(
        &mut self,
        descrs: &[ColumnDescPtr],
        out: &mut impl std::io::Write,
        at: u64,
    ) -> Result<(Vec<ColumnChunkMetaData>, u64), ParquetError> {
        let mut metas = Vec::with_capacity(self.columns.len());
        let mut written = 0;
        for (c, descr) in self.columns.iter_mut().zip(descrs) {
            let (def, rep) = c.levels();
            let stats = c.kind == Kind::Timestamp;
            let of = ChunkOf {
                descr,
                def,
                rep,
                stats,
            };
            let (meta, len) =
                page::write_chunk(&mut c.values, of, out, at + written, &mut self.scratch)?;
            metas.push(meta);
            written += len;
        }
        Ok((metas, written))
    }

    /// Rows filled since the group was last written.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The column the row fills next, which must be declared `name`, `kind`, `shape`.
    #[inline(always)]
    fn column(&mut self, name: &'static str, kind: Kind, shape: Shape) -> &mut Column {
        let i = self.cursor;
        self.cursor += 1;
        let fits = matches!(self.columns.get(i), Some(c) if c.tag == tag(kind, shape));
        if !fits {
            return self.misfit(name);
        }
        let c = &mut self.columns[i];
        debug_assert_eq!(c.name, name, "column {i} is declared under another name");
        debug_assert_eq!(c.shape, shape, "column {name} is declared in another group");
        c
    }

    #[cold]
    #[inline(never)]
    fn misfit(&mut self, name: &'static str) -> &mut Column {
        self.misfit.get_or_insert(name);
        &mut self.spare
    }

    /// A required top-level string, written by `write` straight into the column.
    #[inline(always)]
    pub fn text(&mut self, name: &'static str, write: impl FnOnce(&mut Vec<u8>)) {
        let c = self.column(name, Kind::Str, Shape::Top { optional: false });
        c.values.str_with(write);
    }

    /// A required top-level value.
    #[inline(always)]
    pub fn value(&mut self, name: &'static str, kind: Kind, v: Value<'_>) {
        self.column(name, kind, Shape::Top { optional: false })
            .put(kind, v);
    }

    /// An optional top-level value.
    #[inline(always)]
    pub fn optional(&mut self, name: &'static str, kind: Kind, v: Option<Value<'_>>) {
        let c = self.column(name, kind, Shape::Top { optional: true });
        c.values.def.push(u8::from(v.is_some()));
        c.values.entries += 1;
        if let Some(v) = v {
            c.put(kind, v);
        }
    }

    /// A time (nanoseconds since the epoch) as two columns, `names[0]` a timestamp in
    /// microseconds (rounded down) and `names[1]` the nanoseconds as an integer.
    #[inline(always)]
    pub fn time(&mut self, names: [&'static str; 2], ns: i64) {
        self.value(names[0], Kind::Timestamp, micros(ns));
        self.value(names[1], Kind::I64, Value::I64(ns));
    }

    /// [`Group::time`] of an optional time.
    #[inline(always)]
    pub fn time_optional(&mut self, names: [&'static str; 2], ns: Option<i64>) {
        self.optional(names[0], Kind::Timestamp, ns.map(micros));
        self.optional(names[1], Kind::I64, ns.map(Value::I64));
    }

    /// [`Group::time`] as two fields of the list of structs `group`.
    #[inline(always)]
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
    #[inline(always)]
    pub fn list<'v>(
        &mut self,
        name: &'static str,
        kind: Kind,
        items: impl IntoIterator<Item = Value<'v>>,
    ) {
        let c = self.column(name, kind, Shape::List);
        push_list(c, kind, items.into_iter().map(Some), false);
    }

    /// One field of every element of the list of structs `group` (`items`: that field of
    /// each element, in order; `None` for an absent optional field).
    #[inline(always)]
    pub fn field<'v>(
        &mut self,
        group: &'static str,
        name: &'static str,
        kind: Kind,
        optional: bool,
        items: impl IntoIterator<Item = Option<Value<'v>>>,
    ) {
        let i = self.cursor;
        if self.empty.get(i).is_some_and(|&n| n > 0) {
            self.write_empty(i);
        }
        let c = self.column(name, kind, Shape::Field { group, optional });
        push_list(c, kind, items.into_iter(), optional);
    }
}

/// A column's kind and shape in a byte, compared for every value filled (the group of a
/// field is left out: it is checked with the name, in debug builds, which the tests run).
#[inline(always)]
const fn tag(kind: Kind, shape: Shape) -> u8 {
    let shape = match shape {
        Shape::Top { optional: false } => 0,
        Shape::Top { optional: true } => 1,
        Shape::List => 2,
        Shape::Field {
            optional: false, ..
        } => 3,
        Shape::Field { optional: true, .. } => 4,
    };
    (kind as u8) * 8 + shape
}

/// The schema of `columns`, as Parquet's message type text.
pub fn schema_text(columns: &[Col], message: &str) -> String {
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

/// Appends one row's list to a list column: levels and the values present. An element is
/// defined at level 1, an optional field that is present at level 2; an empty list is one
/// entry at level 0.
#[inline(always)]
fn push_list<'v>(
    c: &mut Column,
    kind: Kind,
    items: impl Iterator<Item = Option<Value<'v>>>,
    optional: bool,
) {
    let mut k = 0u64;
    for item in items {
        c.values.rep.push(u8::from(k > 0));
        c.values.def.push(1 + u8::from(optional && item.is_some()));
        if let Some(v) = item {
            c.put(kind, v);
        }
        k += 1;
    }
    if k == 0 {
        c.values.rep.push(0);
        c.values.def.push(0);
        k = 1;
    }
    c.values.entries += k;
}

/// A string value.
pub fn s(v: &str) -> Value<'_> {
    Value::Str(v.as_bytes())
}

/// A `&'static str` value (a name of flowcheck's own: a verdict, a protocol, a rule).
pub fn st(v: &'static str) -> Value<'static> {
    Value::Static(v)
}

/// Nanoseconds since the epoch as a timestamp value in microseconds, rounded down (towards
/// the past, also before 1970).
fn micros(ns: i64) -> Value<'static> {
    Value::I64(ns.div_euclid(1_000))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::report::parquet::schema::{opt, top};

    /// A table of two columns, for the tests of `columns` and `table`.
    pub const SCHEMA: &[Col] = &[top("n", Kind::I64), opt("s", Kind::Str)];

    #[test]
    fn a_table_without_rows_declares_its_columns() {
        let text = schema_text(SCHEMA, "t");
        assert!(text.contains("required int64 n;"), "{text}");
        assert!(text.contains("optional binary s (STRING);"), "{text}");
    }

    #[test]
    fn a_row_that_differs_from_the_declaration_is_an_error_not_a_chunk() {
        let descrs = super::super::table::descriptors(SCHEMA, "t").unwrap();
        let mut g = Group::new(SCHEMA, 2);
        g.value("n", Kind::I64, Value::I64(1));
        g.optional("s", Kind::Str, Some(s("x")));
        g.end_row();
        let mut out = Vec::new();
        let (metas, len) = g.write(&descrs, &mut out, 4).unwrap();
        assert_eq!(metas.len(), 2);
        assert_eq!(len, out.len() as u64);
        // the first chunk starts where it was told the file was, the second after it
        assert_eq!(metas[0].data_page_offset(), 4);
        assert_eq!(metas[1].data_page_offset(), 4 + metas[0].compressed_size());
        g.value("n", Kind::I64, Value::I64(1));
        g.end_row();
        assert!(g.write(&descrs, &mut Vec::new(), 0).is_err());
        let mut g = Group::new(SCHEMA, 2);
        g.optional("n", Kind::I64, None);
        g.optional("s", Kind::Str, None);
        g.end_row();
        assert!(g.write(&descrs, &mut Vec::new(), 0).is_err());
    }
}
