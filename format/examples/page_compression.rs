//! Measures page encodings on real checkpoints: for every raw or zstd page of each checkpoint
//! given, the current encoding ([`PageEncoder`]: zstd or shuffled zstd at level 3, kept if it
//! saves at least 10%; plain zstd only before shuffled zstd was added),
//! plain zstd at levels 1, 3, 9 and 19, a byte-shuffle filter (the page transposed as 1024
//! 4-byte or 512 8-byte elements: every element's first byte, then every second byte, ...; as
//! Blosc does for numeric arrays) followed by zstd at the same levels, and per-page "best of"
//! choices that keep whichever of several encodings is smallest for each page and pay a
//! 1-byte tag for it ("best", which compresses every page once per candidate, and "sticky16",
//! which tries every candidate only on every 16th page of a run of consecutive pages and on a
//! compressible page after a raw one, and otherwise uses the last winner: about one
//! compression per page). Every method keeps the rule of the format: a compressed page is
//! stored only if it is at most 90% of 4096 bytes, raw otherwise.
//!
//! Sizes cover every raw or zstd page (zero and same-as-image pages cost nothing whatever the
//! encoding, so they are left out). Encode and decode throughput are MB/s (10^6 bytes) of page
//! bytes, measured in this process on an evenly spread sample of pages, the median of several
//! repetitions; methods alternate within each repetition so that machine noise falls on all.
//! Decoding includes copying raw pages and undoing the shuffle; the "current" row decodes
//! through [`PageDecoder`]. Every encoding is decoded once and compared with the page.
//!
//! usage: cargo run --release -p xisa-format --example page_compression --
//!            [--reps N] [--sample-pages N] [--json FILE] [--sizes-csv FILE] CHECKPOINT...
//!
//! A checkpoint is named by its file stem (`/tmp/cg.ckpt` is "cg"). Prints a Markdown table
//! per checkpoint and a summary; `--json` also writes the figures for scripts, `--sizes-csv`
//! every page's size under every method.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use xisa_format::checkpoint::{CheckpointFile, PAGE_SIZE, PageDecoder, PageEncoder, PageView};

/// The format's rule (codec.rs): a zstd page is kept only if it is at most this long.
const ZSTD_MAX: usize = PAGE_SIZE * 9 / 10;
const LEVELS: [i32; 4] = [1, 3, 9, 19];
/// Shuffle element sizes; 1 is no shuffle.
const ELEMENTS: [usize; 3] = [1, 4, 8];
/// What a per-page choice costs to record, per page.
const TAG: usize = 1;
/// Each timing covers at least this many pages (the sample, gone over several times if small).
const MIN_MEASURED_PAGES: usize = 256;

type PageBytes = [u8; PAGE_SIZE];

/// Byte-shuffle: element `i`'s byte `j` goes to `j * (PAGE_SIZE / E) + i`.
fn shuffle_n<const E: usize>(page: &PageBytes, out: &mut PageBytes) {
    let count = PAGE_SIZE / E;
    for (i, element) in page.chunks_exact(E).enumerate() {
        for j in 0..E {
            out[j * count + i] = element[j];
        }
    }
}

fn unshuffle_n<const E: usize>(shuffled: &PageBytes, out: &mut PageBytes) {
    let count = PAGE_SIZE / E;
    for (i, element) in out.chunks_exact_mut(E).enumerate() {
        for j in 0..E {
            element[j] = shuffled[j * count + i];
        }
    }
}

fn shuffle(element: usize, page: &PageBytes, out: &mut PageBytes) {
    match element {
        4 => shuffle_n::<4>(page, out),
        8 => shuffle_n::<8>(page, out),
        _ => unreachable!("element size {element}"),
    }
}

fn unshuffle(element: usize, shuffled: &PageBytes, out: &mut PageBytes) {
    match element {
        4 => unshuffle_n::<4>(shuffled, out),
        8 => unshuffle_n::<8>(shuffled, out),
        _ => unreachable!("element size {element}"),
    }
}

/// One filter + zstd level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Variant {
    element: usize,
    level: i32,
}

