"""An OTLP/HTTP endpoint that accepts every trace export and counts them, for whole-process
benchmarks of the nodes with export on (its own CPU is not the node's). It answers 200 with an
empty body, which an OTLP/HTTP exporter reads as a full success (an empty
ExportTraceServiceResponse). Loopback only; stops on SIGTERM or ctrl-c and prints its counts.

    scripts/py scripts/bench/otlp_sink.py PORT
"""
import http.server
import signal
import sys
import threading

counts = {"requests": 0, "bytes": 0}
lock = threading.Lock()


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            counts["requests"] += 1
            counts["bytes"] += len(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A node that stops closes its keep-alive connection: not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main():
    server = Server(("127.0.0.1", int(sys.argv[1])), Sink)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    print(f"otlp sink: {counts['requests']} exports, {counts['bytes']} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
