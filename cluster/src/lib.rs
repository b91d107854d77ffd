//! The cluster controller (`xisa cluster serve`): accepts jobs, places them on nodes, offloads
//! them from overloaded servers to boards and takes them back, returns their output, and
//! recovers from lost nodes and from its own restart. It talks to nodes with the node
//! protocol (spec.md §6) and answers submitters on the same protocol.
//!
//! - [`knowledge`]: what the controller learned about each program on each kind of node;
//! - [`policy`]: the placement decisions, behind one trait; [`hexo`] and [`offload`] are the two
//!   policies;
//! - [`jobs`]: the job table and its persistence;
//! - [`controller`]: the control loop, node monitoring and requests.
//!
//! The model behind the `xisa` policy is described in `cluster/POLICY.md`.

pub mod controller;
pub mod hexo;
pub mod jobs;
pub mod knowledge;
pub mod offload;
pub mod policy;
