"""Helpers shared by the end-to-end scripts: loopback ports, JSON over HTTP, polling."""
import json
import socket
import time
import urllib.request


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
