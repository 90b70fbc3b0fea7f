//! Property test: every numeric flag of `edge-node`, given any text at all, either
//! parses to a finite value inside its documented range or is refused with an error
//! whose first line (the one `main` prints) names the flag and the valid range.

use clap::Parser;
use clap::error::ErrorKind;
use edge_node::cli::{
    Cli, Command, DRAIN_SECS, GRACE_SECS, HEALTHCHECK_TIMEOUT, LOG_BUFFER_LINES, MAX_NODES,
};
use edge_node::config::{MAX_RPS, MIN_RPS};
use proptest::prelude::*;

/// One numeric flag: where it sits, its range, and how to read it back.
struct Flag {
    subcommand: Option<&'static str>,
    name: &'static str,
    min: f64,
    max: f64,
    read: fn(&Cli) -> Option<f64>,
}

fn flags() -> Vec<Flag> {
    let top = |name, min, max, read| Flag { subcommand: None, name, min, max, read };
    vec![
        top("--nodes", 1.0, f64::from(MAX_NODES), |c| c.nodes.map(f64::from)),
        top("--base-port", 0.0, 65535.0, |c| Some(f64::from(c.base_port))),
        top("--node-id", 1.0, f64::from(u32::MAX), |c| c.node_id.map(f64::from)),
        top("--port", 0.0, 65535.0, |c| c.port.map(f64::from)),
        top("--rps", MIN_RPS, MAX_RPS, |c| Some(c.rps)),
        top("--seed", 0.0, u64::MAX as f64, |c| c.seed.map(|s| s as f64)),
        top("--log-buffer-lines", LOG_BUFFER_LINES.0 as f64, LOG_BUFFER_LINES.1 as f64, |c| {
            Some(c.log_buffer_lines as f64)
        }),
        top("--drain-secs", DRAIN_SECS.0, DRAIN_SECS.1, |c| Some(c.drain_secs)),
        top("--grace-secs", GRACE_SECS.0, GRACE_SECS.1, |c| Some(c.grace_secs)),
        Flag {
            subcommand: Some("healthcheck"),
            name: "--timeout",
            min: HEALTHCHECK_TIMEOUT.0,
            max: HEALTHCHECK_TIMEOUT.1,
            read: |c| match c.command {
                Some(Command::Healthcheck { timeout, .. }) => Some(timeout),
                _ => None,
            },
        },
        Flag {
            subcommand: Some("healthcheck"),
            name: "--port",
            min: 1.0,
            max: 65535.0,
            read: |c| match c.command {
                Some(Command::Healthcheck { port, .. }) => Some(f64::from(port)),
                _ => None,
            },
        },
        Flag {
            subcommand: Some("targets"),
            name: "--nodes",
            min: 1.0,
            max: f64::from(MAX_NODES),
            read: |c| match c.command {
                Some(Command::Targets { nodes, .. }) => Some(f64::from(nodes)),
                _ => None,
            },
        },
        Flag {
            subcommand: Some("targets"),
            name: "--base-port",
            min: 0.0,
            max: 65535.0,
            read: |c| match c.command {
                Some(Command::Targets { base_port, .. }) => Some(f64::from(base_port)),
                _ => None,
            },
        },
    ]
}

/// Text a person, a script or a fuzzer might put in a numeric flag.
fn numeric_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|f| f.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        (-1e6..1e6f64).prop_map(|f| f.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (-5i64..70_000).prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "NaN",
            "nan",
            "-NaN",
            "inf",
            "-inf",
            "infinity",
            "+Infinity",
            "1e309",
            "-1e309",
            "1e-30",
            "5e-324",
            "-0",
            "0",
            "0.0",
            "+3",
            " 7",
            "7 ",
            "0x10",
            "1_000",
            "1,5",
            "",
            "٣",
            "1e",
            ".",
            "-",
        ])
        .prop_map(str::to_owned),
        ".{0,10}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn numeric_flags_accept_only_finite_values_in_range(which in 0..flags().len(), text in numeric_text()) {
        let flag = &flags()[which];
        let mut argv = vec!["edge-node".to_owned()];
        argv.extend(flag.subcommand.map(str::to_owned));
        argv.push(format!("{}={text}", flag.name));
        match Cli::try_parse_from(&argv) {
            Ok(cli) => {
                let value = (flag.read)(&cli);
                prop_assert!(value.is_some(), "{argv:?} parsed but the value is missing");
                let value = value.unwrap_or(f64::NAN);
                let in_range = value.is_finite() && flag.min <= value && value <= flag.max;
                let rps_off = flag.name == "--rps" && value == 0.0;
                prop_assert!(in_range || rps_off, "{argv:?} gave {value}");
            }
            Err(e) => {
                let rendered = e.to_string();
                let first = rendered.lines().next().unwrap_or_default();
                prop_assert!(
                    matches!(e.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue),
                    "{argv:?}: {:?}: {rendered}", e.kind()
                );
                prop_assert!(first.contains(&format!("'{} <", flag.name)), "{argv:?}: `{first}` names no flag");
                if e.kind() == ErrorKind::ValueValidation {
                    prop_assert!(first.contains("between"), "{argv:?}: `{first}` gives no range");
                }
            }
        }
    }
}
