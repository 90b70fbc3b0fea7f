//! Bounded metric labels: a webhook's values become metric labels only through here.
//!
//! A webhook body is input from the network. If every value became a label, anything that
//! can reach `/webhook` could grow the sink's metrics (and Prometheus' memory) without
//! bound. So values collapse to [`OTHER`], as route labels do on the nodes:
//!
//! - `status`: `firing` or `resolved`;
//! - `severity`: the fixed set the rules use, or empty when the alert has none;
//! - `alertname` and `receiver`: kept if they look like a name ([`is_name`]) and are among
//!   the first [`MAX_ALERTNAMES`] (or [`MAX_RECEIVERS`]) distinct values seen;
//! - and whatever the values, at most [`MAX_SERIES`] label sets; later new sets collapse
//!   into one all-`other` set.
//!
//! Why a cap, not the list of alerts in the rules: the sink must work with rules it has
//! never seen (a learner's own rules, the Kubernetes overlays' generated ones), and reading
//! `prometheus/rules` at run time would tie it to the repository's layout and to
//! Prometheus' file format. The cap bounds the series whatever arrives, and the stack's
//! twenty alerts fit in it ten times over.

use std::collections::HashSet;

use crate::NotificationLabels;

/// The value anything unknown collapses to.
pub const OTHER: &str = "other";
/// Distinct alert names kept as labels: ten times the twenty alerts of the stack's rules,
/// so a real rule set never reaches it and a flood of invented names stops here.
pub const MAX_ALERTNAMES: usize = 200;
/// Distinct receivers kept as labels: the stack routes to three.
pub const MAX_RECEIVERS: usize = 10;
/// Label sets of the notification counter, at most (plus the overflow set). Well above
/// what the stack produces (alerts x severities x receivers x 2 statuses, about 100).
pub const MAX_SERIES: usize = 1000;
/// Severities the rules use; any other collapses to [`OTHER`].
pub const SEVERITIES: [&str; 4] = ["critical", "warning", "info", "none"];
/// Largest node number the page links to: the fleet's design limit.
pub const MAX_NODE: u32 = 1000;

/// Whether `s` looks like an alert or receiver name: 1-64 ASCII letters, digits, `_`,
/// `-` or `.`, starting with a letter. Conservative on purpose: every name in the stack
/// fits, and no markup, whitespace or oversized value can.
pub fn is_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    s.len() <= 64
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The `status` label: `firing`, `resolved` or [`OTHER`].
pub fn status(s: &str) -> &'static str {
    match s {
        "firing" => "firing",
        "resolved" => "resolved",
        _ => OTHER,
    }
}

/// The `severity` label: one of [`SEVERITIES`], empty when absent, else [`OTHER`].
pub fn severity(s: Option<&str>) -> &'static str {
    match s {
        None => "",
        Some(s) => SEVERITIES.into_iter().find(|&k| k == s).unwrap_or(OTHER),
    }
}

/// A node number the page can link to: a plain integer 1..=[`MAX_NODE`].
pub fn node(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|n| (1..=MAX_NODE).contains(n))
}

/// Admits the first `cap` distinct names; later ones, and anything not a name, are
/// [`OTHER`].
#[derive(Debug)]
struct FirstSeen {
    seen: HashSet<String>,
    cap: usize,
}

impl FirstSeen {
    fn new(cap: usize) -> Self {
        Self { seen: HashSet::new(), cap }
    }

    fn admit(&mut self, value: &str) -> String {
        if !is_name(value) {
            return OTHER.to_owned();
        }
        if self.seen.contains(value) {
            return value.to_owned();
        }
        if self.seen.len() >= self.cap {
            return OTHER.to_owned();
        }
        self.seen.insert(value.to_owned());
        value.to_owned()
    }
}

/// The label values admitted so far.
#[derive(Debug)]
pub struct Bounds {
    alertnames: FirstSeen,
    receivers: FirstSeen,
    series: HashSet<NotificationLabels>,
    warned: bool,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            alertnames: FirstSeen::new(MAX_ALERTNAMES),
            receivers: FirstSeen::new(MAX_RECEIVERS),
            series: HashSet::new(),
            warned: false,
        }
    }
}

impl Bounds {
    /// The counter labels for one alert of a notification.
    pub fn labels(
        &mut self,
        receiver: &str,
        status: &str,
        alertname: &str,
        severity: Option<&str>,
    ) -> NotificationLabels {
        let labels = NotificationLabels {
            receiver: self.receivers.admit(receiver),
            status: self::status(status).to_owned(),
            alertname: self.alertnames.admit(alertname),
            severity: self::severity(severity).to_owned(),
        };
        if self.series.contains(&labels) {
            return labels;
        }
        if self.series.len() < MAX_SERIES {
            self.series.insert(labels.clone());
            return labels;
        }
        if !self.warned {
            // Once, not per notification: a flood must not become a flood of logs.
            self.warned = true;
            tracing::warn!(
                max_series = MAX_SERIES,
                "notification label sets capped; new ones count as `other`"
            );
        }
        NotificationLabels {
            receiver: OTHER.to_owned(),
            status: OTHER.to_owned(),
            alertname: OTHER.to_owned(),
            severity: OTHER.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_conservative() {
        for good in ["NodeDown", "HighCPUUsage", "ticket-queue", "slo.burn_rate_1h", "Watchdog"] {
            assert!(is_name(good), "{good}");
        }
        for bad in ["", "1Alert", "<script>", "a b", "é", "x\n", &"A".repeat(65)] {
            assert!(!is_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn fixed_sets_collapse_the_rest() {
        assert_eq!((status("firing"), status("resolved"), status("FIRING")), ("firing", "resolved", OTHER));
        assert_eq!(
            (severity(Some("critical")), severity(None), severity(Some("sev1"))),
            ("critical", "", OTHER)
        );
        assert_eq!(
            (node("3"), node("1000"), node("0"), node("1001"), node("+3"), node("03x")),
            (Some(3), Some(1000), None, None, None, None)
        );
    }

    #[test]
    fn the_first_names_are_kept_and_later_ones_collapse() {
        let mut b = Bounds::default();
        for i in 0..MAX_ALERTNAMES {
            assert_eq!(
                b.labels("pager", "firing", &format!("Alert{i}"), None).alertname,
                format!("Alert{i}")
            );
        }
        assert_eq!(b.labels("pager", "firing", "OneTooMany", None).alertname, OTHER);
        assert_eq!(b.labels("pager", "firing", "Alert7", None).alertname, "Alert7", "known names stay");
    }

    #[test]
    fn label_sets_are_capped_whatever_the_values() {
        let mut b = Bounds::default();
        let mut sets = HashSet::new();
        for r in 0..MAX_RECEIVERS + 5 {
            for a in 0..MAX_ALERTNAMES + 5 {
                for s in ["critical", "warning", "info", "none"] {
                    sets.insert(b.labels(&format!("r{r}"), "firing", &format!("A{a}"), Some(s)));
                }
            }
        }
        assert_eq!(sets.len(), MAX_SERIES + 1);
    }
}
