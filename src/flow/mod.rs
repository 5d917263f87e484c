//! The Flow client.
