//! The vocabulary of a Flow order that every stage shares, and the order book (`book.rs`): what
//! flowgate remembers per order (its binding to a tenant, the values Flow last accepted), and
//! why the store that keeps it failed (`store_error.rs`).

mod book;
mod store_error;

pub use book::{Binding, Broker, LastSent, OrderBook};
pub use store_error::{StoreError, StoreErrorKind};

/// Every `MarketingIntegratorOrderState` name, by its ordinal (Flow may answer with numbers).
pub const ORDER_STATES: [&str; 9] = [
    "Unknown",
    "CreatedNotSent",
    "InProcess",
    "Error",
    "MissingInfo",
    "Completed",
    "Cancelled",
    "Created",
    "Activated",
];

/// The `MarketingIntegratorOrderState` names a vendor may set (exact case): all but the first
/// two, since `Unknown` is not a state and `CreatedNotSent` is Core's own default.
pub const SETTABLE_STATES: &[&str] = ORDER_STATES.split_at(2).1;

pub fn is_settable_state(name: &str) -> bool {
    SETTABLE_STATES.contains(&name)
}

/// One update of one order, as every vendor's payload becomes it: the canonical fields, each
/// absent when the webhook does not set it. Strings are already cut to `limits.max_field_chars`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderUpdate {
    /// A settable state name (see [`SETTABLE_STATES`]).
    pub state: Option<String>,
    pub status: Option<String>,
    pub title: Option<String>,
    pub action_text: Option<String>,
    /// Display key → value lines, in the order given.
    pub metadata: Option<Vec<(String, String)>>,
}

impl OrderUpdate {
    /// Whether the update needs a `patch` call (title, action text or metadata given).
    pub fn patches(&self) -> bool {
        self.title.is_some() || self.action_text.is_some() || self.metadata.is_some()
    }

    /// Whether the update needs an `updatestate` call (state or status given).
    pub fn updates_state(&self) -> bool {
        self.state.is_some() || self.status.is_some()
    }
}
