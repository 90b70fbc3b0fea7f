"""The user's rule folder and the settings file, before any stack starts (docs/USER_RULES.md):

- scripts/lib/user_rules.py cuts a PrometheusRule's spec.groups out of the user's file line for
  line (the rule files Prometheus loads keep the user's line numbers), dumps flow-style ones
  instead, leaves plain rule files alone, and names file and line when a file is not YAML;
- init/prometheus-start.sh, run by busybox's sh and awk as in the prom/prometheus image, with
  real promtool: loads good folders whole (both extractors, the Python one and yq's, give the
  same files), stops on a broken file naming the user's file, line and column, refuses bad
  settings, and renders the shipped config with the job names and shapes asked for, which
  promtool then loads.

yq itself cannot run here (see yq_standin.py): the yq branch runs against a stand-in that
answers yq's documented output for exactly the calls the script makes.
"""
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from lib import ROOT, user_rules

FIXTURES = ROOT / "scripts/e2e/fixtures/user-rules"
V3_BIN = ROOT / "target/tools/root/usr/bin"
BUSYBOX = V3_BIN / "busybox"
WRAPPER = ROOT / "init/prometheus-start.sh"
APPLETS = ("sh", "awk", "sed", "grep", "cp", "rm", "mkdir", "mv", "ln", "cat", "basename", "dirname", "tr", "env")


# ---- the Python extractor --------------------------------------------------------------------

def test_extract_keeps_the_users_lines(tmp_path):
    source = FIXTURES / "good/team.yaml"
    written = user_rules.extract(source, tmp_path, "team.yaml")
    assert [(p.name, off) for p, off in written] == [("team.yaml.1.yml", 2), ("team.yaml.2.yml", 4)]
    original = source.read_text().splitlines()
    docs = [d for d in yaml.safe_load_all(source.read_text()) if d["kind"] == "PrometheusRule"]
    for (path, offset), doc in zip(written, docs, strict=True):
        lines = path.read_text().splitlines()
        kept = [(n, line) for n, line in enumerate(lines) if line.strip()]
        assert kept, f"{path.name} is empty"
        for n, line in kept:
            assert original[n][offset:] == line, f"{path.name} line {n + 1} is not the user's line {n + 1}"
        assert yaml.safe_load(path.read_text()) == {"groups": doc["spec"]["groups"]}


def test_flow_style_is_dumped_and_says_so(tmp_path):
    [(path, offset)] = user_rules.extract(FIXTURES / "good/flow.yaml", tmp_path, "flow.yaml")
    assert offset == "-"
    assert yaml.safe_load(path.read_text())["groups"][0]["name"] == "fixture-flow"


def test_plain_rule_files_are_left_alone(tmp_path):
    assert user_rules.extract(FIXTURES / "good/blackbox.yml", tmp_path, "blackbox.yml") == []
    assert not list(tmp_path.iterdir())


def test_not_yaml_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: PrometheusRule\nspec:\n  groups:\n  - name: a\n    rules: [\n")
    run = subprocess.run([sys.executable, "-m", "lib.user_rules", "extract", str(bad), str(tmp_path), "bad.yaml"],
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT / "scripts")))
    assert run.returncode == 1 and run.stderr.startswith(f"{bad}: yaml: line 6: "), run.stderr


# ---- init/prometheus-start.sh under busybox ----------------------------------------------------

@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    """A PATH of busybox applets only, as /bin of the prom/prometheus image, plus a yq stand-in."""
    assert BUSYBOX.exists(), "busybox missing: scripts/test fetches it (scripts/lib/tools.sh ensure_busybox)"
    bin_dir = tmp_path_factory.mktemp("image-bin")
    for applet in APPLETS:
        (bin_dir / applet).symlink_to(BUSYBOX)
    yq = tmp_path_factory.mktemp("tools") / "yq"
    yq.write_text(f'#!{BUSYBOX} sh\nexec {sys.executable} {ROOT}/scripts/e2e/yq_standin.py "$@"\n')
    yq.chmod(0o755)
    return {"PATH": str(bin_dir), "yq": str(yq)}


