//! The host under the node and the node's process, as the state reads them.
//!
//! The model also carries the host under the node and the node's process
//! (`edge_sim::host`). Whoever reads them steps the host to now first (`advance`): the
//! ticker each second, every scrape, and the gate per request (a no-op within a second
//! already stepped). When the model says the process restarted (after an OOM kill), the
//! reader that notices swaps in a fresh registry ([`crate::app_metrics`] says why). Faults
//! and drill seals live in the model and here, not in the process, so they carry on
//! across a restart untouched.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use edge_sim::NodeSim;
use edge_sim::host::{CpuMode, Process};

use super::NodeState;
use crate::app_metrics::{AppMetrics, ProcessStart};
use crate::shapes::node_exporter::HostView;

/// What the service reads from the host after stepping it to now.
#[derive(Debug, Clone, Copy)]
pub(super) struct HostNow {
    pub(super) process: Process,
    /// User and system CPU seconds of all cores since boot.
    pub(super) busy_cpu_seconds: f64,
    pub(super) oom_kills: u64,
    pub(super) disk_used_ratio: f64,
}

/// Steps the model's host to `now` and reads what the service needs of it.
pub(super) fn step_host(model: &mut NodeSim, now: Duration) -> HostNow {
    model.advance(now);
    let host = model.host();
    let busy_cpu_seconds = host
        .cpu_seconds
        .iter()
        .map(|core| core[CpuMode::User as usize] + core[CpuMode::System as usize])
        .sum();
    HostNow {
        process: model.process(),
        busy_cpu_seconds,
        oom_kills: host.oom_kills,
        disk_used_ratio: model.disk_used_ratio(),
    }
}

impl NodeState {
    /// Whether the data filesystem is full now (`disk_fill`): writes fail.
    pub fn disk_full(&self) -> bool {
        let now = self.0.clock.now();
        let mut sim = self.sim();
        sim.model.advance(now);
        sim.model.disk_full()
    }

    /// The host now, for `GET /host/metrics` (node_exporter's view). Reading it also
    /// notices a restart of the process, as any read of the host does.
    pub fn host_view(&self) -> HostView {
        let now = self.0.clock.now();
        let (host, read) = {
            let mut sim = self.sim();
            let read = step_host(&mut sim.model, now);
            (sim.model.host().clone(), read)
        };
        self.follow_process(&read);
        let clock = &self.0.clock;
        HostView {
            now_unix: clock.unix(now),
            boot_unix: clock.unix(Duration::ZERO) - host.booted_before_start.as_secs_f64(),
            nodename: format!("edge-node-{}", self.id()),
            host,
        }
    }

    /// Swaps in a fresh registry if the model's process restarted since the current one
    /// was built (see [`crate::app_metrics`]); logs the kill (once) and the restart. The
    /// common case, no restart, is one atomic load.
    pub(super) fn follow_process(&self, host: &HostNow) {
        let process = host.process;
        if process.down && !self.0.kill_logged.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: crate::logging::targets::FAULT,
                node = self.id(),
                event = "process_killed",
                reason = "oom_kill",
                restarts = process.restarts,
                "out of memory: the kernel killed the node's process"
            );
        }
        if self.0.restarts_seen.load(Ordering::Acquire) == process.restarts {
            return;
        }
        let start = ProcessStart {
            restarts: process.restarts,
            started_unix: self.0.clock.unix(process.started_at),
            cpu_baseline: host.busy_cpu_seconds,
        };
        let swapped = {
            let mut slot = self.0.metrics.write().unwrap_or_else(PoisonError::into_inner);
            // Another reader may have swapped it meanwhile.
            let stale = slot.start().restarts != process.restarts;
            if stale {
                *slot = Arc::new(AppMetrics::new(&self.0.app, start));
            }
            self.0.restarts_seen.store(process.restarts, Ordering::Release);
            stale
        };
        if swapped {
            self.0.kill_logged.store(false, Ordering::Relaxed);
            tracing::info!(
                target: crate::logging::targets::FAULT,
                node = self.id(),
                event = "process_restarted",
                restarts = process.restarts,
                "the node's process restarted; its metrics start from zero"
            );
        }
    }
}
