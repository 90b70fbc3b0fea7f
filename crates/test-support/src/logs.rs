//! Capturing what a tracing subscriber writes, to assert on the log lines.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// An in-memory log sink: an [`io::Write`](std::io::Write) whose clones share one buffer.
/// Hand [`Capture::make_writer`] to a subscriber (any `Fn() -> impl Write` is a
/// tracing-subscriber `MakeWriter`) and read the lines back once the code under test ran.
///
/// A subscriber set with `tracing::subscriber::set_default` is thread-local: a test that
/// captures logs runs its runtime on its own thread (`new_current_thread`).
#[derive(Clone, Debug, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// A writer factory for a subscriber: each call hands out a clone writing into this
    /// capture.
    pub fn make_writer(&self) -> impl Fn() -> Capture + Send + Sync + 'static {
        let capture = self.clone();
        move || capture.clone()
    }

    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The lines written so far.
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }

    /// The lines written so far, each parsed as JSON; panics on a line that is not.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_write_into_one_buffer_read_back_as_lines() {
        let capture = Capture::default();
        let make = capture.make_writer();
        writeln!(make(), r#"{{"level":"INFO","n":1}}"#).expect("write");
        write!(make(), r#"{{"level":"WARN","#).expect("write");
        writeln!(make(), r#""n":2}}"#).expect("write");
        assert_eq!(capture.lines().len(), 2);
        let json = capture.json_lines();
        assert_eq!((json[0]["n"].as_u64(), json[1]["level"].as_str()), (Some(1), Some("WARN")));
        assert!(capture.text().ends_with("\"n\":2}\n"));
    }

    #[test]
    #[should_panic(expected = "not a JSON line")]
    fn a_line_that_is_not_json_fails_the_test() {
        let capture = Capture::default();
        writeln!(capture.make_writer()(), "plain text").expect("write");
        capture.json_lines();
    }
}
