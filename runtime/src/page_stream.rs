//! The post-copy page stream (spec.md §6, "A post-copy move"): a guest handed over at a
//! migration point keeps its memory on the source, which serves it page by page to the
//! restore on the destination over a local socket (the nodes carry the stream between
//! machines).
//!
//! The wire format is [`xisa_format::page_stream`].

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use xisa_converters::snapshot::{SnapshotError, copy_page};
use xisa_format::checkpoint::PAGE_SIZE;
use xisa_format::image::Image;
use xisa_format::memory_map::GUEST_PAGE_SIZE;
use xisa_format::page_stream::{
    ABORT, DONE, INITIAL, REFUSED, STORED, is_next, next_parts, next_request, read_header,
    write_header,
};
use xisa_personality::GuestMemory;

#[derive(Debug, thiserror::Error)]
pub enum PageStreamError {
    #[error("the page stream at {path} failed")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("the page stream at {path} is not a page stream: {reason}")]
    Protocol { path: String, reason: String },
    #[error("the source refused page {address:#x}")]
    Refused { address: u64 },
}

/// How a served stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// The restore holds every page: the guest has moved.
    Done { pages: u64, bytes: u64 },
    /// The move is off (asked for, or the stream broke first): the source keeps the guest.
    Kept,
}

/// Serves the held guest's pages of `ranges` to the one restore that connects to `listener`.
pub fn serve(
    listener: &UnixListener,
    memory: &dyn GuestMemory,
    image: &Image,
    ranges: &[Range<u64>],
) -> Result<Served, SnapshotError> {
    let Ok((mut stream, _)) = listener.accept() else {
        return Ok(Served::Kept);
    };
    if write_header(&mut stream, ranges).is_err() {
        return Ok(Served::Kept);
    }
    let (mut pages, mut bytes) = (0, 0);
    // Pages already sent are not sent again by `NEXT` (the restore has them).
    let mut sent: HashSet<u64> = HashSet::new();
    let mut page = [0u8; PAGE_SIZE];
    let mut request = [0u8; 8];
    loop {
        if stream.read_exact(&mut request).is_err() {
            return Ok(Served::Kept);
        }
        let address = u64::from_le_bytes(request);
        let answer = match address {
            DONE => {
                let _ = stream.write_all(&[INITIAL]);
                return Ok(Served::Done { pages, bytes });
            }
            ABORT => {
                let _ = stream.write_all(&[INITIAL]);
                return Ok(Served::Kept);
            }
            _ if is_next(address) => {
                let (mut from, count) = next_parts(address);
                let mut answer = Vec::with_capacity(count * (PAGE_SIZE + 9));
                for _ in 0..count {
                    match next_nonzero(memory, ranges, from, &sent, &mut page)? {
                        Some(found) => {
                            sent.insert(found);
                            pages += 1;
                            bytes += PAGE_SIZE as u64;
                            answer.push(STORED);
                            answer.extend_from_slice(&found.to_le_bytes());
                            answer.extend_from_slice(&page);
                            from = found + GUEST_PAGE_SIZE;
                        }
                        None => {
                            answer.push(INITIAL);
                            break;
                        }
                    }
                }
                stream.write_all(&answer)
            }
            _ if !address.is_multiple_of(GUEST_PAGE_SIZE)
                || !ranges.iter().any(|r| r.contains(&address)) =>
            {
                stream.write_all(&[REFUSED])
            }
            _ => {
                copy_page(memory, address, &mut page)?;
                sent.insert(address);
                pages += 1;
                if image.holds_initial(address, &page) {
                    stream.write_all(&[INITIAL])
                } else {
                    bytes += PAGE_SIZE as u64;
                    stream
                        .write_all(&[STORED])
                        .and_then(|()| stream.write_all(&page))
                }
            }
        };
        if answer.is_err() {
            return Ok(Served::Kept);
        }
    }
}

/// The first page at or after `from` inside `ranges`, not in `sent`, that is not all zero,
/// copied to `page`.
fn next_nonzero(
    memory: &dyn GuestMemory,
    ranges: &[Range<u64>],
    from: u64,
    sent: &HashSet<u64>,
    page: &mut [u8; PAGE_SIZE],
) -> Result<Option<u64>, SnapshotError> {
    for range in ranges.iter().filter(|r| r.end > from) {
        let start = range.start.max(from & !(GUEST_PAGE_SIZE - 1));
        for address in (start..range.end).step_by(PAGE_SIZE) {
            if sent.contains(&address) {
                continue;
            }
            copy_page(memory, address, page)?;
            if page.iter().any(|b| *b != 0) {
                return Ok(Some(address));
            }
        }
    }
    Ok(None)
}

