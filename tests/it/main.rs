//! Integration tests: the real gateway on loopback ports.
