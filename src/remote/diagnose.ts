/**
 * The robot side of `fleetmasq diagnose`: one Python 3 program (every ROS robot has python3), sent on
 * stdin, its parameters one JSON argument (never spliced into code), its result one JSON line.
 *
 * - Run isolated (`python3 -I`, from `/`): sudo keeps the login user's home as working directory, and a
 *   plain `python3 -` puts it first on sys.path, so a `json.py` planted there would run as root.
 * - Attempts, ICE-like: a fresh UDP socket bound to each local IPv4 address (as WebRTC's host
 *   candidates are) sends a STUN Binding request; the public address seen through the uplink is read
 *   before and after each attempt, and whether it changed right after the attempt is the symptom.
 *   Replies are parsed defensively: a malformed datagram is no answer, never a crash.
 * - Leak test (root): a datagram sent from a local address that is not the uplink's, captured on the
 *   uplink after NAT (AF_PACKET sees egress after POSTROUTING): its source is the uplink's address when
 *   masquerading is in effect, else the foreign one — what the hotspot reacts to.
 * - A/B (--ab): groups alternating masquerading off/on, toggling only the live rule. The original state
 *   goes to a restore script (rendered here, in TypeScript, every name quoted) that a robot-side timer
 *   (systemd-run, else a detached sleeper) runs unless the program disarms it at its end, so a controller
 *   that dies or a link that drops never leaves the robot changed. The restore never deletes itself while
 *   the experiment runs; it first leaves a `.fired` flag, and the experiment, seeing it, toggles no more
 *   and restores again. Each toggle and each restore writes an audit line. Hangups are ignored: the
 *   program runs to its end and restores itself.
 */
import { auditLogSh } from './audit.js';
import { ENV_SH, lockSh, shQuote, unlockSh } from './script.js';
import { NFT_TABLE } from '../modules/rule.js';
import { ensureNftSh } from './rule.js';

