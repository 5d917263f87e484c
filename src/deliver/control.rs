//! What operators and failures switch per tenant: a pause (admin API) and the circuit breaker.
//! Workers skip paused tenants and ask the circuit before each call; sync delivery answers 503
//! for either.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::circuit::{CallResult, Circuit, Permit, Probe};
use super::run::FlowCall;
use crate::config::CircuitConfig;

pub struct TenantControl {
    /// Shared with the controls a reload builds from this one: a pause outlives a reload.
    paused: Arc<Mutex<BTreeSet<String>>>,
    circuits: BTreeMap<String, Arc<Circuit>>,
    settings: CircuitConfig,
}

impl TenantControl {
    pub fn new<'a>(
        tenants: impl IntoIterator<Item = &'a String>,
        settings: &CircuitConfig,
    ) -> Self {
        Self {
            paused: Arc::default(),
            circuits: tenants
                .into_iter()
                .map(|name| (name.clone(), Arc::new(circuit(settings))))
                .collect(),
            settings: settings.clone(),
        }
    }

    /// The control of a reloaded configuration: its tenants, the pauses of those still
    /// configured, and the circuit of each tenant not in `rebuilt` (unless the circuit settings
    /// changed, which closes every circuit).
    pub fn carry<'a>(
        &self,
        tenants: impl IntoIterator<Item = &'a String>,
        settings: &CircuitConfig,
        rebuilt: &[String],
    ) -> Self {
        let circuits: BTreeMap<String, Arc<Circuit>> = tenants
            .into_iter()
            .map(|name| {
                let kept = self
                    .circuits
                    .get(name)
                    .filter(|_| *settings == self.settings && !rebuilt.contains(name));
                let circuit = kept.cloned().unwrap_or_else(|| Arc::new(circuit(settings)));
                (name.clone(), circuit)
            })
            .collect();
        let mut paused = self.paused.lock().unwrap_or_else(PoisonError::into_inner);
        paused.retain(|name| circuits.contains_key(name));
        drop(paused);
        Self {
            paused: self.paused.clone(),
            circuits,
            settings: settings.clone(),
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
        self.circuits.get(tenant).map(Arc::as_ref)
    }

    /// Every tenant's circuit, by tenant name.
    pub fn circuits(&self) -> impl Iterator<Item = (&str, &Circuit)> {
        self.circuits
            .iter()
            .map(|(name, circuit)| (name.as_str(), circuit.as_ref()))
    }

    /// Whether a call to `tenant` may go now: refused while paused or while its circuit is open
    /// (or another call is probing it). The admission records the calls' verdicts.
    pub fn admit(&self, tenant: &str, now: Instant) -> Result<Admission<'_>, Closed> {
        if self.is_paused(tenant) {
            return Err(Closed::Paused);
        }
        let circuit = self.circuit(tenant);
        let probe = match circuit.map(|c| c.permit(now)) {
            None | Some(Permit::Call) => None,
            Some(Permit::Probe(probe)) => Some(probe),
            Some(Permit::WaitUntil(until)) => return Err(Closed::CircuitOpen { until }),
        };
        Ok(Admission { circuit, probe })
    }
}

fn circuit(settings: &CircuitConfig) -> Circuit {
    Circuit::new(settings.failures, settings.open_for)
}

/// Why no call may go to a tenant now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Closed {
    #[error("deliveries to the tenant are paused")]
    Paused,
    #[error("the tenant's circuit is open")]
    CircuitOpen { until: Instant },
}

impl Closed {
    /// How long a caller should wait: until the circuit may let a call through; unknown for a
    /// pause, which lasts until an operator resumes the tenant.
    pub fn retry_after(&self, now: Instant) -> Option<Duration> {
        match self {
            Closed::Paused => None,
            Closed::CircuitOpen { until } => Some(until.saturating_duration_since(now)),
        }
    }
}

/// Leave to call a tenant; the first verdict recorded settles the probe when this is one.
pub struct Admission<'a> {
    circuit: Option<&'a Circuit>,
    probe: Option<Probe<'a>>,
}

impl Admission<'_> {
    pub fn record(&mut self, now: Instant, result: CallResult) {
        match (self.probe.take(), self.circuit) {
            (Some(probe), _) => probe.record(now, result),
            (None, Some(circuit)) => circuit.record(now, result),
            (None, None) => {}
        }
    }

    /// Every call's verdict, in the order they were made.
    pub fn record_calls(&mut self, calls: &[FlowCall]) {
        let now = Instant::now();
        for call in calls {
            self.record(now, call.health);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::deliver::circuit::CircuitState;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn a_reload_keeps_the_pauses_and_circuits_of_tenants_it_did_not_rebuild() {
        let settings = CircuitConfig {
            failures: 1,
            open_for: Duration::from_secs(60),
        };
        let running = TenantControl::new(&names(&["kept", "rebuilt", "gone"]), &settings);
        let now = Instant::now();
        for tenant in ["kept", "rebuilt"] {
            let circuit = running.circuit(tenant).expect("a circuit");
            circuit.record(now, CallResult::Failure);
            assert_eq!(circuit.state(now), CircuitState::Open);
        }
        running.set_paused("kept", true);
        running.set_paused("gone", true);
        let next = running.carry(
            &names(&["kept", "rebuilt", "new"]),
            &settings,
            &names(&["rebuilt"]),
        );
        let state = |tenant: &str| next.circuit(tenant).expect("a circuit").state(now);
        assert_eq!(state("kept"), CircuitState::Open);
        assert_eq!(state("rebuilt"), CircuitState::Closed);
        assert_eq!(state("new"), CircuitState::Closed);
        assert!(next.circuit("gone").is_none());
        assert_eq!(next.paused(), ["kept"]);
        // Other circuit settings close every circuit.
        let stricter = CircuitConfig {
            failures: 2,
            ..settings
        };
        let after = next.carry(&names(&["kept"]), &stricter, &[]);
        assert_eq!(
            after.circuit("kept").expect("a circuit").state(now),
            CircuitState::Closed
        );
    }
}
