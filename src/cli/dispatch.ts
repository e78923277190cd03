import { ConfigError, EXIT, ExitError, LabAbsentError, LabError } from '../errors.js';
import { didYouMean } from '../util/didyoumean.js';
import { commandHelp, COMMANDS, parseCommand, type CommandName, type FlagValues } from './commands.js';
import type { Out } from './output.js';

/** Every command but --version and the top help (src/cli/main.ts): returns an exit code, never calls process.exit. */
export async function dispatch(argv: string[], io: Out): Promise<number> {
  const [cmd = '', ...rest] = argv;
  try {
    if (!(cmd in COMMANDS)) throw new ConfigError(`unknown command '${cmd}'${didYouMean(cmd, Object.keys(COMMANDS))} (see 'fleetmasq --help')`);
    const command = cmd as CommandName;
    // lab has subcommands, each with its own flags.
    if (command === 'lab') return await (await import('./lab.js')).labCommand(rest, io);
    const { values, positionals } = parseCommand(command, COMMANDS[command], rest);
    if (values.help) {
      io.out(commandHelp(COMMANDS[command]));
      return EXIT.OK;
    }
    return await run(command, values, positionals, io, argv);
  } catch (e) {
    if (e instanceof ExitError) {
      if (e.message) io.err(e.message);
      return e.code;
    }
    if (e instanceof ConfigError) {
      io.err(`error: ${e.message}`);
      return EXIT.INVALID_INPUT;
    }
    if (e instanceof LabAbsentError) {
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

// Each command loads only its own modules: start-up time is a round trip's worth on a fast link.
async function run(command: Exclude<CommandName, 'lab'>, values: FlagValues, positionals: string[], io: Out, argv: string[]): Promise<number> {
  switch (command) {
    case 'demo':
      return (await import('./lab.js')).demoCommand(values, io, argv);
    case 'play':
      return (await import('./play.js')).playCommand(positionals[0]!, values, io, argv);
    case 'inventory':
      return (await import('./inventory.js')).inventoryCommand(values, positionals, io);
    case 'status':
      return (await import('./status.js')).statusCommand(values, io);
    case 'diagnose':
      return (await import('./diagnose.js')).diagnoseCommand(values, io, argv);
    case 'config':
      return (await import('./config.js')).configCommand(values, io);
    case 'help':
      return (await import('./help.js')).helpCommand(positionals[0], io);
    case 'snippet':
      return (await import('./snippet.js')).snippetCommand(positionals[0]!, values, io);
    default:
      return (await import('./fleet.js')).runFleetCommand(command, values, io, argv);
  }
}
