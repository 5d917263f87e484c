//! Orders and FlowTokens as Flow keeps them, and their PascalCase JSON models.
//!
//! Dates are written the way .NET writes them, deliberately in three different shapes, so a
//! client that parses them strictly fails against the simulator rather than in production.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

/// The marketing integrator every simulated order belongs to.
const MARKETING_INTEGRATOR_ID: i64 = 1;

/// MarketingIntegratorOrderState, in ordinal order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OrderState {
    Unknown,
    CreatedNotSent,
    InProcess,
    Error,
    MissingInfo,
    Completed,
    Cancelled,
    Created,
    Activated,
}

impl OrderState {
    const ALL: [OrderState; 9] = [
        OrderState::Unknown,
        OrderState::CreatedNotSent,
        OrderState::InProcess,
        OrderState::Error,
        OrderState::MissingInfo,
        OrderState::Completed,
        OrderState::Cancelled,
        OrderState::Created,
        OrderState::Activated,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            OrderState::Unknown => "Unknown",
            OrderState::CreatedNotSent => "CreatedNotSent",
            OrderState::InProcess => "InProcess",
            OrderState::Error => "Error",
            OrderState::MissingInfo => "MissingInfo",
            OrderState::Completed => "Completed",
            OrderState::Cancelled => "Cancelled",
            OrderState::Created => "Created",
            OrderState::Activated => "Activated",
        }
    }

    /// Reads a state as .NET's enum converter does: a name in any case, or its ordinal.
    pub(super) fn from_json(value: &Value) -> Option<OrderState> {
        match value {
            Value::String(name) => Self::ALL
                .into_iter()
                .find(|state| state.name().eq_ignore_ascii_case(name)),
            Value::Number(n) => n
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| Self::ALL.get(i).copied()),
            _ => None,
        }
    }
}

/// One entry of an order's status history.
#[derive(Debug, Clone)]
struct OrderStatus {
    id: i64,
    /// Free text for the broker; null when the caller sent none.
    status: Option<String>,
    state: OrderState,
    created: DateTime<Utc>,
}

/// The fields a PATCH replaces, all three at once.
#[derive(Debug, Clone, Default)]
pub(super) struct OrderPatch {
    pub(super) title: Option<String>,
    pub(super) action_text: Option<String>,
    /// The metadata list already rendered as JSON text, as Flow stores and returns it.
    pub(super) metadata: Option<String>,
}

/// A marketing-integrator order.
#[derive(Debug, Clone)]
struct Order {
    id: i64,
    guid: Uuid,
    case_base_id: i64,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    fields: OrderPatch,
    statuses: Vec<OrderStatus>,
}

impl Order {
    /// MarketingIntegratorOrderModel.
    fn to_json(&self) -> Value {
        let statuses: Vec<Value> = self
            .statuses
            .iter()
            .map(|s| {
                json!({
                    "Id": s.id,
                    "Status": s.status,
                    "OrderStateType": s.state.name(),
                    "CreatedDate": date_whole_seconds_cest(s.created),
                })
            })
            .collect();
        json!({
            "Id": self.id,
            "Guid": self.guid.hyphenated().to_string(),
            "Title": self.fields.title,
            "ActionText": self.fields.action_text,
            "CaseBaseId": self.case_base_id,
            "MarketingIntegratorId": MARKETING_INTEGRATOR_ID,
            "CreatedDate": date_ticks_cet(self.created),
            "ModifiedDate": date_millis_utc(self.modified),
            "Metadata": self.fields.metadata,
            "OrderStatuses": statuses,
        })
    }
}

/// Who a FlowToken was issued to, as VerifyToken reports it.
#[derive(Debug, Clone)]
struct FlowGrant {
    order: Uuid,
    case_id: i64,
    user_id: i64,
}

impl FlowGrant {
    /// MarketingIntegratorTokenModel; the broker fields are fixed demo values.
    fn to_json(&self) -> Value {
        json!({
            "UserId": self.user_id,
            "FullName": "Demo Broker",
            "Email": "demo.broker@example.com",
            "BrokerCompanyName": "Demo Eiendom AS",
            "BrokerCompanyOrganizationNumber": "999888777",
            "OfficeId": 42,
            "OfficeName": "Demo Eiendom Oslo",
            "OfficeOrganizationNumber": "999888778",
            "CaseId": self.case_id,
            "Data": { "order": { "OrderId": self.order.hyphenated().to_string() } },
        })
    }
}

/// Every order and FlowToken the simulator knows.
#[derive(Debug, Default)]
pub(super) struct OrderBook {
    orders: HashMap<Uuid, Order>,
    flow_tokens: HashMap<String, FlowGrant>,
    last_order_id: i64,
    last_status_id: i64,
}

impl OrderBook {
    /// The order's model, if it exists.
    pub(super) fn get(&self, guid: Uuid) -> Option<Value> {
        self.orders.get(&guid).map(Order::to_json)
    }

