//! What operators and failures switch per tenant: a pause (admin API) and the circuit breaker.
//! Workers skip paused tenants and ask the circuit before each call; sync delivery answers 503
//! for either.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use super::circuit::Circuit;
use crate::config::Circuit as CircuitSettings;

pub struct TenantControl {
    paused: Mutex<BTreeSet<String>>,
    circuits: BTreeMap<String, Circuit>,
}

impl TenantControl {
    pub fn new<'a>(tenants: impl IntoIterator<Item = &'a String>, settings: &CircuitSettings) -> Self {
        Self {
            paused: Mutex::new(BTreeSet::new()),
            circuits: tenants
                .into_iter()
                .map(|name| (name.clone(), Circuit::new(settings.failures, settings.open_for)))
                .collect(),
        }
    }

    pub fn knows(&self, tenant: &str) -> bool {
        self.circuits.contains_key(tenant)
    }

    /// Pauses or resumes `tenant`; false when no such tenant is configured.
    pub fn set_paused(&self, tenant: &str, paused: bool) -> bool {
        if !self.knows(tenant) {
            return false;
        }
        let mut set = self.paused.lock().unwrap_or_else(PoisonError::into_inner);
        if paused {
            set.insert(tenant.to_owned());
        } else {
            set.remove(tenant);
        }
        true
    }

    pub fn is_paused(&self, tenant: &str) -> bool {
        let set = self.paused.lock().unwrap_or_else(PoisonError::into_inner);
        set.contains(tenant)
    }

    /// The paused tenants, for claims to skip.
    pub fn paused(&self) -> Vec<String> {
        let set = self.paused.lock().unwrap_or_else(PoisonError::into_inner);
        set.iter().cloned().collect()
    }

    pub fn circuit(&self, tenant: &str) -> Option<&Circuit> {
        self.circuits.get(tenant)
    }
}
