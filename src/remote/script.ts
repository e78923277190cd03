/**
 * The one owner of the shell that runs on robots: the script preamble, quoting, the markers that
 * delimit a script's output, and their parser. Facts (src/facts) and changes (src/modules) write their
 * fragments; this module puts them together and reads the result back.
 */
import { shQuote } from '../util/quote.js';
import { BOOT_ID_PATH, LOCK, LOCK_DIR, MARKER, MARKER_DIR } from './paths.js';

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
fm_say() { echo "$@" 2>/dev/null || :; }
fm_step() { fm_say "${MARK} step $1"; }
fm_sync() { sync "$1" 2>/dev/null || sync; }
fm_write() {
  tmp="$1.fleetmasq-tmp.$$"
  if printf '%s' "$3" | base64 -d > "$tmp" && chmod "$2" "$tmp" && fm_sync "$tmp" && mv -f "$tmp" "$1"; then fm_sync "\${1%/*}"; else rm -f "$tmp"; return 1; fi
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
  /** Seconds until a lock whose holder died is free again. */
  ttlS: number;
  /** Who holds it, for the one who meets it: "user@controller command since". */
  holder: string;
}

/**
 * Takes the robot's lock, or prints `@@FM locked <holder>` and exits 75 when another live run holds it.
 * Created whole (written, then hard-linked into place: a link fails if the lock exists), so a reader never
 * sees half a holder; an expired lock (its holder died) is taken over.
 */
export function lockSh(l: LockSpec): string {
  return `mkdir -p ${LOCK_DIR}
fm_lt="${LOCK}.$$"; fm_now=$(date +%s)
echo ${shQuote(l.runId)} $((fm_now + ${l.ttlS})) ${shQuote(l.holder)} > "$fm_lt"
if ! ln "$fm_lt" ${LOCK} 2>/dev/null; then
  read -r fm_id fm_exp fm_who < ${LOCK} || { fm_id=; fm_exp=0; fm_who=; }
  if [ "$fm_id" != ${shQuote(l.runId)} ] && [ "\${fm_exp:-0}" -gt "$fm_now" ]; then rm -f "$fm_lt"; echo "${MARK} locked $fm_who"; exit 75; fi
  mv -f "$fm_lt" ${LOCK}
fi
rm -f "$fm_lt"`;
}

/** Lets go of the lock if this run holds it. */
export function unlockSh(runId: string): string {
  return `if read -r fm_id _ < ${LOCK} 2>/dev/null && [ "$fm_id" = ${shQuote(runId)} ]; then rm -f ${LOCK}; fi`;
}

/** The holder named in a script's output when another run held the robot's lock. */
export function lockedBy(stdout: string): string | undefined {
  return /^@@FM locked (.*)$/m.exec(stdout)?.[1];
}
