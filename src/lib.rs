//! flowgate: an edge gateway between marketing vendors and Core's Flow API.
//!
//! One webhook's journey, each arrow a stage of the public listener (`ingress/stack.rs` holds
//! the order):
//!
//! ```text
//! vendor ─▶ ingress ─▶ verify ─▶ validate ─▶ (map ─▶ route ─▶ queue ══▶ deliver ─▶ flow) ─▶ Flow
//!           lookup,    signature  JSON Schema
//!           media type, on raw    every violation
//!           body cap   bytes
//! ```
//!
//! The stages in parentheses are not built yet: an accepted webhook is answered 202 and logged.

#![forbid(unsafe_code)]

pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod deliver;
pub mod flow;
pub mod ingress;
pub mod map;
pub mod order;
pub mod problem;
pub mod route;
pub mod server;
pub mod simulator;
pub mod telemetry;
pub mod validate;
pub mod verify;
