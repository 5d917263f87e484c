//! Integration tests: the real gateway on loopback ports.
mod check_config;
mod cli_send;
mod flow;
mod ingress;
mod packaging;
mod queue;
mod quick_start;
mod shutdown;
mod signals;
mod support;
