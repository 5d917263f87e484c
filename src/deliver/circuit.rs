//! A tenant's circuit breaker (contract section 8): opens after `circuit.failures` consecutive
//! retryable failures (429s and our own bucket excluded: they are pacing, not faults), stays open
//! exactly `circuit.open_for`, then lets one probe through; a failed probe reopens it for
//! `open_for` again, a successful call closes it.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How long a call waits while another call is probing a half-open circuit: the probe's answer
/// usually comes well within this, and the wait is spent in the queue, not in a worker.
pub const PROBE_WAIT: Duration = Duration::from_secs(1);

pub struct Circuit {
    failures: u32,
    open_for: Duration,
    inner: Mutex<Inner>,
}

struct Inner {
    state: State,
    /// Names each probe, so a stale probe can never settle a later one's turn.
    probes: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    /// Until `until`; from then on the next caller is the probe.
    Open {
        until: Instant,
    },
    /// One probe is out; everyone else waits for its verdict.
    Probing {
        probe: u64,
        since: Instant,
    },
}

/// What the circuit lets a caller do now.
#[must_use]
pub enum Permit<'a> {
    Call,
    /// The one call of a half-open circuit: its verdict opens or closes the circuit.
    Probe(Probe<'a>),
    /// No call before then (open, or another call is probing).
    WaitUntil(Instant),
}

/// The probe's turn. Dropped without a verdict (the call was cancelled or aborted), it gives the
/// turn back, so a lost probe never keeps the circuit half-open for ever.
#[must_use]
pub struct Probe<'a> {
    circuit: &'a Circuit,
    probe: u64,
}

/// What one call says about the tenant's Flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallResult {
    /// Flow answered (a refusal of one webhook included): the tenant's Flow is working.
    Success,
    /// A retryable failure: 5xx, 403, 408, 425, a timeout, an unreachable host, credentials.
    Failure,
    /// Pacing (Flow's 429, our own bucket): says nothing about Flow's health.
    Neutral,
}

/// The circuit as metrics and the admin API show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    /// Open time is over: the next call probes, or a probe is out.
    HalfOpen,
}

impl CircuitState {
    /// As the admin API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }
}

