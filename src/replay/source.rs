//! The kept webhooks a replay reads, oldest first, whichever store keeps them: the rejections,
//! or the accepted webhooks whose bodies are still kept beside their deliveries.

use bytes::Bytes;
use serde::Deserialize;
use uuid::Uuid;

use super::{MAX_PER_CALL, ReplayError, ReplayRequest};
use crate::queue::{AcceptedFilter, DeliveryContent, RejectionFilter, Store};

/// Where a replay's webhooks come from.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Authenticated webhooks that were refused.
    #[default]
    Rejections,
    /// Accepted webhooks, while `store.body_retention` keeps their bodies.
    Accepted,
}

/// A kept webhook, as a replay needs it.
pub(super) struct Kept {
    /// The rejection's id, or the delivery's.
    pub id: Uuid,
    pub vendor: String,
    /// The id dedup knew it by, when it was known.
    pub event_id: Option<String>,
    pub body: Bytes,
    pub was: Was,
}

/// What became of it when it arrived.
pub(super) enum Was {
    /// Refused with `code`; `replayed_as` is the delivery an earlier replay made of it.
    Refused {
        code: String,
        replayed_as: Option<Uuid>,
    },
    /// Accepted as this delivery.
    Accepted(Box<DeliveryContent>),
}

/// One page of what `request` selects, and the `next` of the page after it.
pub(super) async fn read(
    store: &dyn Store,
    request: &ReplayRequest,
) -> Result<(Vec<Kept>, Option<String>), ReplayError> {
    match request.source {
        Source::Rejections => rejections(store, request).await,
        Source::Accepted => accepted(store, request).await,
    }
}

async fn rejections(
    store: &dyn Store,
    request: &ReplayRequest,
) -> Result<(Vec<Kept>, Option<String>), ReplayError> {
    let filter = RejectionFilter {
        vendor: request.vendor.clone(),
        code: request.code.clone(),
        since: request.since,
        until: request.until,
        ids: request.ids.clone(),
        limit: MAX_PER_CALL,
        cursor: request.next.clone(),
    };
    let page = store.rejections_to_replay(&filter).await?;
    let kept = page
        .rejections
        .into_iter()
        .map(|rejection| Kept {
            id: rejection.id,
            vendor: rejection.vendor,
            event_id: rejection.event_id,
            body: rejection.body,
            was: Was::Refused {
                code: rejection.code,
                replayed_as: rejection.delivery_id,
            },
        })
        .collect();
    Ok((kept, page.next_cursor))
}

async fn accepted(
    store: &dyn Store,
    request: &ReplayRequest,
) -> Result<(Vec<Kept>, Option<String>), ReplayError> {
    let filter = AcceptedFilter {
        vendor: request.vendor.clone(),
        since: request.since,
        until: request.until,
        ids: request.ids.clone(),
        limit: MAX_PER_CALL,
        cursor: request.next.clone(),
    };
    let (page, next) = store.accepted(&filter).await?;
    let kept = page
        .into_iter()
        .map(|accepted| Kept {
            id: accepted.content.id,
            vendor: accepted.content.vendor.clone(),
            event_id: Some(accepted.content.event_id.clone()),
            body: accepted.body,
            was: Was::Accepted(Box::new(accepted.content)),
        })
        .collect();
    Ok((kept, next))
}
