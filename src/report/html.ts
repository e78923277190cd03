/**
 * One self-contained HTML file (no network needed): the fleet at a glance. A tile per robot coloured by
 * state, counts, a filter by state and name, and per robot its reasons, interface, backend, persistence,
 * boot_id and when it was checked. Data is embedded as JSON; the page stays usable at thousands of robots.
 */
import type { HostResult } from '../runner/types.js';
import { DRY_RUN_BANNER, robotsText, summarize, type RunInfo } from './summary.js';
import { fieldText, ROBOT_FIELDS, whyLines } from './fields.js';

/** The page's columns after Robot, State and Reasons: the declared fields that have one. */
const COLUMNS = ROBOT_FIELDS.filter((f) => f.html);

export type TileState = 'compliant' | 'changed' | 'noncompliant' | 'failed' | 'unreachable' | 'skipped' | 'ok';

export function tileState(r: HostResult): TileState {
  if (r.status === 'unreachable') return 'unreachable';
  if (r.status === 'skipped') return 'skipped';
  if (r.compliant === false) return 'noncompliant';
  if (r.status === 'failed') return 'failed';
  if (r.compliant === true) return 'compliant';
  return r.status === 'changed' ? 'changed' : 'ok';
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The run and every robot's row, as the JSON the page embeds (a `<` never closes the script). */
function pageData(results: HostResult[], info: RunInfo): string {
  const s = summarize(results, info.command);
  const rows = results.map((r) => ({
    name: r.host,
    state: tileState(r),
    status: r.status,
    compliant: r.compliant ?? null,
    reasons: whyLines(r),
    changes: r.changes,
    warnings: r.warnings,
    firedThisBoot: r.details.firedThisBoot ?? null,
    // Every declared field's words, as the recap shows them (PERSIST `missing` included).
    fields: Object.fromEntries(ROBOT_FIELDS.filter((f) => f.text).map((f) => [f.key, fieldText(f, r) || null])),
  }));
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.state] = (counts[r.state] ?? 0) + 1;
  const run = {
    command: info.command,
    checkMode: info.checkMode,
    inventory: info.inventory,
    limit: info.limit ?? null,
    playbook: info.playbook ?? null,
    stopped: info.stopped ?? null,
    banner: info.checkMode ? DRY_RUN_BANNER : null,
  };
  const columns = COLUMNS.map((f) => ({ key: f.key, header: f.html!.header, code: Boolean(f.html!.code) }));
  return JSON.stringify({ ...run, startedAt: info.startedAt.toISOString(), summary: s, counts, columns, robots: rows }).replace(/</g, '\\u003c');
}

