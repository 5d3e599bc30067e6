//! The one place that maps a file into memory. A GeoLite2-City database is
//! 66 MB; read into memory it would be most of the collector's footprint,
//! while lookups touch a small part of it. Mapped, only the pages touched
//! are resident, and the kernel can drop them under pressure.
//!
//! Mapping is `unsafe` because another process could change the file under
//! the map (undefined behaviour, or SIGBUS if it is truncated). So the map
//! is never of the operator's file: it is of a private copy, written through
//! a temporary name and a rename into the spool directory, which this
//! collector holds locked and nobody else writes. The copy is never written
//! again while mapped; the next start replaces it by another rename (a new
//! file), once this process has released the lock.

#![expect(
    unsafe_code,
    reason = "memory-maps a private copy of a GeoIP file; see the module's comment"
)]

use std::fs::File;
use std::path::Path;

/// A read-only map of a private copy of a file.
#[derive(Debug)]
pub struct Mapped(memmap2::Mmap);

impl Mapped {
    /// Copies `source` to `copy` (through `copy`'s name with `.tmp`
    /// appended, then a rename), and maps the copy.
    pub fn private_copy(source: &Path, copy: &Path) -> std::io::Result<Mapped> {
        let mut temporary = copy.as_os_str().to_owned();
        temporary.push(".tmp");
        if let Err(error) =
            std::fs::copy(source, &temporary).and_then(|_| std::fs::rename(&temporary, copy))
        {
            let _ = std::fs::remove_file(&temporary);
            return Err(error);
        }
        let file = File::open(copy)?;
        // SAFETY: `copy` was just made by this process in a directory it
        // holds locked (the spool's), and nothing writes it while the map
        // lives: see the module's comment.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Mapped(map))
    }
}

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
