//! Reading a scenario: TOML into [`Scenario`], every step checked against the failure catalog
//! before anything is sent, the steps sorted by time.

use std::path::Path;

use edge_sim::FaultSpec;

use super::error::{ParseError, ScenarioError, StepError};
use super::timeline::{MAX_LENGTH_S, Scenario};

impl Scenario {
    /// Reads and checks the scenario file at `path`.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ScenarioError::Read { path: path.to_owned(), source })?;
        Scenario::parse(&text).map_err(|source| ScenarioError::Invalid { path: path.to_owned(), source })
    }

    /// Parses and checks a scenario; errors name the step and say what is valid.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut s: Scenario =
            toml::from_str(text).map_err(|e| ParseError::Syntax(e.to_string().trim().replace('\n', " ")))?;
        if s.steps.is_empty() {
            return Err(ParseError::NoSteps);
        }
        for (i, step) in s.steps.iter().enumerate() {
            let refused = |problem: StepError| ParseError::Step { number: i + 1, at: step.at, problem };
            if !step.at.is_finite() || step.at < 0.0 || step.at > MAX_LENGTH_S {
                return Err(refused(StepError::At));
            }
            step.nodes().map_err(|e| refused(e.into()))?;
            FaultSpec {
                kind: step.failure,
                duration_s: step.duration,
                intensity: step.intensity,
                service: step.service,
            }
            .validate()
            .map_err(|e| refused(e.into()))?;
        }
        s.steps.sort_by(|a, b| a.at.total_cmp(&b.at));
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        name = "Single-node incident"
        [[step]]
        at = 30
        node = "7"
        failure = "latency_spike"
        duration = 60
        [[step]]
        at = 0
        node = "3"
        failure = "memory_leak"
        duration = 120
        intensity = 0.02
    "#;

    #[test]
    fn a_scenario_parses_and_is_sorted_by_time() {
        let s = Scenario::parse(GOOD).expect("valid");
        assert_eq!(s.steps.iter().map(|s| s.at).collect::<Vec<_>>(), vec![0.0, 30.0]);
        assert_eq!(s.length(), 120.0);
        assert!(
            s.plan().contains("node 7        latency_spike      for   60 s  (expect HighLatency)"),
            "{}",
            s.plan()
        );
    }

    #[test]
    fn malformed_scenarios_are_refused_with_the_step_and_the_valid_values() {
        let cases = [
            ("name = \"x\"", "missing field"),
            ("name = \"x\"\nstep = []", "at least one"),
            (
                "name = \"x\"\n[[step]]\nat = 0\nnode = \"3\"\nfailure = \"cpu_spikes\"\nduration = 5",
                "cpu_spike",
            ),
            (
                "name = \"x\"\n[[step]]\nat = 0\nnode = \"0\"\nfailure = \"cpu_spike\"\nduration = 5",
                "step 1 (at 0 s): invalid node `0`",
            ),
            (
                "name = \"x\"\n[[step]]\nat = -1\nnode = \"3\"\nfailure = \"cpu_spike\"\nduration = 5",
                "`at` must be",
            ),
            (
                "name = \"x\"\n[[step]]\nat = 0\nnode = \"3\"\nfailure = \"cpu_spike\"\nduration = 0",
                "between 1 and 3600",
            ),
            (
                "name = \"x\"\n[[step]]\nat = 0\nnode = \"3\"\nfailure = \"cpu_spike\"\nduration = 5\nservice = \"orders\"",
                "cannot target",
            ),
            (
                "name = \"x\"\n[[step]]\nat = 0\nnode = \"3\"\nfailure = \"cpu_spike\"\nduration = 5\ncolour = 1",
                "unknown field",
            ),
            ("not toml at all [", "expected"),
        ];
        for (text, needle) in cases {
            let err = stack_client::error_chain(&Scenario::parse(text).expect_err(text));
            assert!(err.contains(needle) && !err.contains('\n'), "{text:?}: `{err}` lacks `{needle}`");
        }
    }

    #[test]
    fn a_file_is_named_in_its_refusal() {
        let missing = Path::new("/nonexistent/game-day.toml");
        let err = Scenario::load(missing).expect_err("no such file");
        assert!(matches!(err, ScenarioError::Read { .. }), "{err:?}");
        assert!(stack_client::error_chain(&err).starts_with("cannot read /nonexistent/game-day.toml: "));
    }

    #[test]
    fn the_shipped_scenarios_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).expect("scenarios/") {
            let path = entry.expect("entry").path();
            Scenario::load(&path).unwrap_or_else(|e| panic!("{}", stack_client::error_chain(&e)));
            n += 1;
        }
        assert!(n >= 3, "at least three worked examples");
    }
}
