"""A backend that writes its response head and body in separate writes, as Python's http.server does in HTTP/1.1
keep-alive (issue 20, row 7): send_response/end_headers flush the head, then the handler writes the body. With
Nagle's algorithm on (Python leaves it on: StreamRequestHandler.disable_nagle_algorithm is False), the body waits
until the head is acknowledged, and a client in delayed-ACK mode acknowledges after ~40 ms.

    python3 scripts/hostile/split-write-backend.py PORT [nodelay]

`nodelay` sets disable_nagle_algorithm = True (TCP_NODELAY on each connection): the backend-side fix.
"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = len(sys.argv) > 2 and sys.argv[2] == 'nodelay'

    def do_GET(self):
        body = b'hello from a split-write backend\n'
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), Handler).serve_forever()
