//! The standard `process_*` series (CPU time, memory, file descriptors, threads, start time),
//! read from the OS by `metrics-process` only when asked (at each scrape), never on a timer.

use ::metrics::{Counter, Gauge};

use super::handles::Series;
use super::{
    PROCESS_CPU, PROCESS_MAX_FDS, PROCESS_OPEN_FDS, PROCESS_RESIDENT_MEMORY, PROCESS_START_TIME,
    PROCESS_THREADS, PROCESS_VIRTUAL_MEMORY, PROCESS_VIRTUAL_MEMORY_MAX,
};

/// This process's series; a value the OS does not report keeps its last one.
pub(super) struct ProcessSeries {
    cpu: Counter,
    open_fds: Gauge,
    max_fds: Gauge,
    virtual_memory: Gauge,
    virtual_memory_max: Gauge,
    resident_memory: Gauge,
    start_time: Gauge,
    threads: Gauge,
}

impl ProcessSeries {
    pub(super) fn register(series: &Series<'_>) -> ProcessSeries {
        ProcessSeries {
            cpu: series.counter(&PROCESS_CPU, &[]),
            open_fds: series.gauge(&PROCESS_OPEN_FDS, &[]),
            max_fds: series.gauge(&PROCESS_MAX_FDS, &[]),
            virtual_memory: series.gauge(&PROCESS_VIRTUAL_MEMORY, &[]),
            virtual_memory_max: series.gauge(&PROCESS_VIRTUAL_MEMORY_MAX, &[]),
            resident_memory: series.gauge(&PROCESS_RESIDENT_MEMORY, &[]),
            start_time: series.gauge(&PROCESS_START_TIME, &[]),
            threads: series.gauge(&PROCESS_THREADS, &[]),
        }
    }

    /// Reads the process's figures from the OS (on Linux, a few files under `/proc/self`).
    pub(super) fn collect(&self) {
        let now = metrics_process::collector::collect();
        // The exporter's counters are whole numbers: CPU time counts in whole seconds.
        if let Some(cpu) = now.cpu_seconds_total {
            self.cpu.absolute(cpu as u64);
        }
        let gauges = [
            (&self.open_fds, now.open_fds),
            (&self.max_fds, now.max_fds),
            (&self.virtual_memory, now.virtual_memory_bytes),
            (&self.virtual_memory_max, now.virtual_memory_max_bytes),
            (&self.resident_memory, now.resident_memory_bytes),
            (&self.start_time, now.start_time_seconds),
            (&self.threads, now.threads),
        ];
        for (gauge, value) in gauges {
            if let Some(value) = value {
                gauge.set(value as f64);
            }
        }
    }
}
