/**
 * The change script's frame: its preamble and helpers (fm_write, fm_sync), the markers that delimit a
 * script's output and their parser, the boot marker, and the robot's lock. Each operation's own step is
 * src/remote/ops.ts's; the facts' sections are src/facts'; the whole change script is src/remote/change.ts.
 */
import { shQuote } from './quote.js';
import { BOOT_ID_PATH, LOCK, LOCK_DIR, MARKER, MARKER_DIR, UPTIME_PATH } from './paths.js';

export { shQuote };

export function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

/** Output lines that start a section: `@@FM <name>` (a step, the end of a change script, a fact). */
const MARK = '@@FM';
const MARK_LINE = /^@@FM (\w+)(?: (\S+))?$/;

/**
 * A fixed locale and PATH: what the robot's tools print is what the parsers expect. And `/` as working
 * directory: sudo keeps the login user's (their home), where nothing run as root may look for code or files.
 */
export const ENV_SH = 'export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\ncd /';

/** Shell of a section marker (a newline first: the previous output may not end in one). */
export const SECTION_FN = `m() { printf '\\n${MARK} %s\\n' "$1"; }`;

/** The helpers every change script has: step markers, durable syncs, atomic writes. */
const CHANGE_HEAD = `set -eu
${ENV_SH}
# A change runs to its end even when the link to the controller drops mid-way (the controller reports the
# robot unreachable and the next run reads what it finds): no hangup, and output that can no longer be
# delivered is no error. So a robot is either as it was or fully changed, never half.
trap '' HUP PIPE
# Whichever way it ends (a failed step, an exit, INT, TERM), a script leaves no temp file behind (and,
# holding the lock until its exit, lets go of it: see lockSh).
fm_tmp=
trap 'fm_rc=$?; set +e; [ -z "$fm_tmp" ] || rm -f "$fm_tmp"; exit $fm_rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fm_say() { echo "$@" 2>/dev/null || :; }
fm_step() { fm_say "${MARK} step $1"; }
fm_sync() { sync "$1" 2>/dev/null || sync; }
fm_write() {
  fm_tmp="$1.fleetmasq-tmp.$$"
  if printf '%s' "$3" | base64 -d > "$fm_tmp" && chmod "$2" "$fm_tmp" && fm_sync "$fm_tmp" && mv -f "$fm_tmp" "$1"; then fm_tmp=; fm_sync "\${1%/*}"; else rm -f "$fm_tmp"; fm_tmp=; return 1; fi
}
`;

export interface Step {
  name: string;
  sh: string;
}

/**
 * One change script: each step announced before it runs (so a failure names its step), `done` at the
 * end; `then` (the facts script) runs after it in the same round trip, with errors no longer fatal.
 */
export function renderScript(steps: Step[], then = ''): string {
  return CHANGE_HEAD + steps.map((s) => `fm_step ${shQuote(s.name)}\n${s.sh}\n`).join('') + `fm_say "${MARK} done"\n` + (then ? `set +eu\n${then}` : '');
}

/** The outcome of a change script: whether it got to the end, the last step it started, what followed. */
export function parseRun(stdout: string): { done: boolean; lastStep?: string; after: string } {
  let lastStep: string | undefined;
  const lines = stdout.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = MARK_LINE.exec(lines[i]!);
    if (!m) continue;
    if (m[1] === 'step') lastStep = m[2];
    if (m[1] === 'done') return { done: true, lastStep, after: lines.slice(i + 1).join('\n') };
  }
  return { done: false, lastStep, after: '' };
}

/** Splits output into its `@@FM name` sections (trailing blank lines dropped). */
export function sections(out: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of out.split('\n')) {
    const m = MARK_LINE.exec(line);
    if (m && m[2] === undefined) map.set(m[1]!, (cur = []));
    else cur?.push(line);
  }
  for (const v of map.values()) while (v.length && v[v.length - 1] === '') v.pop();
  return map;
}

/**
 * The boot hook's last line: records that persistence fired at this boot (see MARKER). `$` is escaped
 * by the caller where its container needs it (systemd doubles it).
 */
export function bootMarkerSh(method: 'systemd' | 'rc.local', iface: string): string {
  return `mkdir -p ${MARKER_DIR} && echo "$(cat ${BOOT_ID_PATH}) ${method} ${iface}" > ${MARKER}`;
}

/** A run's hold on a robot while it changes it. */
export interface LockSpec {
  /** This run's id: it may take its own lock again (a playbook's later tasks). */
  runId: string;
  /** Seconds until a lock whose holder died is free again (read on the robot's monotonic clock). */
  ttlS: number;
  /** Who holds it, for the one who meets it: "user@controller command since". */
  holder: string;
  /**
   * `exit` (a change script): the lock goes when the script ends, whichever way (a trap on EXIT, INT and
   * TERM), and a lock whose script is no longer running (killed) is free at once. `keep` (the default:
   * a reboot, an experiment with a restore timer): the lock outlives the script and lasts until it is let
   * go, its expiry, or the next boot.
   */
  until?: 'exit' | 'keep';
}

