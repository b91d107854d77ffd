//! Frames on a native target: the native stack of a program stopped at a migration point as
//! neutral frames, and neutral frames laid out on the native stack again for a resume.

use xisa_converters::snapshot::SnapshotError;
use xisa_converters::{
    CallSiteTable, ConvertError, NativeResume, NativeState, native_to_neutral, neutral_to_native,
    rules_for,
};
use xisa_format::image::Image;
use xisa_format::memory_map::native;
use xisa_format::target::Target;
use xisa_personality::GuestMemory;
use xisa_runtime::migration_point::PointError;

use crate::memory::GuestRam;

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("the image has no {0} call-site table")]
    NoTable(Target),
    #[error("cannot convert the {0} frames")]
    Convert(Target, #[source] ConvertError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Points(#[from] PointError),
}

/// The call-site table of `target`'s program.
pub fn call_site_table(image: &Image, target: Target) -> Result<CallSiteTable, MigrationError> {
    let program = image
        .manifest()
        .program(target)
        .ok_or(MigrationError::NoTable(target))?;
    CallSiteTable::from_program(program).map_err(|e| MigrationError::Convert(target, e))
}

/// Walks the native stack of a program stopped in `__xisa_migrate`.
pub fn native_frames(
    image: &Image,
    target: Target,
    table: &CallSiteTable,
    state: NativeState,
    ram: &GuestRam,
) -> Result<Vec<xisa_converters::NeutralFrame>, MigrationError> {
    let manifest = image.manifest();
    let program = manifest
        .program(target)
        .ok_or(MigrationError::NoTable(target))?;
    let rules = rules_for(target).ok_or(MigrationError::NoTable(target))?;
    let read = |address: u64, buffer: &mut [u8]| match ram.bytes(address, buffer.len() as u64) {
        Ok(bytes) => {
            buffer.copy_from_slice(bytes);
            true
        }
        Err(_) => false,
    };
    native_to_neutral(
        rules,
        table,
        state,
        program.entry_return.to_native(),
        &|id| manifest.record_size(id),
        &read,
    )
    .map_err(|e| MigrationError::Convert(target, e))
}

/// Lays the checkpoint's frames out on the native stack; with `poison`, every other byte of
/// the native stack is overwritten with the poison pattern first.
pub fn place_frames(
    image: &Image,
    target: Target,
    table: &CallSiteTable,
    frames: &[xisa_converters::NeutralFrame],
    ram: &mut GuestRam,
    poison: bool,
) -> Result<NativeResume, MigrationError> {
    let manifest = image.manifest();
    let program = manifest
        .program(target)
        .ok_or(MigrationError::NoTable(target))?;
    let rules = rules_for(target).ok_or(MigrationError::NoTable(target))?;
    let resume = neutral_to_native(
        rules,
        table,
        frames,
        native::STACK.end,
        native::STACK.start,
        program.entry_return.to_native(),
        &|id| manifest.record_size(id),
    )
    .map_err(|e| MigrationError::Convert(target, e))?;
    let stack_fault = |address| SnapshotError::Write { address };
    if poison {
        let length = native::STACK.end - native::STACK.start;
        ram.bytes_mut(native::STACK.start, length)
            .map_err(|_| stack_fault(native::STACK.start))?
            .fill(0x5a);
    }
    for (address, bytes) in &resume.writes {
        ram.write(*address, bytes)
            .map_err(|_| stack_fault(*address))?;
    }
    Ok(resume)
}
