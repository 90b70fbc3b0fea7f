//! Checking one drill file: [`Drill::parse`] reads the TOML and refuses, in one line, what a
//! drill cannot be (fault count, ranges, a fault the nodes would refuse, relative node rules).

use super::definition::{Drill, NodeRule, Role, Span};
use super::error::DefinitionError;

impl Drill {
    /// Parses and checks one drill file.
    pub fn parse(name: &str, text: &str) -> Result<Self, DefinitionError> {
        let mut drill: Drill =
            toml::from_str(text).map_err(|e| DefinitionError::Syntax(e.to_string().replace('\n', " ")))?;
        drill.name = name.to_owned();
        drill.check()?;
        Ok(drill)
    }

    fn check(&self) -> Result<(), DefinitionError> {
        if self.faults.is_empty() || self.faults.len() > 4 {
            return Err(DefinitionError::FaultCount);
        }
        if !self.faults.iter().any(|f| f.role == Role::Cause) {
            return Err(DefinitionError::NoCause);
        }
        if self.hints.is_empty() {
            return Err(DefinitionError::NoHint);
        }
        if self.symptoms.is_empty() {
            return Err(DefinitionError::NoSymptoms);
        }
        if self.runbook.is_empty() || !self.runbook.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(DefinitionError::Runbook(self.runbook.clone()));
        }
        let span_ok = |s: &Span, max: u32| s.0 <= s.1 && s.1 <= max;
        if !span_ok(&self.start_delay_s, edge_sim::api::MAX_START_IN_S as u32) {
            return Err(DefinitionError::StartDelay);
        }
        for (i, f) in self.faults.iter().enumerate() {
            let n = i + 1;
            if !span_ok(&f.duration_s, 3600) || f.duration_s.0 < 1 {
                return Err(DefinitionError::Duration(n));
            }
            let spec = edge_sim::FaultSpec {
                kind: f.failure,
                duration_s: f64::from(f.duration_s.0),
                intensity: f.intensity,
                service: f.service,
            };
            spec.validate().map_err(|source| DefinitionError::Fault { fault: n, source })?;
            if i == 0 && matches!(f.node, NodeRule::SameRegion | NodeRule::OtherRegion) {
                return Err(DefinitionError::RelativeFirst);
            }
            if f.near.contains(&f.failure) {
                return Err(DefinitionError::NearOwnMode(n));
            }
            if f64::from(self.start_delay_s.1 + f.offset_s) > edge_sim::api::MAX_START_IN_S {
                return Err(DefinitionError::StartsTooLate(n));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_drill_files_say_what_is_wrong() {
        let good = r#"
            title = "t"
            level = "easy"
            description = "d"
            runbook = "HighCPUUsage"
            start_delay_s = [1, 2]
            symptoms = ["HighCPUUsage"]
            hint = ["look"]
            [[fault]]
            failure = "cpu_spike"
            duration_s = [30, 40]
        "#;
        assert!(Drill::parse("x", good).is_ok());
        for (bad, says) in [
            (good.replace("cpu_spike", "cpu"), "unknown failure mode"),
            (good.replace("[30, 40]", "[40, 30]"), "duration_s"),
            (good.replace("hint = [\"look\"]", "hint = []"), "hint"),
            (good.replace("easy", "extreme"), "unknown variant"),
            (
                good.replace("duration_s = [30, 40]", "duration_s = [30, 40]\nnode = \"region:mars\""),
                "region:NAME",
            ),
            (
                good.replace("duration_s = [30, 40]", "duration_s = [30, 40]\nservice = \"orders\""),
                "cannot target",
            ),
            (
                good.replace("duration_s = [30, 40]", "duration_s = [30, 40]\nnear = [\"cpu_spike\"]"),
                "own mode",
            ),
        ] {
            let err = stack_client::error_chain(&Drill::parse("x", &bad).expect_err(&bad));
            assert!(err.contains(says) && !err.contains('\n'), "{err}");
        }
    }
}