export const DIAGNOSE_PY = String.raw`
import json, os, re, signal, socket, struct, subprocess, sys, time
COOKIE = 0x2112A442
IFACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\+?$")
DEVNULL = subprocess.DEVNULL
P = {}
out = {"v": 1}

def parse_stun(data, tid):
    """The mapped (address, port) of a Binding success for transaction tid; None for anything else.
    Never raises: a truncated or malformed datagram is no answer."""
    try:
        if not isinstance(data, bytes) or len(data) < 20 or data[8:20] != tid:
            return None
        if struct.unpack("!I", data[4:8])[0] != COOKIE:
            return None
        n = struct.unpack("!H", data[2:4])[0]
        end = min(20 + n, len(data))
        i, mapped = 20, None
        while i + 4 <= end:
            t, l = struct.unpack("!HH", data[i:i + 4])
            v = data[i + 4:i + 4 + l]
            if t in (0x0020, 0x0001) and l == 8 and len(v) == 8 and v[1] == 1:
                port = struct.unpack("!H", v[2:4])[0]
                ip = struct.unpack("!I", v[4:8])[0]
                if t == 0x0020:
                    mapped = (socket.inet_ntoa(struct.pack("!I", ip ^ COOKIE)), port ^ (COOKIE >> 16))
                elif mapped is None:
                    mapped = (socket.inet_ntoa(struct.pack("!I", ip)), port)
            i += 4 + l + (-l % 4)
        return mapped
    except Exception:
        return None

def stun(sock, server, timeout):
    tid = os.urandom(12)
    try:
        sock.sendto(struct.pack("!HHI", 1, 0, COOKIE) + tid, server)
        end = time.time() + timeout
        while True:
            left = end - time.time()
            if left <= 0:
                return None
            sock.settimeout(left)
            data, _ = sock.recvfrom(2048)
            mapped = parse_stun(data, tid)
            if mapped:
                return mapped
    except (socket.timeout, OSError):
        return None

def public(server):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((P["uplinkAddr"], 0))
        m = stun(s, server, P["timeout"])
        return m[0] if m else None
    except OSError:
        return None
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
    seen = None
    try:
        cap.settimeout(0.2)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((src, 0))
            mark = b"fleetmasq-leak-" + os.urandom(6).hex().encode()
            dst_ip = socket.inet_aton(server[0])
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
        finally:
            s.close()
    finally:
        cap.close()
    if seen is None:
        return {"result": "not-captured", "from": src}
    return {"result": "masqueraded" if seen == P["uplinkAddr"] else "leaks", "from": src, "seen": seen}

def ipt(*args):
    return subprocess.run(["iptables", "-w"] + list(args), stdout=DEVNULL, stderr=DEVNULL).returncode

def rule(op, iface):
    return ["-t", "nat", op, "POSTROUTING", "-o", iface, "-j", "MASQUERADE"]

def sh_rc(script, *args):
    """A shell fragment the controller rendered, its exit status."""
    return subprocess.run(["/bin/sh", "-c", script, "fleetmasq"] + list(args), stdout=DEVNULL, stderr=DEVNULL).returncode

def masq_state():
    """Whether the live rule is on, per interface (fleetmasq's nftables table: one state for all)."""
    if P.get("nft"):
        on = sh_rc(P["nft"]["isOn"]) == 0
        return {i: on for i in P["ifaces"]}
    return {i: ipt(*rule("-C", i)) == 0 for i in P["ifaces"]}

def set_masq(on):
    if P.get("nft"):
        sh_rc(P["nft"]["on" if on else "off"], P["nftSaved"])
        return
    for i in P["ifaces"]:
        if on:
            if ipt(*rule("-C", i)) != 0:
                ipt(*rule("-A", i))
        else:
            while ipt(*rule("-C", i)) == 0:
                if ipt(*rule("-D", i)) != 0:
                    break

def sh(script, *args):
    """A shell fragment the controller rendered (src/remote owns the robot's shell), never built here."""
    if script:
        subprocess.run(["/bin/sh", "-c", script, "fleetmasq"] + list(args), stdout=DEVNULL, stderr=DEVNULL)

def ab(server):
    orig = masq_state()
    pid = os.getpid()
    restore = "/run/fleetmasq-ab-restore-%d.sh" % pid
    fired = "/run/fleetmasq-ab-restore-%d.fired" % pid
    # fleetmasq's nftables table as it was, to put back exactly (the restore script finds it by the pid).
    P["nftSaved"] = "/run/fleetmasq-ab-restore-%d.nft" % pid
    if P.get("nft") and any(orig.values()) and sh_rc(P["nft"]["save"], P["nftSaved"]) != 0:
        raise RuntimeError("could not save fleetmasq's nftables table before the experiment")
    if os.path.exists(fired):
        os.unlink(fired)
    # Written whole and durable before anything changes; never deleted by the restore while this runs.
    tmp = restore + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
    with os.fdopen(fd, "w") as f:
        f.write(P["restoreSh"])
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, restore)
    # sh RESTORE PID STATE...: one on/off per interface, in P["ifaces"]'s order.
    args = [restore, str(pid)] + ["on" if orig[i] else "off" for i in P["ifaces"]]
    unit = "fleetmasq-ab-restore-%d" % pid
    limit = int(P["restoreAfter"])
    timer = None
    if P["systemd"] and subprocess.run(["systemd-run", "--quiet", "--unit", unit, "--on-active=%d" % limit,
                                        "--timer-property=AccuracySec=1s", "/bin/sh"] + args,
                                       stdout=DEVNULL, stderr=DEVNULL).returncode == 0:
        timer = ("systemd", unit)
    else:
        p = subprocess.Popen(["/bin/sh", "-c", 'sleep "$1"; shift; exec /bin/sh "$@"', "fleetmasq", str(limit)] + args,
                             start_new_session=True, stdout=DEVNULL, stderr=DEVNULL)
        timer = ("sleeper", p.pid)
    out["abRestore"] = {"timer": timer[0], "after": limit, "original": orig}
    groups = []
    cut = False
    try:
        for g in range(P["ab"]["groups"]):
            on = g % 2 == 1
            # Once the restore fired, nothing is toggled again: the robot stays as it was found.
            if os.path.exists(fired):
                cut = True
                break
            set_masq(on)
            sh(P.get("audit", {}).get("on" if on else "off"))
            if os.path.exists(fired):
                cut = True
                break
            attempts = run_attempts(server, P["ab"]["per"])
            # Fired during this toggle or group: the group was not all under its setting.
            if os.path.exists(fired):
                cut = True
                break
            groups.append({"masquerade": on, "attempts": attempts})
    finally:
        # Disarm first, then restore (again, if it fired: it is idempotent and after every toggle).
        if timer[0] == "systemd":
            subprocess.run(["systemctl", "stop", unit + ".timer"], stdout=DEVNULL, stderr=DEVNULL)
        else:
            try:
                os.killpg(timer[1], signal.SIGTERM)
            except OSError:
                pass
        subprocess.run(["/bin/sh"] + args, stdout=DEVNULL, stderr=DEVNULL)
        if timer[0] == "systemd":
            subprocess.run(["systemctl", "stop", unit + ".service"], stdout=DEVNULL, stderr=DEVNULL)
            subprocess.run(["systemctl", "reset-failed", unit + ".service", unit + ".timer"], stdout=DEVNULL, stderr=DEVNULL)
        now = masq_state()
        out["abRestored"] = now == orig
        if cut:
            out["abCutShort"] = True
        for f in (restore, fired, P["nftSaved"]):
            try:
                os.unlink(f)
            except OSError:
                pass
    return groups

def local_addrs():
    r = subprocess.run(["ip", "-o", "-4", "addr", "show"], stdout=subprocess.PIPE, stderr=DEVNULL, universal_newlines=True, errors="replace")
    res = []
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 4 and f[2] == "inet" and not f[3].startswith("127."):
            a = f[3].split("/")[0]
            try:
                socket.inet_aton(a)
            except OSError:
                continue
            res.append((f[1].split("@")[0], a))
    return res

def result(extra):
    print("@@FMDIAG " + json.dumps(dict(out, **extra)))

def main():
    P.update(json.loads(sys.argv[1]))
    # The controller validated these; a name that is not an interface name never reaches a command.
    if not IFACE.match(P["uplink"]) or P["uplink"].endswith("+") or not all(IFACE.match(i) for i in P["ifaces"]):
        result({"error": "refused: an interface name that is not one"})
        return
    if "addrs" not in P:
        found = local_addrs()
        P["addrs"] = [a for _, a in found]
        up = [a for i, a in found if i == P["uplink"]]
        if not up:
            result({"error": "no IPv4 address on the uplink " + P["uplink"]})
            return
        P["uplinkAddr"] = up[0]
    out["uplinkAddr"] = P["uplinkAddr"]
    out["addrs"] = P["addrs"]
    try:
        server = (socket.gethostbyname(P["server"][0]), int(P["server"][1]))
    except (OSError, ValueError) as e:
        result({"error": "cannot resolve the STUN server %s: %s" % (P["server"][0], e)})
        return
    if P.get("leak", True):
        out["leak"] = leak(server)
    if P.get("ab"):
        out["groups"] = ab(server)
    else:
        out["attempts"] = run_attempts(server, P["attempts"])
    result({})

if __name__ == "__main__":
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        main()
    except Exception as e:
        # A failure of this program is this robot's failure, said as such (the A/B restore already ran).
        result({"crash": ("%s: %s" % (type(e).__name__, e))[:300]})
`;

