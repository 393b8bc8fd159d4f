type FlagKind = 'string' | 'number' | 'boolean';

/** Tiny flag parser for the local CLIs: --name value / --name=value, or a bare --name for a switch, with clear errors. */
export function parseFlags(argv: string[], known: Record<string, FlagKind>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      out.help = 1;
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m || !(m[1] in known)) throw new Error(`Unknown option '${arg}'. Known options: ${Object.keys(known).map((k) => `--${k}`).join(', ')}`);
    if (known[m[1]] === 'boolean') {
      if (m[2] !== undefined) throw new Error(`Option --${m[1]} is a switch and takes no value.`);
      out[m[1]] = true;
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`Option --${m[1]} needs a value.`);
    if (known[m[1]] === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`Option --${m[1]} must be a non-negative number, got '${value}'.`);
      out[m[1]] = n;
    } else out[m[1]] = value;
  }
  return out;
}

/** parseFlags for a CLI's main: a bad option prints the error and the usage and exits 2; --help prints the usage and exits 0. */
export function parseFlagsOrExit(argv: string[], known: Record<string, FlagKind>, usage: string): Record<string, string | number | boolean> {
  let flags;
  try {
    flags = parseFlags(argv, known);
  } catch (err) {
    console.error(`${(err as Error).message}\n${usage}`);
    process.exit(2);
  }
  if (flags.help) {
    console.log(usage);
    process.exit(0);
  }
  return flags;
}
