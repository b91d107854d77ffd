//! The page codec: choosing an encoding for a page when writing, and turning a stored page
//! back into its 4096 bytes when restoring.

use super::PAGE_SIZE;
use super::error::CheckpointError;
use super::model::{PageEncoding, PageRecord, RegionRecord};

/// zstd level used for pages: fast, and pages are small enough that higher levels gain little.
const ZSTD_LEVEL: i32 = 3;

/// A zstd page is kept only if it is at most this long, i.e. saves at least 10% over raw;
/// otherwise decompressing it on restore would cost more than the bytes it saves.
const ZSTD_MAX: usize = PAGE_SIZE * 9 / 10;

/// Every stored zstd page starts with the magic of a standard zstd frame (RFC 8878). Legacy
/// and skippable frames are refused even though the zstd library could decode some of them.
pub(crate) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Bytes of the elements a shuffled page is transposed over.
const SHUFFLE_ELEMENT: usize = 8;
/// How often (in pages) the encoder tries both zstd and shuffled zstd; in between it keeps the
/// last winner, so a capture compresses each page about once (bench/page-compression).
const TRIAL_EVERY: u32 = 16;

/// Whether a capture compresses its pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PageCompression {
    /// zstd or shuffled zstd where that saves at least 10% (smaller files, slower capture).
    #[default]
    Zstd,
    /// Every stored page raw: the capture only copies (faster, when the program is held and
    /// the file or link is fast).
    None,
}

/// Chooses page encodings. Reuses one zstd context across pages; keep one per capture.
pub struct PageEncoder {
    /// `None` when compression is off, or zstd could not set up a context (out of memory):
    /// pages are then stored raw.
    compressor: Option<zstd::bulk::Compressor<'static>>,
    /// The compressed encoding that won the last trial.
    preferred: PageEncoding,
    /// Pages compressed since the last trial; `TRIAL_EVERY` forces one.
    since_trial: u32,
}

impl Default for PageEncoder {
    fn default() -> Self {
        PageEncoder::new()
    }
}

impl PageEncoder {
    pub fn new() -> Self {
        PageEncoder::with_compression(PageCompression::Zstd)
    }

    pub fn with_compression(compression: PageCompression) -> Self {
        PageEncoder {
            compressor: match compression {
                PageCompression::Zstd => zstd::bulk::Compressor::new(ZSTD_LEVEL).ok(),
                PageCompression::None => None,
            },
            preferred: PageEncoding::Zstd,
            since_trial: TRIAL_EVERY,
        }
    }

    /// Encodes one page: zero if it is all zeros, same-as-image if it equals `image_page`
    /// (the image's initial bytes of this page, zero-extended to 4096; `None` outside the
    /// image's rodata and data), zstd or shuffled zstd if that saves at least 10%, raw
    /// otherwise. The record's `index` is 0: the caller numbers pages within their region.
    pub fn encode(&mut self, page: &[u8; PAGE_SIZE], image_page: Option<&[u8]>) -> PageRecord {
        let record = |encoding: PageEncoding, data: Vec<u8>| PageRecord {
            index: 0,
            encoding: encoding as u8,
            data,
        };
        if is_zero(page) {
            return record(PageEncoding::Zero, Vec::new());
        }
        if let Some(image) = image_page
            && image.len() <= PAGE_SIZE
            && page[..image.len()] == *image
            && is_zero(&page[image.len()..])
        {
            return record(PageEncoding::SameAsImage, Vec::new());
        }
        match self.compress(page) {
            Some((encoding, data)) => record(encoding, data),
            None => {
                // The next compressible page is tried both ways.
                self.since_trial = TRIAL_EVERY;
                record(PageEncoding::Raw, page.to_vec())
            }
        }
    }

    /// The smaller of zstd and shuffled zstd that saves at least 10%, trying both every
    /// `TRIAL_EVERY` pages and the last winner in between.
    fn compress(&mut self, page: &[u8; PAGE_SIZE]) -> Option<(PageEncoding, Vec<u8>)> {
        let compressor = self.compressor.as_mut()?;
        let mut shuffled = [0u8; PAGE_SIZE];
        let mut attempt = |encoding: PageEncoding| {
            let input = match encoding {
                PageEncoding::ShuffledZstd => {
                    shuffle(page, &mut shuffled);
                    &shuffled
                }
                _ => page,
            };
            let mut buffer = [0u8; ZSTD_MAX];
            // Fails when the frame would not fit, which is exactly "saves less than 10%".
            let length = compressor
                .compress_to_buffer(&input[..], &mut buffer[..])
                .ok()?;
            Some((encoding, buffer[..length].to_vec()))
        };
        if self.since_trial < TRIAL_EVERY {
            self.since_trial += 1;
            let other = match self.preferred {
                PageEncoding::Zstd => PageEncoding::ShuffledZstd,
                _ => PageEncoding::Zstd,
            };
            return attempt(self.preferred).or_else(|| attempt(other));
        }
        let best = match (
            attempt(PageEncoding::Zstd),
            attempt(PageEncoding::ShuffledZstd),
        ) {
            (Some(plain), Some(shuffled)) if shuffled.1.len() < plain.1.len() => Some(shuffled),
            (Some(plain), _) => Some(plain),
            (None, shuffled) => shuffled,
        }?;
        self.preferred = best.0;
        self.since_trial = 0;
        Some(best)
    }

