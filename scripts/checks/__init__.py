"""The project's checks of files no test framework covers: Compose, the Dockerfile, Grafana,
Loki and Alloy, and the structure of the alerting config. Each module runs as
`scripts/py -m checks.NAME`, exits 1 naming every problem, and where it says so takes
`--self-test` to prove it catches input broken on purpose. `alerting.sh` and `stack.sh` run
them with the real tools (promtool, amtool, the Compose parser, hadolint, tsc)."""