    /// Creates an order with Core's default first status, and a FlowToken naming it.
    pub(super) fn create_with_token(&mut self, case_id: i64, user_id: i64) -> (Uuid, String) {
        let guid = Uuid::new_v4();
        let now = Utc::now();
        self.insert(guid, case_id, now);
        self.add_status(guid, Some(String::new()), OrderState::CreatedNotSent, now);
        let token = format!("ft_{}", Uuid::new_v4().simple());
        let grant = FlowGrant {
            order: guid,
            case_id,
            user_id,
        };
        self.flow_tokens.insert(token.clone(), grant);
        (guid, token)
    }

    /// VerifyToken's answer for a FlowToken, or `None` for one never issued.
    pub(super) fn verify(&self, token: &str) -> Option<Value> {
        self.flow_tokens.get(token).map(FlowGrant::to_json)
    }

    /// Appends a status entry, creating the order on first use; answers the order model.
    pub(super) fn update_state(
        &mut self,
        guid: Uuid,
        status: Option<String>,
        state: OrderState,
    ) -> Value {
        let now = Utc::now();
        self.ensure(guid, now);
        self.add_status(guid, status, state, now);
        self.touched(guid, now)
    }

    /// Replaces Title, ActionText and Metadata, creating the order on first use.
    pub(super) fn patch(&mut self, guid: Uuid, patch: OrderPatch) -> Value {
        let now = Utc::now();
        self.ensure(guid, now);
        if let Some(order) = self.orders.get_mut(&guid) {
            order.fields = patch;
        }
        self.touched(guid, now)
    }

    fn ensure(&mut self, guid: Uuid, now: DateTime<Utc>) {
        if !self.orders.contains_key(&guid) {
            // Orders Flow has never seen are created on first use, with no case.
            self.insert(guid, 0, now);
        }
    }

    fn insert(&mut self, guid: Uuid, case_base_id: i64, now: DateTime<Utc>) {
        self.last_order_id += 1;
        let order = Order {
            id: self.last_order_id,
            guid,
            case_base_id,
            created: now,
            modified: now,
            fields: OrderPatch::default(),
            statuses: Vec::new(),
        };
        self.orders.insert(guid, order);
    }

    fn add_status(
        &mut self,
        guid: Uuid,
        status: Option<String>,
        state: OrderState,
        now: DateTime<Utc>,
    ) {
        self.last_status_id += 1;
        let entry = OrderStatus {
            id: self.last_status_id,
            status,
            state,
            created: now,
        };
        if let Some(order) = self.orders.get_mut(&guid) {
            order.statuses.push(entry);
        }
    }

    fn touched(&mut self, guid: Uuid, now: DateTime<Utc>) -> Value {
        match self.orders.get_mut(&guid) {
            Some(order) => {
                order.modified = now;
                order.to_json()
            }
            None => Value::Null,
        }
    }
}

const CET: FixedOffset = match FixedOffset::east_opt(3600) {
    Some(offset) => offset,
    None => panic!("one hour is a valid offset"),
};
const CEST: FixedOffset = match FixedOffset::east_opt(7200) {
    Some(offset) => offset,
    None => panic!("two hours is a valid offset"),
};

/// `2026-11-28T13:00:39.1234567+01:00`: .NET's DateTimeOffset with 100 ns ticks.
fn date_ticks_cet(at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&CET);
    // A leap second shows as nanos >= 1e9; clamp so the field keeps seven digits.
    let ticks = (local.timestamp_subsec_nanos() / 100).min(9_999_999);
    format!(
        "{}.{ticks:07}{}",
        local.format("%Y-%m-%dT%H:%M:%S"),
        local.format("%:z")
    )
}

/// `2026-11-28T12:00:39.123Z`: a UTC DateTime with milliseconds.
fn date_millis_utc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `2026-11-28T14:00:39+02:00`: whole seconds in another offset.
fn date_whole_seconds_cest(at: DateTime<Utc>) -> String {
    at.with_timezone(&CEST)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn states_read_by_name_in_any_case_or_by_ordinal() {
        assert_eq!(
            OrderState::from_json(&json!("inprocess")),
            Some(OrderState::InProcess)
        );
        assert_eq!(
            OrderState::from_json(&json!("ACTIVATED")),
            Some(OrderState::Activated)
        );
        assert_eq!(OrderState::from_json(&json!(0)), Some(OrderState::Unknown));
        assert_eq!(
            OrderState::from_json(&json!(5)),
            Some(OrderState::Completed)
        );
        assert_eq!(OrderState::from_json(&json!(9)), None);
        assert_eq!(OrderState::from_json(&json!(-1)), None);
        assert_eq!(OrderState::from_json(&json!("Done")), None);
        assert_eq!(OrderState::from_json(&Value::Null), None);
    }

    #[test]
    fn dates_come_in_three_dotnet_shapes() {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 28, 12, 0, 39)
            .single()
            .expect("valid date")
            + chrono::Duration::nanoseconds(123_456_789);
        assert_eq!(date_ticks_cet(at), "2026-11-28T13:00:39.1234567+01:00");
        assert_eq!(date_millis_utc(at), "2026-11-28T12:00:39.123Z");
        assert_eq!(date_whole_seconds_cest(at), "2026-11-28T14:00:39+02:00");
    }
}
