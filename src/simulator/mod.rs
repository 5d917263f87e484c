//! The Flow simulator.
