/** Media checks with the real ffprobe. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ProbeResult {
  durationSeconds: number;
  video?: { codec: string; width: number; height: number; fps: number; frames: number };
  audio?: { codec: string; sampleRate: number; channels: number };
}

export async function probe(path: string): Promise<ProbeResult> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_format', '-show_streams', '-of', 'json', path], { maxBuffer: 16 * 1024 * 1024 });
  const info = JSON.parse(stdout);
  const v = info.streams.find((s: any) => s.codec_type === 'video');
  const a = info.streams.find((s: any) => s.codec_type === 'audio');
  const rate = (r: string) => {
    const [n, d] = r.split('/').map(Number);
    return d ? n / d : 0;
  };
  return {
    durationSeconds: Number(info.format.duration),
    video: v && { codec: v.codec_name, width: v.width, height: v.height, fps: rate(v.avg_frame_rate), frames: Number(v.nb_read_frames) },
    audio: a && { codec: a.codec_name, sampleRate: Number(a.sample_rate), channels: a.channels },
  };
}

/** The video frames' presentation times (s), in order. */
export async function videoFrameTimes(path: string): Promise<number[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time', '-of', 'default=nw=1:nk=1', path], { maxBuffer: 1 << 24 });
  return stdout.split('\n').filter((l) => /^[\d.]+$/.test(l)).map(Number);
}

/** The gaps between consecutive times (s), each with the time it starts at. */
export function gapsBetween(times: number[]): { at: number; seconds: number }[] {
  return times.slice(1).map((t, i) => ({ at: times[i]!, seconds: t - times[i]! }));
}

/** Mean volume in dB of the audio track (silence is about -91 dB). */
export async function meanVolumeDb(path: string): Promise<number> {
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-nostats', '-i', path, '-vn', '-af', 'volumedetect', '-f', 'null', '-']);
  const m = /mean_volume: (-?[\d.]+) dB/.exec(stderr);
  if (!m) throw new Error(`no volume in ffmpeg output: ${stderr.slice(-500)}`);
  return Number(m[1]);
}
