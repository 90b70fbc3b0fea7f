//! Why a live run failed, and its exit code: a leaf, so the run's own error type can hold it
//! without importing the live run.

use stack_client::{ApiError, NodeError};

use super::execute::ExecuteError;

/// Why a live run failed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Refused before anything was sent: rules not loaded, a node already faulted.
    #[error("{0}")]
    Refused(String),
    /// Prometheus did not answer as its API promises.
    #[error("prometheus: {0}")]
    Prometheus(#[from] ApiError),
    /// A node did not answer before the run.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The run itself.
    #[error(transparent)]
    Execute(#[from] ExecuteError),
}

impl LiveError {
    /// 2 for refusals before anything ran, 130 for ctrl-c, else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Refused(_) => 2,
            Self::Execute(ExecuteError::Interrupted) => 130,
            Self::Prometheus(_) | Self::Node(_) | Self::Execute(_) => 1,
        }
    }
}
