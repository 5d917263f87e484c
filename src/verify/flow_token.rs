//! FlowTokens (contract section 7): asked of the order's tenant with VerifyToken, the answer
//! cached (valid ones for `flow.token_cache_ttl`, invalid ones for `flow.negative_cache_ttl`),
//! and checked against the order the webhook or launch is about.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use uuid::Uuid;

use crate::flow::model::{self, TokenModel};
use crate::flow::{FlowClient, FlowError, FlowRequest, FlowResponse, TenantFlow};
use crate::metrics::TokenResult;
use crate::order::{Binding, Broker};

/// How many verified and refused tokens are remembered; beyond it the oldest go first.
const CACHE_CAPACITY: u64 = 100_000;
/// What a vendor is told to wait when Flow cannot be asked and did not say how long.
const RETRY_AFTER_UNAVAILABLE: Duration = Duration::from_secs(5);

/// What Flow said about a token: who handed it out, for which case and orders.
#[derive(Clone, Debug)]
pub struct TokenIdentity {
    pub broker: Broker,
    pub case_id: Option<i64>,
    pub order_ids: Vec<Uuid>,
}

/// A token that verified for the order.
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    pub identity: Arc<TokenIdentity>,
    pub hash: [u8; 32],
    /// Whether the answer came from the cache rather than from Flow.
    pub cached: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("Flow does not accept the FlowToken.")]
    Invalid,
    #[error("The FlowToken was issued for another order.")]
    Mismatch,
    #[error("Flow could not be asked about the FlowToken; retry later.")]
    Unavailable { retry_after: Duration },
}

/// The verification caches, keyed by tenant and the token's hash (the token itself is never kept).
pub struct FlowTokens {
    client: FlowClient,
    valid: Cache<(String, [u8; 32]), Arc<TokenIdentity>>,
    invalid: Cache<(String, [u8; 32]), ()>,
}

impl FlowTokens {
    pub fn new(client: FlowClient, valid_for: Duration, invalid_for: Duration) -> Self {
        Self {
            client,
            valid: cache(valid_for),
            invalid: cache(invalid_for),
        }
    }

    /// Verifies `token` on `tenant` for `order`, from the cache when it can; counted by result.
    pub async fn verify(
        &self,
        tenant: &TenantFlow,
        token: &str,
        order: Uuid,
        deadline: Instant,
    ) -> Result<VerifiedToken, TokenError> {
        let verified = self.check(tenant, token, order, deadline).await;
        let result = match &verified {
            Ok(token) if token.cached => TokenResult::Cached,
            Ok(_) => TokenResult::Valid,
            Err(TokenError::Invalid) => TokenResult::Invalid,
            Err(TokenError::Mismatch) => TokenResult::Mismatch,
            Err(TokenError::Unavailable { .. }) => TokenResult::Error,
        };
        tenant.metrics().token_verified(result);
        verified
    }

    async fn check(
        &self,
        tenant: &TenantFlow,
        token: &str,
        order: Uuid,
        deadline: Instant,
    ) -> Result<VerifiedToken, TokenError> {
        let hash = hash(token);
        let key = (tenant.name().to_owned(), hash);
        if self.invalid.contains_key(&key) {
            return Err(TokenError::Invalid);
        }
        let (identity, cached) = match self.valid.get(&key) {
            Some(identity) => (identity, true),
            None => {
                let request = FlowRequest::verify_token(token);
                let answer = tenant.call(&self.client, &request, deadline).await;
                let identity = match classify(answer) {
                    Ok(identity) => Arc::new(identity),
                    Err(TokenError::Invalid) => {
                        self.invalid.insert(key, ());
                        return Err(TokenError::Invalid);
                    }
                    Err(other) => return Err(other),
                };
                self.valid.insert(key, identity.clone());
                (identity, false)
            }
        };
        if !identity.order_ids.is_empty() && !identity.order_ids.contains(&order) {
            return Err(TokenError::Mismatch);
        }
        Ok(VerifiedToken {
            identity,
            hash,
            cached,
        })
    }
}

fn cache<V: Clone + Send + Sync + 'static>(ttl: Duration) -> Cache<(String, [u8; 32]), V> {
    Cache::builder()
        .max_capacity(CACHE_CAPACITY)
        .time_to_live(ttl)
        .build()
}

impl VerifiedToken {
    /// The binding this token makes for an order of `tenant`, reported on by `vendor`.
    pub fn binding(&self, tenant: &str, vendor: &str) -> Binding {
        Binding {
            tenant: tenant.to_owned(),
            vendor: vendor.to_owned(),
            case_id: self.identity.case_id,
            broker: self.identity.broker.clone(),
            token_hash: self.hash,
            bound_at: chrono::Utc::now(),
        }
    }
}

/// SHA-256 of a FlowToken: what bindings and caches keep instead of the token.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Section 7: 2xx valid; 401 (our access token already refreshed when it was old), other 4xx but
/// 403/429, and 3xx invalid; 403, 429, 5xx, timeouts and connect errors are our problem.
fn classify(answer: Result<FlowResponse, FlowError>) -> Result<TokenIdentity, TokenError> {
    let Ok(response) = answer else {
        return Err(TokenError::Unavailable {
            retry_after: RETRY_AFTER_UNAVAILABLE,
        });
    };
    let status = response.status;
    if status.is_success() {
        // A 2xx is success whatever its body; an unreadable body places no constraint.
        let model = model::parse::<TokenModel>(&response.body).unwrap_or_default();
        return Ok(identity(model));
    }
    let ours = status.is_server_error() || matches!(status.as_u16(), 403 | 429);
    if ours {
        let retry_after = response.retry_after().unwrap_or(RETRY_AFTER_UNAVAILABLE);
        return Err(TokenError::Unavailable { retry_after });
    }
    Err(TokenError::Invalid)
}

fn identity(model: TokenModel) -> TokenIdentity {
    TokenIdentity {
        broker: Broker {
            user_id: model.user_id,
            full_name: model.full_name,
            email: model.email,
            company: model.broker_company_name,
            office_id: model.office_id,
            office_name: model.office_name,
        },
        case_id: model.case_id,
        order_ids: model.order_ids,
    }
}
