//! Integration tests: the real gateway on loopback ports.
mod check_config;
mod cli_map;
mod cli_send;
mod deploy;
mod docs;
mod flow;
mod ingress;
mod layout;
mod metrics;
mod packaging;
mod queue;
mod quick_start;
mod rejections;
mod reload;
mod shutdown;
mod signals;
mod support;
