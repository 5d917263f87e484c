//! Integration tests: the real gateway on loopback ports.
mod check_config;
mod signals;
mod cli_send;
mod ingress;
mod shutdown;
mod support;
mod packaging;
