/**
 * rc.local as written on robots (pure editing). fleetmasq's lines live in one delimited block placed
 * before the first top-level `exit` (lines after it never run), or at the end when there is none. Every
 * other byte is kept, and the block records what apply changed (file created, shebang added, mode, missing final
 * newline), so removing it gives back the file exactly as it was.
 */
import type { RuleBackend } from '../../modules/rule.js';
import { ensureNftSh, ensureRuleSh, specIn } from '../rule.js';
import { bootMarkerSh } from '../script.js';

export const BEGIN = '# BEGIN fleetmasq managed block: NAT masquerade for WebRTC (do not edit; `fleetmasq remove` takes it out)';
export const END = '# END fleetmasq managed block';

export interface RcMeta {
  created: boolean;
  shebangAdded: boolean;
  mode: number;
  noEol: boolean;
}

export interface RcFile {
  content: string;
  mode: number;
}

const EXIT_RE = /^exit(\s+[0-9]+)?\s*(;\s*)?(#.*)?$/;

/** The block's lines run under `sh -e` too: nothing in it can fail the script. */
export function blockBody(iface: string, backend: RuleBackend = 'iptables'): string[] {
  return [
    `if ${backend === 'nft' ? ensureNftSh(iface) : ensureRuleSh(iface)}; then`,
    `  { ${bootMarkerSh('rc.local', iface)}; } || true`,
    `fi`,
  ];
}

function metaLine(m: RcMeta): string {
  return `# fleetmasq-meta: created=${+m.created} shebang-added=${+m.shebangAdded} mode=${m.mode.toString(8).padStart(4, '0')} noeol=${+m.noEol}`;
}

export function parseMeta(line: string): RcMeta | undefined {
  const m = /^# fleetmasq-meta: created=([01]) shebang-added=([01]) mode=([0-7]{3,4}) noeol=([01])$/.exec(line);
  if (!m) return undefined;
  return { created: m[1] === '1', shebangAdded: m[2] === '1', mode: parseInt(m[3]!, 8), noEol: m[4] === '1' };
}

/**
 * Why fleetmasq's markers cannot be trusted (a BEGIN without its END, two blocks, END before BEGIN:
 * edited by hand), or undefined when there are none or exactly one well-formed block. A damaged file
 * is never edited: a block taken between the wrong markers would take the admin's lines with it.
 */
export function blockDamage(content: string): string | undefined {
  const lines = content.split('\n');
  const begins = lines.flatMap((l, i) => (l === BEGIN ? [i] : []));
  const ends = lines.flatMap((l, i) => (l === END ? [i] : []));
  if (!begins.length && !ends.length) return undefined;
  if (begins.length === 1 && ends.length === 1 && begins[0]! < ends[0]!) return undefined;
  return `its fleetmasq markers are damaged (${begins.length} BEGIN, ${ends.length} END${begins.length === 1 && ends.length === 1 ? ', END first' : ''}): edited by hand? Fix the file by hand; fleetmasq will not edit it`;
}

/** Whether any fleetmasq marker line is in the file (a block, or what is left of one). */
export function hasMarkers(content: string): boolean {
  return content.split('\n').some((l) => l === BEGIN || l === END);
}

/** Finds fleetmasq's block: line indexes of BEGIN and END, its meta and the interface it sets. */
export function findBlock(content: string): { begin: number; end: number; meta?: RcMeta; iface?: string } | undefined {
  if (blockDamage(content)) return undefined;
  const lines = content.split('\n');
  const begin = lines.indexOf(BEGIN);
  if (begin < 0) return undefined;
  const end = lines.indexOf(END, begin);
  const meta = parseMeta(lines[begin + 1] ?? '');
  const iface = specIn(lines.slice(begin, end).join('\n'));
  return { begin, end, meta, iface };
}

/** The file fleetmasq creates when there is none, less its block. */
const CREATED_REST = '#!/bin/sh\nexit 0\n';

/**
 * The file as it was before fleetmasq. Undefined: fleetmasq created it and nobody has added to it
 * since, so it should not exist; a created file that an admin added lines to keeps them.
 */
export function removeBlock(file: RcFile): RcFile | undefined {
  const b = findBlock(file.content);
  if (!b) return file;
  const lines = file.content.split('\n');
  lines.splice(b.begin, b.end - b.begin + 1);
  const meta = b.meta ?? { created: false, shebangAdded: false, mode: file.mode, noEol: false };
  if (meta.created) return lines.join('\n') === CREATED_REST ? undefined : { content: lines.join('\n'), mode: file.mode };
  if (meta.shebangAdded && lines[0] === '#!/bin/sh') lines.shift();
  let content = lines.join('\n');
  if (meta.noEol && content.endsWith('\n')) content = content.slice(0, -1);
  return { content, mode: meta.mode };
}

/** rc.local with fleetmasq's block for `iface` (replacing an older block). */
export function withBlock(current: RcFile | undefined, iface: string, backend: RuleBackend = 'iptables'): RcFile {
  let original = current;
  let meta: RcMeta | undefined;
  if (current) {
    const b = findBlock(current.content);
    if (b?.meta) meta = b.meta;
    if (b) original = removeBlock(current);
  }
  if (!original) {
    meta ??= { created: true, shebangAdded: false, mode: 0o755, noEol: false };
    const content = ['#!/bin/sh', BEGIN, metaLine(meta), ...blockBody(iface, backend), END, 'exit 0', ''].join('\n');
    return { content, mode: meta.mode };
  }
  let text = original.content;
  const noEol = text.length > 0 && !text.endsWith('\n');
  if (noEol) text += '\n';
  const lines = text.split('\n'); // last element is '' (after the final newline)
  let shebangAdded = false;
  if (!lines[0]?.startsWith('#!')) {
    lines.unshift('#!/bin/sh');
    shebangAdded = true;
  }
  meta ??= { created: false, shebangAdded, mode: original.mode, noEol };
  const block = [BEGIN, metaLine(meta), ...blockBody(iface, backend), END];
  const exitAt = lines.findIndex((l, i) => i > 0 && EXIT_RE.test(l));
  if (exitAt >= 0) lines.splice(exitAt, 0, ...block);
  else lines.splice(lines.length - 1, 0, ...block);
  // The admin's mode is kept; only the owner's exec bit is added (root runs it: enough for systemd's
  // rc-local.service and for init scripts). A 0700 file stays 0700.
  return { content: lines.join('\n'), mode: original.mode | 0o100 };
}

/** Top-level lines after the first top-level exit: they never run (a classic hand-made mistake). */
export function deadLinesAfterExit(content: string): string[] {
  const lines = content.split('\n');
  const exitAt = lines.findIndex((l, i) => i > 0 && EXIT_RE.test(l));
  if (exitAt < 0) return [];
  return lines.slice(exitAt + 1).filter((l) => l.trim() && !l.trim().startsWith('#'));
}