/**
 * The lock's shell functions (defined by lockSh and by unlockSh, so either stands alone):
 * - fm_lock_read: the lock as it is: fm_id (run id), fm_who (holder), fm_raw (its bytes: each lock's are
 *   unique, as it holds its run id, pid, pid start and times), fm_tok (their cksum, which names a claim), fm_free=1 when it may be taken (taken at
 *   an earlier boot, expired on the monotonic clock, or an `exit` lock whose script is gone), else fm_left
 *   (seconds until it expires), fm_since (epoch s), fm_alive (1: its script still runs, 0: gone, ?).
 *   A lock of an older fleetmasq (one line) expires on the wall clock, as it did then.
 * - fm_lock_act mv|rm: replaces (by this script's new lock, $fm_lt) or deletes the lock instance that
 *   fm_lock_read read (its bytes: $fm_raw), exactly once among all who try: a claim directory named after the instance is made first
 *   (mkdir: exactly one maker wins), then the lock is checked to be that instance still (nobody else can
 *   act on it while the claim stands; a new lock can only be linked where there is none), then acted on.
 * Every value read from the lock is checked before it reaches arithmetic.
 */
const LOCK_FNS = `fm_num() { case "$1" in ''|*[!0-9]*) return 1;; esac; }
fm_pstart() { [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }
fm_lock_read() {
  fm_id=; fm_wexp=; fm_who=; fm_v=; fm_lboot=; fm_uexp=; fm_since=; fm_pid=; fm_pst=; fm_until=; fm_free=0; fm_left=; fm_alive=?
  # Read once: the fields and the instance's token come from the same bytes.
  fm_raw=$(cat ${LOCK} 2>/dev/null) || return 1
  { read -r fm_id fm_wexp fm_who; read -r fm_v fm_lboot fm_uexp fm_since fm_pid fm_pst fm_until; } <<FMLOCK || :
$fm_raw
FMLOCK
  fm_tok=$(printf '%s\\n' "$fm_raw" | cksum)
  read -r fm_boot < ${BOOT_ID_PATH} || fm_boot=
  read -r fm_up _ < ${UPTIME_PATH} || fm_up=0; fm_up=\${fm_up%%.*}; fm_num "$fm_up" || fm_up=0
  if [ "$fm_v" = fm2 ] && fm_num "$fm_uexp" && fm_num "$fm_since"; then
    if fm_num "$fm_pid" && fm_num "$fm_pst"; then
      if [ "$(fm_pstart "$fm_pid")" = "$fm_pst" ]; then fm_alive=1; else fm_alive=0; fi
    fi
    if [ "$fm_lboot" != "$fm_boot" ] || [ "$fm_up" -ge "$fm_uexp" ] || { [ "$fm_until" = exit ] && [ "$fm_alive" = 0 ]; }; then fm_free=1
    else fm_left=$((fm_uexp - fm_up)); fi
  elif fm_num "$fm_wexp" && [ "$fm_wexp" -gt "$(date +%s)" ]; then fm_left=$((fm_wexp - $(date +%s)))
  else fm_free=1; fi
  return 0
}
fm_lock_act() {
  fm_c="${LOCK}.took.\${fm_tok% *}.\${fm_tok#* }"
  if ! mkdir "$fm_c" 2>/dev/null; then
    # A claim whose maker died between its mkdir and rmdir (a few commands) is cleared after a minute.
    find ${LOCK_DIR} -maxdepth 1 -name 'fleetmasq.lock.took.*' -mmin +1 -exec rmdir {} + 2>/dev/null || :
    mkdir "$fm_c" 2>/dev/null || return 1
  fi
  if [ "$(cat ${LOCK} 2>/dev/null)" = "$fm_raw" ]; then
    if [ "$1" = mv ]; then mv -f "$fm_lt" ${LOCK}; else rm -f ${LOCK}; fi; fm_r=$?
  else fm_r=1; fi
  rmdir "$fm_c" 2>/dev/null || :
  return $fm_r
}`;

/** A holder as one line of the lock file (no control characters). */
const holderLine = (h: string) => h.replace(/[\x00-\x1f\x7f]+/g, ' ');

