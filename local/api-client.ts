/** A minimal client of the recording API, used by the demo, the tests and the bench. */
import type { PublicRecording, RecordingStatus } from '#core/recording.ts';

/** An RFC 9457 problem as the API sends it (on any non-2xx answer). */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [extension: string]: unknown;
}
// `status` stays the recording's; an error answer's HTTP status is on the response.
type OrProblem<T> = T & Partial<Omit<ProblemBody, 'status'>>;

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export class RecordingApiClient {
  readonly baseUrl: string;
  /** An API key or a scoped token, sent as `Authorization: Bearer`; without it requests are anonymous (401). */
  readonly credential?: string;
  constructor(baseUrl: string, credential?: string) {
    this.baseUrl = baseUrl;
    this.credential = credential;
  }

  /** The same API with other credentials (another tenant's key, a scoped token, none). */
  withCredential(credential: string | undefined): RecordingApiClient {
    return new RecordingApiClient(this.baseUrl, credential);
  }

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...(this.credential && { authorization: `Bearer ${this.credential}` }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let parsed: any = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  create(meetingUrl: string, meetingId?: string) {
    return this.request<OrProblem<PublicRecording>>('POST', '/v1/recordings', { meetingUrl, ...(meetingId && { meetingId }) });
  }
  get(id: string) {
    return this.request<OrProblem<PublicRecording>>('GET', `/v1/recordings/${id}`);
  }
  stop(id: string) {
    return this.request<OrProblem<PublicRecording>>('POST', `/v1/recordings/${id}/stop`);
  }
  download(id: string) {
    return this.request<OrProblem<{ recordingId: string; files: { key: string; url: string; expiresAt: string; sizeBytes: number }[] }>>(
      'GET',
      `/v1/recordings/${id}/download`,
    );
  }

  /** Polls until the recording reaches one of `statuses` (or a terminal status), or times out. */
  async waitFor(id: string, statuses: RecordingStatus[], timeoutMs = 60_000, pollMs = 100): Promise<PublicRecording> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await this.get(id);
      if (statuses.includes(body.status) || body.status === 'UPLOADED' || body.status === 'ERRORED') return body;
      if (Date.now() > deadline) throw new Error(`Recording ${id} is still ${body.status} after ${timeoutMs} ms (waiting for ${statuses.join('/')})`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}
