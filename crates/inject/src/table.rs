//! Tables for people: one style for every table the CLI prints (`status`, the `--watch`
//! report). Markdown-shaped ASCII, so a table reads in any terminal and pastes into an
//! incident report or a runbook as a table. Scripts use `--json` instead.

use comfy_table::{CellAlignment, Table, presets};

/// An empty table with `header`; the columns whose indices are in `numeric` align right.
pub fn new(header: &[&str], numeric: &[usize]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::ASCII_MARKDOWN).set_header(header.to_vec());
    for &i in numeric {
        if let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_table_is_markdown_with_numbers_on_the_right() {
        let mut t = super::new(&["NODE", "STATE", "CPU"], &[0, 2]);
        t.add_row(vec!["3", "up", "97%"]).add_row(vec!["12", "unreachable", "-"]);
        assert_eq!(
            t.to_string(),
            "| NODE | STATE       | CPU |\n\
             |------|-------------|-----|\n\
             |    3 | up          | 97% |\n\
             |   12 | unreachable |   - |"
        );
    }
}
