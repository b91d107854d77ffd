//! The node: each machine of a cluster runs `xisa node serve`, which runs guests, lists them
//! with their load, and moves them to other nodes while they run (spec.md §6). Peers prove
//! cluster membership with certificates made by `xisa node init` (mutual TLS); a node refuses
//! anyone else and says why in its log.
//!
//! - [`certs`]: the cluster authority, member certificates, TLS configurations;
//! - [`wire`]: the versioned protocol, checked before use;
//! - [`server`]: answering requests over TLS (the node and the cluster controller);
//! - [`daemon`]: the node itself;
//! - [`client`]: one request to a node;
//! - `throttle`: a slower machine's share of a host core, for each guest.

pub mod certs;
pub mod client;
pub mod daemon;
pub mod page_relay;
mod processes;
pub mod server;
mod throttle;
pub mod wire;
