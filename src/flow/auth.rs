//! A tenant's access token. Client-credentials tokens are cached until shortly before they
//! expire and fetched single-flight: however many calls need one at once, one authtoken request
//! is made, and a failed fetch fails the calls that were waiting for it instead of each retrying.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::HeaderValue;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::model::{self, AccessToken};
use super::{FlowError, FlowRequest, FlowResponse};

/// What Flow issues when its answer does not say.
const DEFAULT_EXPIRES_IN: u64 = 1200;
/// A token is renewed when less than this, or a tenth of its lifetime, remains.
const MIN_RENEW_MARGIN: Duration = Duration::from_secs(30);

/// How a tenant authenticates to its Flow.
pub(super) enum Credentials {
    ClientCredentials {
        client_id: String,
        client_secret: String,
    },
    /// A configured token: used as it is, never refreshed.
    Bearer(Arc<IssuedToken>),
}

/// An access token as sent, with when it was obtained.
pub(super) struct IssuedToken {
    /// `Bearer <token>`, marked sensitive.
    pub(super) header: HeaderValue,
    pub(super) obtained: Instant,
    /// After this, the token is renewed before use.
    renew_at: Option<Instant>,
}

impl IssuedToken {
    pub(super) fn bearer(token: &str, obtained: Instant) -> Option<IssuedToken> {
        let mut header = HeaderValue::try_from(format!("Bearer {token}")).ok()?;
        header.set_sensitive(true);
        Some(IssuedToken {
            header,
            obtained,
            renew_at: None,
        })
    }

    fn is_fresh(&self, now: Instant) -> bool {
        self.renew_at.is_none_or(|renew_at| now < renew_at)
    }
}

/// The cached token and the last fetch failure, numbered so waiters can tell it is theirs.
#[derive(Default)]
struct Slot {
    token: Option<Arc<IssuedToken>>,
    failure: Option<(u64, FlowError)>,
}

/// One tenant's token cache.
pub(super) struct TokenCache {
    credentials: Credentials,
    /// Held while fetching: that is what makes the fetch single-flight.
    slot: Mutex<Slot>,
    /// Fetches finished so far.
    fetches: AtomicU64,
}

impl TokenCache {
    pub(super) fn new(credentials: Credentials) -> TokenCache {
        TokenCache {
            credentials,
            slot: Mutex::new(Slot::default()),
            fetches: AtomicU64::new(0),
        }
    }

    /// Whether a 401 can be answered by fetching another token.
    pub(super) fn refreshes(&self) -> bool {
        matches!(self.credentials, Credentials::ClientCredentials { .. })
    }

    /// A usable token: the cached one while it is fresh, else a new one obtained through
    /// `fetch`. With `stale`, that token is dropped first (only if it is still the cached one,
    /// so concurrent 401s under one token cause one fetch).
    pub(super) async fn obtain(
        &self,
        stale: Option<&Arc<IssuedToken>>,
        deadline: Instant,
        fetch: impl AsyncFnOnce(&FlowRequest) -> Result<FlowResponse, FlowError>,
    ) -> Result<Arc<IssuedToken>, FlowError> {
        let (client_id, client_secret) = match &self.credentials {
            Credentials::Bearer(token) => return Ok(token.clone()),
            Credentials::ClientCredentials {
                client_id,
                client_secret,
            } => (client_id, client_secret),
        };
        let seen = self.fetches.load(Ordering::Acquire);
        let mut slot = tokio::time::timeout_at(deadline, self.slot.lock())
            .await
            .map_err(|_| FlowError::Timeout)?;
        if let Some(answer) = slot.answer(stale, seen) {
            return answer;
        }
        let obtained = Instant::now();
        let request = FlowRequest::auth_token(client_id, client_secret);
        let result = match fetch(&request).await {
            Ok(answer) => issued(&answer, obtained),
            Err(error) => Err(error),
        };
        let number = self.fetches.fetch_add(1, Ordering::AcqRel) + 1;
        slot.record(number, &result);
        result
    }
}

impl Slot {
    /// What the slot answers without a fetch: the cached token while it is fresh (unless it is
    /// `stale`), or the failure of a fetch that finished after the caller's `seen`.
    fn answer(
        &mut self,
        stale: Option<&Arc<IssuedToken>>,
        seen: u64,
    ) -> Option<Result<Arc<IssuedToken>, FlowError>> {
        let cached = self.token.as_ref();
        if cached.zip(stale).is_some_and(|(t, s)| Arc::ptr_eq(t, s)) {
            self.token = None;
        }
        if let Some(token) = self.token.as_ref().filter(|t| t.is_fresh(Instant::now())) {
            return Some(Ok(token.clone()));
        }
        let failure = self.failure.as_ref().filter(|(at, _)| *at > seen);
        failure.map(|(_, error)| Err(error.clone()))
    }

    fn record(&mut self, number: u64, result: &Result<Arc<IssuedToken>, FlowError>) {
        match result {
            Ok(token) => {
                self.token = Some(token.clone());
                self.failure = None;
            }
            // Our own bucket's refusal is not Flow's: a waiter with a later deadline may wait.
            Err(FlowError::Throttled(_)) => {}
            Err(error) => self.failure = Some((number, error.clone())),
        }
    }
}

/// The token in `/authtoken`'s answer, renewed before a tenth of its lifetime (at least 30 s)
/// remains, counted from when it was asked for.
fn issued(answer: &FlowResponse, obtained: Instant) -> Result<Arc<IssuedToken>, FlowError> {
    if !answer.status.is_success() {
        return Err(FlowError::AuthRejected {
            status: answer.status,
            body: answer.body.clone(),
        });
    }
    let grant: AccessToken = model::parse(&answer.body)
        .map_err(|_| FlowError::AuthUnusable("the answer is not a JSON object".to_owned()))?;
    let token = grant
        .access_token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| FlowError::AuthUnusable("the answer carries no access_token".to_owned()))?;
    let mut issued = IssuedToken::bearer(token.trim(), obtained).ok_or_else(|| {
        FlowError::AuthUnusable("the access_token cannot be sent in a header".to_owned())
    })?;
    let lifetime = Duration::from_secs(grant.expires_in.unwrap_or(DEFAULT_EXPIRES_IN));
    let margin = MIN_RENEW_MARGIN.max(lifetime / 10);
    issued.renew_at = Some(obtained + lifetime.saturating_sub(margin));
    Ok(Arc::new(issued))
}
