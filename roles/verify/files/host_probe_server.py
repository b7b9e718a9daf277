# The verify role's one-shot HTTP server for the container-to-host probe, run as `python3 -c <this file> ADDRESS
# PORT TOKEN TIMEOUT` (nothing is written to the host). It listens on ADDRESS only, answers TOKEN to the first GET
# and exits, or exits after TIMEOUT seconds. Standard library only (any target Python 3.9+).
import http.server
import sys
import time

address, port, token, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), float(sys.argv[4])


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(token)))
        self.end_headers()
        self.wfile.write(token)
        self.server.answered = True

    def log_message(self, *args):
        pass


server = http.server.HTTPServer((address, port), Handler)
server.timeout = 1
server.answered = False
deadline = time.time() + timeout
while not server.answered and time.time() < deadline:
    server.handle_request()
server.server_close()
