import { describe, expect, it } from 'vitest';
import { coresByPart, processPart } from '../../recorder-image/src/process-cpu.ts';

const cmd = (...args: string[]) => `${args.join('\0')}\0`;

describe('the CPU split by process', () => {
  it('names each process of a recording by its command line', () => {
    expect(processPart(cmd('node', 'recorder-image/src/main.ts'), true)).toBe('recorder');
    expect(processPart(cmd('Xvfb', '-displayfd', '3', '-screen', '0', '1280x720x24'), false)).toBe('xvfb');
    expect(processPart(cmd('/usr/bin/pulseaudio', '-n', '--daemonize=no'), false)).toBe('sound');
    expect(processPart(cmd('parec', '--latency-msec=50'), false)).toBe('sound');
    expect(processPart(cmd('ffmpeg', '-hide_banner', '-f', 'x11grab'), false)).toBe('ffmpeg');
    expect(processPart(cmd('/usr/lib/chromium/chromium', '--no-sandbox', '--in-process-gpu'), false)).toBe('browser');
    expect(processPart(cmd('/usr/lib/chromium/chromium', '--type=renderer', '--enable-blink-features'), false)).toBe('renderer');
    // Chromium's children rewrite their command line into one string with spaces (seen in /proc).
    const child = (type: string) => `/usr/lib/chromium/chromium --type=${type} --crashpad-handler-pid=0 --enable-crash-reporter=,built on Debian GNU/Linux 12 (bookworm) --user-data-dir=/tmp/p\0`;
    expect(processPart(child('renderer'), false)).toBe('renderer');
    expect(processPart(child('zygote'), false)).toBe('browserHelpers');
    // A flag's value that merely contains --type= is not the process type.
    expect(processPart(cmd('/usr/lib/chromium/chromium', '--note=x--type=renderer'), false)).toBe('browser');
    expect(processPart(cmd('/usr/lib/chromium/chromium', '--type=zygote'), false)).toBe('browserHelpers');
    expect(processPart(cmd('/usr/lib/chromium/chromium', '--type=utility', '--utility-sub-type=network.mojom.NetworkService'), false)).toBe('browserHelpers');
    // The root is the recorder whatever it runs; a shell or anything unknown is 'other'.
    expect(processPart(cmd('ffmpeg'), true)).toBe('recorder');
    expect(processPart(cmd('sh', '-c', 'sleep 1'), false)).toBe('other');
    expect(processPart('', false)).toBe('other');
  });

  it('gives cores per part between two readings, busiest first', () => {
    const cores = coresByPart({ browser: 10, ffmpeg: 2 }, { browser: 13, ffmpeg: 8, xvfb: 0.5 }, 10);
    expect(cores).toEqual({ ffmpeg: 0.6, browser: 0.3, xvfb: 0.05 });
    expect(Object.keys(cores)).toEqual(['ffmpeg', 'browser', 'xvfb']);
  });
});
