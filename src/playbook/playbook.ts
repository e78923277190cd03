/**
 * Ansible-style playbooks: a list of plays (name, hosts, serial, max_fail_percentage, vars, tasks) whose
 * tasks use fleetmasq's modules. Validated with ajv (precompiled at build time, src/validation) before any
 * robot is contacted; `{{ var }}` in task arguments resolves from the robot's vars (play vars over
 * inventory vars).
 */
import * as generated from '../validation/validators.js';
import { ConfigError } from '../errors.js';
import { parseSerial, type SerialItem } from '../runner/batches.js';
import { didYouMean, YamlSource, type Path } from '../util/yamlsrc.js';
import type { Vars } from '../inventory/inventory.js';
import { ARGS, MODULES, type ModuleName } from '../validation/schemas.js';

export { MODULES, type ModuleName };

export interface Task {
  name: string;
  module: ModuleName;
  args: Record<string, unknown>;
  path: Path;
}

export interface Play {
  name: string;
  hosts: string;
  serial: SerialItem[];
  maxFailPercent?: number;
  anyErrorsFatal: boolean;
  vars: Vars;
  tasks: Task[];
}

const TASK_KEYS = ['name', ...MODULES];
const PLAY_KEYS = ['name', 'hosts', 'serial', 'max_fail_percentage', 'any_errors_fatal', 'vars', 'tasks', 'gather_facts', 'become'];

export function loadPlaybook(file: string): Play[] {
  const src = YamlSource.load(file);
  const data = src.toJS();
  const validate = generated.playbook;
  if (!validate(data)) {
    const err = validate.errors![0]!;
    const path: Path = err.instancePath.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    if (err.keyword === 'additionalProperties') {
      const key = String((err.params as { additionalProperty: string }).additionalProperty);
      const isTask = path.length >= 3 && path[path.length - 2] === 'tasks';
      const isArgs = path.length >= 4 && MODULES.includes(path[path.length - 1] as ModuleName);
      const known = isArgs ? Object.keys((ARGS[path[path.length - 1] as ModuleName] as { properties: object }).properties) : isTask ? TASK_KEYS : PLAY_KEYS;
      const what = isArgs ? `argument of module '${path[path.length - 1]}'` : isTask ? 'task key (modules: masquerade, persist, reboot, verify, check, remove)' : 'play key';
      throw src.error(`unknown ${what} '${key}'${didYouMean(key, known)}`, [...path, key], true);
    }
    if (err.keyword === 'required') throw src.error(`a play needs '${(err.params as { missingProperty: string }).missingProperty}'`, path);
    if (err.keyword === 'type' && path.length === 0) throw src.error('a playbook is a list of plays', path);
    const value = path.reduce<unknown>((o, k) => (o as Record<string | number, unknown> | undefined)?.[k], data);
    throw src.error(`invalid value ${JSON.stringify(value)} for '${path[path.length - 1] ?? 'playbook'}'${err.keyword === 'minItems' ? ': must not be empty' : ''}`, path);
  }
  const plays = data as Record<string, unknown>[];
  return plays.map((p, i) => {
    let serial: SerialItem[];
    try {
      serial = parseSerial(p.serial);
    } catch (e) {
      throw src.error((e as Error).message, [i, 'serial']);
    }
    const tasks = (p.tasks as Record<string, unknown>[]).map((t, j) => {
      const mods = MODULES.filter((m) => m in t);
      if (mods.length !== 1) throw src.error(mods.length ? `a task uses one module, not ${mods.join(' and ')}` : 'a task needs a module: masquerade, persist, reboot, verify, check or remove', [i, 'tasks', j]);
      const module = mods[0]!;
      return { name: String(t.name ?? module), module, args: (t[module] ?? {}) as Record<string, unknown>, path: [i, 'tasks', j] };
    });
    return {
      name: String(p.name ?? p.hosts),
      hosts: String(p.hosts),
      serial,
      maxFailPercent: p.max_fail_percentage as number | undefined,
      anyErrorsFatal: p.any_errors_fatal === true,
      vars: (p.vars ?? {}) as Vars,
      tasks,
    };
  });
}

/** Resolves `{{ var }}` (whole value or inside a string) from vars; an undefined var is an error. */
export function template(value: unknown, vars: Vars): unknown {
  if (typeof value !== 'string' || !value.includes('{{')) return value;
  const whole = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/.exec(value);
  const lookup = (name: string) => {
    if (!(name in vars)) throw new ConfigError(`undefined variable '${name}' in '${value}'`);
    return vars[name];
  };
  if (whole) return lookup(whole[1]!);
  return value.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_, n: string) => String(lookup(n)));
}

export function templateArgs(args: Record<string, unknown>, vars: Vars): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, template(v, vars)]));
}
