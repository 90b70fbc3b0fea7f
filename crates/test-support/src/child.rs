//! A child process (a built binary under test) that cannot outlive a failed test.

use std::io::Read;
use std::ops::{Deref, DerefMut};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// How long a drop waits for a killed child to be reaped: SIGKILL cannot be caught, so
/// only a machine under heavy load takes more than a moment.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// How often waits look at the child: often enough that measured exit times are exact to
/// a few tens of milliseconds.
const POLL: Duration = Duration::from_millis(20);

/// A child process killed (by its id) if it is still running when the guard is dropped,
/// as when a test fails before it exits; the drop then waits for it, for [`KILL_WAIT`] at
/// most. Derefs to the [`Child`] (its id, its pipes).
#[derive(Debug)]
pub struct ChildGuard(Child);

impl ChildGuard {
    /// Guards a spawned child.
    pub fn new(child: Child) -> Self {
        Self(child)
    }

    /// Its exit status if it has exited, without waiting.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.0.try_wait().expect("try_wait")
    }

    /// Sends SIGTERM to our own child, by its id: what an orchestrator sends to stop it.
    pub fn terminate(&self) {
        let pid = self.0.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        assert!(status.success(), "kill -TERM {pid}: {status}");
    }

    /// Waits up to `limit` for the child to exit: its status, or `None` if it still runs
    /// (and the guard kills it when dropped).
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Polls `ready` until it holds; panics if the child exits first or `limit` passes.
    /// `what` names the wait in the panic (e.g. "edge-node on port 18003 healthy").
    pub fn wait_until(&mut self, limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if ready() {
                return;
            }
            if let Some(status) = self.exited() {
                panic!("the child exited early ({status}), waiting for: {what}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("not within {limit:?}: {what}");
    }

    /// Everything the child wrote to its piped stderr, read to the end (call once it has
    /// exited); `None` if stderr was not piped or was taken already.
    pub fn stderr_text(&mut self) -> Option<String> {
        let mut stderr = self.0.stderr.take()?;
        let mut bytes = Vec::new();
        stderr.read_to_end(&mut bytes).expect("read the child's stderr");
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl Deref for ChildGuard {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for ChildGuard {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let deadline = Instant::now() + KILL_WAIT;
            while self.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(POLL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    fn sleeper() -> ChildGuard {
        ChildGuard::new(Command::new("sleep").arg("30").stdin(Stdio::null()).spawn().expect("spawn sleep"))
    }

    fn alive(pid: u32) -> bool {
        // A reaped child has no /proc entry; a zombie (not yet reaped) would still have one.
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn a_dropped_guard_kills_and_reaps_its_child() {
        let guard = sleeper();
        let pid = guard.id();
        assert!(alive(pid));
        drop(guard);
        assert!(!alive(pid), "killed and reaped");
    }

    #[test]
    fn terminate_sends_sigterm_and_waits_are_bounded() {
        let mut guard = sleeper();
        assert_eq!(guard.wait_timeout(Duration::from_millis(100)), None, "still sleeping");
        guard.terminate();
        let status = guard.wait_timeout(Duration::from_secs(5)).expect("exited");
        assert!(!status.success(), "ended by a signal: {status}");
    }

    #[test]
    fn wait_until_returns_once_ready_and_stderr_is_read_whole() {
        let mut guard = ChildGuard::new(
            Command::new("sh")
                .args(["-c", "echo one line >&2; sleep 0.2"])
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn sh"),
        );
        let mut polls = 0;
        guard.wait_until(Duration::from_secs(5), "three polls", || {
            polls += 1;
            polls == 3
        });
        assert!(guard.wait_timeout(Duration::from_secs(5)).is_some_and(|s| s.success()));
        assert_eq!(guard.stderr_text().as_deref(), Some("one line\n"));
        assert_eq!(guard.stderr_text(), None, "taken");
    }
}
