//! The drill catalogue (`drills/*.toml`, one drill per file) and the seeded draw of one
//! drill: which drill, which nodes, when each fault starts and how long it lasts.
//!
//! A drill file is data, like a scenario: its level, the fault(s) with their node rules,
//! the alerts that are its symptoms, the accepted and near answers, the hints in order and
//! the runbook it exercises. [`Catalog::load`] checks every file and says what is wrong.
//!
//! Modules: `definition` (what a drill file says), [`error`] (why the catalogue or a file is
//! refused), `parse` (checking one file), `load` (the folder), `draw` (the seeded draw).
//! This one only re-exports them: none of them imports it.

mod definition;
mod draw;
pub mod error;
mod load;
mod parse;

pub use definition::{Drill, FaultDef, Level, NodeRule, Role, Span};
pub use draw::{Draw, Planned, draw};
pub use error::{CatalogError, DefinitionError};
pub use load::{Catalog, default_dir};
