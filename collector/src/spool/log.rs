//! The spool's on-disk format: numbered segment files of checksummed records,
//! one accepted row each.
//!
//! A record is `MSR3`, the payload length (u32 LE), the CRC-32 of the
//! payload (u32 LE), then the payload: the row in ClickHouse's `RowBinary`,
//! so that shipping is copying bytes, with no decoding or re-encoding.
//! Records of earlier versions are still read and converted, so an upgrade
//! ships what the previous version spooled: `MSR2`, the row without its
//! hit number and gap (they are appended, as 0: unknown), and `MSR1`, the
//! row as JSON. Segments are only
//! appended to, by one writer, and never reopened for writing: a torn record
//! at the end of a segment (a crash mid-write) is detected by its length or
//! checksum and skipped.

use crate::row::EventRow;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub const MAGIC: [u8; 4] = *b"MSR3";
/// Records of the second version: `RowBinary` without `hit` and `gap_s`.
pub const MAGIC_V2: [u8; 4] = *b"MSR2";
/// Records of the first version: the row as JSON.
pub const MAGIC_JSON: [u8; 4] = *b"MSR1";
/// What a version-2 record lacks: `hit` (u16) and `gap_s` (u32), both 0.
const V2_MISSING: [u8; 6] = [0; 6];
pub const HEADER: usize = 12;
/// Largest payload accepted when reading: anything larger is corruption.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// A place in the spool: a segment and a byte offset in it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

pub fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}.seg"))
}

/// The segments present, in order.
pub fn segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut found: Vec<u64> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name();
            let name = name.to_str()?;
            name.strip_suffix(".seg")?.parse().ok()
        })
        .collect();
    found.sort_unstable();
    Ok(found)
}

/// Appends one record for `row` to `out`.
// Never inlined: the benchmarks' profile finds the spool's share by name.
#[inline(never)]
pub fn encode(row: &EventRow, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[0; 8]);
    row.write_row_binary(out);
    let payload = &out[start + HEADER..];
    let len = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    out[start + 4..start + 8].copy_from_slice(&len);
    out[start + 8..start + 12].copy_from_slice(&crc);
}

/// What reading at a position found.
#[derive(Debug)]
pub enum Next {
    /// A row, appended to the caller's buffer as `RowBinary`.
    Row,
    /// Nothing more below the limit.
    End,
    /// Bytes that are not a valid record: the rest of the segment is lost.
    Corrupt(String),
}

/// Reads records of one segment, from an offset, up to a limit.
#[derive(Debug)]
pub struct SegmentReader {
    segment: u64,
    offset: u64,
    len: u64,
    file: BufReader<File>,
}

impl SegmentReader {
    pub fn open(dir: &Path, at: Position) -> io::Result<SegmentReader> {
        let mut file = File::open(segment_path(dir, at.segment))?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(at.offset))?;
        Ok(SegmentReader {
            segment: at.segment,
            offset: at.offset,
            len,
            file: BufReader::with_capacity(256 * 1024, file),
        })
    }

    pub fn position(&self) -> Position {
        Position {
            segment: self.segment,
            offset: self.offset,
        }
    }

    /// The segment's length when opened.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// The next record that ends at or before `limit` bytes, its row
    /// appended to `out`. Records below the limit must be whole: a short one
    /// is corruption (a torn write), and leaves `out` as it was.
    pub fn next(&mut self, limit: u64, out: &mut Vec<u8>) -> io::Result<Next> {
        if self.offset >= limit {
            return Ok(Next::End);
        }
        if self.offset + HEADER as u64 > limit {
            return Ok(Next::Corrupt("truncated record header".into()));
        }
        let mut header = [0u8; HEADER];
        if let Err(error) = self.file.read_exact(&mut header) {
            return short(error, "truncated record header");
        }
        let version = match header[..4].try_into() {
            Ok(MAGIC) => 3,
            Ok(MAGIC_V2) => 2,
            Ok(MAGIC_JSON) => 1,
            _ => return Ok(Next::Corrupt("bad record magic".into())),
        };
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let crc = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if len > MAX_PAYLOAD {
            return Ok(Next::Corrupt(format!("record of {len} bytes")));
        }
        let end = self.offset + (HEADER + len) as u64;
        if end > limit {
            return Ok(Next::Corrupt("record runs past the end".into()));
        }
        let start = out.len();
        out.resize(start + len, 0);
        let read = self.file.read_exact(&mut out[start..]);
        let checked = read.map(|()| crc32fast::hash(&out[start..]) == crc);
        let outcome = match checked {
            Err(error) => short(error, "truncated record"),
            Ok(false) => Ok(Next::Corrupt("checksum mismatch".into())),
            Ok(true) if version == 1 => match serde_json::from_slice::<EventRow>(&out[start..]) {
                Ok(mut row) => {
                    out.truncate(start);
                    // Not recorded then: unknown.
                    (row.hit, row.gap_s) = (0, 0);
                    row.write_row_binary(out);
                    Ok(Next::Row)
                }
                Err(error) => Ok(Next::Corrupt(format!("undecodable record: {error}"))),
            },
            Ok(true) if version == 2 => {
                out.extend_from_slice(&V2_MISSING);
                Ok(Next::Row)
            }
            Ok(true) => Ok(Next::Row),
        };
        match outcome {
            Ok(Next::Row) => self.offset = end,
            _ => out.truncate(start),
        }
        outcome
    }
}

fn short(error: io::Error, what: &str) -> io::Result<Next> {
    if error.kind() == io::ErrorKind::UnexpectedEof {
        Ok(Next::Corrupt(what.to_owned()))
    } else {
        Err(error)
    }
}
