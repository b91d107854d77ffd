//! The guest's file system: paths, the sandbox of mounted folders, open files.

pub(crate) mod dir_stream;
pub(crate) mod fd_table;
pub(crate) mod open;
pub(crate) mod path;
pub(crate) mod sandbox;
pub(crate) mod stat;
