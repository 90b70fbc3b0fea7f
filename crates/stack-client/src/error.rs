//! The error of a call to Prometheus, Alertmanager or the alert sink: which URL, and why,
//! on one line. (Calls to nodes have their own, [`crate::NodeError`], which names the node.)

use crate::error_chain;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// Nothing answered.
    #[error("{url}: cannot connect")]
    Unreachable {
        /// The URL asked.
        url: String,
    },
    /// No answer in time.
    #[error("{url}: no answer in time")]
    Timeout {
        /// The URL asked.
        url: String,
    },
    /// An answer with an error status (and the service's own message when it sent one).
    #[error("{url}: {status}: {message}")]
    Status {
        /// The URL asked.
        url: String,
        /// HTTP status.
        status: u16,
        /// The service's message, or the start of its page.
        message: String,
    },
    /// An answer that is not what the API promises.
    #[error("{url}: unexpected answer: {cause}")]
    BadAnswer {
        /// The URL asked.
        url: String,
        /// What was wrong.
        cause: String,
    },
    /// Anything else on the way.
    #[error("{url}: {cause}")]
    Other {
        /// The URL asked.
        url: String,
        /// The cause chain.
        cause: String,
    },
}

impl ApiError {
    /// From a failed send.
    pub(crate) fn sending(url: &str, e: &reqwest::Error) -> Self {
        let url = url.to_owned();
        if e.is_connect() {
            Self::Unreachable { url }
        } else if e.is_timeout() {
            Self::Timeout { url }
        } else {
            Self::Other { url, cause: error_chain(e) }
        }
    }
}

/// Sends `req` and reads a JSON answer as `T`; a non-2xx answer is [`ApiError::Status`] with
/// `message` picked from the body by `message_of` (or the body's start).
pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
    req: reqwest::RequestBuilder,
    url: &str,
    message_of: fn(&serde_json::Value) -> Option<String>,
) -> Result<T, ApiError> {
    let res = req.send().await.map_err(|e| ApiError::sending(url, &e))?;
    let status = res.status();
    let bytes = res.bytes().await.map_err(|e| ApiError::sending(url, &e))?;
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| message_of(&v))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        let message = message.chars().filter(|c| !c.is_control()).take(200).collect();
        return Err(ApiError::Status { url: url.to_owned(), status: status.as_u16(), message });
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadAnswer { url: url.to_owned(), cause: e.to_string() })
}