impl Variant {
    fn name(self) -> String {
        match self.element {
            1 => format!("zstd-{}", self.level),
            e => format!("shuf{e}+zstd-{}", self.level),
        }
    }
}

/// Encodes pages with one variant, reusing its zstd context.
struct Encoder {
    variant: Variant,
    compressor: zstd::bulk::Compressor<'static>,
    shuffled: Box<PageBytes>,
}

impl Encoder {
    fn new(variant: Variant) -> Encoder {
        Encoder {
            variant,
            compressor: zstd::bulk::Compressor::new(variant.level).expect("zstd context"),
            shuffled: Box::new([0; PAGE_SIZE]),
        }
    }

    /// The frame's length in `out`, or `None` if the page stays raw (saves less than 10%).
    fn encode(&mut self, page: &PageBytes, out: &mut [u8; ZSTD_MAX]) -> Option<usize> {
        let input: &PageBytes = if self.variant.element == 1 {
            page
        } else {
            shuffle(self.variant.element, page, &mut self.shuffled);
            &self.shuffled
        };
        self.compressor
            .compress_to_buffer(&input[..], &mut out[..])
            .ok()
    }
}

/// A page as one method stores it.
enum Stored {
    Raw(Box<PageBytes>),
    Frame { element: usize, data: Vec<u8> },
}

impl Stored {
    fn len(&self) -> usize {
        match self {
            Stored::Raw(_) => PAGE_SIZE,
            Stored::Frame { data, .. } => data.len(),
        }
    }
}

struct Decoder {
    decompressor: zstd::bulk::Decompressor<'static>,
    scratch: Box<PageBytes>,
}

impl Decoder {
    fn new() -> Decoder {
        Decoder {
            decompressor: zstd::bulk::Decompressor::new().expect("zstd context"),
            scratch: Box::new([0; PAGE_SIZE]),
        }
    }

    fn decode(&mut self, stored: &Stored, out: &mut PageBytes) {
        match stored {
            Stored::Raw(page) => out.copy_from_slice(&page[..]),
            Stored::Frame { element: 1, data } => {
                let n = self
                    .decompressor
                    .decompress_to_buffer(&data[..], &mut out[..]);
                assert_eq!(n.expect("zstd frame"), PAGE_SIZE);
            }
            Stored::Frame { element, data } => {
                let n = self
                    .decompressor
                    .decompress_to_buffer(&data[..], &mut self.scratch[..]);
                assert_eq!(n.expect("zstd frame"), PAGE_SIZE);
                unshuffle(*element, &self.scratch, out);
            }
        }
    }
}

/// What is compared.
enum Method {
    /// [`PageEncoder`] as the capturer uses it.
    Current,
    Single(Variant),
    /// Per page the smallest of these, plus [`TAG`].
    Best(Vec<Variant>),
    /// Per page the smallest of these, plus [`TAG`], but tried only on every
    /// [`STICKY_PERIOD`]th page of a region and on a compressible page after a raw one; the
    /// other pages use the last winner, so a page costs about one compression.
    Sticky(Vec<Variant>),
    /// Per page the smallest of every single variant, plus [`TAG`]; sizes only.
    Oracle,
}

/// How often a [`Method::Sticky`] encoder tries every variant again.
const STICKY_PERIOD: usize = 16;

fn part_names(parts: &[Variant]) -> String {
    let names: Vec<String> = parts
        .iter()
        .map(|p| match p.element {
            1 => "zstd".to_string(),
            e => format!("shuf{e}"),
        })
        .collect();
    format!("({})-{}", names.join(","), parts[0].level)
}

