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
//! `simulator` is a Flow for local runs and tests. The stage libraries (`verify`, `validate`,
//! `map`, `route`, `queue`) are plain types and functions that know nothing of tower; `ingress`
//! owns the adapters that put them in the stack, and the typestate chain they pass along
//! (`ingress/webhook.rs`).
//!
//! Rooms, top floor first. A room imports only rooms on the floors below it, never one beside or
//! above it (`tests/it/layout.rs` checks every `crate::` path), so no two rooms import each other:
//!
//! ```text
//! cli                                  the command line
//! app                                  wiring, start-up, reload and drain
//! openapi                              the document of both listeners' routes
//! admin                                the operators' listener
//! replay                               kept webhooks through the public listener's stages again
//! ingress, simulator                   the public listener, the Flow simulator
//! http, health                         what both listeners share
//! tls                                  the public listener's certificate and handshake
//! problem                              errors become HTTP answers here, and only here
//! deliver                              workers and the sync path
//! queue, verify, validate, map         the stage libraries
//! route                                which tenant's Flow an order goes to
//! flow                                 the Flow client
//! metrics, telemetry                   what the gateway reports
//! config                               what it was told
//! order                                the shared vocabulary
//! ```

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
pub mod openapi;
pub mod order;
pub mod problem;
pub mod queue;
pub mod replay;
pub mod route;
pub mod simulator;
pub mod telemetry;
pub mod tls;
pub mod validate;
pub mod verify;
