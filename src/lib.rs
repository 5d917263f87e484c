//! flowgate: an edge gateway between marketing vendors and Core's Flow API.
//!
//! One webhook's journey, each arrow a stage of the public listener (`ingress/stack.rs` holds
//! the order), then the workers:
//!
//! ```text
//! vendor ─▶ ingress ─▶ verify ─▶ dedup ─▶ validate ─▶ map ─▶ route ─▶ verify ─▶ queue ══▶ deliver ─▶ flow ─▶ Flow
//!           lookup,    signature (event   JSON        Order  tenant   Flow-     commit,   workers:   pooled
//!           media type, on raw   id)      Schema      Update (SSRF    Token     then 202  per-order  client,
//!           body cap   bytes                                 guard)   policy              FIFO       token cache
//! ```
//!
//! A sync vendor's update goes from `route` straight to `deliver` inside the request. `order`
//! holds the shared vocabulary and what is remembered per order (bindings, last-sent values);
//! `admin` is the operators' API (and `/metrics`, whose names and labels `metrics` lists once);
//! `simulator` is a Flow for local runs and tests.

#![forbid(unsafe_code)]

pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod deliver;
pub mod flow;
pub mod health;
pub mod http;
pub mod ingress;
pub mod map;
pub mod metrics;
pub mod order;
pub mod problem;
pub mod queue;
pub mod route;
pub mod server;
pub mod simulator;
pub mod telemetry;
pub mod validate;
pub mod verify;
