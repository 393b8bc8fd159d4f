/**
 * System prerequisites of the recorder. Local mode checks them before it starts, and the recorder before
 * it records, so a missing piece is named at once instead of failing a recording later.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

export interface Prerequisite {
  name: string;
  /** Executable name on PATH, or an absolute path. */
  command: string;
  debianPackage: string;
}

export const PREREQUISITES: readonly Prerequisite[] = [
  { name: 'Chromium', command: '/usr/bin/chromium', debianPackage: 'chromium' },
  { name: 'ffmpeg', command: 'ffmpeg', debianPackage: 'ffmpeg' },
  { name: 'ffprobe', command: 'ffprobe', debianPackage: 'ffmpeg' },
  { name: 'Xvfb', command: 'Xvfb', debianPackage: 'xvfb' },
  { name: 'PulseAudio', command: 'pulseaudio', debianPackage: 'pulseaudio' },
  { name: 'pactl', command: 'pactl', debianPackage: 'pulseaudio-utils' },
  { name: 'parec', command: 'parec', debianPackage: 'pulseaudio-utils' },
];

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function resolveCommand(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (isAbsolute(command)) return isExecutable(command) ? command : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

export function missingPrerequisites(env: NodeJS.ProcessEnv = process.env): Prerequisite[] {
  return PREREQUISITES.map((p) => (p.name === 'Chromium' && env.CHROMIUM_PATH ? { ...p, command: env.CHROMIUM_PATH } : p)).filter(
    (p) => !resolveCommand(p.command, env),
  );
}

export function describeMissing(missing: Prerequisite[]): string {
  const packages = [...new Set(missing.map((p) => p.debianPackage))].join(' ');
  return [
    `Missing system prerequisite${missing.length > 1 ? 's' : ''}: ${missing.map((p) => `${p.name} (${p.command})`).join(', ')}.`,
    `Install with: sudo apt-get install -y ${packages}`,
    `(or run recorder-image/install-system-packages.sh as root, which installs everything the recorder needs).`,
  ].join('\n');
}
