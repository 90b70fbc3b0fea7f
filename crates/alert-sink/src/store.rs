//! The recent notifications, newest last, bounded.

use std::collections::VecDeque;

use serde::Serialize;

/// One alert as one notification delivered it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Notification {
    /// Arrival order, from 1.
    pub seq: u64,
    /// Unix time the sink received it.
    pub received_at: f64,
    /// The Alertmanager receiver it was routed to.
    pub receiver: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// The alert's name.
    pub alertname: String,
    /// The node it is about, if any.
    pub node: Option<String>,
    /// Its severity.
    pub severity: Option<String>,
    /// The `summary` annotation.
    pub summary: Option<String>,
    /// The `description` annotation.
    pub description: Option<String>,
    /// The `runbook_url` annotation.
    pub runbook_url: Option<String>,
    /// The alert's `generatorURL` (the rule's expression in Prometheus).
    pub generator_url: Option<String>,
    /// When the alert started firing (RFC 3339, as Alertmanager sent it).
    pub starts_at: String,
    /// When it ended, for resolved alerts.
    pub ends_at: Option<String>,
    /// All its labels.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// What `GET /notifications` can filter on.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Only this receiver.
    pub receiver: Option<String>,
    /// Only this alert.
    pub alertname: Option<String>,
    /// Only this node.
    pub node: Option<String>,
    /// Only `firing` or `resolved`.
    pub status: Option<String>,
    /// At most this many (newest first).
    pub limit: Option<usize>,
}

impl Filter {
    fn matches(&self, n: &Notification) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| have == Some(w));
        eq(&self.receiver, Some(&n.receiver))
            && eq(&self.alertname, Some(&n.alertname))
            && eq(&self.node, n.node.as_deref())
            && eq(&self.status, Some(&n.status))
    }
}

/// The last `capacity` notifications.
#[derive(Debug)]
pub struct Store {
    items: VecDeque<Notification>,
    capacity: usize,
    next_seq: u64,
}

impl Store {
    /// An empty store.
    pub fn new(capacity: usize) -> Self {
        Self { items: VecDeque::new(), capacity: capacity.max(1), next_seq: 0 }
    }

    /// Adds one, evicting the oldest beyond capacity; returns its sequence number.
    pub fn push(&mut self, mut n: Notification) -> u64 {
        self.next_seq += 1;
        n.seq = self.next_seq;
        if self.items.len() == self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(n);
        self.next_seq
    }

    /// Matching notifications, newest first.
    pub fn query(&self, filter: &Filter) -> Vec<Notification> {
        let limit = filter.limit.unwrap_or(usize::MAX);
        self.items.iter().rev().filter(|n| filter.matches(n)).take(limit).cloned().collect()
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