/**
 * The A/B restore script, run as `sh SCRIPT PID STATE...` (one `on`/`off` per interface, in order; PID:
 * the experiment's). Idempotent: it puts each interface's live rule back as it was found, whoever runs it
 * and however often. It flags that it fired (`<script>.fired`) before it changes anything, and deletes
 * itself only once the experiment is gone (the experiment cleans up after itself).
 */
export function abRestoreSh(ifaces: string[], restoredAudit = '', nft?: NftSwitch): string {
  if (nft) return abRestoreNftSh(nft, restoredAudit);
  return `#!/bin/sh
${ENV_SH}
: > "\${0%.sh}.fired"
fm_pid=$1; shift
fm_r=0
for fm_i in ${ifaces.map(shQuote).join(' ')}; do
  [ $# -gt 0 ] || break
  fm_s=$1; shift
  if [ "$fm_s" = on ]; then
    iptables -w -t nat -C POSTROUTING -o "$fm_i" -j MASQUERADE 2>/dev/null || iptables -w -t nat -A POSTROUTING -o "$fm_i" -j MASQUERADE || fm_r=1
  else
    while iptables -w -t nat -C POSTROUTING -o "$fm_i" -j MASQUERADE 2>/dev/null; do
      iptables -w -t nat -D POSTROUTING -o "$fm_i" -j MASQUERADE || { fm_r=1; break; }
    done
  fi
done
${restoredAudit}
kill -0 "$fm_pid" 2>/dev/null || rm -f "$0" "\${0%.sh}.fired"
exit $fm_r
`;
}

