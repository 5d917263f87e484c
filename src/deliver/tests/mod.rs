//! The workers against the real Flow simulator on loopback and the real SQLite store in a
//! temporary directory.

mod support;
mod workers;
