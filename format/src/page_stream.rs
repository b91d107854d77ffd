//! The post-copy page stream's wire format (spec.md §6, "A post-copy move"), shared by the
//! source that serves a held guest's pages, the restore that takes them, and the nodes that
//! carry them between machines.
//!
//! The server first sends [`MAGIC`], the number of ranges (u64) and each range's start and
//! end (u64 each; page-aligned, ascending, disjoint). Each request is then a page address
//! (u64), answered by one byte: [`INITIAL`] (the page holds what a fresh run of the image
//! holds there), [`STORED`] followed by the page's 4096 bytes, or [`REFUSED`]. A request
//! [`NEXT`]` | address` asks for the first page at or after `address` (in the ranges) that is
//! not all zero and not sent before: [`STORED`], its address (u64) and its bytes, or
//! [`INITIAL`] when none is left (a restore's background pass skips zero pages so). Bits
//! 48..56 of a `NEXT` request ask for up to that many more such pages in one answer
//! ([`next_request`]): the answer is that many items, ending early with [`INITIAL`] when none
//! is left. The request
//! [`DONE`] (the restore holds every page) or [`ABORT`] (the move is off) is answered by one
//! byte and ends the stream. Integers are little-endian.

use std::io::{self, Read, Write};
use std::ops::Range;

use crate::memory_map::GUEST_PAGE_SIZE;

/// The stream's first bytes.
pub const MAGIC: &[u8; 8] = b"XISAPG01";
/// Answer: the page holds its initial contents (zero, or the image's bytes).
pub const INITIAL: u8 = 0;
/// Answer: the page's 4096 bytes follow.
pub const STORED: u8 = 1;
/// Answer: the address is not a page the server serves.
pub const REFUSED: u8 = 2;
/// Request: the restore has every page; the source may let the guest go.
pub const DONE: u64 = u64::MAX;
/// Request: the move is off; the source keeps the guest.
pub const ABORT: u64 = u64::MAX - 1;
/// Request flag: the next page that is not all zero, at or after the address.
pub const NEXT: u64 = 1 << 62;

/// Is `request` (not [`DONE`] or [`ABORT`]) a [`NEXT`] request?
pub fn is_next(request: u64) -> bool {
    request != DONE && request != ABORT && request & NEXT != 0
}

/// Where a [`NEXT`] request's count of pages lies (guest addresses are below 2^48).
const COUNT_SHIFT: u32 = 48;
/// The most pages one [`NEXT`] request asks for.
pub const MAX_BATCH: usize = 256;

/// A [`NEXT`] request for up to `count` (1 to [`MAX_BATCH`]) pages from `from`.
pub fn next_request(from: u64, count: usize) -> u64 {
    let extra = count.clamp(1, MAX_BATCH) as u64 - 1;
    (from & ((1 << COUNT_SHIFT) - 1)) | NEXT | (extra << COUNT_SHIFT)
}

/// A [`NEXT`] request's start address and count of pages.
pub fn next_parts(request: u64) -> (u64, usize) {
    let from = request & ((1 << COUNT_SHIFT) - 1);
    let count = ((request >> COUNT_SHIFT) & 0xff) as usize + 1;
    (from, count)
}
/// A reader accepts at most this many ranges (a guest has a handful).
pub const MAX_RANGES: u64 = 1 << 16;

/// Writes the stream's header.
pub fn write_header(out: &mut impl Write, ranges: &[Range<u64>]) -> io::Result<()> {
    let mut header = MAGIC.to_vec();
    header.extend_from_slice(&(ranges.len() as u64).to_le_bytes());
    for range in ranges {
        header.extend_from_slice(&range.start.to_le_bytes());
        header.extend_from_slice(&range.end.to_le_bytes());
    }
    out.write_all(&header)
}

/// Reads and checks the stream's header; `InvalidData` names what is wrong.
pub fn read_header(input: &mut impl Read) -> io::Result<Vec<Range<u64>>> {
    let invalid = |reason: String| io::Error::new(io::ErrorKind::InvalidData, reason);
    let mut magic = [0u8; 8];
    input.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(invalid(format!(
            "not a page stream (it starts with {magic:02x?})"
        )));
    }
    let count = read_u64(input)?;
    if count > MAX_RANGES {
        return Err(invalid(format!("{count} ranges, more than {MAX_RANGES}")));
    }
    let mut ranges: Vec<Range<u64>> = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (start, end) = (read_u64(input)?, read_u64(input)?);
        if start >= end
            || !start.is_multiple_of(GUEST_PAGE_SIZE)
            || !end.is_multiple_of(GUEST_PAGE_SIZE)
            || ranges.last().is_some_and(|r| r.end > start)
        {
            return Err(invalid(format!(
                "range {start:#x}..{end:#x} is not page-aligned, ascending and disjoint"
            )));
        }
        ranges.push(start..end);
    }
    Ok(ranges)
}

pub fn read_u64(input: &mut impl Read) -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    input.read_exact(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_bad_ones_are_refused() {
        let ranges = vec![0x400_0000..0x400_1000, 0x600_0000..0x610_0000];
        let mut bytes = Vec::new();
        write_header(&mut bytes, &ranges).unwrap();
        assert_eq!(read_header(&mut bytes.as_slice()).unwrap(), ranges);
        let mut overlapping = Vec::new();
        write_header(&mut overlapping, &[0x2000..0x4000, 0x3000..0x5000]).unwrap();
        assert!(read_header(&mut overlapping.as_slice()).is_err());
        let mut unaligned = Vec::new();
        let unaligned_range = 0x2001..0x4000;
        write_header(&mut unaligned, std::slice::from_ref(&unaligned_range)).unwrap();
        assert!(read_header(&mut unaligned.as_slice()).is_err());
        assert!(read_header(&mut &b"XISAPG0"[..]).is_err());
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(read_header(&mut huge.as_slice()).is_err());
    }

    #[test]
    fn next_requests_carry_their_address_and_count() {
        assert_eq!(next_request(0x600_0000, 1), 0x600_0000 | NEXT);
        for count in [1, 16, MAX_BATCH] {
            let request = next_request(0x7fff_f000, count);
            assert!(is_next(request));
            assert_eq!(next_parts(request), (0x7fff_f000, count));
        }
        assert_eq!(next_parts(next_request(0x1000, 10_000)).1, MAX_BATCH);
        assert!(!is_next(DONE) && !is_next(ABORT) && !is_next(0x600_0000));
    }
}