/**
 * How --ab switches masquerading on a robot whose rule is fleetmasq's nftables table: the whole table
 * off (deleted) and on (put back exactly as it was, from a copy saved before the experiment, or made
 * from the spec when there was none). Each fragment reads the copy's path from \$fm_saved.
 */
export interface NftSwitch {
  isOn: string;
  save: string;
  on: string;
  off: string;
}

export function nftSwitch(spec: string): NftSwitch {
  const has = `nft list table ${NFT_TABLE} >/dev/null 2>&1`;
  return {
    isOn: has,
    save: `fm_saved=$1\nnft list table ${NFT_TABLE} > "$fm_saved.tmp" && mv "$fm_saved.tmp" "$fm_saved"`,
    on: `fm_saved=$1\n${has} || { if [ -s "$fm_saved" ]; then nft -f "$fm_saved"; else ${ensureNftSh(spec)}; fi; }`,
    off: `${has} && nft delete table ${NFT_TABLE}; ! ${has}`,
  };
}

/** The A/B restore script for fleetmasq's nftables table: `sh SCRIPT PID STATE` (the table's state, on/off). */
function abRestoreNftSh(nft: NftSwitch, restoredAudit: string): string {
  return `#!/bin/sh
${ENV_SH}
: > "\${0%.sh}.fired"
fm_pid=$1
fm_s=$2
set -- "\${0%.sh}.nft"
fm_r=0
if [ "$fm_s" = on ]; then
  { ${nft.on.replace(/\n/g, '\n  ')}
  } || fm_r=1
else
  { ${nft.off}
  } || fm_r=1
fi
${restoredAudit}
kill -0 "$fm_pid" 2>/dev/null || rm -f "$0" "\${0%.sh}.fired" "\${0%.sh}.nft"
exit $fm_r
`;
}

export interface DiagnoseParams {
  uplink: string;
  ifaces: string[];
  server: [string, string];
  attempts: number;
  timeout: number;
  candidateTimeout: number;
  settle: number;
  gap: number;
  leak: boolean;
  systemd: boolean;
  ab?: { groups: number; per: number };
  /** Seconds until the robot-side timer restores the live rule (--ab). */
  restoreAfter?: number;
  /** --ab on a robot whose masquerading is fleetmasq's nftables table: how to switch it. */
  nft?: NftSwitch;
}

/**
 * The whole diagnose command: the isolated Python program, from `/`. With --ab it holds the robot's lock
 * for the whole restore window (until the experiment ends and, should it die, until its timer has put the
 * rule back: a run that took the robot in between would see its change undone), and the restore script
 * and the audit fragments travel in the parameters. `expectedS`: how long the experiment should take.
 */
export function diagnoseScript(
  p: DiagnoseParams,
  o: { expectedS: number; lock?: { runId: string; holder: string }; audit?: { by: string; command: string } },
): string {
  const audit = (what: string) => (o.audit ? auditLogSh([what], o.audit.by, o.audit.command) : '');
  const on = p.ifaces.join(',');
  const params = {
    ...p,
    ...(p.ab
      ? {
          restoreSh: abRestoreSh(p.ifaces, audit(`A/B experiment: the live rule on ${on} restored as it was found`), p.nft),
          audit: { off: audit(`A/B experiment: masquerading switched off (${on})`), on: audit(`A/B experiment: masquerading switched on (${on})`) },
        }
      : {}),
  };
  const held = p.ab && o.lock;
  const lock = held ? lockSh({ ...o.lock!, ttlS: Math.ceil(Math.max(o.expectedS, p.restoreAfter ?? 0)) + 90 }) : '';
  const unlock = held ? unlockSh(o.lock!.runId) : '';
  return `${ENV_SH}
${lock}
if ! command -v python3 >/dev/null 2>&1; then echo '@@FMDIAG {"v":1,"nopython":true}'; ${unlock ? `${unlock}; ` : ''}exit 0; fi
python3 -I - ${shQuote(JSON.stringify(params))} <<'FMPY'
${DIAGNOSE_PY}
FMPY
${unlock}`;
}