impl Circuit {
    /// `failures` below 1 is taken as 1 (configuration refuses 0).
    pub fn new(failures: u32, open_for: Duration) -> Self {
        Self {
            failures: failures.max(1),
            open_for,
            inner: Mutex::new(Inner {
                state: State::Closed { failures: 0 },
                probes: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn permit(&self, now: Instant) -> Permit<'_> {
        let mut inner = self.lock();
        match inner.state {
            State::Closed { .. } => Permit::Call,
            State::Open { until } if now < until => Permit::WaitUntil(until),
            State::Open { .. } => {
                inner.probes += 1;
                let probe = inner.probes;
                inner.state = State::Probing { probe, since: now };
                Permit::Probe(Probe {
                    circuit: self,
                    probe,
                })
            }
            State::Probing { .. } => Permit::WaitUntil(now + PROBE_WAIT),
        }
    }

    /// The verdict of a call made under [`Permit::Call`].
    pub fn record(&self, now: Instant, result: CallResult) {
        let mut inner = self.lock();
        inner.state = self.after(inner.state, now, result);
    }

    /// Closes the circuit and forgets the failures counted (admin).
    pub fn close(&self) {
        self.lock().state = State::Closed { failures: 0 };
    }

    /// Whether a call now would be refused: open, or half-open with its probe out.
    pub fn is_open(&self, now: Instant) -> bool {
        match self.lock().state {
            State::Closed { .. } => false,
            State::Open { until } => now < until,
            State::Probing { .. } => true,
        }
    }

    pub fn state(&self, now: Instant) -> CircuitState {
        match self.lock().state {
            State::Closed { .. } => CircuitState::Closed,
            State::Open { until } if now < until => CircuitState::Open,
            State::Open { .. } | State::Probing { .. } => CircuitState::HalfOpen,
        }
    }

    /// A call that was not the probe: a success closes from any state; a failure counts only
    /// while closed, so calls that began before the circuit opened never stretch `open_for`.
    fn after(&self, state: State, now: Instant, result: CallResult) -> State {
        match (state, result) {
            (_, CallResult::Success) => State::Closed { failures: 0 },
            (State::Closed { failures }, CallResult::Failure) if failures + 1 >= self.failures => {
                State::Open {
                    until: now + self.open_for,
                }
            }
            (State::Closed { failures }, CallResult::Failure) => State::Closed {
                failures: failures + 1,
            },
            (state, _) => state,
        }
    }

    fn settle(&self, probe: u64, now: Instant, result: CallResult) {
        let mut inner = self.lock();
        let mine = matches!(inner.state, State::Probing { probe: p, .. } if p == probe);
        inner.state = match (mine, result) {
            (true, CallResult::Failure) => State::Open {
                until: now + self.open_for,
            },
            (true, CallResult::Neutral) => self.given_back(inner.state),
            _ => self.after(inner.state, now, result),
        };
    }

    fn give_back(&self, probe: u64) {
        let mut inner = self.lock();
        if matches!(inner.state, State::Probing { probe: p, .. } if p == probe) {
            inner.state = self.given_back(inner.state);
        }
    }

    /// Half-open again with no probe out: the next caller probes.
    fn given_back(&self, state: State) -> State {
        match state {
            State::Probing { since, .. } => State::Open { until: since },
            other => other,
        }
    }
}

impl Probe<'_> {
    pub fn record(self, now: Instant, result: CallResult) {
        self.circuit.settle(self.probe, now, result);
    }
}

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        // After `record` the circuit is no longer probing with this probe: nothing happens.
        self.circuit.give_back(self.probe);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OPEN_FOR: Duration = Duration::from_secs(30);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn fail_times(circuit: &Circuit, now: Instant, times: u32) {
        for _ in 0..times {
            assert!(matches!(circuit.permit(now), Permit::Call));
            circuit.record(now, CallResult::Failure);
        }
    }

    #[test]
    fn opens_after_the_configured_consecutive_failures() {
        let (circuit, t0) = (Circuit::new(3, OPEN_FOR), Instant::now());
        fail_times(&circuit, t0, 2);
        circuit.record(t0, CallResult::Success);
        fail_times(&circuit, t0, 2);
        assert!(!circuit.is_open(t0), "a success resets the count");
        fail_times(&circuit, t0, 1);
        assert!(circuit.is_open(t0));
        assert_eq!(circuit.state(t0), CircuitState::Open);
        assert!(
            matches!(circuit.permit(t0 + secs(29)), Permit::WaitUntil(at) if at == t0 + OPEN_FOR)
        );
    }

    #[test]
    fn pacing_neither_counts_nor_resets() {
        let (circuit, t0) = (Circuit::new(2, OPEN_FOR), Instant::now());
        fail_times(&circuit, t0, 1);
        circuit.record(t0, CallResult::Neutral);
        circuit.record(t0, CallResult::Neutral);
        assert!(!circuit.is_open(t0));
        fail_times(&circuit, t0, 1);
        assert!(circuit.is_open(t0), "the two failures were consecutive");
    }

    #[test]
    fn stays_open_exactly_open_for_then_lets_one_probe_through() {
        let (circuit, t0) = (Circuit::new(1, OPEN_FOR), Instant::now());
        fail_times(&circuit, t0, 1);
        let just_before = t0 + OPEN_FOR - Duration::from_millis(1);
        assert!(matches!(circuit.permit(just_before), Permit::WaitUntil(_)));
        let t1 = t0 + OPEN_FOR;
        assert!(!circuit.is_open(t1));
        assert_eq!(circuit.state(t1), CircuitState::HalfOpen);
        let probe = circuit.permit(t1);
        assert!(matches!(probe, Permit::Probe(_)));
        assert!(circuit.is_open(t1), "others wait while the probe runs");
        assert!(matches!(circuit.permit(t1), Permit::WaitUntil(at) if at == t1 + PROBE_WAIT));
        if let Permit::Probe(probe) = probe {
            probe.record(t1 + secs(1), CallResult::Success);
        }
        assert!(matches!(circuit.permit(t1 + secs(1)), Permit::Call));
        assert_eq!(circuit.state(t1), CircuitState::Closed);
    }

    #[test]
    fn a_failed_probe_reopens_for_open_for_again_without_growth() {
        let (circuit, t0) = (Circuit::new(1, OPEN_FOR), Instant::now());
        fail_times(&circuit, t0, 1);
        for round in 1..=3u32 {
            let now = t0 + OPEN_FOR * round + secs(u64::from(round));
            let Permit::Probe(probe) = circuit.permit(now) else {
                panic!("round {round}: a probe");
            };
            probe.record(now, CallResult::Failure);
            assert!(
                matches!(circuit.permit(now), Permit::WaitUntil(at) if at == now + OPEN_FOR),
                "round {round}"
            );
        }
    }

    #[test]
    fn a_dropped_or_paced_probe_gives_its_turn_back() {
        let (circuit, t0) = (Circuit::new(1, OPEN_FOR), Instant::now());
        fail_times(&circuit, t0, 1);
        let t1 = t0 + OPEN_FOR;
        drop(circuit.permit(t1));
        let Permit::Probe(probe) = circuit.permit(t1) else {
            panic!("the turn came back");
        };
        probe.record(t1, CallResult::Neutral);
        assert!(matches!(circuit.permit(t1), Permit::Probe(_)));
    }

    #[test]
    fn late_failures_do_not_stretch_an_open_circuit_and_close_shuts_it() {
        let (circuit, t0) = (Circuit::new(1, OPEN_FOR), Instant::now());
        fail_times(&circuit, t0, 1);
        circuit.record(t0 + secs(10), CallResult::Failure);
        assert!(matches!(circuit.permit(t0), Permit::WaitUntil(at) if at == t0 + OPEN_FOR));
        circuit.close();
        assert!(!circuit.is_open(t0));
        assert!(matches!(circuit.permit(t0), Permit::Call));
    }

    #[derive(Clone, Debug)]
    enum Step {
        Permit,
        Record(CallResult),
        /// Settles the `n`th live probe (modulo how many there are).
        Settle(usize, CallResult),
        Drop(usize),
        Advance(u64),
        Close,
    }

    fn result() -> impl Strategy<Value = CallResult> {
        prop_oneof![
            Just(CallResult::Success),
            Just(CallResult::Failure),
            Just(CallResult::Neutral)
        ]
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => Just(Step::Permit),
            3 => result().prop_map(Step::Record),
            2 => (any::<usize>(), result()).prop_map(|(n, r)| Step::Settle(n, r)),
            1 => any::<usize>().prop_map(Step::Drop),
            2 => (0u64..40_000).prop_map(Step::Advance),
            1 => Just(Step::Close),
        ]
    }