def start(image_path, tmp_path, rules, extractor="yq", source=ROOT / "prometheus/prometheus.yml", **settings):
    """Runs the wrapper with --prepare-only; returns (the run, its run dir)."""
    run_dir = tmp_path / "run"
    env = {"PATH": image_path["PATH"], "EDGE_PROMETHEUS_SOURCE": str(source), "EDGE_RUN_DIR": str(run_dir),
           "EDGE_USER_RULES": str(rules), "EDGE_USER_RULES_LABEL": "user-rules", "EDGE_YQ": image_path["yq"],
           "PROMTOOL": str(V3_BIN / "promtool"), **settings}
    if extractor == "python":
        env["EDGE_RULES_EXTRACT"] = f"{sys.executable} -m lib.user_rules extract"
        env["PYTHONPATH"] = str(ROOT / "scripts")
    run = subprocess.run([str(BUSYBOX), "sh", str(WRAPPER), "--prepare-only"], env=env, capture_output=True,
                         text=True, timeout=60)
    return run, run_dir


@pytest.mark.parametrize("extractor", ["yq", "python"])
def test_a_good_folder_loads_whole(image_path, tmp_path, extractor):
    run, run_dir = start(image_path, tmp_path, FIXTURES / "good", extractor)
    assert run.returncode == 0, run.stderr
    made = sorted(p.name for p in (run_dir / "user-rules").iterdir())
    assert made == ["blackbox.yml.yml", "flow.yaml.1.yml", "team.yaml.1.yml", "team.yaml.2.yml"], made
    assert "4 rule file(s) from user-rules checked" in run.stderr


def test_both_extractors_write_the_same_files(image_path, tmp_path):
    files = {}
    for extractor in ("yq", "python"):
        run, run_dir = start(image_path, tmp_path / extractor, FIXTURES / "good", extractor)
        assert run.returncode == 0, run.stderr
        files[extractor] = {p.name: p.read_text() for p in (run_dir / "user-rules").iterdir()}
    # The flow-style dump is each tool's own YAML; the cut files are the user's lines.
    assert {k: v for k, v in files["yq"].items() if "flow" not in k} == \
        {k: v for k, v in files["python"].items() if "flow" not in k}
    assert yaml.safe_load(files["yq"]["flow.yaml.1.yml"]) == yaml.safe_load(files["python"]["flow.yaml.1.yml"])


@pytest.mark.parametrize("extractor", ["yq", "python"])
def test_a_broken_file_stops_the_start_naming_file_and_line(image_path, tmp_path, extractor):
    run, _ = start(image_path, tmp_path, FIXTURES / "broken", extractor)
    assert run.returncode == 1, run.stderr
    # The expression sits on line 10 of probe.yaml, its value at column 17: promtool's position
    # in the cut file (column 15) moved back by the 2 columns the groups were dedented.
    assert ('user-rules/probe.yaml: 10:17: group "fixture-broken", rule 1, "FixtureSlowProbe": '
            "could not parse expression") in run.stderr, run.stderr
    assert "user-rules/host.yml: yaml: unmarshal errors:" in run.stderr
    assert "line 5: field exrp not found" in run.stderr
    assert "broken rule files: user-rules/host.yml user-rules/probe.yaml; Prometheus not started" in run.stderr
    assert "fine.yml" not in run.stderr


