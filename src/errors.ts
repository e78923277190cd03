/**
 * Typed errors. Nothing deep in the code calls process.exit: the CLI maps these to exit codes.
 */

export const EXIT = {
  OK: 0,
  ERROR: 1,
  HOSTS_FAILED: 2,
  HOSTS_UNREACHABLE: 4,
  INVALID_INPUT: 5,
  HOSTKEY: 6,
  INTERRUPTED: 130,
} as const;

/** Thrown to end the CLI with a given exit code (after its message is printed). */
export class ExitError extends Error {
  constructor(
    public readonly code: number,
    message = '',
  ) {
    super(message);
    this.name = 'ExitError';
  }
}

/** Invalid input: bad YAML, schema violation, bad flag. Carries file:line:col when known. */
export class ConfigError extends Error {
  constructor(
    message: string,
    public readonly file?: string,
    public readonly line?: number,
    public readonly col?: number,
  ) {
    super(ConfigError.format(message, file, line, col));
    this.name = 'ConfigError';
  }
  static format(message: string, file?: string, line?: number, col?: number): string {
    if (!file) return message;
    const where = line ? `${file}:${line}:${col ?? 1}` : file;
    return `${where}: ${message}`;
  }
}

export type HostErrorKind =
  | 'unreachable'
  | 'auth'
  | 'hostkey'
  | 'timeout'
  | 'become'
  | 'command'
  | 'reboot-timeout'
  | 'locked'
  | 'config'
  | 'interrupted';

/** A failure on one robot. It fails that robot only. */
export class HostError extends Error {
  constructor(
    public readonly kind: HostErrorKind,
    message: string,
    /**
     * silent: the robot gave no answer at all within the connect timeout (not worth another attempt in
     * this run). stdout/stderr/exitCode: the failing command's output; facts: the raw facts output. The
     * runner keeps these (bounded, sanitised) in the robot's result as `raw`.
     */
    public readonly detail?: { exitCode?: number | null; stdout?: string; stderr?: string; silent?: boolean; facts?: string },
  ) {
    super(message);
    this.name = 'HostError';
  }
  toJSON(): { kind: HostErrorKind; message: string } {
    return { kind: this.kind, message: this.message };
  }
}

/** Lab failures (host-side setup of test robots). */
export class LabError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabError';
  }
}

/**
 * `fleetmasq lab` or `demo` where the lab is not installed: it lives in the source repository (its lab/
 * folder, built to dist/lab), not in the published package. Exit 5, as a command this copy does not have.
 */
export class LabAbsentError extends LabError {
  constructor(message: string) {
    super(message);
    this.name = 'LabAbsentError';
  }
}
