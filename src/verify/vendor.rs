//! The vendor a request claims to come from, before its signature is checked: the rule a
//! vendor's name follows, the error for a name no vendor has or an address it does not send
//! from, and the refusal of a vendor over its own rate limit (spent only once the signature
//! proved who sent it).

use std::time::Duration;

/// No configured vendor by that name. A name that no configuration could hold is not repeated:
/// it comes from the caller and may be anything.
#[derive(Debug, thiserror::Error)]
pub enum UnknownVendor {
    #[error("No vendor `{0}` is configured.")]
    Named(String),
    #[error("The path names no vendor: a vendor name is 1 to 64 letters, digits, `_`, `.` or `-`.")]
    Malformed,
    /// The path's segment does not percent-decode to UTF-8.
    #[error("The vendor name in the path is not valid.")]
    Undecodable,
}

/// Whether `name` can be a vendor's name: `[A-Za-z0-9_.-]{1,64}` (contract section 2).
pub fn is_vendor_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// 403 `ip-not-allowed`: the client address is outside the vendor's `allow_ips` (the outcome
/// line logs it as `client_ip`).
#[derive(Debug, thiserror::Error)]
#[error("Vendor `{vendor}` does not send from this client address.")]
pub struct IpNotAllowed {
    pub vendor: String,
}

/// 429 `rate-limited`: the vendor spent its budget.
#[derive(Debug, thiserror::Error)]
#[error("Vendor `{vendor}` is over its rate limit; retry after the time given.")]
pub struct RateLimited {
    pub vendor: String,
    pub retry_after: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_names_follow_the_contracts_rule() {
        for ok in ["a", "example-photo", "v1.2_beta", &"x".repeat(64)] {
            assert!(is_vendor_name(ok), "{ok}");
        }
        let too_long = "x".repeat(65);
        for bad in ["", "a b", "a/b", "x\n", "é", "a\"b", too_long.as_str()] {
            assert!(!is_vendor_name(bad), "{bad:?}");
        }
    }
}
