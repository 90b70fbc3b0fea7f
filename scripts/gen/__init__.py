"""The project's generators: every generated file in the repository comes from one of these,
and `scripts/py -m gen --check` (in the test command) fails when a committed file differs
from what its generator writes. Generated files are never edited by hand.

- `dashboards`: grafana/dashboards/*.json, thresholds read from the alert rules
- `slo-rules`:  prometheus/rules/slo.yml, windows, burn rates and the error budget as data
- `targets`:    prometheus/targets/edge-nodes.yml, the fleet (ids, regions) from `edge-node targets`
- `kubernetes`: deploy/kubernetes/: the dashboards, rules, routing and server configs the kustomize
                overlays carry, and the Prometheus Operator's resources, from the files above
"""
