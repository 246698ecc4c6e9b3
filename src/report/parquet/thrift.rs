//! The page headers of the column chunks (`PageHeader` of `parquet.thrift`), in Thrift's
//! compact protocol, written straight in front of each page's bytes.
//!
//! The `parquet` crate writes the same header only through its page writer, which takes the
//! page as a buffer of its own and copies it after the header: every page assembled, then
//! copied (97 MB on the 2 GB benchmark capture). Written here, the header goes to the file
//! and the page's sections follow it from where the rows put them (`table.rs`). A test
//! checks these headers byte for byte against the crate's page writer.

/// What a page header says of its page.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub kind: PageKind,
    /// The page's bytes after the header (uncompressed and compressed alike: no codec).
    pub size: usize,
    /// Values in the page (a data page: its level entries; a dictionary: its strings).
    pub num_values: u32,
    /// `Encoding` of the values (PLAIN 0, RLE_DICTIONARY 8).
    pub encoding: i32,
}

/// A data page (v1), its levels RLE-encoded, or a dictionary page (not sorted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    Data,
    Dictionary,
}

/// `Encoding::PLAIN`.
pub const PLAIN: i32 = 0;
/// `Encoding::RLE`.
const RLE: i32 = 3;
/// `Encoding::RLE_DICTIONARY`.
pub const RLE_DICTIONARY: i32 = 8;

/// Compact-protocol field types (a boolean field's type is its value).
const FALSE: u8 = 2;
const I32: u8 = 5;
const STRUCT: u8 = 12;

/// Appends the header of a page; `None` if a size does not fit the header's `i32`.
pub fn write(out: &mut Vec<u8>, h: Header) -> Option<()> {
    let size = i32::try_from(h.size).ok()?;
    let num_values = i32::try_from(h.num_values).ok()?;
    let (page_type, field) = match h.kind {
        PageKind::Data => (0, 5),
        PageKind::Dictionary => (2, 7),
    };
    // PageHeader: 1 type, 2 uncompressed_page_size, 3 compressed_page_size, then
    // 5 data_page_header or 7 dictionary_page_header
    i32_field(out, 1, page_type);
    i32_field(out, 1, size);
    i32_field(out, 1, size);
    out.push(field_head(field - 3, STRUCT));
    i32_field(out, 1, num_values);
    i32_field(out, 1, h.encoding);
    match h.kind {
        PageKind::Data => {
            // definition_level_encoding, repetition_level_encoding
            i32_field(out, 1, RLE);
            i32_field(out, 1, RLE);
        }
        // is_sorted: false
        PageKind::Dictionary => out.push(field_head(1, FALSE)),
    }
    out.push(0); // end of the page's header struct
    out.push(0); // end of PageHeader
    Some(())
}

/// A field header: the field id's delta from the previous field (1 to 15) and the type.
fn field_head(delta: u8, kind: u8) -> u8 {
    (delta << 4) | kind
}

fn i32_field(out: &mut Vec<u8>, delta: u8, v: i32) {
    out.push(field_head(delta, I32));
    // zigzag, then unsigned LEB128
    super::rle::varint(out, u64::from(((v << 1) ^ (v >> 31)) as u32));
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use parquet::basic::Encoding;
    use parquet::column::page::{CompressedPage, Page, PageWriter};
    use parquet::file::writer::{SerializedPageWriter, TrackedWrite};

    /// The crate's bytes for `page`: its header, then its body.
    fn crates(page: Page) -> Vec<u8> {
        let mut out = TrackedWrite::new(Vec::new());
        let mut w = SerializedPageWriter::new(&mut out);
        let size = page.buffer().len();
        w.write_page(CompressedPage::new(page, size)).unwrap();
        w.close().unwrap();
        out.into_inner().unwrap()
    }

    #[test]
    fn headers_equal_the_crates_byte_for_byte() {
        for (size, values) in [(0usize, 0u32), (1, 1), (63, 64), (64, 65), (300, 20_000)]
            .into_iter()
            .chain([(5_000_000, 16_384), (70_000, 1 << 20)])
        {
            let body = vec![7u8; size];
            for (encoding, thrift) in [
                (Encoding::PLAIN, PLAIN),
                (Encoding::RLE_DICTIONARY, RLE_DICTIONARY),
            ] {
                let page = Page::DataPage {
                    buf: Bytes::from(body.clone()),
                    num_values: values,
                    encoding,
                    def_level_encoding: Encoding::RLE,
                    rep_level_encoding: Encoding::RLE,
                    statistics: None,
                };
                let mut ours = Vec::new();
                let h = Header {
                    kind: PageKind::Data,
                    size,
                    num_values: values,
                    encoding: thrift,
                };
                write(&mut ours, h).unwrap();
                ours.extend_from_slice(&body);
                assert!(crates(page) == ours, "data page of {size} bytes, {values}");
            }
            let dict = Page::DictionaryPage {
                buf: Bytes::from(body.clone()),
                num_values: values,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            };
            let mut ours = Vec::new();
            let h = Header {
                kind: PageKind::Dictionary,
                size,
                num_values: values,
                encoding: PLAIN,
            };
            write(&mut ours, h).unwrap();
            ours.extend_from_slice(&body);
            assert!(crates(dict) == ours, "dictionary page of {size} bytes");
        }
    }

    #[test]
    fn a_size_past_i32_is_refused() {
        let h = Header {
            kind: PageKind::Data,
            size: 1 << 31,
            num_values: 1,
            encoding: PLAIN,
        };
        assert!(write(&mut Vec::new(), h).is_none());
    }
}
