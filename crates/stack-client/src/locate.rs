//! Where the stack is, from what a user sets: per-node URL overrides (`N=URL` lists and
//! files), Compose's published-port variables (`EDGE_NODE_3_PORT`, `PROMETHEUS_PORT`). Pure
//! functions of their input, shared by the tools that talk to a running stack (the inject
//! CLI, the coverage command's live mode).

use std::collections::BTreeMap;

/// Parses overrides: `N=URL` entries separated by commas or new lines (`#` starts a comment).
pub fn parse_overrides(text: &str) -> Result<BTreeMap<u32, String>, String> {
    let mut map = BTreeMap::new();
    for entry in text.lines().map(|l| l.split('#').next().unwrap_or("")).flat_map(|l| l.split(',')) {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let (n, url) = entry.split_once('=').ok_or_else(|| format!("`{entry}` is not N=URL"))?;
        let n: u32 = n.trim().parse().map_err(|_| format!("`{}` is not a node number", n.trim()))?;
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("node {n}: `{url}` is not an http(s) URL"));
        }
        map.insert(n, url.to_owned());
    }
    Ok(map)
}

/// Per-node overrides from Compose's published-port variables (`EDGE_NODE_3_PORT=18003`, see
/// docker-compose.yml), so the CLI follows a user who moved a node's port: `http://{host}:{port}`.
pub fn compose_port_overrides(
    host: &str,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<u32, String>, String> {
    let mut map = BTreeMap::new();
    for (name, value) in vars {
        let Some(n) = name.strip_prefix("EDGE_NODE_").and_then(|rest| rest.strip_suffix("_PORT")) else {
            continue;
        };
        let Ok(n) = n.parse::<u32>() else { continue };
        let port: u16 = value
            .trim()
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{name}: `{value}` is not a port (1-65535)"))?;
        map.insert(n, format!("http://{host}:{port}"));
    }
    Ok(map)
}

/// `http://127.0.0.1:{port}`, the port from Compose's variable `var` (e.g. `PROMETHEUS_PORT`)
/// when set, else `default`.
pub fn compose_service_url(var: &str, value: Option<String>, default: u16) -> Result<String, String> {
    let port = match value {
        None => default,
        Some(v) => v
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{var}: `{v}` is not a port (1-65535)"))?,
    };
    Ok(format!("http://127.0.0.1:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_default_to_base_port_plus_n_and_honour_overrides() {
        let overrides =
            parse_overrides("# k8s port-forward\n3=http://127.0.0.1:18080/\n4=https://edge-4.example")
                .expect("valid");
        let t = crate::Targets::new("127.0.0.1", 8000, overrides);
        assert_eq!(t.url(1), "http://127.0.0.1:8001");
        assert_eq!(t.url(3), "http://127.0.0.1:18080");
        assert_eq!(t.url(4), "https://edge-4.example");
        assert!(parse_overrides("3:http://x").is_err());
        assert!(parse_overrides("3=ftp://x").is_err());
    }

    #[test]
    fn compose_port_variables_move_nodes_and_services() {
        let vars = [
            ("EDGE_NODE_3_PORT", "18003"),
            ("EDGE_NODE_X_PORT", "1"),
            ("PATH", "/bin"),
            ("EDGE_NODE_12_PORT", "8112"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let map = compose_port_overrides("127.0.0.1", vars).expect("valid");
        assert_eq!(map.get(&3).map(String::as_str), Some("http://127.0.0.1:18003"));
        assert_eq!(map.get(&12).map(String::as_str), Some("http://127.0.0.1:8112"));
        assert_eq!(map.len(), 2);
        let bad = compose_port_overrides("127.0.0.1", [("EDGE_NODE_3_PORT".to_owned(), "99999".to_owned())]);
        assert_eq!(bad, Err("EDGE_NODE_3_PORT: `99999` is not a port (1-65535)".to_owned()));
        assert_eq!(
            compose_service_url("PROMETHEUS_PORT", None, 9090).as_deref(),
            Ok("http://127.0.0.1:9090")
        );
        assert_eq!(
            compose_service_url("PROMETHEUS_PORT", Some("19090".into()), 9090).as_deref(),
            Ok("http://127.0.0.1:19090")
        );
        assert!(compose_service_url("PROMETHEUS_PORT", Some("nan".into()), 9090).is_err());
    }
}
