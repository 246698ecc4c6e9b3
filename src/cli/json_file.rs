//! The binary's `--json` output file, written over in place.

use std::path::PathBuf;

use flowcheck::report::{json, open_over, write_over};

/// The `--json` output file: opened (created if needed) before the analysis, so that a path
/// that cannot be written fails at once, and written over in place afterwards.
///
/// The old content is not emptied first: the new document is written from the first byte over
/// the old one, and a regular file is then cut to the new length. Rewriting pages the file
/// already has is cheaper than freeing them and allocating new ones, and a file emptied and
/// written again makes ext4 force the whole file's block allocation when it is closed
/// (`auto_da_alloc`): 0.08 s for a 276 MB document.
pub struct JsonFile {
    path: PathBuf,
    file: std::fs::File,
}

impl JsonFile {
    pub fn open(path: &std::path::Path) -> std::io::Result<JsonFile> {
        let file = open_over(path).map_err(|e| json_context(path, e))?;
        Ok(JsonFile {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Writes the document, then cuts what is left of the old content. On a write error the
    /// file is cut after the bytes written, so nothing of the old document stays behind.
    pub fn write(self, analysis: &flowcheck::report::Analysis) -> std::io::Result<()> {
        write_over(&self.file, |pages| {
            json::write(analysis, std::io::BufWriter::new(pages))
        })
        .map_err(|e| json_context(&self.path, e))
    }
}

fn json_context(path: &std::path::Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("--json {}: {e}", path.display()))
}
