//! A vendor's FlowToken policy (contract section 7), decided before Flow is asked: whether the
//! webhook's token must be verified, may be skipped, or is missing; and every way checking it
//! can fail.

use crate::config::FlowTokenPolicy;
use crate::order::StoreError;
use crate::route::RouteError;

use super::flow_token::TokenError;

/// Why a webhook does not meet its vendor's FlowToken policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("The vendor must send a FlowToken for an order no verified token has bound.")]
    Missing,
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The policy's verdict before Flow is asked: the token to verify, none to verify, or 401
/// `flow-token-missing` (also what `flowgate map` decides with). `bound`: the order already
/// has a binding.
pub fn token_to_verify(
    policy: FlowTokenPolicy,
    token: Option<&str>,
    bound: bool,
) -> Result<Option<&str>, PolicyError> {
    match (policy, token) {
        (FlowTokenPolicy::Off, _) | (FlowTokenPolicy::Optional, None) => Ok(None),
        (FlowTokenPolicy::Required, None) if bound => Ok(None),
        (FlowTokenPolicy::Required, None) => Err(PolicyError::Missing),
        (_, Some(token)) => Ok(Some(token)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_policy_decides_before_flow_is_asked() {
        use FlowTokenPolicy::{Off, Optional, Required};
        let verdict =
            |policy, token, bound| token_to_verify(policy, token, bound).map_err(|e| e.to_string());
        let missing = Err(PolicyError::Missing.to_string());
        for bound in [false, true] {
            assert_eq!(verdict(Off, Some("t"), bound), Ok(None));
            assert_eq!(verdict(Off, None, bound), Ok(None));
            assert_eq!(verdict(Optional, None, bound), Ok(None));
            assert_eq!(verdict(Optional, Some("t"), bound), Ok(Some("t")));
            assert_eq!(verdict(Required, Some("t"), bound), Ok(Some("t")));
        }
        assert_eq!(verdict(Required, None, true), Ok(None));
        assert_eq!(verdict(Required, None, false), missing);
    }
}
