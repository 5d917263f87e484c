//! One kept webhook through the running configuration's stages, from parsing onwards, as the
//! public listener runs them (`ingress/stack.rs`), minus what only observes traffic (the shadow
//! schema and drift count what vendors send, not what operators replay). A dry run stops
//! before Flow and the store are changed; applying verifies the FlowToken and commits.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use super::source::{Kept, Was};
use super::{Call, ReplayError, Replayed, Replayer, Verdict};
use crate::config::{Dedup, DeliveryMode};
use crate::deliver::DeliveryError;
use crate::deliver::plan::{self, NoState};
use crate::ingress::dedup::Repeat;
use crate::ingress::dispatch::new_delivery;
use crate::ingress::webhook::{Addressed, Identity, Unique, Verified};
use crate::ingress::{
    AsyncStage, CheckFlowToken, MapUpdate, ParseJson, RequireChange, ResolveTenant, Stage,
    ValidateSchema,
};
use crate::order::{LastSent, OrderBook, OrderUpdate};
use crate::problem::{Code, Problem};
use crate::queue::{Enqueued, Existing};
use crate::verify::policy::token_to_verify;

/// Why a webhook went no further: refused, or already a delivery.
enum Stop {
    Refused(Problem),
    Duplicate(Uuid),
}

fn refused(error: impl Into<Problem>) -> Stop {
    Stop::Refused(error.into())
}

impl Replayer {
    pub(super) async fn replay_one(
        &self,
        kept: Kept,
        dry_run: bool,
    ) -> Result<Replayed, ReplayError> {
        let before = self.before(&kept).await?;
        let mut order_id = match &kept.was {
            Was::Accepted(content) => Some(content.order_id),
            Was::Refused { .. } => None,
        };
        let stopped = match delivered_already(&kept, dry_run) {
            Some(delivery) => Err(Stop::Duplicate(delivery)),
            None => self.stages(&kept, dry_run, &mut order_id).await,
        };
        let after = match stopped {
            Ok(verdict) => verdict,
            Err(Stop::Refused(problem)) => Verdict::refused(&problem),
            Err(Stop::Duplicate(delivery)) => Verdict {
                outcome: Verdict::DUPLICATE,
                calls: Some(Vec::new()),
                delivery_id: Some(delivery),
                ..Verdict::default()
            },
        };
        // The delivery a rejection became (or turned out to be a duplicate of), once.
        if let (
            false,
            Was::Refused {
                replayed_as: None, ..
            },
            Some(delivery),
        ) = (dry_run, &kept.was, after.delivery_id)
        {
            let store = &self.flow.dispatch.store;
            store.record_replay(kept.id, delivery).await?;
        }
        Ok(Replayed {
            changed: before.differs_from(&after),
            id: kept.id,
            vendor: kept.vendor,
            event_id: kept.event_id,
            order_id,
            before,
            after,
        })
    }

    /// What it was when it arrived: its refusal, or the calls its delivery makes.
    async fn before(&self, kept: &Kept) -> Result<Verdict, ReplayError> {
        Ok(match &kept.was {
            Was::Refused { code, .. } => Verdict {
                outcome: Verdict::REJECTED,
                code: Some(code.clone()),
                ..Verdict::default()
            },
            Was::Accepted(content) => {
                let last = self.flow.dispatch.store.last_sent(content.order_id).await?;
                let default = content.state_default.as_deref();
                Verdict {
                    outcome: Verdict::ACCEPTED,
                    calls: Some(calls(&content.update, &last, default)),
                    delivery_id: Some(content.id),
                    ..Verdict::default()
                }
            }
        })
    }

    /// The stages from parsing onwards; `order_id` is set once the map knows the order.
    async fn stages(
        &self,
        kept: &Kept,
        dry_run: bool,
        order_id: &mut Option<Uuid>,
    ) -> Result<Verdict, Stop> {
        let vendor = self.vendors.get(&kept.vendor).ok_or_else(|| {
            let detail = format!("Vendor `{}` is not configured now.", kept.vendor);
            Stop::Refused(Problem::new(Code::UnknownVendor, detail))
        })?;
        let webhook = Verified::kept(vendor, kept.body.clone(), kept.event_id.clone());
        let parsed = ParseJson::new(self.max_json_depth)
            .run(webhook)
            .map_err(refused)?;
        let identity = Identity::of(&parsed.webhook, &parsed.document);
        self.not_seen(kept, &parsed.webhook, &identity).await?;
        let unique = Unique {
            webhook: parsed.webhook,
            document: parsed.document,
            identity,
        };
        let valid = ValidateSchema.run(unique).map_err(refused)?;
        let update = MapUpdate.run(valid).map_err(refused)?;
        *order_id = Some(update.order.order_id);
        let update = RequireChange.run(update).map_err(refused)?;
        let book: Arc<dyn OrderBook> = self.flow.dispatch.store.clone();
        let addressed = ResolveTenant::new(self.flow.tenants.clone(), book.clone())
            .run(update)
            .await
            .map_err(refused)?;
        let calls = self.calls_now(&addressed).await?;
        if dry_run {
            return self.checked(&addressed, calls).await;
        }
        let authorized = CheckFlowToken::new(self.flow.tokens.clone(), book)
            .run(addressed)
            .await
            .map_err(refused)?;
        let body_hash = authorized.addressed.update.identity.body_hash;
        match self.flow.dispatch.commit_replayed(&authorized).await {
            Ok((id, Enqueued::Accepted)) => Ok(Verdict {
                outcome: Verdict::ACCEPTED,
                calls: Some(calls),
                delivery_id: Some(id),
                ..Verdict::default()
            }),
            Ok((_, Enqueued::Taken(existing))) => Err(repeat(existing, &body_hash)),
            Err(problem) => Err(Stop::Refused(problem)),
        }
    }

