"""CURVE against libzmq: ringmq's `curve_peer` example and pyzmq (whose
wheels bundle libzmq with libsodium), each as client and as server, with
multipart and large frames, PINGs crossing the sealed link, and the client
key reaching the server's authenticator (pyzmq's ZAP handler, ringmq's
hook) as the message's User-Id.

Run: python3 tests/curve_pyzmq.py target/debug/examples/curve_peer
(`.ci/run` installs pyzmq into a virtual environment and runs it.)
"""
import subprocess
import sys
import time

import zmq
import zmq.auth
import zmq.utils.monitor
from zmq.auth.thread import ThreadAuthenticator

PEER = sys.argv[1]
COUNT = 20
BIG = b"\x07" * 100_000


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)


def ringmq_client_pyzmq_server(heartbeat_ms):
    ctx = zmq.Context()
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
    spub, ssec = zmq.curve_keypair()
    cpub, csec = zmq.curve_keypair()
    rep = ctx.socket(zmq.REP)
    rep.curve_server = True
    rep.curve_secretkey = ssec
    rep.curve_publickey = spub
    if heartbeat_ms:
        rep.heartbeat_ivl = heartbeat_ms
        rep.heartbeat_timeout = heartbeat_ms * 20
    rep.rcvtimeo = 20_000
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    args = [PEER, "req", f"tcp://127.0.0.1:{port}", csec.decode(), spub.decode(), str(COUNT)]
    if heartbeat_ms:
        args.append(str(heartbeat_ms))
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for i in range(COUNT):
        frames = rep.recv_multipart(copy=False)
        check(len(frames) == 3, f"request {i}: {len(frames)} frames")
        check(frames[0].bytes == i.to_bytes(4, "big"), f"request {i}: number")
        check(frames[1].bytes == b"" and frames[2].bytes == BIG, f"request {i}: body")
        user = frames[0].get("User-Id")
        check(user == cpub.decode(), f"request {i}: User-Id {user!r}")
        rep.send_multipart([frames[2].bytes, b"", frames[0].bytes, user.encode()])
    out, _ = p.communicate(timeout=60)
    check(p.returncode == 0, "ringmq client: " + out.decode())
    auth.stop()
    ctx.destroy(linger=0)
    print(f"ok: ringmq CURVE client -> pyzmq {zmq.zmq_version()} server (heartbeat {heartbeat_ms} ms): "
          + out.decode().strip())


def pyzmq_client_ringmq_server(heartbeat_ms):
    spub, ssec = zmq.curve_keypair()
    cpub, csec = zmq.curve_keypair()
    args = [PEER, "rep", "tcp://127.0.0.1:0", ssec.decode(), str(COUNT)]
    if heartbeat_ms:
        args.append(str(heartbeat_ms))
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    line = p.stdout.readline().decode().strip()
    check(line.startswith("bound tcp://"), "ringmq server: " + line)
    ep = line.split()[1]
    ctx = zmq.Context()
    req = ctx.socket(zmq.REQ)
    req.curve_serverkey = spub
    req.curve_publickey = cpub
    req.curve_secretkey = csec
    if heartbeat_ms:
        req.heartbeat_ivl = heartbeat_ms
        req.heartbeat_timeout = heartbeat_ms * 20
    req.rcvtimeo = 20_000
    req.connect(ep)
    for i in range(COUNT):
        req.send_multipart([i.to_bytes(4, "big"), b"", BIG])
        got = req.recv_multipart()
        check(got[:3] == [BIG, b"", i.to_bytes(4, "big")], f"reply {i}")
        check(got[3] == cpub, f"reply {i}: ringmq saw user {got[3]!r}")
        if heartbeat_ms:
            time.sleep(heartbeat_ms * 3 / 1000)
    out, _ = p.communicate(timeout=60)
    check(p.returncode == 0, "ringmq server: " + line + out.decode())
    ctx.destroy(linger=0)
    print(f"ok: pyzmq {zmq.zmq_version()} CURVE client -> ringmq server (heartbeat {heartbeat_ms} ms): "
          + out.decode().strip())


def wrong_server_key_is_refused():
    spub, ssec = zmq.curve_keypair()
    other_pub, _ = zmq.curve_keypair()
    _, csec = zmq.curve_keypair()
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.curve_server = True
    rep.curve_secretkey = ssec
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    mon = rep.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_SUCCEEDED)
    p = subprocess.Popen([PEER, "req", f"tcp://127.0.0.1:{port}", csec.decode(), other_pub.decode(), "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    mon.rcvtimeo = 10_000
    ev = zmq.utils.monitor.recv_monitor_message(mon)
    check(ev["event"] == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, f"libzmq saw {ev}")
    p.kill()
    p.wait()
    ctx.destroy(linger=0)
    print("ok: a ringmq client with the wrong server key fails libzmq's handshake (protocol error)")


def pub_sub_both_ways():
    spub, ssec = zmq.curve_keypair()
    cpub, csec = zmq.curve_keypair()
    # pyzmq's SUB (a CURVE client) subscribes through the sealed link to a
    # ringmq PUB: only `a` messages arrive.
    p = subprocess.Popen([PEER, "pub", "tcp://127.0.0.1:0", ssec.decode(), "10"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    line = p.stdout.readline().decode().strip()
    check(line.startswith("bound tcp://"), "ringmq pub: " + line)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.curve_serverkey = spub
    sub.curve_publickey = cpub
    sub.curve_secretkey = csec
    sub.rcvtimeo = 10_000
    sub.setsockopt(zmq.SUBSCRIBE, b"a")
    sub.connect(line.split()[1])
    last = -1
    for _ in range(200):
        m = sub.recv().decode()
        check(m.startswith("a "), f"pyzmq SUB received {m!r}")
        check(int(m[2:]) > last, f"{m!r} after a {last}")
        last = int(m[2:])
    p.kill()
    p.wait()
    ctx.destroy(linger=0)
    print("ok: pyzmq CURVE SUB <- ringmq PUB: 200 `a` messages, no `b`")

    # A ringmq SUB subscribes to a pyzmq PUB.
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.curve_server = True
    pub.curve_secretkey = ssec
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    p = subprocess.Popen([PEER, "sub", f"tcp://127.0.0.1:{port}", csec.decode(), spub.decode(), "200"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    n = 0
    while p.poll() is None and n < 100_000:
        pub.send(f"b {n}".encode())
        pub.send(f"a {n}".encode())
        n += 1
        time.sleep(0.001)
    out, _ = p.communicate(timeout=30)
    check(p.returncode == 0, "ringmq sub: " + out.decode())
    ctx.destroy(linger=0)
    print("ok: ringmq CURVE SUB <- pyzmq PUB: " + out.decode().strip())


ringmq_client_pyzmq_server(0)
ringmq_client_pyzmq_server(50)
pyzmq_client_ringmq_server(0)
pyzmq_client_ringmq_server(50)
wrong_server_key_is_refused()
pub_sub_both_ways()
print("curve_pyzmq: all passed")