    /// Encodes `memory`, the bytes of guest memory from `start` (page-aligned), as a region;
    /// a partial last page is zero-extended. `image_page(address)` gives the image's initial
    /// bytes of the page at `address`, or `None` where the image supplies none.
    pub fn encode_region<'a>(
        &mut self,
        start: u64,
        memory: &[u8],
        mut image_page: impl FnMut(u64) -> Option<&'a [u8]>,
    ) -> RegionRecord {
        let mut pages = Vec::with_capacity(memory.len().div_ceil(PAGE_SIZE));
        for (index, chunk) in memory.chunks(PAGE_SIZE).enumerate() {
            let mut page = [0u8; PAGE_SIZE];
            page[..chunk.len()].copy_from_slice(chunk);
            let address = start.wrapping_add((index * PAGE_SIZE) as u64);
            let mut record = self.encode(&page, image_page(address));
            record.index = index as u32;
            pages.push(record);
        }
        RegionRecord {
            start,
            length: (pages.len() * PAGE_SIZE) as u64,
            pages,
        }
    }
}

/// Encodes one page with a fresh [`PageEncoder`]; use an encoder directly for many pages.
pub fn encode_page(page: &[u8; PAGE_SIZE], image_page: Option<&[u8]>) -> PageRecord {
    PageEncoder::new().encode(page, image_page)
}

/// Transposes a page of 8-byte elements: byte `b` of element `e` goes to `b * 512 + e`.
fn shuffle(page: &[u8; PAGE_SIZE], out: &mut [u8; PAGE_SIZE]) {
    let elements = PAGE_SIZE / SHUFFLE_ELEMENT;
    for (e, element) in page.chunks_exact(SHUFFLE_ELEMENT).enumerate() {
        for (b, &byte) in element.iter().enumerate() {
            out[b * elements + e] = byte;
        }
    }
}

/// The inverse of [`shuffle`].
fn unshuffle(shuffled: &[u8; PAGE_SIZE], out: &mut [u8; PAGE_SIZE]) {
    let elements = PAGE_SIZE / SHUFFLE_ELEMENT;
    for (e, element) in out.chunks_exact_mut(SHUFFLE_ELEMENT).enumerate() {
        for (b, byte) in element.iter_mut().enumerate() {
            *byte = shuffled[b * elements + e];
        }
    }
}

fn is_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

