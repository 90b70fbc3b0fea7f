"""The project's generators: every generated file in the repository comes from one of these,
and `scripts/py -m gen --check` (in the test command) fails when a committed file differs
from what its generator writes. Generated files are never edited by hand.

- `rules`:      the rules of every Prometheus profile (profiles.py): prometheus/rules/*.yml (demo),
                prometheus/fleet/rules/*.yml and prometheus/fleet/prometheus.yml (fleet), from
                templates/ and slo_rules.py (windows, burn rates and the error budget as data)
- `dashboards`: grafana/dashboards/*.json, thresholds read from the alert rules
- `targets`:    prometheus/targets/edge-nodes.yml, the fleet (ids, regions) from `edge-node targets`
- `kubernetes`: deploy/kubernetes/: the dashboards, rules, routing and server configs the kustomize
                overlays carry, and the Prometheus Operator's resources, from the files above
"""
