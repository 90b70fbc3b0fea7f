"""The running stack for the end-to-end suite and the benchmarks: loopback ports, JSON over
HTTP, PromQL, polling, and scripts/run-native.sh as a context manager."""
import json
import os
import pathlib
import random
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

from lib import ROOT, fleet


def free_port():
    """A free TCP port on 127.0.0.1 (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port):
    """Whether 127.0.0.1:port can be bound now."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def http(method, url, body=None, timeout=5):
    """Sends JSON (if any) and returns the answer, parsed when it is JSON."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as res:
        text = res.read().decode()
        return json.loads(text) if text.strip().startswith(("[", "{")) else text


def get(url, timeout=5):
    """GET a JSON document."""
    return http("GET", url, timeout=timeout)


def alertmanager(config, storage, port, log):
    """Debian's Alertmanager (through its wrapper, scripts/lib/bin) with `config`, on
    127.0.0.1:`port`, one instance (no gossip port), its output to `log`."""
    return subprocess.Popen(
        [str(ROOT / "scripts/lib/bin/prometheus-alertmanager"), f"--config.file={config}",
         f"--storage.path={storage}", f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log, stderr=log)


def stop(procs):
    """Ends processes this test started, by PID: SIGTERM, then SIGKILL after 10 s."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def log_lines(path):
    """The JSON lines of a log file that is still being written. The node writes its lines in
    batches, and a reader can catch the end of a batch half written: the last line without its
    newline is left out (a broken line anywhere else still fails)."""
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.startswith("{")]


def wait_until(what, check, timeout=20, every=0.2):
    """Polls check() until it returns something truthy; fails saying what was last seen."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, ValueError, KeyError) as e:
            last = repr(e)
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last seen: {last!r}")


class NativeStack:
    """scripts/run-native.sh on free loopback ports with a fresh state dir, as a context
    manager that stops every process it started (by process group) on the way out."""

    def __init__(self, root, seed="42", rps=None, nodes=None, profile="demo"):
        nodes = nodes or fleet.size()
        self.nodes, self.profile = nodes, profile
        self.root = pathlib.Path(root)
        self.base = next(b for b in random.sample(range(20000, 40000, 20), 200)
                         if all(port_free(b + i) for i in range(1, nodes + 1)))
        self.prom_port, self.am_port, self.sink_port = free_port(), free_port(), free_port()
        self.bb_port = free_port()
        self.prom, self.am, self.sink = (f"http://127.0.0.1:{p}"
                                         for p in (self.prom_port, self.am_port, self.sink_port))
        self.state = pathlib.Path(tempfile.mkdtemp(prefix="edge-native-"))
        self.env = dict(os.environ, BASE_PORT=str(self.base), PROM_PORT=str(self.prom_port), AM_PORT=str(self.am_port),
                        SINK_PORT=str(self.sink_port), BB_PORT=str(self.bb_port), STATE=str(self.state),
                        SEED=seed, NODES=str(nodes), PROFILE=profile)
        if rps is not None:
            self.env["RPS"] = str(rps)
        self.proc = None

    def node_url(self, node):
        return f"http://127.0.0.1:{self.base + node}"

    def __enter__(self):
        log = open(self.state / "run-native.out", "w")
        self.proc = subprocess.Popen([str(self.root / "scripts/run-native.sh")], env=self.env, stdout=log,
                                     stderr=log, start_new_session=True)
        return self

    def pids(self):
        """{name: pid} of the stack's long-running processes (the run-native.sh process group)."""
        found = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.getpgid(int(entry)) != self.proc.pid:
                    continue
                with open(f"/proc/{entry}/comm") as f:
                    name = f.read().strip()
                # comm is cut at 15 characters
                found["alertmanager" if name.startswith("prometheus-ale") else name] = int(entry)
            except (OSError, ProcessLookupError):
                continue
        return found

    def __exit__(self, *exc):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return False


def promql(prom, expr, at=None):
    """The result vector of an instant query."""
    params = {"query": expr}
    if at is not None:
        params["time"] = at
    return get(f"{prom}/api/v1/query?" + urllib.parse.urlencode(params))["data"]["result"]
