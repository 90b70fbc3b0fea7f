//! How a command ends: the process's exit code as one enum, and the refusal that comes
//! before anything is sent.

/// The exit code of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Everything succeeded.
    Ok = 0,
    /// Some node or expectation failed, a source did not answer, or the run was interrupted.
    Failed = 1,
    /// A usage error: refused before anything was sent.
    Usage = 2,
}

impl Exit {
    /// The process exit code.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// `Ok` if everything succeeded, else `Failed`.
    pub fn from_success(ok: bool) -> Self {
        if ok { Exit::Ok } else { Exit::Failed }
    }
}

/// A command refused before anything was sent (bad input, nothing to act on): one line,
/// exit [`Exit::Usage`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

impl From<String> for Refusal {
    fn from(why: String) -> Self {
        Refusal(why)
    }
}

impl From<&str> for Refusal {
    fn from(why: &str) -> Self {
        Refusal(why.to_owned())
    }
}
