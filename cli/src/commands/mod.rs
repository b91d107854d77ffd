pub mod build_libc;
pub mod cc;
pub mod info;
pub mod run;
pub mod verify;