    proptest! {
        /// Never two probes at once (a probe counts until it settles or the circuit closes),
        /// closed after any success, and a wait always ends in the future.
        #[test]
        fn one_probe_at_a_time_and_closed_after_success(
            steps in proptest::collection::vec(step(), 1..80)
        ) {
            let circuit = Circuit::new(2, OPEN_FOR);
            let mut now = Instant::now();
            let mut live: Vec<Probe<'_>> = Vec::new();
            let mut exclusive: Option<u64> = None;
            for step in steps {
                let mut closes = false;
                match step {
                    Step::Permit => match circuit.permit(now) {
                        Permit::Probe(probe) => {
                            prop_assert!(exclusive.is_none(), "a second probe");
                            exclusive = Some(probe.probe);
                            live.push(probe);
                        }
                        Permit::WaitUntil(at) => prop_assert!(at > now),
                        Permit::Call => prop_assert!(!circuit.is_open(now)),
                    },
                    Step::Record(result) => {
                        circuit.record(now, result);
                        closes = result == CallResult::Success;
                    }
                    Step::Settle(n, result) if !live.is_empty() => {
                        let probe = live.remove(n % live.len());
                        if exclusive == Some(probe.probe) {
                            exclusive = None;
                        }
                        probe.record(now, result);
                        closes = result == CallResult::Success;
                    }
                    Step::Drop(n) if !live.is_empty() => {
                        let probe = live.remove(n % live.len());
                        if exclusive == Some(probe.probe) {
                            exclusive = None;
                        }
                    }
                    Step::Settle(..) | Step::Drop(_) => {}
                    Step::Advance(ms) => now += Duration::from_millis(ms),
                    Step::Close => {
                        circuit.close();
                        closes = true;
                    }
                }
                if closes {
                    // Outstanding probes are ordinary calls from here on.
                    exclusive = None;
                    prop_assert!(!circuit.is_open(now));
                    prop_assert!(matches!(circuit.permit(now), Permit::Call));
                }
            }
        }
    }
}