    /// Dedup as the pipeline does it, except that an accepted webhook is not a repeat of its
    /// own delivery.
    async fn not_seen(
        &self,
        kept: &Kept,
        webhook: &Verified,
        identity: &Identity,
    ) -> Result<(), Stop> {
        let vendor = webhook.vendor();
        if vendor.dedup == Dedup::Off {
            return Ok(());
        }
        let dispatch = &self.flow.dispatch;
        let since = Utc::now() - dispatch.dedup_window;
        let found = dispatch
            .store
            .find(&vendor.name, &identity.event_id, since)
            .await
            .map_err(refused)?;
        match found {
            Some(existing) if !matches!(&kept.was, Was::Accepted(c) if c.id == existing.id) => {
                Err(repeat(existing, &identity.body_hash))
            }
            _ => Ok(()),
        }
    }

    /// The calls the update makes against what Flow last accepted for its order.
    async fn calls_now(&self, addressed: &Addressed) -> Result<Vec<Call>, Stop> {
        let update = &addressed.update;
        let book = &self.flow.dispatch.store;
        let last = book
            .last_sent(update.order.order_id)
            .await
            .map_err(refused)?;
        let default = update.webhook.vendor().mapper.state_default();
        Ok(calls(&update.order.update, &last, default))
    }

    /// A dry run's last checks, none of which asks Flow or changes the store: the FlowToken
    /// policy (a token is `not_checked`) and what a queued webhook must have to be committed.
    async fn checked(&self, addressed: &Addressed, calls: Vec<Call>) -> Result<Verdict, Stop> {
        let update = &addressed.update;
        let policy = update.webhook.vendor().flow_token;
        let bound = addressed.binding.is_some();
        let token =
            token_to_verify(policy, update.order.flow_token.as_deref(), bound).map_err(refused)?;
        let tenant = addressed.tenant.name();
        let record = new_delivery(update, tenant, DeliveryMode::Queued, false);
        let store = &*self.flow.dispatch.store;
        if !plan::state_known(&record.content, store, store)
            .await
            .map_err(refused)?
        {
            return Err(refused(DeliveryError::NoState(NoState)));
        }
        Ok(Verdict {
            outcome: Verdict::ACCEPTED,
            calls: Some(calls),
            flow_token: token.map(|_| "not_checked"),
            ..Verdict::default()
        })
    }
}

/// A kept webhook that is a delivery already, so a replay makes nothing more of it: a rejection
/// an earlier replay committed, or (applying) an accepted webhook, which has its delivery.
fn delivered_already(kept: &Kept, dry_run: bool) -> Option<Uuid> {
    match &kept.was {
        Was::Refused { replayed_as, .. } => *replayed_as,
        Was::Accepted(content) => (!dry_run).then_some(content.id),
    }
}

/// An event id committed before: the same body is a duplicate of it, another a conflict.
fn repeat(existing: Existing, body_hash: &[u8; 32]) -> Stop {
    match Repeat::of(existing, body_hash) {
        Repeat::Duplicate(existing) => Stop::Duplicate(existing.id),
        Repeat::Conflict => Stop::Refused(Problem::new(
            Code::DuplicateConflict,
            "This event id was already used for a different body.",
        )),
        Repeat::Store(error) => refused(error),
    }
}

/// The bodies Flow receives for `update`, merged over `last` as they are built when sent
/// (`deliver::plan`). A status whose state only an update still queued for the order carries
/// shows that state as null.
fn calls(update: &OrderUpdate, last: &LastSent, state_default: Option<&str>) -> Vec<Call> {
    let mut calls = Vec::new();
    if let Some(body) = plan::patch(update, last) {
        calls.push(Call {
            operation: "patch",
            body: serde_json::to_value(body).unwrap_or_default(),
        });
    }
    let body = match plan::update_state(update, last, state_default) {
        Ok(None) => None,
        Ok(Some(body)) => Some(serde_json::to_value(body).unwrap_or_default()),
        Err(NoState) => Some(json!({"Status": update.status, "State": Value::Null})),
    };
    if let Some(body) = body {
        calls.push(Call {
            operation: "updatestate",
            body,
        });
    }
    calls
}
