//! Figures about a checkpoint for `xisa inspect`.

use std::fmt;

use super::PAGE_SIZE;
use super::codec::PageView;
use super::error::hex;
use super::read::CheckpointFile;
use crate::target::Target;

/// Page counts by encoding and the bytes they occupy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageStats {
    pub zero: u64,
    pub same_as_image: u64,
    pub raw: u64,
    pub zstd: u64,
    /// Bytes of page data in the file (raw and zstd pages).
    pub stored_bytes: u64,
}

impl PageStats {
    pub fn pages(&self) -> u64 {
        self.zero + self.same_as_image + self.raw + self.zstd
    }

    /// Bytes of the pages whose contents the file carries (raw and zstd), uncompressed.
    pub fn touched_bytes(&self) -> u64 {
        (self.raw + self.zstd) * PAGE_SIZE as u64
    }

    fn add(&mut self, view: &PageView<'_>) {
        match view {
            PageView::Zero => self.zero += 1,
            PageView::SameAsImage => self.same_as_image += 1,
            PageView::Raw(_) => self.raw += 1,
            PageView::Zstd(_) | PageView::ShuffledZstd(_) => self.zstd += 1,
        }
        self.stored_bytes += view.stored_len() as u64;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionStats {
    pub start: u64,
    pub length: u64,
    pub pages: PageStats,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointSummary {
    pub file_size: u64,
    pub image_id: [u8; 32],
    pub source_target: Target,
    pub created_unix_ms: u64,
    /// Where the image was at the capture, if recorded.
    pub image_hint: Option<String>,
    pub mem_top: u64,
    pub threads: usize,
    pub frames: usize,
    /// Bytes of every frame record together.
    pub record_bytes: u64,
    pub open_fds: usize,
    pub mmap_regions: usize,
    pub total: PageStats,
    pub regions: Vec<RegionStats>,
}

impl CheckpointFile {
    pub fn summary(&self) -> CheckpointSummary {
        let checkpoint = self.archived();
        let mut regions = Vec::with_capacity(checkpoint.regions.len());
        let mut total = PageStats::default();
        for region in checkpoint.regions.iter() {
            let mut stats = PageStats::default();
            for page in region.pages.iter() {
                let view = self.view(page);
                stats.add(&view);
                total.add(&view);
            }
            regions.push(RegionStats {
                start: region.start.to_native(),
                length: region.length.to_native(),
                pages: stats,
            });
        }
        let frames = checkpoint.threads.iter().flat_map(|t| t.frames.iter());
        CheckpointSummary {
            file_size: self.file_size(),
            image_id: checkpoint.image_id,
            source_target: self.source_target(),
            created_unix_ms: checkpoint.created_unix_ms.to_native(),
            image_hint: self.image_hint().map(|p| p.display().to_string()),
            mem_top: self.memory_map().mem_top,
            threads: checkpoint.threads.len(),
            frames: frames.clone().count(),
            record_bytes: frames.map(|f| f.record.len() as u64).sum(),
            open_fds: checkpoint.personality.files.len(),
            mmap_regions: checkpoint.personality.mmap_regions.len(),
            total,
            regions,
        }
    }
}

fn row(f: &mut fmt::Formatter<'_>, what: &str, s: &PageStats) -> fmt::Result {
    writeln!(
        f,
        "  {what:<28} {:>8} {:>8} {:>8} {:>8} {:>8} {:>12} {:>12}",
        s.pages(),
        s.zero,
        s.same_as_image,
        s.raw,
        s.zstd,
        s.touched_bytes(),
        s.stored_bytes
    )
}

impl fmt::Display for CheckpointSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "checkpoint of image {}", hex(&self.image_id))?;
        if let Some(hint) = &self.image_hint {
            writeln!(f, "image was at {hint} when captured")?;
        }
        writeln!(
            f,
            "captured on {} at {} ms after the epoch; {} bytes; mem_top {:#x}",
            self.source_target, self.created_unix_ms, self.file_size, self.mem_top
        )?;
        writeln!(
            f,
            "{} thread(s), {} frame(s), {} record bytes; {} open fd(s), {} mmap region(s)",
            self.threads, self.frames, self.record_bytes, self.open_fds, self.mmap_regions
        )?;
        writeln!(
            f,
            "  {:<28} {:>8} {:>8} {:>8} {:>8} {:>8} {:>12} {:>12}",
            "region", "pages", "zero", "image", "raw", "zstd", "touched", "stored"
        )?;
        for region in &self.regions {
            let name = format!(
                "{:#x}..{:#x}",
                region.start,
                region.start.saturating_add(region.length)
            );
            row(f, &name, &region.pages)?;
        }
        row(f, "total", &self.total)
    }
}