/// A page a stream sent: its address and bytes.
pub type StreamedPage = (u64, Box<[u8; PAGE_SIZE]>);

/// The restore's end of a page stream.
#[derive(Debug)]
pub struct RemotePages {
    stream: UnixStream,
    path: String,
    ranges: Vec<Range<u64>>,
}

impl RemotePages {
    /// Connects to the stream at `path` and reads the ranges it serves.
    pub fn connect(path: &Path) -> Result<RemotePages, PageStreamError> {
        let name = path.display().to_string();
        let io = |source| PageStreamError::Io {
            path: name.clone(),
            source,
        };
        let protocol = |reason: String| PageStreamError::Protocol {
            path: name.clone(),
            reason,
        };
        let mut stream = UnixStream::connect(path).map_err(io)?;
        let ranges = read_header(&mut stream).map_err(|error| match error.kind() {
            io::ErrorKind::InvalidData => protocol(error.to_string()),
            _ => io(error),
        })?;
        Ok(RemotePages {
            stream,
            path: name,
            ranges,
        })
    }

    /// The guest ranges the source serves: page-aligned, ascending, disjoint.
    pub fn ranges(&self) -> &[Range<u64>] {
        &self.ranges
    }

    /// Fetches the page at `address` into `out`: `false` when it holds its initial contents
    /// (`out` is left alone).
    pub fn fetch(
        &mut self,
        address: u64,
        out: &mut [u8; PAGE_SIZE],
    ) -> Result<bool, PageStreamError> {
        let io = |source| PageStreamError::Io {
            path: self.path.clone(),
            source,
        };
        self.stream.write_all(&address.to_le_bytes()).map_err(io)?;
        let mut kind = [0u8; 1];
        self.stream.read_exact(&mut kind).map_err(io)?;
        match kind[0] {
            INITIAL => Ok(false),
            STORED => {
                self.stream.read_exact(out).map_err(io)?;
                Ok(true)
            }
            REFUSED => Err(PageStreamError::Refused { address }),
            other => Err(PageStreamError::Protocol {
                path: self.path.clone(),
                reason: format!("answer {other} to page {address:#x}"),
            }),
        }
    }

    /// Up to `count` of the pages at or after `from` that are not all zero and were not
    /// sent before, in address order, appended to `pages`. Returns where the next batch
    /// starts, or `None` when none is left.
    pub fn next_nonzero(
        &mut self,
        from: u64,
        count: usize,
        pages: &mut Vec<StreamedPage>,
    ) -> Result<Option<u64>, PageStreamError> {
        let io = |source| PageStreamError::Io {
            path: self.path.clone(),
            source,
        };
        let request = next_request(from, count);
        self.stream.write_all(&request.to_le_bytes()).map_err(io)?;
        let (mut from, count) = next_parts(request);
        let mut page = [0u8; PAGE_SIZE];
        for _ in 0..count {
            let mut kind = [0u8; 1];
            self.stream.read_exact(&mut kind).map_err(io)?;
            match kind[0] {
                INITIAL => return Ok(None),
                STORED => {
                    let mut address = [0u8; 8];
                    self.stream.read_exact(&mut address).map_err(io)?;
                    self.stream.read_exact(&mut page).map_err(io)?;
                    let address = u64::from_le_bytes(address);
                    if address < from
                        || !address.is_multiple_of(GUEST_PAGE_SIZE)
                        || !self.ranges.iter().any(|r| r.contains(&address))
                    {
                        return Err(PageStreamError::Protocol {
                            path: self.path.clone(),
                            reason: format!("page {address:#x} given for the next from {from:#x}"),
                        });
                    }
                    pages.push((address, Box::new(page)));
                    from = address + GUEST_PAGE_SIZE;
                }
                other => {
                    return Err(PageStreamError::Protocol {
                        path: self.path.clone(),
                        reason: format!("answer {other} to the next page from {from:#x}"),
                    });
                }
            }
        }
        Ok(Some(from))
    }

    /// Tells the source that every page is here: it may let the guest go.
    pub fn done(mut self) -> Result<(), PageStreamError> {
        let mut answer = [0u8; 1];
        self.stream
            .write_all(&DONE.to_le_bytes())
            .and_then(|()| self.stream.read_exact(&mut answer))
            .map_err(|source| PageStreamError::Io {
                path: self.path.clone(),
                source,
            })
    }
}
