//! Where a restore's pages come from: the checkpoint (with its parents), or, in a post-copy
//! move, the source machine through a page stream ([`crate::page_stream`]).

use std::ops::Range;

use xisa_format::checkpoint::{CheckpointError, CheckpointFile, PAGE_SIZE, PageDecoder, PageView};
use xisa_format::image::Image;

use crate::page_stream::{PageStreamError, RemotePages};

#[derive(Debug, thiserror::Error)]
pub enum PageSourceError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Stream(#[from] PageStreamError),
}

pub enum PageSource {
    Checkpoint(CheckpointFile),
    Remote(RemotePages),
}

impl PageSource {
    /// The guest ranges whose pages come from this source: page-aligned, ascending, disjoint.
    pub fn ranges(&self) -> Vec<Range<u64>> {
        match self {
            PageSource::Checkpoint(file) => file.stored_ranges(),
            PageSource::Remote(remote) => remote.ranges().to_vec(),
        }
    }

    /// Puts the page at `address` into `out`; `false` when the page is all zero (nothing to
    /// copy).
    pub fn page(
        &mut self,
        address: u64,
        image: &Image,
        decoder: &mut PageDecoder,
        out: &mut [u8; PAGE_SIZE],
    ) -> Result<bool, PageSourceError> {
        let initial = image.initial_page(address);
        match self {
            PageSource::Checkpoint(file) => match file.page_at(address) {
                None | Some(PageView::Zero) => Ok(false),
                Some(view) => {
                    decoder.materialise(address, view, initial, out)?;
                    Ok(true)
                }
            },
            PageSource::Remote(remote) => {
                if remote.fetch(address, out)? {
                    return Ok(true);
                }
                // The page holds what a fresh run holds there: zero, or the image's bytes.
                image.fresh_page(address, out);
                Ok(initial.is_some_and(|bytes| bytes.iter().any(|b| *b != 0)))
            }
        }
    }

    /// The restore holds every page it needs: a remote source may let the guest go.
    pub fn finish(self) -> Result<(), PageSourceError> {
        match self {
            PageSource::Checkpoint(_) => Ok(()),
            PageSource::Remote(remote) => Ok(remote.done()?),
        }
    }
}
