//! flowgate: an edge gateway between marketing vendors and Core's Flow API.
//!
//! One webhook's journey, each arrow a stage of the public listener (`ingress/stack.rs` holds
//! the order):
//!
//! ```text
//! vendor ─▶ ingress ─▶ verify ─▶ validate ─▶ map ─▶ route ─▶ verify ─▶ deliver ─▶ flow ─▶ Flow
//!           lookup,    signature  JSON       Order   tenant   Flow-     patch,     pooled
//!           media type, on raw    Schema     Update  (SSRF    Token     update-    client,
//!           body cap   bytes                         guard)   policy    state      token cache
//! ```
//!
//! `order` holds the shared vocabulary and what is remembered per order (bindings, last-sent
//! values); `simulator` is a Flow for local runs and tests. The durable queue between `route`
//! and `deliver` is not built yet: every vendor is served synchronously.

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
pub mod queue;
pub mod route;
pub mod server;
pub mod simulator;
pub mod telemetry;
pub mod validate;
pub mod verify;
