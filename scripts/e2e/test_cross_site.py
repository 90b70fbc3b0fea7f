"""The Compose stack's cross-site guard (haproxy/cross-site-guard.cfg) run for real: Debian's
HAProxy with that file, its ports and backends moved to free loopback ports, in front of a real
Alertmanager and of recording backends for the other four services. A page on another site must
not be able to create a silence, push samples or log lines, or reach the APIs through a hostile
host name; the CLI, curl and the services' own pages must pass. Independent of the other tests."""
import http.client
import http.server
import json
import re
import subprocess
import threading

import pytest

from lib import ROOT
from lib.stack import alertmanager, free_port, stop, wait_until

GUARD = ROOT / "haproxy/cross-site-guard.cfg"
# Debian's HAProxy as scripts/lib/tools.sh `ensure_haproxy` unpacks it (scripts/test does).
HAPROXY = str(ROOT / "scripts/lib/bin/haproxy")
EVIL = "https://evil.example"


class Recorder(http.server.ThreadingHTTPServer):
    """A backend that answers 200 and records (method, path) of what reached it."""

    def __init__(self):
        self.seen = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                recorder.seen.append((self.command, self.path))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = do_PUT = do_DELETE = answer

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def request(port, method, path, headers=None, body=None, host=None):
    """(status, body text) of one request to 127.0.0.1:port, with the Host header given."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest(method, path, skip_host=True)
        conn.putheader("Host", host or f"127.0.0.1:{port}")
        data = json.dumps(body).encode() if body is not None else b""
        for k, v in {**({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})}.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        res = conn.getresponse()
        return res.status, res.read().decode()
    finally:
        conn.close()


def silence(minutes=5):
    return {"matchers": [{"name": "alertname", "value": "HighCPUUsage", "isRegex": False, "isEqual": True}],
            "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
            "createdBy": "test", "comment": "cross-site guard test"}


@pytest.fixture(scope="module")
def guard(tmp_path_factory):
    """The guard on free ports: {service: its published port}, the recorders, and Alertmanager's port."""
    tmp = tmp_path_factory.mktemp("guard")
    text = GUARD.read_text()
    ports = {int(p): free_port() for p in re.findall(r"^\s*bind :(\d+)$", text, re.M)}
    backends = dict(re.findall(r"^\s*server (\w+) \w+:(\d+)$", text, re.M))
    assert set(backends) == {"prometheus", "alertmanager", "loki", "tempo", "alloy"}, backends
    recorders = {name: Recorder() for name in backends if name != "alertmanager"}
    am_port = free_port()
    procs = []
    for container_port, test_port in ports.items():
        text = re.sub(rf"^(\s*)bind :{container_port}$", rf"\g<1>bind 127.0.0.1:{test_port}", text, flags=re.M)
        text = text.replace(f"dst_port {container_port} ", f"dst_port {test_port} ")
    for name in backends:
        port = am_port if name == "alertmanager" else recorders[name].server_address[1]
        text = re.sub(rf"^(\s*)server {name} \w+:\d+$", rf"\g<1>server {name} 127.0.0.1:{port}", text, flags=re.M)
    (tmp / "guard.cfg").write_text(text)
    check = subprocess.run([HAPROXY, "-c", "-q", "-f", str(tmp / "guard.cfg")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with open(tmp / "processes.log", "w") as log:
        try:
            procs.append(alertmanager(ROOT / "alertmanager/alertmanager.yml", tmp / "am", am_port, log))
            procs.append(subprocess.Popen([HAPROXY, "-db", "-f", str(tmp / "guard.cfg")], stdout=log, stderr=log))
            published = {name: ports[int(p)] for name, p in backends.items()}
            wait_until("the guard", lambda: request(published["prometheus"], "GET", "/-/guard-health")[0] == 200)
            wait_until("Alertmanager through the guard",
                       lambda: request(published["alertmanager"], "GET", "/-/ready")[0] == 200, timeout=30)
            yield {"port": published, "recorders": recorders}
        finally:
            stop(procs)
            for r in recorders.values():
                r.shutdown()


def silences(guard):
    status, text = request(guard["port"]["alertmanager"], "GET", "/api/v2/silences")
    assert status == 200, text
    return [s for s in json.loads(text) if s["status"]["state"] != "expired"]


def test_a_page_on_another_site_cannot_silence_alerts(guard):
    am = guard["port"]["alertmanager"]
    for headers in ({"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}, {"Origin": EVIL}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:3000"}):
        status, text = request(am, "POST", "/api/v2/silences", headers, silence())
        assert status == 403 and "cross-site guard" in json.loads(text)["error"], (headers, status, text)
    status, _ = request(am, "POST", "/-/reload", {"Origin": EVIL})
    assert status == 403, "a cross-site POST must not reload Alertmanager either"
    assert silences(guard) == [], "a refused request changed nothing"


def test_the_cli_and_alertmanagers_own_page_still_silence(guard):
    am = guard["port"]["alertmanager"]
    status, text = request(am, "POST", "/api/v2/silences", None, silence())
    assert status == 200 and json.loads(text)["silenceID"], text
    own = {"Origin": f"http://127.0.0.1:{am}", "Sec-Fetch-Site": "same-origin"}
    status, text = request(am, "POST", "/api/v2/silences", own, silence())
    assert status == 200 and json.loads(text)["silenceID"], text
    assert len(silences(guard)) == 2


def test_a_hostile_host_name_is_refused_even_for_reads(guard):
    for name, port in guard["port"].items():
        status, _ = request(port, "GET", "/", host=f"rebound.example:{port}")
        assert status == 403, f"{name}: DNS rebinding must not reach the API"
        assert request(port, "GET", "/-/guard-health", host=f"localhost:{port}")[0] == 200


@pytest.mark.parametrize("service", ["prometheus", "loki", "tempo", "alloy"])
def test_each_port_reaches_its_service_and_refuses_cross_site_writes(guard, service):
    port, seen = guard["port"][service], guard["recorders"][service].seen
    before = len(seen)
    for headers in ({"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}):
        assert request(port, "POST", "/api/v1/write", headers, {"x": 1})[0] == 403, headers
    assert len(seen) == before, "a refused write never reached the service"
    # Reads pass whoever asks (a link from Grafana is a same-site navigation); writes pass
    # from clients that are not browsers and from the service's own page.
    assert request(port, "GET", "/ui", {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate"})[0] == 200
    assert request(port, "POST", "/api/v1/write", None, {"x": 1})[0] == 200
    own = {"Origin": f"http://localhost:{port}", "Sec-Fetch-Site": "same-origin"}
    assert request(port, "POST", "/api/v1/write", own, {"x": 1}, host=f"localhost:{port}")[0] == 200
    assert seen[before:] == [("GET", "/ui"), ("POST", "/api/v1/write"), ("POST", "/api/v1/write")], \
        "each port reaches its own service"
