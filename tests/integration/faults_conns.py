"""faults_conns.py: the connection abuse of test_faults_connections.sh
(standard library only).

    python3 faults_conns.py HTTPS-PORT HTTP-PORT READY-FILE HOLD-SECONDS
                            [IDLE] [SLOW] [HALF_OPEN]

Opens IDLE (default 1000) TCP connections to the HTTPS listener that never
send a byte; SLOW (default 20) clients on each listener that send a request
one byte a second (over TLS on the HTTPS one); and a burst of HALF_OPEN
(default 200) TLS handshakes to the HTTPS listener that stop half-way: half
send a whole ClientHello and never answer the server, half send only the
first 3 bytes of a record. Writes READY-FILE once everything is open, holds
for HOLD-SECONDS (the test measures meanwhile), then prints how many
connections it opened and how many the server had already closed, and exits.
"""
import resource
import select
import socket
import ssl
import sys
import threading
import time


def main():
    https_port, http_port = int(sys.argv[1]), int(sys.argv[2])
    ready_file, hold = sys.argv[3], float(sys.argv[4])
    n_idle = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
    n_slow = int(sys.argv[6]) if len(sys.argv) > 6 else 20
    n_half = int(sys.argv[7]) if len(sys.argv) > 7 else 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n_idle + 2 * n_slow + n_half + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    refused = 0
    idle, half = [], []

    def connect(port):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        return s

    for _ in range(n_idle):
        try:
            idle.append(connect(https_port))
        except OSError:
            refused += 1

    stop = threading.Event()
    slow_sent = [0]
    slow_closed = [0]
    lock = threading.Lock()
    request = (b"POST /v1/sign HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: 100000\r\nX-Padding: " + b"a" * 4000)

    def slow(port, tls):
        try:
            s = connect(port)
            if tls:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(s)
        except OSError:
            with lock:
                slow_closed[0] += 1
            return
        for b in request:
            if stop.wait(1.0):
                break
            try:
                s.send(bytes([b]))
                with lock:
                    slow_sent[0] += 1
            except OSError:
                with lock:
                    slow_closed[0] += 1
                break
        s.close()

    slow_threads = [threading.Thread(target=slow, args=(p, p == https_port), daemon=True)
                    for p in (https_port, http_port) for _ in range(n_slow)]
    for t in slow_threads:
        t.start()

    # A ClientHello, made by a TLS client object that is never given the
    # server's answer.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for i in range(n_half):
        try:
            s = connect(https_port)
            if i % 2 == 0:
                incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
                obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
                try:
                    obj.do_handshake()
                except ssl.SSLWantReadError:
                    pass
                s.sendall(outgoing.read())
            else:
                s.sendall(b"\x16\x03\x01")
            half.append(s)
        except OSError:
            refused += 1

    with open(ready_file, "w") as f:
        f.write("%d idle, %d half-open, %d slow, %d refused\n"
                % (len(idle), len(half), len(slow_threads), refused))
    time.sleep(hold)
    stop.set()

    def closed_by_server(socks):
        n = 0
        for s in socks:
            try:
                p = select.poll()
                p.register(s, select.POLLIN)
                if p.poll(0) and s.recv(4096, socket.MSG_PEEK) == b"":
                    n += 1
            except OSError:
                n += 1
        return n

    idle_closed = closed_by_server(idle)
    half_closed = closed_by_server(half)
    for s in idle + half:
        s.close()
    for t in slow_threads:
        t.join(timeout=2)
    print("opened %d idle (%d closed by the server), %d half-open TLS (%d closed), %d slow "
          "clients (%d bytes sent, %d cut off), %d connections refused"
          % (len(idle), idle_closed, len(half), half_closed, len(slow_threads), slow_sent[0],
             slow_closed[0], refused))


if __name__ == "__main__":
    main()