/// A stored page, borrowed from a validated checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageView<'a> {
    Zero,
    SameAsImage,
    /// Exactly [`PAGE_SIZE`] bytes.
    Raw(&'a [u8]),
    /// One zstd frame that decompresses to exactly [`PAGE_SIZE`] bytes.
    Zstd(&'a [u8]),
    /// One zstd frame of the page byte-shuffled over 8-byte elements.
    ShuffledZstd(&'a [u8]),
}

impl PageView<'_> {
    /// Bytes the page occupies in the file.
    pub fn stored_len(&self) -> usize {
        match self {
            PageView::Zero | PageView::SameAsImage => 0,
            PageView::Raw(data) | PageView::Zstd(data) | PageView::ShuffledZstd(data) => data.len(),
        }
    }
}

/// Turns stored pages back into bytes. Reuses one zstd context across pages.
pub struct PageDecoder {
    decompressor: Option<zstd::bulk::Decompressor<'static>>,
}

impl Default for PageDecoder {
    fn default() -> Self {
        PageDecoder::new()
    }
}

impl PageDecoder {
    pub fn new() -> Self {
        PageDecoder {
            decompressor: zstd::bulk::Decompressor::new().ok(),
        }
    }

    /// Writes the page's 4096 bytes into `out`. `image_page` is the image's initial bytes of
    /// this page (at most 4096, zero-extended), needed only for a same-as-image page.
    /// `address` only names the page in errors.
    pub fn materialise(
        &mut self,
        address: u64,
        view: PageView<'_>,
        image_page: Option<&[u8]>,
        out: &mut [u8; PAGE_SIZE],
    ) -> Result<(), CheckpointError> {
        let fail = |reason: String| CheckpointError::Page { address, reason };
        match view {
            PageView::Zero => out.fill(0),
            PageView::SameAsImage => {
                let image = image_page.ok_or_else(|| {
                    fail(
                        "the page is stored as 'same as image' but no image bytes were given"
                            .into(),
                    )
                })?;
                if image.len() > PAGE_SIZE {
                    return Err(fail(format!(
                        "{} bytes of image data given for one page",
                        image.len()
                    )));
                }
                out[..image.len()].copy_from_slice(image);
                out[image.len()..].fill(0);
            }
            PageView::Raw(data) => {
                if data.len() != PAGE_SIZE {
                    return Err(fail(format!("raw page of {} bytes", data.len())));
                }
                out.copy_from_slice(data);
            }
            PageView::Zstd(data) => self.decompress(data, out).map_err(fail)?,
            PageView::ShuffledZstd(data) => {
                let mut shuffled = [0u8; PAGE_SIZE];
                self.decompress(data, &mut shuffled).map_err(fail)?;
                unshuffle(&shuffled, out);
            }
        }
        Ok(())
    }

    /// Decompresses one zstd page into `out`, refusing anything but a single standard frame
    /// of exactly 4096 bytes. Output is bounded by `out`: a frame that would produce more
    /// fails inside zstd without anything being allocated for it.
    pub(crate) fn decompress(
        &mut self,
        data: &[u8],
        out: &mut [u8; PAGE_SIZE],
    ) -> Result<(), String> {
        check_zstd_frame(data)?;
        let decompressor = self
            .decompressor
            .as_mut()
            .ok_or_else(|| "zstd could not allocate a decompression context".to_string())?;
        match decompressor.decompress_to_buffer(data, &mut out[..]) {
            Ok(PAGE_SIZE) => Ok(()),
            Ok(length) => Err(format!("{NOT_A_PAGE} (it gives {length})")),
            Err(error) => Err(format!("{NOT_A_PAGE} (zstd: {error})")),
        }
    }
}

const NOT_A_PAGE: &str = "zstd data does not decompress to 4096 bytes";

/// Checks a zstd page's frame without decompressing it: one whole frame, and a content size
/// of 4096 bytes where the frame records one.
pub(crate) fn check_zstd_frame(data: &[u8]) -> Result<(), String> {
    if !data.starts_with(&ZSTD_MAGIC) {
        return Err(format!("{NOT_A_PAGE} (it is not a zstd frame)"));
    }
    match zstd::zstd_safe::find_frame_compressed_size(data) {
        Ok(size) if size == data.len() => {}
        Ok(size) => {
            return Err(format!(
                "{NOT_A_PAGE} ({} bytes follow the {size}-byte frame)",
                data.len() - size.min(data.len())
            ));
        }
        Err(_) => return Err(format!("{NOT_A_PAGE} (the frame is damaged)")),
    }
    match zstd::zstd_safe::get_frame_content_size(data) {
        Ok(Some(size)) if size != PAGE_SIZE as u64 => {
            Err(format!("{NOT_A_PAGE} (its frame says {size})"))
        }
        Ok(_) => Ok(()),
        Err(_) => Err(format!("{NOT_A_PAGE} (the frame header is damaged)")),
    }
}

#[cfg(test)]
mod shuffle_tests {
    use super::*;

    #[test]
    fn without_compression_pages_are_raw_zero_or_same_as_image() {
        let mut encoder = PageEncoder::with_compression(PageCompression::None);
        let text = [b'x'; PAGE_SIZE];
        assert_eq!(
            encoder.encode(&text, None).encoding,
            PageEncoding::Raw as u8
        );
        assert_eq!(
            encoder.encode(&[0; PAGE_SIZE], None).encoding,
            PageEncoding::Zero as u8
        );
        assert_eq!(
            encoder.encode(&text, Some(&text[..])).encoding,
            PageEncoding::SameAsImage as u8
        );
    }

    #[test]
    fn shuffling_is_undone_and_doubles_pick_the_shuffled_encoding() {
        let mut page = [0u8; PAGE_SIZE];
        for (k, element) in page.chunks_exact_mut(8).enumerate() {
            element.copy_from_slice(&(1000.0 + k as f64 * 0.37).to_le_bytes());
        }
        let (mut shuffled, mut back) = ([0u8; PAGE_SIZE], [0u8; PAGE_SIZE]);
        shuffle(&page, &mut shuffled);
        unshuffle(&shuffled, &mut back);
        assert_eq!(back, page);
        let record = PageEncoder::new().encode(&page, None);
        assert_eq!(record.encoding, PageEncoding::ShuffledZstd as u8);
        let mut out = [0u8; PAGE_SIZE];
        PageDecoder::new()
            .materialise(0, PageView::ShuffledZstd(&record.data), None, &mut out)
            .unwrap();
        assert_eq!(out, page);
        // A trial keeps the smaller of the two.
        let mut text = [0u8; PAGE_SIZE];
        let mut state = 7u32;
        for byte in text.iter_mut() {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            *byte = b"etaoin shrdlu"[(state >> 16) as usize % 13];
        }
        let plain = zstd::bulk::compress(&text, ZSTD_LEVEL).unwrap().len();
        shuffle(&text, &mut shuffled);
        let transposed = zstd::bulk::compress(&shuffled, ZSTD_LEVEL).unwrap().len();
        let record = PageEncoder::new().encode(&text, None);
        assert_eq!(record.data.len(), plain.min(transposed));
    }
}