impl Method {
    fn name(&self) -> String {
        match self {
            Method::Current => "current (PageEncoder)".into(),
            Method::Single(v) => v.name(),
            Method::Best(parts) => format!("best{}", part_names(parts)),
            Method::Sticky(parts) => format!("sticky{STICKY_PERIOD}{}", part_names(parts)),
            Method::Oracle => "best of all 12 (sizes only)".into(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Method::Current => "current",
            Method::Single(v) if v.element == 1 => "zstd",
            Method::Single(_) => "shuffle",
            Method::Best(_) => "best",
            Method::Sticky(_) => "sticky",
            Method::Oracle => "oracle",
        }
    }
}

/// Encodes a page with one method, keeping its stored form.
struct MethodEncoder {
    current: Option<PageEncoder>,
    parts: Vec<Encoder>,
    buffers: Vec<[u8; ZSTD_MAX]>,
    sticky: Option<Sticky>,
}

/// A sticky encoder's state within a region.
#[derive(Default)]
struct Sticky {
    /// Pages since the region started.
    count: usize,
    /// The last probe's winner.
    winner: usize,
    /// The previous page stayed raw.
    last_raw: bool,
}

impl MethodEncoder {
    fn new(method: &Method) -> MethodEncoder {
        let variants = match method {
            Method::Current | Method::Oracle => Vec::new(),
            Method::Single(v) => vec![*v],
            Method::Best(parts) | Method::Sticky(parts) => parts.clone(),
        };
        MethodEncoder {
            sticky: matches!(method, Method::Sticky(_)).then(Sticky::default),
            current: matches!(method, Method::Current).then(PageEncoder::new),
            buffers: variants.iter().map(|_| [0; ZSTD_MAX]).collect(),
            parts: variants.into_iter().map(Encoder::new).collect(),
        }
    }

    /// Encodes `page`; returns which part won (if any) and the frame's length, for timing.
    fn encode_only(&mut self, page: &PageBytes) -> (usize, Option<usize>) {
        if let Some(encoder) = &mut self.current {
            let record = encoder.encode(page, None);
            return (
                0,
                (record.data.len() < PAGE_SIZE).then_some(record.data.len()),
            );
        }
        let mut best = (0, None::<usize>);
        let mut done = None;
        if let Some(sticky) = &mut self.sticky {
            sticky.count += 1;
            if (sticky.count - 1) % STICKY_PERIOD != 0 {
                let k = sticky.winner;
                let result = self.parts[k].encode(page, &mut self.buffers[k]);
                let after_raw = std::mem::replace(&mut sticky.last_raw, result.is_none());
                // A compressible page after a raw one starts new data: probe it too.
                if !(after_raw && result.is_some()) {
                    return (k, result);
                }
                best = (k, result);
                done = Some(k);
            }
        }
        for (k, (part, buffer)) in self.parts.iter_mut().zip(&mut self.buffers).enumerate() {
            if done == Some(k) {
                continue;
            }
            if let Some(length) = part.encode(page, buffer)
                && best.1.is_none_or(|b| length < b)
            {
                best = (k, Some(length));
            }
        }
        if let Some(sticky) = &mut self.sticky {
            if best.1.is_some() {
                sticky.winner = best.0;
            }
            sticky.last_raw = best.1.is_none();
        }
        best
    }

    /// The next page starts a new region (a sticky encoder probes it).
    fn start_region(&mut self) {
        if let Some(sticky) = &mut self.sticky {
            sticky.count = 0;
            sticky.last_raw = false;
        }
    }

