//! Vendor payload → canonical `OrderUpdate`.
