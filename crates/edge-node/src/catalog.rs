//! `edge-node catalog`: the failure catalog (`edge_sim::catalog`) printed for people and
//! for tools. The checks and generators read modes and their alerts from `--json`, never
//! from the Rust source.

use edge_sim::catalog::entries;

/// The catalog as one JSON document (`json`), or one line per mode.
pub fn render(json: bool) -> String {
    if json {
        return serde_json::to_string_pretty(&entries()).unwrap_or_default() + "\n";
    }
    entries()
        .iter()
        .map(|e| {
            let intensity = e.intensity.map_or("no intensity".to_owned(), |i| {
                format!("intensity {}-{} ({})", i.min, i.max, i.meaning)
            });
            let service = if e.accepts_service { ", --service" } else { "" };
            format!("{:<20} {:<22} {intensity}{service}\n", e.failure.as_str(), e.expected_alert)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_read_every_mode_and_people_a_line_each() {
        let modes: serde_json::Value = serde_json::from_str(&render(true)).expect("json");
        assert_eq!(modes.as_array().map(Vec::len), Some(edge_sim::FaultKind::ALL.len()));
        let text = render(false);
        assert_eq!(text.lines().count(), edge_sim::FaultKind::ALL.len());
        assert!(text.lines().any(|l| l.starts_with("node_crash") && l.contains("NodeDown")), "{text}");
    }
}
