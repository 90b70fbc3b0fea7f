//! Where a command writes: its result (a table, JSON, a report) on `out`; progress,
//! warnings and errors on `err`, so `inject ... > file` gets the result alone and the
//! reason for a failure is still on the terminal.

use std::io::Write;

/// The two streams of a command.
pub struct Output<'a, O: Write, E: Write> {
    /// Results.
    pub out: &'a mut O,
    /// Diagnostics.
    pub err: &'a mut E,
}
