/** The processes under a pid with their command lines, to find the recorder's Chromium processes. */
import { readFileSync } from 'node:fs';
import { processTree } from '../../recorder-image/src/process-cpu.ts';

export function descendants(root: number): { pid: number; cmdline: string }[] {
  return processTree(root)
    .filter((p) => p.pid !== root)
    .flatMap((p) => {
      try {
        return [{ pid: p.pid, cmdline: readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').replaceAll('\0', ' ') }];
      } catch {
        return []; // exited while we looked
      }
    });
}
