"""Tenant B's attacker: tries, from inside its own sandbox, everything a hostile
tenant would, and reports each attempt as "denied: <why>" or "ALLOWED: <what>".

`python3 attacker.py build` runs the file and process attacks during the build
and prints the report (the build step saves it as build-report.json);
`python3 attacker.py` serves HTTP on $PORT: `/attack` runs every attack now,
`/build-report` returns what the build saw, `/hog` allocates memory until the
kernel stops it, `/forkbomb` starts processes until it cannot.
Targets come from config vars the test sets: SW_FILES (paths of tenant A and of
the platform), SW_SECRET (tenant A's secret value), SW_PORTS (A's instance,
the API), SW_ROUTER_PORT, SW_HOST_PIDS (A's processes, as the host numbers them).
"""
import ctypes
import json
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

libc = ctypes.CDLL(None, use_errno=True)


def env_list(name):
    return [item for item in os.environ.get(name, "").split(",") if item]


def attempt(results, name, action):
    try:
        outcome = action()
        results[name] = "ALLOWED: " + str(outcome)[:200]
    except Exception as err:  # every failure is a denial, whatever its kind
        results[name] = "denied: " + type(err).__name__ + ": " + str(err)[:200]


def syscall_fails(number, *args):
    def call():
        result = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
        if result == -1:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        return "returned %d" % result
    return call


def scan_environments():
    # Given reversed, so that this process's own SW_SECRET never matches.
    secret = ("API_SECRET=" + os.environ["SW_SECRET"][::-1]).encode()
    hits = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if secret in open("/proc/%s/environ" % pid, "rb").read():
                    hits.append(pid)
            except OSError:
                pass
    if hits:
        return "secret found in the environment of pids %s" % hits
    raise PermissionError("no visible process holds tenant A's secret")


def reveals(directory):
    """Lists a directory; only the names of targets (not its own build's mount points) count."""
    wanted = {os.path.basename(p) for p in env_list("SW_FILES")} | {"repos", "logs", "run", "secret.key"}
    seen = set(os.listdir(directory)) & wanted
    if seen:
        return "sees %s" % sorted(seen)
    raise PermissionError("nothing of the targets is listed")


def write_huge():
    with open("huge.bin", "wb") as f:
        f.seek((3 << 30) - 1)
        f.write(b"x")
        f.flush()
    return "wrote %d bytes" % os.path.getsize("huge.bin")


def visible_processes():
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    if len(pids) > 20:
        return "%d processes visible" % len(pids)
    raise PermissionError("only %d processes visible: %s" % (len(pids), pids))


def file_attacks(results):
    for path in env_list("SW_FILES"):
        attempt(results, "read " + path, lambda p=path: open(p, "rb").read(64))
        attempt(results, "list " + os.path.dirname(path), lambda p=path: reveals(os.path.dirname(p)))
    for path in ["/etc/sw-pwned", "/usr/bin/sw-pwned", "/sw-pwned"] + [
        os.path.join(os.path.dirname(p), "sw-pwned") for p in env_list("SW_FILES")
    ]:
        attempt(results, "write " + path, lambda p=path: open(p, "w").write("pwned"))
    attempt(results, "write a 3 GiB (sparse) file", write_huge)
    attempt(results, "environment of other processes", scan_environments)
    attempt(results, "see the host's processes", visible_processes)
    for pid in env_list("SW_HOST_PIDS"):
        attempt(results, "signal host pid " + pid, lambda p=int(pid): os.kill(p, 0))
    attempt(results, "become root", lambda: os.setuid(0))
    attempt(results, "ptrace init", syscall_fails(101, 16, 1, 0, 0))  # PTRACE_ATTACH
    attempt(results, "new user namespace", syscall_fails(272, 0x10000000))  # unshare(CLONE_NEWUSER)
    attempt(results, "new mount namespace", syscall_fails(272, 0x00020000))
    attempt(results, "bpf", syscall_fails(321, 0, 0, 0))
    attempt(results, "keyring", syscall_fails(250, 0, 0, 0, 0))  # keyctl
    attempt(results, "mount", lambda: syscall_fails(165, 0, 0, 0, 0, 0)())


def network_attacks(results):
    ports = [int(p) for p in env_list("SW_PORTS")] + [5432, 6379]
    # The cloud metadata service and a private network: refused by the host's rules, not left to time out.
    targets = [("127.0.0.1", port) for port in ports] + [("169.254.169.254", 80), ("10.0.0.1", 80)]
    for host, port in targets:
        def connect(host=host, port=port):
            with socket.create_connection((host, port), timeout=3):
                return "connected"
        attempt(results, "connect %s:%d" % (host, port), connect)
    for port in [int(p) for p in env_list("SW_PORTS")] + [int(os.environ["SW_ROUTER_PORT"])]:
        def bind(port=port, reuse=False):
            s = socket.socket()
            if reuse:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind(("127.0.0.1", port))
            s.listen()
            return "bound"
        attempt(results, "bind %d" % port, bind)
        attempt(results, "bind %d with SO_REUSEPORT" % port, lambda port=port: bind(port, True))


def hog():
    chunks = []
    while True:
        chunks.append(bytearray(64 << 20))  # written pages: really used


def forkbomb():
    started = 0
    children = []
    try:
        while started < 5000:
            pid = os.fork()
            if pid == 0:
                import time
                time.sleep(30)
                os._exit(0)
            children.append(pid)
            started += 1
    except OSError as err:
        outcome = {"started": started, "stopped_by": str(err)}
    else:
        outcome = {"started": started, "stopped_by": None}
    for pid in children:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    return outcome


class Handler(BaseHTTPRequestHandler):
    def answer(self, body, kind="application/json"):
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/attack":
            results = {}
            file_attacks(results)
            network_attacks(results)
            self.answer(json.dumps(results))
        elif self.path == "/build-report":
            self.answer(open("build-report.json").read())
        elif self.path == "/forkbomb":
            self.answer(json.dumps(forkbomb()))
        elif self.path == "/hog":
            hog()
        else:
            self.answer("attacker up", "text/plain")

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    if sys.argv[1:] == ["build"]:
        report = {}
        file_attacks(report)
        print(json.dumps(report))
    else:
        HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