    fn encode(&mut self, page: &PageBytes) -> Stored {
        if let Some(encoder) = &mut self.current {
            let record = encoder.encode(page, None);
            return if record.data.len() < PAGE_SIZE {
                Stored::Frame {
                    element: 1,
                    data: record.data,
                }
            } else {
                Stored::Raw(Box::new(*page))
            };
        }
        match self.encode_only(page) {
            (k, Some(length)) => Stored::Frame {
                element: self.parts[k].variant.element,
                data: self.buffers[k][..length].to_vec(),
            },
            (_, None) => Stored::Raw(Box::new(*page)),
        }
    }
}

struct Row {
    name: String,
    kind: &'static str,
    bytes: u64,
    compressed_pages: usize,
    /// Median over the repetitions.
    encode_mbs: Option<f64>,
    decode_mbs: Option<f64>,
    /// Fastest repetition: the figure least disturbed by other processes.
    encode_fastest: Option<f64>,
    decode_fastest: Option<f64>,
}

struct Report {
    name: String,
    pages: usize,
    data_pages: usize,
    file_page_bytes: u64,
    current_mismatches: usize,
    rows: Vec<Row>,
    /// Per method (as `rows`), each page's stored size.
    sizes: Vec<Vec<usize>>,
}

impl Report {
    fn raw_bytes(&self) -> u64 {
        (self.data_pages * PAGE_SIZE) as u64
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn methods() -> Vec<Method> {
    let mut methods = vec![Method::Current];
    for element in ELEMENTS {
        for level in LEVELS {
            methods.push(Method::Single(Variant { element, level }));
        }
    }
    for level in LEVELS {
        let v = |element| Variant { element, level };
        methods.push(Method::Best(vec![v(1), v(8)]));
        methods.push(Method::Best(vec![v(1), v(4), v(8)]));
    }
    for level in [1, 3] {
        let v = |element| Variant { element, level };
        methods.push(Method::Sticky(vec![v(1), v(8)]));
        methods.push(Method::Sticky(vec![v(1), v(4), v(8)]));
    }
    methods.push(Method::Oracle);
    methods
}

fn measure(path: &Path, reps: usize, sample_pages: usize) -> Result<Report, String> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let checkpoint = CheckpointFile::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut decoder = PageDecoder::new();
    let mut pages: Vec<Box<PageBytes>> = Vec::new();
    // Where a run of consecutive stored pages starts (as a region would for the capturer).
    let mut region_starts = Vec::new();
    let mut next_address = None;
    let mut total_pages = 0;
    let mut file_page_bytes = 0u64;
    for (address, view) in checkpoint.pages() {
        total_pages += 1;
        if !matches!(view, PageView::Raw(_) | PageView::Zstd(_)) {
            continue;
        }
        file_page_bytes += view.stored_len() as u64;
        region_starts.push(next_address != Some(address));
        next_address = Some(address + PAGE_SIZE as u64);
        let mut page = Box::new([0u8; PAGE_SIZE]);
        decoder
            .materialise(address, view, None, &mut page)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        pages.push(page);
    }
    let methods = methods();
    eprintln!(
        "{name}: {} raw/zstd pages of {total_pages}; sizes ...",
        pages.len()
    );

    // Sizes over every page; each encoding decoded once and checked.
    let mut sizes: Vec<Vec<usize>> = vec![Vec::new(); methods.len()];
    let mut check = Decoder::new();
    let mut out = Box::new([0u8; PAGE_SIZE]);
    for (m, method) in methods.iter().enumerate() {
        if matches!(method, Method::Best(_) | Method::Oracle) {
            continue;
        }
        let mut encoder = MethodEncoder::new(method);
        let tag = if matches!(method, Method::Sticky(_)) {
            TAG
        } else {
            0
        };
        sizes[m] = pages
            .iter()
            .zip(&region_starts)
            .map(|(page, &starts)| {
                if starts {
                    encoder.start_region();
                }
                let stored = encoder.encode(page);
                check.decode(&stored, &mut out);
                assert!(
                    out[..] == page[..],
                    "{name}: {} does not round-trip",
                    method.name()
                );
                stored.len() + tag
            })
            .collect();
    }
    let single_index = |v: Variant| {
        methods
            .iter()
            .position(|m| matches!(m, Method::Single(w) if *w == v))
            .expect("variant measured")
    };
    for (m, method) in methods.iter().enumerate() {
        let parts: Vec<usize> = match method {
            Method::Best(parts) => parts.iter().map(|&v| single_index(v)).collect(),
            Method::Oracle => (0..methods.len())
                .filter(|&k| matches!(methods[k], Method::Single(_)))
                .collect(),
            _ => continue,
        };
        let best: Vec<usize> = (0..pages.len())
            .map(|p| {
                parts
                    .iter()
                    .map(|&k| sizes[k][p])
                    .min()
                    .unwrap_or(PAGE_SIZE)
                    + TAG
            })
            .collect();
        sizes[m] = best;
    }
    let zstd3 = single_index(Variant {
        element: 1,
        level: 3,
    });
    let current_mismatches = (0..pages.len())
        .filter(|&p| sizes[0][p] != sizes[zstd3][p])
        .count();

    // Throughput on a sample.
    let sample: Vec<&PageBytes> = if pages.len() <= sample_pages {
        pages.iter().map(|p| &**p).collect()
    } else {
        (0..sample_pages)
            .map(|k| &*pages[k * pages.len() / sample_pages])
            .collect()
    };
    // Small checkpoints: go over the sample several times per measurement, so that each
    // measurement covers at least MIN_MEASURED_PAGES pages.
    let passes = MIN_MEASURED_PAGES.div_ceil(sample.len().max(1));
    let sample_mb = (passes * sample.len() * PAGE_SIZE) as f64 / 1e6;
    let timed: Vec<usize> = (0..methods.len())
        .filter(|&m| !matches!(methods[m], Method::Oracle))
        .collect();
    let mut encoders: Vec<MethodEncoder> = timed
        .iter()
        .map(|&m| MethodEncoder::new(&methods[m]))
        .collect();
    let stored: Vec<Vec<Stored>> = encoders
        .iter_mut()
        .map(|e| sample.iter().map(|p| e.encode(p)).collect())
        .collect();
    let mut encode_times: Vec<Vec<f64>> = vec![Vec::new(); timed.len()];
    let mut decode_times: Vec<Vec<f64>> = vec![Vec::new(); timed.len()];
    let mut current_decoder = PageDecoder::new();
    let mut sink = 0usize;
    eprintln!(
        "{name}: timing {} pages x {reps} repetitions ...",
        sample.len()
    );
    for rep in 0..reps {
        for k in 0..timed.len() {
            let t = (k + rep) % timed.len();
            let start = Instant::now();
            for _ in 0..passes {
                for page in &sample {
                    let (part, length) = encoders[t].encode_only(page);
                    sink = sink.wrapping_add(part + length.unwrap_or(0));
                }
            }
            encode_times[t].push(start.elapsed().as_secs_f64());

            let start = Instant::now();
            if matches!(methods[timed[t]], Method::Current) {
                for stored in stored[t].iter().cycle().take(passes * sample.len()) {
                    let view = match stored {
                        Stored::Raw(page) => PageView::Raw(&page[..]),
                        Stored::Frame { data, .. } => PageView::Zstd(data),
                    };
                    current_decoder
                        .materialise(0, view, None, &mut out)
                        .expect("current page decodes");
                    sink = sink.wrapping_add(out[0] as usize);
                }
            } else {
                for stored in stored[t].iter().cycle().take(passes * sample.len()) {
                    check.decode(stored, &mut out);
                    sink = sink.wrapping_add(out[0] as usize);
                }
            }
            decode_times[t].push(start.elapsed().as_secs_f64());
        }
    }
    std::hint::black_box(sink);

    let rows = methods
        .iter()
        .enumerate()
        .map(|(m, method)| {
            let t = timed.iter().position(|&x| x == m);
            let mbs = |times: &[Vec<f64>]| t.map(|t| sample_mb / median(times[t].clone()));
            let fastest = |times: &[Vec<f64>]| {
                t.map(|t| sample_mb / times[t].iter().copied().fold(f64::INFINITY, f64::min))
            };
            Row {
                name: method.name(),
                kind: method.kind(),
                bytes: sizes[m].iter().map(|&s| s as u64).sum(),
                compressed_pages: sizes[m].iter().filter(|&&s| s < PAGE_SIZE).count(),
                encode_mbs: mbs(&encode_times),
                decode_mbs: mbs(&decode_times),
                encode_fastest: fastest(&encode_times),
                decode_fastest: fastest(&decode_times),
            }
        })
        .collect();
    Ok(Report {
        name,
        pages: total_pages,
        data_pages: pages.len(),
        file_page_bytes,
        current_mismatches,
        rows,
        sizes,
    })
}

/// MB/s of the shuffle and unshuffle alone, per element size: 256 pages of pseudo-random bytes
/// (the filter's work does not depend on the data), median of `reps`.
fn filter_speed(reps: usize) -> Vec<(usize, f64, f64)> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let pages: Vec<Box<PageBytes>> = (0..MIN_MEASURED_PAGES)
        .map(|_| {
            let mut page = Box::new([0u8; PAGE_SIZE]);
            for chunk in page.chunks_exact_mut(8) {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                chunk.copy_from_slice(&state.to_le_bytes());
            }
            page
        })
        .collect();
    let mb = (pages.len() * PAGE_SIZE) as f64 / 1e6;
    let mut a = Box::new([0u8; PAGE_SIZE]);
    let mut b = Box::new([0u8; PAGE_SIZE]);
    let mut sink = 0usize;
    let result = ELEMENTS
        .iter()
        .filter(|&&e| e > 1)
        .map(|&element| {
            let (mut forward, mut backward) = (Vec::new(), Vec::new());
            for _ in 0..reps {
                let start = Instant::now();
                for page in &pages {
                    shuffle(element, std::hint::black_box(page), &mut a);
                    sink = sink.wrapping_add(a[1] as usize);
                }
                forward.push(mb / start.elapsed().as_secs_f64());
                let start = Instant::now();
                for page in &pages {
                    unshuffle(element, std::hint::black_box(page), &mut b);
                    sink = sink.wrapping_add(b[1] as usize);
                }
                backward.push(mb / start.elapsed().as_secs_f64());
            }
            (element, median(forward), median(backward))
        })
        .collect();
    std::hint::black_box(sink);
    result
}

fn ratio(bytes: u64, raw: u64) -> f64 {
    if raw == 0 {
        1.0
    } else {
        bytes as f64 / raw as f64
    }
}

fn speed(mbs: Option<f64>) -> String {
    mbs.map_or("—".into(), |v| format!("{v:.0}"))
}

fn markdown(report: &Report) -> String {
    let raw = report.raw_bytes();
    let current = report.rows[0].bytes;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### {}\n\n{} stored pages, {} raw or zstd ({raw} bytes raw); the file stores them in {} \
         bytes ({:.3}).{}\n",
        report.name,
        report.pages,
        report.data_pages,
        report.file_page_bytes,
        ratio(report.file_page_bytes, raw),
        if report.current_mismatches == 0 {
            String::new()
        } else {
            format!(
                " PageEncoder and zstd-3 differ on {} pages.",
                report.current_mismatches
            )
        }
    );
    let _ = writeln!(
        s,
        "| method | bytes | ratio | vs current | compressed pages | encode MB/s | encode MB/s \
         fastest | decode MB/s | decode MB/s fastest |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for row in &report.rows {
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} | {:.3} | {} | {} | {} | {} | {} |",
            row.name,
            row.bytes,
            ratio(row.bytes, raw),
            ratio(row.bytes, current),
            row.compressed_pages,
            speed(row.encode_mbs),
            speed(row.encode_fastest),
            speed(row.decode_mbs),
            speed(row.decode_fastest)
        );
    }
    s
}