export function htmlReport(results: HostResult[], info: RunInfo): string {
  const command = info.command;
  const total = results.length;
  const data = pageData(results, info);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fleetmasq ${esc(command)} — ${robotsText(total)}</title>
<style>
${PAGE_STYLE}</style></head>
<body>
<header><h1>fleetmasq ${esc(command)}${info.checkMode ? ' (dry run)' : ''}: <span id="title-summary"></span></h1><p id="when"></p><p id="source"></p></header>
${info.checkMode ? `<div class="banner" id="dry-run">${esc(DRY_RUN_BANNER)}</div>` : ''}${info.stopped ? `<div class="banner stopped" id="stopped">stopped: ${esc(info.stopped)}</div>` : ''}
<main>
<div class="counts" id="counts" role="toolbar" aria-label="filter by state"></div>
<div class="controls"><input type="search" id="q" placeholder="filter robots by name…" aria-label="filter by name"><span id="shown" class="muted"></span></div>
<div id="tiles" aria-label="robots"></div>
<table><thead><tr><th>Robot</th><th>State</th><th>Reasons / changes</th>${COLUMNS.map((f) => `<th>${esc(f.html!.header)}</th>`).join('')}</tr></thead><tbody id="rows"></tbody></table>
</main>
<script id="data" type="application/json">${data}</script>
<script>
${PAGE_SCRIPT}</script>
</body></html>
`;
}

/** The page's style (no interpolation: the same for every run). */
const PAGE_STYLE = `:root{--compliant:#2e9d4f;--ok:#2e9d4f;--changed:#2f6fd6;--noncompliant:#d93b3b;--failed:#a01818;--unreachable:#e68a00;--skipped:#8a8f98}
*{box-sizing:border-box}body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1c1f24;background:#f6f7f9}
header{padding:16px 20px;background:#1c1f24;color:#fff}header h1{margin:0;font-size:18px}header p{margin:4px 0 0;color:#b8bdc6}
main{padding:16px 20px}.counts{display:flex;gap:8px;flex-wrap:wrap;margin-bottom:12px}
.count{border:0;border-radius:6px;padding:8px 12px;color:#fff;font-weight:600;cursor:pointer;opacity:.95}
.count[aria-pressed=false]{opacity:.35}.count span{font-size:18px;margin-right:6px}
.controls{display:flex;gap:12px;align-items:center;margin-bottom:12px}input[type=search]{padding:6px 10px;width:280px;border:1px solid #c9ced6;border-radius:6px}
#tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(22px,1fr));gap:3px;margin-bottom:16px}
.tile{height:22px;border-radius:3px;cursor:pointer;border:0;padding:0}.tile:focus{outline:2px solid #1c1f24}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#eef0f3;position:sticky;top:0}td.reasons{max-width:520px}.badge{display:inline-block;padding:1px 6px;border-radius:4px;color:#fff;font-size:12px}
code{font-size:12px}.banner{padding:10px 20px;background:#fff3c4;font-weight:600}.banner.stopped{background:#fde2e2}.muted{color:#6b717b}td:first-child,td[data-field=checkedAt]{white-space:nowrap}
`;

/** The page's script: the counts as filters, the tiles and the table, drawn from the embedded data. */
const PAGE_SCRIPT = `(function(){
var D=JSON.parse(document.getElementById('data').textContent);
var LABEL={compliant:'compliant',ok:'ok',changed:'changed',noncompliant:'non-compliant',failed:'failed',unreachable:'unreachable',skipped:'skipped'};
var ORDER=['compliant','ok','changed','noncompliant','failed','unreachable','skipped'];
var active={};ORDER.forEach(function(s){active[s]=true;});
var S=D.summary;document.getElementById('title-summary').textContent=D.summary.total+(D.summary.total===1?' robot':' robots')+(S.compliant!==undefined?' — '+S.compliant+' of '+S.total+' compliant'+(S.unknown?', '+S.unknown+' unknown':''):'');
document.getElementById('source').textContent='inventory '+D.inventory+(D.limit!==null?' · limit '+D.limit:'')+(D.playbook!==null?' · playbook '+D.playbook:'');
document.getElementById('when').textContent='run started '+D.startedAt;
var counts=document.getElementById('counts');
ORDER.forEach(function(s){if(!D.counts[s])return;var b=document.createElement('button');b.className='count';b.dataset.state=s;
b.style.background='var(--'+s+')';b.setAttribute('aria-pressed','true');b.innerHTML='<span>'+D.counts[s]+'</span>'+LABEL[s];
b.onclick=function(){active[s]=!active[s];b.setAttribute('aria-pressed',String(active[s]));render();};counts.appendChild(b);});
function txt(v){return v===null||v===undefined?'':String(v);}
function render(){
  var q=document.getElementById('q').value.trim().toLowerCase();
  var list=D.robots.filter(function(r){return active[r.state]&&(!q||r.name.toLowerCase().indexOf(q)>=0);});
  var tiles=document.getElementById('tiles');tiles.textContent='';
  var rows=document.getElementById('rows');rows.textContent='';
  var fragT=document.createDocumentFragment(),fragR=document.createDocumentFragment();
  list.forEach(function(r){
    var t=document.createElement('button');t.className='tile';t.style.background='var(--'+r.state+')';
    t.title=r.name+': '+LABEL[r.state]+(r.reasons.length?' — '+r.reasons.join('; '):'');t.dataset.robot=r.name;
    t.onclick=function(){var row=document.getElementById('row-'+r.name);if(row){row.scrollIntoView({block:'center'});row.style.background='#fff7d6';}};
    fragT.appendChild(t);
    var tr=document.createElement('tr');tr.id='row-'+r.name;tr.dataset.state=r.state;
    var cells=[r.name,null,(r.reasons.concat(r.changes.map(function(c){return 'change: '+c;})).concat(r.warnings.map(function(w){return 'warning: '+w;}))).join('\\n')]
      .concat(D.columns.map(function(c){return r.fields[c.key];}));
    cells.forEach(function(c,i){var td=document.createElement('td');var col=D.columns[i-3];td.dataset.field=col?col.key:['robot','state','reasons'][i];
      if(i===1){var b=document.createElement('span');b.className='badge';b.style.background='var(--'+r.state+')';b.textContent=LABEL[r.state]+(r.firedThisBoot?' · fired at this boot':'');td.appendChild(b);}
      else if(i===2){td.className='reasons';td.style.whiteSpace='pre-wrap';td.textContent=txt(c);}
      else if(col&&col.code){var code=document.createElement('code');code.textContent=txt(c);td.appendChild(code);}
      else td.textContent=txt(c);
      tr.appendChild(td);});
    fragR.appendChild(tr);
  });
  tiles.appendChild(fragT);rows.appendChild(fragR);
  document.getElementById('shown').textContent=list.length+' of '+D.robots.length+' shown';
}
document.getElementById('q').addEventListener('input',render);
render();
})();
`;
