//! A column's values encoded as they come, and a row group's worth of them written as a
//! column chunk of one data page ([`write_chunk`]).
//!
//! The values are PLAIN-encoded (little-endian numbers, length-prefixed strings, booleans
//! one bit each; a column of names as indices into its dictionary, `dict.rs`) and the
//! definition and repetition levels RLE-encoded (`rle.rs`), straight into the bytes of the
//! page as a row fills them; at the end of a row group each page is written after its
//! header (`thrift.rs`), and the chunk's metadata ([`ColumnChunkMetaData`]) goes to the
//! footer, which the crate writes (`table.rs`).
//!
//! Measured in the header of `parquet` (`mod.rs`): the Parquet export's instructions fell
//! from 398 M to 331 M when its pages were encoded here instead of by the crate's column
//! writer, whose per-value work was what cost (every string a reference-counted slice,
//! levels checked and re-encoded in mini batches).

use std::io::Write;

use parquet::basic::{Compression, Encoding};
use parquet::errors::ParquetError;
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::statistics::Statistics;
use parquet::schema::types::ColumnDescPtr;

use super::dict::Dict;
use super::rle::Levels;
use super::thrift::{self, PageKind};

/// A column's values for one row group, PLAIN-encoded, with its levels.
#[derive(Debug, Default)]
pub struct Encoded {
    /// The values present, PLAIN-encoded.
    pub data: Vec<u8>,
    /// Booleans written into `data` (packed eight to a byte, first in the lowest bit).
    pub bools: usize,
    /// Values present.
    pub values: u64,
    /// Level entries (values present, nulls and empty lists): the page's `num_values`.
    pub entries: u64,
    pub def: Levels,
    pub rep: Levels,
    /// Smallest and largest integer pushed (kept for timestamps: their statistics).
    pub min: i64,
    pub max: i64,
    /// For a column of names: the strings go here, `data` stays empty.
    pub dict: Option<Box<Dict>>,
}

impl Encoded {
    /// A column whose strings are dictionary-encoded.
    pub fn with_dictionary() -> Encoded {
        Encoded {
            dict: Some(Box::default()),
            ..Encoded::default()
        }
    }

    #[inline(always)]
    pub fn str(&mut self, v: &[u8]) {
        match &mut self.dict {
            Some(d) => d.push(v),
            None => {
                self.data.extend_from_slice(&(v.len() as u32).to_le_bytes());
                self.data.extend_from_slice(v);
            }
        }
        self.values += 1;
    }

    /// A `&'static str` (found by its address in a column of names).
    #[inline(always)]
    pub fn static_str(&mut self, v: &'static str) {
        match &mut self.dict {
            Some(d) => {
                d.push_static(v);
                self.values += 1;
            }
            None => self.str(v.as_bytes()),
        }
    }

    /// The name of point `point` (found by the point's place in a column of names).
    #[inline(always)]
    pub fn point_str(&mut self, point: usize, v: &[u8]) {
        match &mut self.dict {
            Some(d) => {
                d.push_point(point, v);
                self.values += 1;
            }
            None => self.str(v),
        }
    }

    /// A string written by `write` straight into the page (its length filled in after); for
    /// free text, never a column of names.
    #[inline(always)]
    pub fn str_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let at = self.data.len();
        self.data.extend_from_slice(&[0; 4]);
        write(&mut self.data);
        let len = (self.data.len() - at - 4) as u32;
        if let Some(prefix) = self.data.get_mut(at..at + 4) {
            prefix.copy_from_slice(&len.to_le_bytes());
        }
        self.values += 1;
    }

    /// A number's little-endian bytes, PLAIN.
    #[inline(always)]
    fn plain<const N: usize>(&mut self, bytes: [u8; N]) {
        self.data.extend_from_slice(&bytes);
        self.values += 1;
    }

    #[inline(always)]
    pub fn i32(&mut self, v: i32) {
        self.plain(v.to_le_bytes());
    }

    #[inline(always)]
    pub fn i64(&mut self, v: i64) {
        self.plain(v.to_le_bytes());
    }

    /// An `i64` whose smallest and largest are kept (a timestamp's statistics).
    #[inline(always)]
    pub fn timestamp(&mut self, v: i64) {
        if self.values == 0 {
            (self.min, self.max) = (v, v);
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.plain(v.to_le_bytes());
    }

    #[inline(always)]
    pub fn f64(&mut self, v: f64) {
        self.plain(v.to_le_bytes());
    }

    #[inline(always)]
    pub fn bool(&mut self, v: bool) {
        let bit = self.bools % 8;
        if bit == 0 {
            self.data.push(0);
        }
        if let Some(last) = self.data.last_mut() {
            *last |= u8::from(v) << bit;
        }
        self.bools += 1;
        self.values += 1;
    }

    /// Empties the column, keeping its room.
    pub fn clear(&mut self) {
        self.data.clear();
        self.bools = 0;
        self.values = 0;
        self.entries = 0;
        self.def.clear();
        self.rep.clear();
        if let Some(d) = &mut self.dict {
            d.clear();
        }
    }
}

