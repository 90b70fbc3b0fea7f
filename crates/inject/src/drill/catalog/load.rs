//! The catalogue folder: [`Catalog::load`] reads and checks every `*.toml` in it, sorted by
//! name; [`default_dir`] is where it is when `--catalog` is not given.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use edge_sim::FaultKind;

use super::definition::{Drill, Level};
use super::error::CatalogError;

/// The catalogue: every drill, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    /// Sorted by name, so a seed draws the same drill whatever the directory order.
    pub drills: Vec<Drill>,
}

/// Where the catalogue is when `--catalog` is not given: `./drills` if it exists (the
/// repository's root, where `cargo run` runs), else the one next to this crate's sources.
pub fn default_dir() -> PathBuf {
    let here = PathBuf::from("drills");
    if here.is_dir() { here } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("../../drills") }
}

impl Catalog {
    /// Reads and checks every `*.toml` in `dir`.
    pub fn load(dir: &Path) -> Result<Self, CatalogError> {
        let unlisted = |source| CatalogError::ReadDir { dir: dir.to_owned(), source };
        let mut drills = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(unlisted)? {
            let path = entry.map_err(unlisted)?.path();
            if path.extension().is_none_or(|x| x != "toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|source| CatalogError::ReadFile { path: path.clone(), source })?;
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            drills.push(Drill::parse(&name, &text).map_err(|source| CatalogError::Invalid { path, source })?);
        }
        drills.sort_by(|a, b| a.name.cmp(&b.name));
        if drills.is_empty() {
            return Err(CatalogError::Empty { dir: dir.to_owned() });
        }
        Ok(Catalog { drills })
    }

    /// The drills of one level.
    pub fn at(&self, level: Level) -> Vec<&Drill> {
        self.drills.iter().filter(|d| d.level == level).collect()
    }

    /// A drill by name.
    pub fn named(&self, name: &str) -> Result<&Drill, CatalogError> {
        self.drills.iter().find(|d| d.name == name).ok_or_else(|| CatalogError::Unknown {
            name: name.to_owned(),
            known: self.drills.iter().map(|d| d.name.clone()).collect(),
        })
    }

    /// Every failure mode some drill uses.
    pub fn modes(&self) -> BTreeSet<FaultKind> {
        self.drills.iter().flat_map(|d| d.faults.iter().map(|f| f.failure)).collect()
    }
}

/// The repository's own catalogue, for the tests of the modules that read it.
#[cfg(test)]
pub(super) fn repository() -> Catalog {
    Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../drills")).expect("the catalogue loads")
}

#[cfg(test)]
mod tests {
    use super::super::definition::Role;
    use super::*;

    #[test]
    fn the_catalogue_has_ten_drills_over_three_levels_and_every_mode() {
        let c = repository();
        assert!(c.drills.len() >= 10, "{} drills", c.drills.len());
        for level in [Level::Easy, Level::Medium, Level::Hard] {
            assert!(c.at(level).len() >= 3, "{level:?}");
        }
        let missing: Vec<_> = FaultKind::ALL.iter().filter(|k| !c.modes().contains(k)).collect();
        assert!(missing.is_empty(), "modes no drill uses: {missing:?}");
        // Hard drills have two faults: two causes or a cause and a red herring.
        assert!(c.at(Level::Hard).iter().all(|d| d.faults.len() >= 2));
        assert!(c.at(Level::Hard).iter().any(|d| d.faults.iter().any(|f| f.role == Role::RedHerring)));
    }

    #[test]
    fn every_runbook_and_symptom_is_a_real_alert() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let rules = std::fs::read_to_string(root.join("prometheus/rules/alerts.yml")).expect("rules");
        for d in repository().drills {
            assert!(
                root.join(format!("docs/runbooks/{}.md", d.runbook)).is_file(),
                "{}: {}",
                d.name,
                d.runbook
            );
            for alert in &d.symptoms {
                assert!(rules.contains(&format!("- alert: {alert}\n")), "{}: no alert {alert}", d.name);
            }
            for f in d.faults.iter().filter(|f| f.role == Role::Cause) {
                assert!(
                    d.symptoms.iter().any(|s| s == f.failure.expected_alert()) || d.level != Level::Easy,
                    "{}: an easy drill's symptoms include its mode's own alert",
                    d.name
                );
            }
        }
    }
}
