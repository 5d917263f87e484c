//! TLS on the public listener (contract section 15): `[server.tls]`'s files read and checked
//! into a rustls configuration (`load.rs`), and the configuration new connections are accepted
//! with, which a reload may replace while connections already open keep theirs (`live.rs`).
//! rustls on the ring provider only: no OpenSSL, no C toolchain.

mod live;
mod load;
#[cfg(test)]
mod tests;

pub use live::LiveTls;
pub use load::{LoadedTls, load};
