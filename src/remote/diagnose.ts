/**
 * The robot side of `fleetmasq diagnose`: one Python 3 program (every ROS robot has python3), sent on
 * stdin, its parameters one JSON argument (never spliced into code), its result one JSON line.
 *
 * - Attempts, ICE-like: a fresh UDP socket bound to each local IPv4 address (as WebRTC's host
 *   candidates are) sends a STUN Binding request; the public address seen through the uplink is read
 *   before and after each attempt, and whether it changed right after the attempt is the symptom.
 * - Leak test (root): a datagram sent from a local address that is not the uplink's, captured on the
 *   uplink after NAT (AF_PACKET sees egress after POSTROUTING): its source is the uplink's address when
 *   masquerading is in effect, else the foreign one — what the hotspot reacts to.
 * - A/B (--ab): groups alternating masquerading off/on, toggling only the live rule. The original state
 *   is written to a restore script and a robot-side timer (systemd-run, else a detached sleeper) puts it
 *   back unless the program cancels it at its end, so a controller that dies or a link that drops never
 *   leaves the robot changed. Hangups are ignored: the program runs to its end and restores itself.
 */
export const DIAGNOSE_PY = String.raw`
import json, os, random, signal, socket, struct, subprocess, sys, time
signal.signal(signal.SIGHUP, signal.SIG_IGN)
P = json.loads(sys.argv[1])
COOKIE = 0x2112A442
out = {"v": 1}

def stun(sock, server, timeout):
    tid = os.urandom(12)
    sock.settimeout(timeout)
    try:
        sock.sendto(struct.pack("!HHI", 1, 0, COOKIE) + tid, server)
        end = time.time() + timeout
        while time.time() < end:
            data, _ = sock.recvfrom(2048)
            if len(data) < 20 or data[8:20] != tid:
                continue
            n = struct.unpack("!H", data[2:4])[0]
            i, mapped = 20, None
            while i + 4 <= 20 + n and i + 4 <= len(data):
                t, l = struct.unpack("!HH", data[i:i + 4])
                v = data[i + 4:i + 4 + l]
                if t in (0x0020, 0x0001) and l == 8 and v[1] == 1:
                    port = struct.unpack("!H", v[2:4])[0]
                    ip = struct.unpack("!I", v[4:8])[0]
                    if t == 0x0020:
                        port ^= COOKIE >> 16
                        ip ^= COOKIE
                        mapped = (socket.inet_ntoa(struct.pack("!I", ip)), port)
                    elif mapped is None:
                        mapped = (socket.inet_ntoa(struct.pack("!I", ip)), port)
                i += 4 + l + (-l % 4)
            return mapped
    except (socket.timeout, OSError):
        return None
    return None

def public(server):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((P["uplinkAddr"], 0))
        m = stun(s, server, P["timeout"])
        return m[0] if m else None
    finally:
        s.close()

def attempt(server):
    before = public(server)
    answered = 0
    for a in P["addrs"]:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((a, 0))
            if stun(s, server, P["candidateTimeout"]):
                answered += 1
        except OSError:
            pass
        finally:
            s.close()
    time.sleep(P["settle"])
    after = public(server)
    return {"before": before, "after": after, "candidates": len(P["addrs"]), "answered": answered,
            "changed": bool(before and after and before != after)}

def run_attempts(server, n):
    res = []
    for _ in range(n):
        res.append(attempt(server))
        time.sleep(P["gap"])
    return res

def leak(server):
    others = [a for a in P["addrs"] if a != P["uplinkAddr"]]
    if not others:
        return {"result": "no-other-address"}
    if os.geteuid() != 0:
        return {"result": "needs-root"}
    src = others[0]
    # Every interface, every protocol (binding to one interface saw nothing in containers): frames
    # are filtered here to IPv4 leaving the uplink.
    cap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))
    try:
        cap.settimeout(0.2)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        mark = b"fleetmasq-leak-" + os.urandom(6).hex().encode()
        dst_ip = socket.inet_aton(server[0])
        seen = None
        for _ in range(3):
            s.sendto(mark, server)
            end = time.time() + 0.6
            while time.time() < end and seen is None:
                try:
                    pkt, where = cap.recvfrom(65535)
                except socket.timeout:
                    continue
                if where[0] != P["uplink"] or where[1] != 0x0800 or where[2] != 4:
                    continue
                if len(pkt) < 28 or pkt[9] != 17 or pkt[16:20] != dst_ip:
                    continue
                ihl = (pkt[0] & 15) * 4
                if pkt[ihl + 8:].startswith(mark):
                    seen = socket.inet_ntoa(pkt[12:16])
            if seen:
                break
        s.close()
    finally:
        cap.close()
    if seen is None:
        return {"result": "not-captured", "from": src}
    return {"result": "masqueraded" if seen == P["uplinkAddr"] else "leaks", "from": src, "seen": seen}

def ipt(*args):
    return subprocess.run(["iptables", "-w"] + list(args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode

RULE = ["-t", "nat", "{op}", "POSTROUTING", "-o", None, "-j", "MASQUERADE"]

def rule(op, iface):
    r = list(RULE)
    r[2] = op
    r[5] = iface
    return r

def set_masq(on):
    for i in P["ifaces"]:
        if on:
            if ipt(*rule("-C", i)) != 0:
                ipt(*rule("-A", i))
        else:
            while ipt(*rule("-C", i)) == 0:
                ipt(*rule("-D", i))

def ab(server):
    orig = {i: ipt(*rule("-C", i)) == 0 for i in P["ifaces"]}
    restore = "/run/fleetmasq-ab-restore-%d.sh" % os.getpid()
    lines = ["#!/bin/sh", "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    for i, on in orig.items():
        if on:
            lines.append("iptables -w -t nat -C POSTROUTING -o %s -j MASQUERADE 2>/dev/null || iptables -w -t nat -A POSTROUTING -o %s -j MASQUERADE" % (i, i))
        else:
            lines.append("while iptables -w -t nat -C POSTROUTING -o %s -j MASQUERADE 2>/dev/null; do iptables -w -t nat -D POSTROUTING -o %s -j MASQUERADE; done" % (i, i))
    lines.append("rm -f " + restore)
    with open(restore, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(restore, 0o700)
    unit = "fleetmasq-ab-restore-%d" % os.getpid()
    limit = int(P["restoreAfter"])
    timer = None
    if P["systemd"] and subprocess.run(["systemd-run", "--quiet", "--unit", unit, "--on-active=%d" % limit,
                                        "--timer-property=AccuracySec=1s", "/bin/sh", restore],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
        timer = ("systemd", unit)
    else:
        p = subprocess.Popen(["sh", "-c", "sleep %d; sh %s" % (limit, restore)], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        timer = ("sleeper", p.pid)
    out["abRestore"] = {"timer": timer[0], "after": limit, "original": orig}
    groups = []
    try:
        for g in range(P["ab"]["groups"]):
            on = g % 2 == 1
            set_masq(on)
            groups.append({"masquerade": on, "attempts": run_attempts(server, P["ab"]["per"])})
    finally:
        subprocess.run(["/bin/sh", restore], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if timer[0] == "systemd":
            subprocess.run(["systemctl", "stop", unit + ".timer", unit + ".service"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            try:
                os.killpg(timer[1], signal.SIGTERM)
            except OSError:
                pass
        now = {i: ipt(*rule("-C", i)) == 0 for i in P["ifaces"]}
        out["abRestored"] = now == orig
    return groups

def local_addrs():
    r = subprocess.run(["ip", "-o", "-4", "addr", "show"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True)
    res = []
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 4 and f[2] == "inet" and not f[3].startswith("127."):
            res.append((f[1].split("@")[0], f[3].split("/")[0]))
    return res

if "addrs" not in P:
    found = local_addrs()
    P["addrs"] = [a for _, a in found]
    up = [a for i, a in found if i == P["uplink"]]
    if not up:
        print("@@FMDIAG " + json.dumps({"v": 1, "error": "no IPv4 address on the uplink " + P["uplink"]}))
        sys.exit(0)
    P["uplinkAddr"] = up[0]
out["uplinkAddr"] = P["uplinkAddr"]
out["addrs"] = P["addrs"]
try:
    server = (socket.gethostbyname(P["server"][0]), int(P["server"][1]))
except OSError as e:
    print("@@FMDIAG " + json.dumps({"v": 1, "error": "cannot resolve the STUN server %s: %s" % (P["server"][0], e)}))
    sys.exit(0)
if P.get("leak", True):
    out["leak"] = leak(server)
if P.get("ab"):
    out["groups"] = ab(server)
else:
    out["attempts"] = run_attempts(server, P["attempts"])
print("@@FMDIAG " + json.dumps(out))
`;
