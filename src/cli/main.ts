import { ConfigError, EXIT, ExitError, LabError } from '../errors.js';
import { FLEET_HELP } from './help.js';
import { stdio, type Out } from './output.js';

export const HELP = () => `fleetmasq — keep WebRTC alive on robots behind cellular hotspots, fleet-wide

Usage: fleetmasq <command> [options]

Commands:
  apply      put the masquerade rule live (exactly once, right interface) and persist it (systemd or rc.local)
  check      fleet compliance: rule live once, persistence installed; reports whether it fired at this boot
  reboot     rolling reboots in batches, proving each robot came back (new boot_id) and is compliant
  verify     check, and require that persistence fired at the current boot
  remove     undo everything, leaving each robot as it was
  play       run a playbook (rollout, compliance, reboot-and-verify, removal: see playbooks/)
  inventory  show the resolved inventory (--list like ansible-inventory, --graph)
  demo       boot a lab fleet on this machine and run the main job on it
  lab        real test robots on this machine: up, status, link, down (see 'fleetmasq lab --help')

Run 'fleetmasq <command> --help' for a command's options.\n\n${FLEET_HELP}
Exit codes: 0 ok, 2 a robot failed or is non-compliant, 4 a robot was unreachable, 5 invalid input, 130 interrupted.
`;

/** The CLI entry: returns an exit code, never calls process.exit. */
export async function main(argv: string[], io: Out = stdio): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.out(HELP());
        return EXIT.OK;
      // Each command loads only its own modules: start-up time is a round trip's worth on a fast link.
      case 'lab':
        return await (await import('./lab.js')).labCommand(rest, io);
      case 'demo':
        return await (await import('./demo.js')).demoCommand(rest, io);
      case 'apply':
      case 'check':
      case 'verify':
      case 'remove':
      case 'reboot':
        return await (await import('./fleet.js')).fleetCommand(cmd, rest, io);
      case 'play':
        return await (await import('./play.js')).playCommand(rest, io);
      case 'inventory':
        return await (await import('./inventory.js')).inventoryCommand(rest, io);
      default:
        throw new ConfigError(`unknown command '${cmd}' (see 'fleetmasq --help')`);
    }
  } catch (e) {
    if (e instanceof ExitError) {
      if (e.message) io.err(e.message);
      return e.code;
    }
    if (e instanceof ConfigError) {
      io.err(`error: ${e.message}`);
      return EXIT.INVALID_INPUT;
    }
    if (e instanceof LabError) {
      io.err(`lab error: ${e.message}`);
      return EXIT.ERROR;
    }
    throw e;
  }
}