/// One line per page: checkpoint, page number, then its stored size under every method.
fn sizes_csv(reports: &[Report]) -> String {
    let mut s = String::from("checkpoint,page");
    if let Some(report) = reports.first() {
        for row in &report.rows {
            let _ = write!(s, ",{}", row.name.replace(',', " "));
        }
    }
    s.push('\n');
    for report in reports {
        for page in 0..report.data_pages {
            let _ = write!(s, "{},{page}", report.name);
            for sizes in &report.sizes {
                let _ = write!(s, ",{}", sizes[page]);
            }
            s.push('\n');
        }
    }
    s
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_number(value: Option<f64>) -> String {
    value.map_or("null".into(), |v| format!("{v:.3}"))
}

fn json(
    reports: &[Report],
    filters: &[(usize, f64, f64)],
    reps: usize,
    sample_pages: usize,
) -> String {
    let mut s = format!("{{\"reps\": {reps}, \"sample_pages\": {sample_pages}, \"filters\": [");
    for (i, (element, forward, backward)) in filters.iter().enumerate() {
        let _ = write!(
            s,
            "{}{{\"element\": {element}, \"shuffle_mbs\": {forward:.3}, \"unshuffle_mbs\": {backward:.3}}}",
            if i == 0 { "" } else { ", " }
        );
    }
    s.push_str("], \"checkpoints\": [");
    for (i, report) in reports.iter().enumerate() {
        let _ = write!(
            s,
            "{}\n {{\"name\": {}, \"pages\": {}, \"data_pages\": {}, \"raw_bytes\": {}, \
             \"file_page_bytes\": {}, \"current_mismatches\": {}, \"methods\": [",
            if i == 0 { "" } else { "," },
            json_string(&report.name),
            report.pages,
            report.data_pages,
            report.raw_bytes(),
            report.file_page_bytes,
            report.current_mismatches
        );
        for (j, row) in report.rows.iter().enumerate() {
            let _ = write!(
                s,
                "{}\n  {{\"name\": {}, \"kind\": {}, \"bytes\": {}, \"compressed_pages\": {}, \
                 \"encode_mbs\": {}, \"decode_mbs\": {}, \"encode_fastest\": {}, \
                 \"decode_fastest\": {}}}",
                if j == 0 { "" } else { "," },
                json_string(&row.name),
                json_string(row.kind),
                row.bytes,
                row.compressed_pages,
                json_number(row.encode_mbs),
                json_number(row.decode_mbs),
                json_number(row.encode_fastest),
                json_number(row.decode_fastest)
            );
        }
        s.push_str("]}");
    }
    s.push_str("]}\n");
    s
}

/// Methods the summary shows by name (the practical candidates at today's level).
const SUMMARY_METHODS: [&str; 4] = [
    "shuf8+zstd-3",
    "best(zstd,shuf8)-3",
    "best(zstd,shuf4,shuf8)-3",
    "sticky16(zstd,shuf8)-3",
];

/// Encode MB/s as "median / fastest".
fn speeds(row: Option<&Row>) -> String {
    row.map_or("—".into(), |row| {
        format!("{} / {}", speed(row.encode_mbs), speed(row.encode_fastest))
    })
}

fn summary(reports: &[Report]) -> String {
    let mut s = String::from("| kernel | raw bytes | current |");
    for name in SUMMARY_METHODS {
        let _ = write!(s, " {name} |");
    }
    s.push_str(" best shuffle, any level | best per page, any level | encode MB/s current |");
    for name in SUMMARY_METHODS {
        let _ = write!(s, " encode MB/s {name} |");
    }
    s.push_str("\n|---|---:|---:|");
    s.push_str(&"---:|".repeat(SUMMARY_METHODS.len()));
    s.push_str("---|---|---:|");
    s.push_str(&"---:|".repeat(SUMMARY_METHODS.len()));
    s.push('\n');
    let smallest = |report: &Report, kind: &str| -> Option<usize> {
        (0..report.rows.len())
            .filter(|&r| report.rows[r].kind == kind)
            .min_by_key(|&r| report.rows[r].bytes)
    };
    let named = |report: &Report, name: &str| report.rows.iter().position(|r| r.name == name);
    for report in reports {
        let raw = report.raw_bytes();
        let ratio_of = |r: Option<usize>| {
            r.map_or("—".into(), |r| {
                format!("{:.3}", ratio(report.rows[r].bytes, raw))
            })
        };
        let with_name = |r: Option<usize>| {
            r.map_or("—".into(), |r| {
                let row = &report.rows[r];
                format!("{:.3} ({})", ratio(row.bytes, raw), row.name)
            })
        };
        let _ = write!(s, "| {} | {raw} | {} |", report.name, ratio_of(Some(0)));
        for name in SUMMARY_METHODS {
            let _ = write!(s, " {} |", ratio_of(named(report, name)));
        }
        let _ = write!(
            s,
            " {} | {} | {} |",
            with_name(smallest(report, "shuffle")),
            with_name(smallest(report, "best")),
            speeds(Some(&report.rows[0]))
        );
        for name in SUMMARY_METHODS {
            let row = named(report, name).map(|r| &report.rows[r]);
            let _ = write!(s, " {} |", speeds(row));
        }
        s.push('\n');
    }
    // All kernels together: bytes summed per method.
    let raw: u64 = reports.iter().map(Report::raw_bytes).sum();
    let total = |name: &str| -> Option<u64> {
        reports
            .iter()
            .map(|report| named(report, name).map(|r| report.rows[r].bytes))
            .sum()
    };
    let first = reports.first();
    let current = first.map(|r| r.rows[0].name.clone()).unwrap_or_default();
    let cell = |bytes: Option<u64>| bytes.map_or("—".into(), |b| format!("{:.3}", ratio(b, raw)));
    let _ = write!(s, "| **all** | {raw} | {} |", cell(total(&current)));
    for name in SUMMARY_METHODS {
        let _ = write!(s, " {} |", cell(total(name)));
    }
    // Over all kernels the smallest single shuffle and per-page method, by summed bytes.
    let overall = |kind: &str| -> String {
        let Some(first) = first else {
            return "—".into();
        };
        first
            .rows
            .iter()
            .filter(|row| row.kind == kind)
            .filter_map(|row| total(&row.name).map(|b| (b, row.name.clone())))
            .min()
            .map_or("—".into(), |(b, name)| {
                format!("{:.3} ({name})", ratio(b, raw))
            })
    };
    let _ = write!(s, " {} | {} | |", overall("shuffle"), overall("best"));
    s.push_str(&" |".repeat(SUMMARY_METHODS.len()));
    s.push('\n');
    s
}

fn main() {
    let mut reps = 9;
    let mut sample_pages = 256;
    let mut json_path: Option<PathBuf> = None;
    let mut sizes_path: Option<PathBuf> = None;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    let usage = "usage: page_compression [--reps N] [--sample-pages N] [--json FILE] [--sizes-csv FILE] \
         CHECKPOINT...";
    while let Some(arg) = args.next() {
        let mut value = |what: &str| {
            args.next().unwrap_or_else(|| {
                eprintln!("{what} needs a value\n{usage}");
                std::process::exit(2)
            })
        };
        match arg.as_str() {
            "--reps" => reps = value("--reps").parse().expect("--reps N"),
            "--sample-pages" => {
                sample_pages = value("--sample-pages").parse().expect("--sample-pages N")
            }
            "--json" => json_path = Some(value("--json").into()),
            "--sizes-csv" => sizes_path = Some(value("--sizes-csv").into()),
            "-h" | "--help" => {
                println!("{usage}");
                return;
            }
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    if paths.is_empty() || reps == 0 || sample_pages == 0 {
        eprintln!("{usage}");
        std::process::exit(2);
    }
    let mut reports = Vec::new();
    for path in &paths {
        match measure(path, reps, sample_pages) {
            Ok(report) => {
                println!("{}", markdown(&report));
                reports.push(report);
            }
            Err(error) => {
                eprintln!("page_compression: {error}");
                std::process::exit(1);
            }
        }
    }
    println!("### Summary\n\n{}", summary(&reports));
    let filters = filter_speed(reps);
    println!("Byte-shuffle alone (scalar code, one page at a time, in cache):");
    for (element, forward, backward) in &filters {
        println!(
            "{element}-byte elements: shuffle {forward:.0} MB/s, unshuffle {backward:.0} MB/s."
        );
    }
    if let Some(path) = sizes_path
        && let Err(error) = std::fs::write(&path, sizes_csv(&reports))
    {
        eprintln!("page_compression: {}: {error}", path.display());
        std::process::exit(1);
    }
    if let Some(path) = json_path
        && let Err(error) = std::fs::write(&path, json(&reports, &filters, reps, sample_pages))
    {
        eprintln!("page_compression: {}: {error}", path.display());
        std::process::exit(1);
    }
}
