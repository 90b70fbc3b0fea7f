//! The node's process as the kernel sees it: the OOM killer ends it, it is down for
//! [`RESTART_GAP`], then a new one starts. Kills are counted for the life of the host
//! (`node_vmstat_oom_kill` never resets).

use std::time::Duration;

use super::{Process, RESTART_GAP};

/// The process and its kills.
#[derive(Debug, Clone)]
pub(super) struct Lifecycle {
    process: Process,
    last_kill: Option<Duration>,
    oom_kills: u64,
}

impl Lifecycle {
    /// The node's first process, started with the node.
    pub(super) fn new() -> Self {
        Self {
            process: Process { restarts: 0, started_at: Duration::ZERO, down: false },
            last_kill: None,
            oom_kills: 0,
        }
    }

    pub(super) fn current(&self) -> Process {
        self.process
    }

    pub(super) fn oom_kills(&self) -> u64 {
        self.oom_kills
    }

    /// Ends the running process at `now`; a process already down cannot be killed again.
    pub(super) fn kill(&mut self, now: Duration) {
        if self.process.down {
            return;
        }
        self.oom_kills += 1;
        self.last_kill = Some(now);
        self.process.down = true;
        self.process.started_at = now + RESTART_GAP;
    }

    /// Starts the new process if its time has come by `now`; whether it did.
    pub(super) fn restart_if_due(&mut self, now: Duration) -> bool {
        if !self.process.down || now < self.process.started_at {
            return false;
        }
        self.process.down = false;
        self.process.restarts += 1;
        true
    }

    /// Whether the process is down at `now`: between the last kill and the restart.
    pub(super) fn is_down(&self, now: Duration) -> bool {
        self.last_kill.is_some_and(|kill| kill <= now && now < kill + RESTART_GAP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kill_holds_the_process_down_for_the_gap_then_a_new_one_starts() {
        let mut life = Lifecycle::new();
        let s = Duration::from_secs;
        life.kill(s(10));
        life.kill(s(11)); // already down: not a second kill
        assert_eq!(life.current(), Process { restarts: 0, started_at: s(15), down: true });
        assert!(!life.is_down(s(9)) && life.is_down(s(10)) && life.is_down(s(14)) && !life.is_down(s(15)));
        assert!(!life.restart_if_due(s(14)));
        assert!(life.restart_if_due(s(15)));
        assert_eq!(life.current(), Process { restarts: 1, started_at: s(15), down: false });
        assert_eq!(life.oom_kills(), 1);
    }
}