def test_a_file_that_is_not_yaml_names_its_line(image_path, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cut.yaml").write_text("kind: PrometheusRule\nspec:\n  groups:\n  - name: a\n    rules: [\n")
    for extractor in ("yq", "python"):
        run, _ = start(image_path, tmp_path / extractor, rules, extractor)
        assert run.returncode == 1 and "user-rules/cut.yaml" in run.stderr and "line 6" in run.stderr, run.stderr


@pytest.mark.parametrize("settings, message", [
    ({"EDGE_METRIC_SHAPES": "node_exporter,disk"}, "'disk' is not a shape"),
    ({"EDGE_BLACKBOX_PROBES": "yes"}, "expected on or off"),
    ({"NODE_EXPORTER_JOB": "node exporter"}, "letters, digits"),
    ({"NODE_EXPORTER_JOB": "1node"}, "starts with a letter"),
    ({"BLACKBOX_JOB": "prometheus"}, "already has a job called prometheus"),
    ({"NODE_EXPORTER_JOB": "x", "BLACKBOX_JOB": "x"}, "are both 'x'"),
])
def test_bad_settings_are_refused(image_path, tmp_path, settings, message):
    run, _ = start(image_path, tmp_path, FIXTURES / "good", **settings)
    assert run.returncode == 2 and message in run.stderr, run.stderr


def jobs(config):
    return [j["job_name"] for j in yaml.safe_load(config.read_text())["scrape_configs"]]


@pytest.mark.parametrize("settings, host, probes", [
    ({}, "node", "blackbox"),
    ({"NODE_EXPORTER_JOB": "node-exporter", "BLACKBOX_JOB": "probes"}, "node-exporter", "probes"),
    ({"EDGE_METRIC_SHAPES": "otel,promhttp"}, None, "blackbox"),
    ({"EDGE_METRIC_SHAPES": "none", "EDGE_BLACKBOX_PROBES": "off"}, None, None),
    ({"NODE_EXPORTER_JOB": "blackbox", "BLACKBOX_JOB": "node"}, "blackbox", "node"),
])
def test_the_rendered_config_has_the_jobs_asked_for_and_loads(image_path, tmp_path, settings, host, probes):
    run, run_dir = start(image_path, tmp_path, FIXTURES / "good", **settings)
    assert run.returncode == 0, run.stderr
    config = run_dir / "prometheus.yml"
    shipped = jobs(ROOT / "prometheus/prometheus.yml")
    # With probes off the exporter's own job goes too: nothing runs there to scrape.
    exporter = "blackbox-exporter" if probes else None
    want = [{"node": host, "blackbox": probes, "blackbox-exporter": exporter}.get(j, j) for j in shipped]
    assert jobs(config) == [j for j in want if j], config.read_text()
    by_name = {j["job_name"]: j for j in yaml.safe_load(config.read_text())["scrape_configs"]}
    if host:
        assert by_name[host]["metrics_path"] == "/host/metrics"
    if probes:
        assert by_name[probes]["metrics_path"] == "/probe"
    # The whole config, with our rules (through the links beside it) and the user's.
    check = subprocess.run([str(V3_BIN / "promtool"), "check", "config", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    ours = len(list((ROOT / "prometheus/rules").glob("*.yml")))
    assert f"SUCCESS: {ours + 4} rule files found" in check.stdout, check.stdout


def test_no_user_folder_is_no_user_rules(image_path, tmp_path):
    run, run_dir = start(image_path, tmp_path, tmp_path / "absent")
    assert run.returncode == 0 and not list((run_dir / "user-rules").iterdir()), run.stderr


def test_without_yq_a_prometheus_rule_stops_the_start(image_path, tmp_path):
    run, _ = start(image_path, tmp_path, FIXTURES / "good", EDGE_YQ=str(tmp_path / "no-yq"), EDGE_YQ_WAIT="1")
    assert run.returncode == 1 and "no yq at" in run.stderr and "docker compose up -d rules-tools" in run.stderr, \
        run.stderr


def test_the_shipped_user_folder_holds_no_rules():
    tracked = subprocess.run(["git", "ls-files", "user-rules"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert set(tracked) <= {"user-rules/.gitkeep", "user-rules/README.md"}, \
        f"user-rules/ is the user's: ship nothing else in it ({tracked})"


def test_run_native_stops_on_a_broken_rule_before_starting_anything(tmp_path):
    state = tmp_path / "state"
    env = dict(os.environ, STATE=str(state), USER_RULES_DIR=str(FIXTURES / "broken"), PROM_PORT="1",
               AM_PORT="1", SINK_PORT="1", BB_PORT="1", BASE_PORT="1")
    run = subprocess.run([str(ROOT / "scripts/run-native.sh")], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f'{FIXTURES}/broken/probe.yaml: 10:17: group "fixture-broken"' in run.stderr, run.stderr
    assert "run-native: not started" in run.stderr
    assert not (state / "prometheus").exists() and not (state / "fleet.log").exists()
    shutil.rmtree(state, ignore_errors=True)
