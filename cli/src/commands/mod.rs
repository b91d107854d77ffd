pub mod build_libc;
pub mod capture;
pub mod cc;
pub mod info;
pub mod restore;
pub mod run;
pub mod verify;
