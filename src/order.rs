//! The vocabulary of a Flow order that every stage shares.

/// The `MarketingIntegratorOrderState` names a vendor may set (exact case). `CreatedNotSent` is
/// Core's own default and `Unknown` is not a state, so neither is here.
pub const SETTABLE_STATES: [&str; 7] = [
    "InProcess",
    "Error",
    "MissingInfo",
    "Completed",
    "Cancelled",
    "Created",
    "Activated",
];

pub fn is_settable_state(name: &str) -> bool {
    SETTABLE_STATES.contains(&name)
}
