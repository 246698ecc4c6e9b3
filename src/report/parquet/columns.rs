//! A table built column by column, then written as one Parquet file with the `parquet`
//! crate's low-level writer (no Arrow: flowcheck's rows go straight into Parquet columns,
//! with their definition and repetition levels computed here).
//!
//! A table is a list of leaf columns, each added by the first row and filled by every row in
//! the same order. A column is a top-level value (required or optional), a list of values,
//! or a field of a list of structs (consecutive fields of one `group` make one
//! `list<struct>`). Lists are never null (an empty list is written as one); their elements
//! may be optional inside a struct.

use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

/// A Parquet physical type with its annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    I32,
    I64,
    F64,
    Bool,
    /// int64 nanoseconds since the epoch, UTC.
    Timestamp,
}

impl Kind {
    fn schema(self) -> &'static str {
        match self {
            Kind::Str => "binary",
            Kind::I32 => "int32",
            Kind::I64 => "int64",
            Kind::F64 => "double",
            Kind::Bool => "boolean",
            Kind::Timestamp => "int64",
        }
    }

    fn annotation(self) -> &'static str {
        match self {
            Kind::Str => " (STRING)",
            Kind::Timestamp => " (TIMESTAMP(NANOS,true))",
            _ => "",
        }
    }
}

/// One value of a column.
#[derive(Debug, Clone)]
pub enum Value {
    Str(ByteArray),
    I32(i32),
    I64(i64),
    F64(f64),
    Bool(bool),
}

/// Where a column sits in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Top { optional: bool },
    List,
    /// A field of the list of structs named by the group.
    Field { group: &'static str, optional: bool },
}

struct Column {
    name: &'static str,
    kind: Kind,
    shape: Shape,
    values: Vec<Value>,
    def: Vec<i16>,
    rep: Vec<i16>,
}

/// A table being filled row by row.
pub struct Table {
    columns: Vec<Column>,
    /// Index of the next column the current row fills.
    cursor: usize,
    rows: usize,
}

impl Table {
    pub fn new() -> Table {
        Table {
            columns: Vec::new(),
            cursor: 0,
            rows: 0,
        }
    }

    /// Ends the current row.
    pub fn end_row(&mut self) {
        self.cursor = 0;
        self.rows += 1;
    }

    /// The column the row fills next (added on the first row).
    fn column(&mut self, name: &'static str, kind: Kind, shape: Shape) -> &mut Column {
        if self.cursor == self.columns.len() {
            self.columns.push(Column {
                name,
                kind,
                shape,
                values: Vec::new(),
                def: Vec::new(),
                rep: Vec::new(),
            });
        }
        let i = self.cursor;
        self.cursor += 1;
        &mut self.columns[i]
    }

    /// A required top-level value.
    pub fn value(&mut self, name: &'static str, kind: Kind, v: Value) {
        self.column(name, kind, Shape::Top { optional: false })
            .values
            .push(v);
    }

    /// An optional top-level value.
    pub fn optional(&mut self, name: &'static str, kind: Kind, v: Option<Value>) {
        let c = self.column(name, kind, Shape::Top { optional: true });
        c.def.push(i16::from(v.is_some()));
        c.values.extend(v);
    }

    /// A list of values (empty: an empty list).
    pub fn list(&mut self, name: &'static str, kind: Kind, items: impl IntoIterator<Item = Value>) {
        let c = self.column(name, kind, Shape::List);
        push_list(c, items.into_iter().map(Some), false);
    }

    /// One field of every element of the list of structs `group` (`items`: that field of
    /// each element, in order; `None` for an absent optional field).
    pub fn field(
        &mut self,
        group: &'static str,
        name: &'static str,
        kind: Kind,
        optional: bool,
        items: impl IntoIterator<Item = Option<Value>>,
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
                format!("{rep} {} {}{};\n", c.kind.schema(), c.name, c.kind.annotation())
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

    /// Writes the table as one Parquet file (one row group, Snappy-compressed pages).
    pub fn write(self, message: &str, out: std::fs::File) -> Result<(), ParquetError> {
        let schema = Arc::new(parse_message_type(&self.schema(message))?);
        let props = Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_created_by(format!("flowcheck {}", env!("CARGO_PKG_VERSION")))
                .build(),
        );
        let mut writer = SerializedFileWriter::new(out, schema, props)?;
        let mut group = writer.next_row_group()?;
        let mut columns = self.columns.into_iter();
        while let Some(mut w) = group.next_column()? {
            let c = columns
                .next()
                .ok_or_else(|| ParquetError::General("more columns in the schema than built".into()))?;
            write_column(w.untyped(), &c)?;
            w.close()?;
        }
        group.close()?;
        writer.close()?;
        Ok(())
    }
}

impl Default for Table {
    fn default() -> Self {
        Table::new()
    }
}

/// Appends one row's list to a list column: levels and the values present. An element is
/// defined at level 1, an optional field that is present at level 2; an empty list is one
/// entry at level 0.
fn push_list(c: &mut Column, items: impl Iterator<Item = Option<Value>>, optional: bool) {
    let mut any = false;
    for (k, item) in items.enumerate() {
        any = true;
        c.rep.push(i16::from(k > 0));
        c.def.push(1 + i16::from(optional && item.is_some()));
        c.values.extend(item);
    }
    if !any {
        c.rep.push(0);
        c.def.push(0);
    }
}

fn levels(c: &Column) -> (Option<&[i16]>, Option<&[i16]>) {
    match c.shape {
        Shape::Top { optional: false } => (None, None),
        Shape::Top { optional: true } => (Some(&c.def), None),
        Shape::List | Shape::Field { .. } => (Some(&c.def), Some(&c.rep)),
    }
}

/// Writes a built column into the column writer of the same type.
fn write_column(w: &mut parquet::column::writer::ColumnWriter<'_>, c: &Column) -> Result<(), ParquetError> {
    use parquet::column::writer::ColumnWriter as W;
    let (def, rep) = levels(c);
    let mismatch = || ParquetError::General(format!("column {}: value of another type", c.name));
    macro_rules! write_as {
        ($writer:expr, $variant:ident) => {{
            let vals = c
                .values
                .iter()
                .map(|v| match v {
                    Value::$variant(x) => Ok(x.clone()),
                    _ => Err(mismatch()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            $writer.write_batch(&vals, def, rep)?;
        }};
    }
    match w {
        W::ByteArrayColumnWriter(w) => write_as!(w, Str),
        W::Int32ColumnWriter(w) => write_as!(w, I32),
        W::Int64ColumnWriter(w) => write_as!(w, I64),
        W::DoubleColumnWriter(w) => write_as!(w, F64),
        W::BoolColumnWriter(w) => write_as!(w, Bool),
        _ => return Err(ParquetError::General(format!("column {}: unexpected type", c.name))),
    }
    Ok(())
}

/// A string value.
pub fn s(v: &str) -> Value {
    Value::Str(ByteArray::from(v.as_bytes().to_vec()))
}
