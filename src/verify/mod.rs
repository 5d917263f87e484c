//! Who sent a webhook and what it may do: the vendor's name rule and rate-limit refusal
//! (`vendor.rs`), authentication on the raw body bytes (`signature`), FlowTokens (`flow_token`)
//! and the vendor's policy for them (`policy.rs`). The pipeline's stages in `ingress` call these.

pub mod flow_token;
pub mod policy;
pub mod signature;
mod vendor;

pub use vendor::{IpNotAllowed, RateLimited, UnknownVendor, is_vendor_name};
