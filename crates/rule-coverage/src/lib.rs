//! The engine of rule coverage: which alerts a fault raises, when, and for how long, as the
//! real Prometheus (v3) would, over series produced in virtual time.
//!
//! - [`load`]: Prometheus rule files, folders of them, PrometheusRule manifests, into
//!   [`rules::RuleGroup`]s.
//! - [`facts`]: what each rule reads and how far back (windows, subqueries, offsets, the
//!   recording rules it reads), for planning fault lengths and "cannot evaluate".
//! - [`alert_state`]: Prometheus' pending / firing / resolved state machine, `for` and
//!   `keep_firing_for`, over an expression's results.
//! - [`engine`]: the real engine over past data: backfill with promtool, serve with
//!   Prometheus, recording rules in dependency order, alert expressions with `query_range`.
//! - [`promtool_test`]: `promtool test rules` files generated from the same series and the
//!   expected alert states, to prove the state machine equal to Prometheus'.
//! - [`openmetrics`], [`duration`], [`tools`], [`server`]: the pieces they share; `backfill`
//!   cuts a file into slices that promtools backfill in parallel.
//!
//! It must not depend on clap, axum or the service crate: a command builds on it. Every
//! PromQL expression is evaluated by Prometheus; nothing here re-implements PromQL.

pub mod alert_state;
mod backfill;
pub mod duration;
pub mod engine;
pub mod facts;
pub mod load;
pub mod openmetrics;
pub mod promtool_test;
pub mod rules;
pub mod server;
pub mod tools;

pub use alert_state::{Episode, Episodes, LabelSet, Millis, State, Timeline};
pub use engine::{AlertOutcome, EngineConfig, EngineError, Outcome, TimeRange, Timings, evaluate};
pub use load::{LoadError, load_path, load_paths};
pub use rules::{Rule, RuleGroup, RuleKind};
pub use tools::{INSTALL_HINT, ToolError, Tools};
