/**
 * The JSON schemas of the inventory and of playbooks (data only). src/validation/generate.ts compiles
 * them into plain validator functions at build time.
 */
import { IFACE_PATTERN, PERSISTENCE_MODES, VARS_SCHEMA } from '../inventory/vars.js';
import { COMMAND_PATTERN } from '../remote/reboot.js';

export { VARS_SCHEMA };

export const MODULES = ['masquerade', 'persist', 'reboot', 'verify', 'check', 'remove'] as const;
export type ModuleName = (typeof MODULES)[number];

export const GROUP_SCHEMA = {
  $id: 'group',
  type: ['object', 'null'],
  properties: {
    hosts: { type: ['object', 'null'], additionalProperties: { $ref: 'vars' } },
    vars: { $ref: 'vars' },
    children: { type: ['object', 'null'], additionalProperties: { $ref: 'group' } },
  },
  additionalProperties: false,
};

const templ = { type: 'string', pattern: '\\{\\{.*\\}\\}' };
const iface = { anyOf: [{ type: 'string', pattern: `^(auto|${IFACE_PATTERN.slice(1, -1)})$` }, templ] };
export const ARGS: Record<ModuleName, object> = {
  masquerade: { type: ['object', 'null'], properties: { interface: iface }, additionalProperties: false },
  persist: {
    type: ['object', 'null'],
    properties: { interface: iface, method: { anyOf: [{ enum: [...PERSISTENCE_MODES] }, templ] } },
    additionalProperties: false,
  },
  reboot: {
    type: ['object', 'null'],
    properties: {
      timeout: { anyOf: [{ type: 'integer', minimum: 1, maximum: 86400 }, templ] },
      verify: { type: 'boolean' },
      force: { type: 'boolean' },
      // needed: only robots that changed earlier in the play, or whose persistence has not fired at this boot.
      when: { enum: ['always', 'needed'] },
      // Ansible's reboot module's names: the robot's own reboot command, and what tells its boots apart.
      reboot_command: { anyOf: [{ type: 'string', pattern: COMMAND_PATTERN }, templ] },
      boot_time_command: { anyOf: [{ type: 'string', pattern: COMMAND_PATTERN }, templ] },
    },
    additionalProperties: false,
  },
  verify: { type: ['object', 'null'], properties: { interface: iface, require_fired: { type: 'boolean' } }, additionalProperties: false },
  check: { type: ['object', 'null'], properties: { interface: iface }, additionalProperties: false },
  remove: { type: ['object', 'null'], properties: { interface: iface }, additionalProperties: false },
};

export const PLAYBOOK_SCHEMA = {
  type: 'array',
  minItems: 1,
  items: {
    type: 'object',
    required: ['hosts', 'tasks'],
    properties: {
      name: { type: 'string' },
      hosts: { type: 'string', minLength: 1 },
      serial: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string' }, { type: 'array', items: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string' }] }, minItems: 1 }] },
      max_fail_percentage: { type: 'number', minimum: 0, maximum: 100 },
      any_errors_fatal: { type: 'boolean' },
      gather_facts: { type: 'boolean' },
      become: { type: 'boolean' },
      vars: { type: ['object', 'null'] },
      tasks: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          properties: { name: { type: 'string' }, ...Object.fromEntries(MODULES.map((m) => [m, ARGS[m]])) },
          additionalProperties: false,
          minProperties: 1,
        },
      },
    },
    additionalProperties: false,
  },
};