/**
 * Takes the robot's lock, or prints `@@FM lockinfo <since> <left> <alive>` and `@@FM locked <holder>`
 * and exits 75 when another live run holds it. Created whole (written, then hard-linked into place: a
 * link fails if the lock exists), so a reader never sees half a holder. A lock that is free (expired on
 * the robot's monotonic clock, taken at an earlier boot, or an `exit` lock whose script is gone) is
 * taken over atomically (fm_lock_act): of several runs that find it free at once, exactly one gets it.
 * With `until: 'exit'`, a trap lets go of it however the script ends (a failed step under `set -e`, an
 * `exit`, INT, TERM); hangups stay ignored (the change runs to its end).
 */
export function lockSh(l: LockSpec): string {
  const id = shQuote(l.runId);
  const until = l.until ?? 'keep';
  return `${LOCK_FNS}
mkdir -p ${LOCK_DIR}
fm_lt="${LOCK}.$$"; fm_now=$(date +%s)
read -r fm_boot < ${BOOT_ID_PATH} || fm_boot=; read -r fm_up _ < ${UPTIME_PATH} || fm_up=0; fm_up=\${fm_up%%.*}; fm_num "$fm_up" || fm_up=0
printf '%s %s %s\\nfm2 %s %s %s %s %s %s\\n' ${id} $((fm_now + ${l.ttlS})) ${shQuote(holderLine(l.holder))} "$fm_boot" $((fm_up + ${l.ttlS})) "$fm_now" $$ "$(fm_pstart $$)" ${until} > "$fm_lt"
fm_got=
for fm_try in 1 2 3; do
  if ln "$fm_lt" ${LOCK} 2>/dev/null; then fm_got=1; break; fi
  fm_lock_read || continue
  if [ "$fm_id" != ${id} ] && [ "$fm_free" != 1 ]; then break; fi
  if fm_lock_act mv; then fm_got=1; break; fi
done
if [ -z "$fm_got" ]; then
  rm -f "$fm_lt"; fm_lock_read || :
  printf '\\n${MARK} lockinfo %s %s %s\\n${MARK} locked %s\\n' "\${fm_since:--}" "\${fm_left:--}" "$fm_alive" "\${fm_who:-another run}" || :; exit 75
fi
rm -f "$fm_lt"${until === 'exit' ? `\nfm_unlock_mine() { ${unlockFn(id)}; }\ntrap 'fm_rc=$?; set +e; [ -z "\${fm_tmp-}" ] || rm -f "$fm_tmp"; fm_unlock_mine; exit $fm_rc' EXIT\ntrap 'exit 130' INT\ntrap 'exit 143' TERM` : ''}`;
}

const unlockFn = (id: string) => `if fm_lock_read && [ "$fm_id" = ${id} ]; then fm_lock_act rm || :; fi`;

/** Lets go of the lock if this run holds it. */
export function unlockSh(runId: string): string {
  return `${LOCK_FNS}
${unlockFn(shQuote(runId))}`;
}

/** The holder named in a script's output when another run held the robot's lock. */
export function lockedBy(stdout: string): string | undefined {
  return /^@@FM locked (.*)$/m.exec(stdout)?.[1];
}

/** What a refused run learns of the lock that refused it. */
export interface LockInfo {
  holder: string;
  /** When it was taken (epoch s), by the robot's clock. */
  since?: number;
  /** Seconds until it expires (the robot's monotonic clock). */
  leftS?: number;
  /** Whether the script that took it still runs on the robot (undefined: unknown, e.g. a reboot's lock). */
  alive?: boolean;
}

export function lockInfo(stdout: string): LockInfo | undefined {
  const holder = lockedBy(stdout);
  if (holder === undefined) return undefined;
  const m = /^@@FM lockinfo (\d+|-) (\d+|-) ([01?])$/m.exec(stdout);
  const num = (v?: string) => (v && v !== '-' ? Number(v) : undefined);
  return { holder, since: num(m?.[1]), leftS: num(m?.[2]), alive: m?.[3] === '1' ? true : m?.[3] === '0' ? false : undefined };
}

/**
 * The truth about a lock that refused a run, for its message: a live holder's script is running on the
 * robot (it is changing it); a gone one may have died, or keeps the lock on purpose (a reboot, an A/B
 * experiment); an older fleetmasq's lock cannot tell which.
 */
export function lockMessage(i: LockInfo): string {
  const since = i.since !== undefined ? new Date(i.since * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined;
  const left = i.leftS !== undefined ? `; the lock expires in ${i.leftS < 120 ? `${i.leftS} s` : `${Math.round(i.leftS / 60)} min`}` : '';
  if (i.alive) return `locked by ${i.holder}: another run is changing this robot (its script is running there${since ? `, since ${since}` : ''})${left}`;
  if (i.alive === false)
    return `locked by ${i.holder}${since ? ` since ${since}` : ''}: held by a run that may have died, or that keeps it on purpose (a reboot, an A/B experiment)${left}`;
  return `locked by ${i.holder}: another run is changing this robot, or held it and died${left}`;
}
