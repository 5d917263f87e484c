//! Integration tests: the real gateway on loopback ports.
mod check_config;