/// What a column chunk needs besides its values: where it sits in the schema, whether its
/// levels are written, and whether its statistics are.
pub struct ChunkOf<'a> {
    pub descr: &'a ColumnDescPtr,
    pub def: bool,
    pub rep: bool,
    /// Min/max statistics (timestamps: what a time filter prunes on).
    pub stats: bool,
}

/// Writes the column chunk of `e` (a row group's values of one column) to `out`, whose next
/// byte is byte `at` of the file: a dictionary page if `e` has a dictionary, then one
/// uncompressed data page (v1), each after its header (`thrift.rs`), the values written
/// straight from where the rows put them (`scratch`: room for the headers and a dictionary's
/// indices). Returns the chunk's metadata, as the file's footer gives it, and its length.
pub fn write_chunk(
    e: &mut Encoded,
    of: ChunkOf<'_>,
    out: &mut impl Write,
    at: u64,
    scratch: &mut Vec<u8>,
) -> Result<(ColumnChunkMetaData, u64), ParquetError> {
    // a chunk without values has no dictionary (nothing to look up)
    let dict = e.dict.as_deref().filter(|d| d.len > 0);
    let too_large = || ParquetError::General("a column chunk of more than 2 GiB".into());
    e.rep.end();
    e.def.end();
    let mut written = 0u64;
    if let Some(d) = dict {
        scratch.clear();
        let h = thrift::Header {
            kind: PageKind::Dictionary,
            size: d.page.len(),
            num_values: d.len,
            encoding: thrift::PLAIN,
        };
        thrift::write(scratch, h).ok_or_else(too_large)?;
        out.write_all(scratch)?;
        out.write_all(&d.page)?;
        written += (scratch.len() + d.page.len()) as u64;
    }
    let data_offset = at + written;
    let entries = if of.def || of.rep {
        e.entries
    } else {
        e.values
    };
    let num_values = u32::try_from(entries)
        .map_err(|_| ParquetError::General("a row group of more than 2^32 values".into()))?;
    // the values: a dictionary's indices are encoded into `scratch` first (the page's
    // header, which needs their length, is put after them there), else the PLAIN bytes
    scratch.clear();
    let values = match dict {
        Some(d) => {
            d.encode_ids(scratch);
            scratch.len()
        }
        None => e.data.len(),
    };
    let size = usize::from(of.rep) * e.rep.section_len()
        + usize::from(of.def) * e.def.section_len()
        + values;
    let ids = scratch.len();
    let h = thrift::Header {
        kind: PageKind::Data,
        size,
        num_values,
        encoding: match dict {
            Some(_) => thrift::RLE_DICTIONARY,
            None => thrift::PLAIN,
        },
    };
    thrift::write(scratch, h).ok_or_else(too_large)?;
    out.write_all(scratch.get(ids..).unwrap_or(&[]))?;
    written += (scratch.len() - ids) as u64;
    if of.rep {
        e.rep.write_section(out)?;
    }
    if of.def {
        e.def.write_section(out)?;
    }
    match dict {
        Some(_) => out.write_all(scratch.get(..ids).unwrap_or(&[]))?,
        None => out.write_all(&e.data)?,
    }
    written += size as u64;
    let len = written as i64;
    let encodings = match dict {
        Some(_) => vec![Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY],
        None => vec![Encoding::PLAIN, Encoding::RLE],
    };
    let mut meta = ColumnChunkMetaData::builder(of.descr.clone())
        .set_compression(Compression::UNCOMPRESSED)
        .set_encodings(encodings)
        .set_num_values(entries as i64)
        .set_total_compressed_size(len)
        .set_total_uncompressed_size(len)
        .set_dictionary_page_offset(dict.map(|_| at as i64))
        .set_data_page_offset(data_offset as i64);
    if of.stats {
        let (min, max) = match e.values {
            0 => (None, None),
            _ => (Some(e.min), Some(e.max)),
        };
        let nulls = entries - e.values;
        meta = meta.set_statistics(Statistics::int64(min, max, None, Some(nulls), false));
    }
    Ok((meta.build()?, written))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_plain() {
        let mut e = Encoded::default();
        e.str(b"ab");
        e.str_with(|b| b.extend_from_slice(b"xyz"));
        assert_eq!(
            e.data,
            [2, 0, 0, 0, b'a', b'b', 3, 0, 0, 0, b'x', b'y', b'z']
        );
        let mut b = Encoded::default();
        for v in [true, false, true, true, false, false, false, false, true] {
            b.bool(v);
        }
        assert_eq!(b.data, [0b0000_1101, 0b1]);
        let mut n = Encoded::default();
        n.timestamp(5);
        n.timestamp(-3);
        n.timestamp(9);
        assert_eq!((n.min, n.max, n.values), (-3, 9, 3));
    }
}
