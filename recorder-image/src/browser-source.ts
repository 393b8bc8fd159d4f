/**
 * The browser source: Debian's Chromium, full screen on the recording's X display, playing sound into its
 * PulseAudio sink. Capture starts only after the meeting page has loaded, so an error page is never recorded.
 *
 * Every HTTP(S) and WebSocket request of the browser goes through the recorder's egress proxy, which
 * enforces the SSRF policy (see egress-proxy.ts); loopback is not exempt.
 */
import type { BrowserContext, Page, Request } from 'playwright-core';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { RecorderError } from './recorder-error.ts';
import type { RecorderErrorCode } from '#core/recorder-errors.ts';
import type { Resolver, UrlPolicy } from '#core/url-policy.ts';
import { EGRESS_HEADER, EgressProxy, type EgressFailure } from './egress-proxy.ts';
import type { Logger } from './log.ts';
import type { FrameClock } from './ffmpeg-capture.ts';

export interface BrowserSource {
  open(url: string): Promise<void>;
  /**
   * Resolves with a description of the next failure of the page shown: the browser went away, the page's
   * process crashed, or the page stopped answering (hung). Re-armed by `recover`.
   */
  nextProblem(): Promise<string>;
  /** Shows the meeting page again after a problem: a new page, or a new browser if it went away. */
  recover(url: string): Promise<void>;
  close(): Promise<void>;
}

export interface ChromiumOptions {
  executablePath: string;
  display: string;
  pulseServer: string;
  width: number;
  height: number;
  workDir: string;
  loadTimeoutMs: number;
  hostResolverRules?: string;
  /** Which hosts the page and everything it loads may reach (enforced by the egress proxy). */
  urlPolicy: UrlPolicy;
  /** The proxy's resolver (tests inject one). @default the system resolver */
  resolver?: Resolver;
  /** Where refused requests are logged. */
  log?: Logger;
  /** How often the page is asked to answer, and how long it may take before it counts as hung. */
  watchdogIntervalMs?: number;
  watchdogTimeoutMs?: number;
}

/** Flags for a browser that runs unattended, as root, with no GPU and no background traffic. */
export function chromiumArgs(width: number, height: number): string[] {
  return [
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
    '--autoplay-policy=no-user-gesture-required',
    '--kiosk',
    '--window-position=0,0',
    `--window-size=${width},${height}`,
    '--disable-infobars',
    '--test-type',
    '--hide-scrollbars',
    // The compositor (the "GPU" process, software here) and the audio service run inside the browser process:
    // two fewer processes, ~36 MiB less PSS at 1080p.
    '--in-process-gpu',
    '--disable-features=Translate,MediaRouter,DialMediaRouteProvider,AudioServiceOutOfProcess',
    '--password-store=basic',
    // Rendering must not be throttled when nothing "visible" changes for the compositor.
    '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
  ];
}

/**
 * Flags that send all of the browser's HTTP(S) and WebSocket traffic through the egress proxy. Without
 * `<-loopback>` Chromium would bypass the proxy for localhost and 127.0.0.0/8. QUIC (HTTP/3, WebTransport)
 * would go around an HTTP proxy over UDP, so it is off.
 */
export function egressProxyArgs(proxyUrl: string): string[] {
  return [`--proxy-server=${proxyUrl}`, '--proxy-bypass-list=<-loopback>', '--disable-quic'];
}

/** The recording error for a meeting page whose connection the egress proxy refused or could not make. */
export function egressFailureError(failure: EgressFailure): RecorderError {
  switch (failure.kind) {
    case 'blocked':
      return new RecorderError('url_not_allowed', `The meeting page was not loaded: ${failure.detail}`);
    case 'dns_failed':
      return new RecorderError('page_dns_failed', `The meeting page could not be loaded: ${failure.detail}`);
    case 'connection_refused':
      return new RecorderError('page_connection_refused', `The meeting page could not be loaded: ${failure.detail}`);
    case 'connect_timeout':
      return new RecorderError('page_load_timeout', `The meeting page could not be loaded: ${failure.detail}`);
    default:
      return new RecorderError('page_unreachable', `The meeting page could not be loaded: ${failure.detail}`);
  }
}

/** Chromium's errors for a proxy that refused or failed a CONNECT (or closed a plain request). */
const PROXY_FAILURE = /ERR_TUNNEL_CONNECTION_FAILED|ERR_PROXY_|ERR_EMPTY_RESPONSE|ERR_CONNECTION_CLOSED|ERR_CONNECTION_RESET/;

/** Maps a Chromium network error to a recording error code. */
export function classifyNavigationError(message: string): RecorderErrorCode {
  if (/ERR_CONNECTION_REFUSED/.test(message)) return 'page_connection_refused';
  if (/ERR_NAME_NOT_RESOLVED|ERR_NAME_RESOLUTION_FAILED/.test(message)) return 'page_dns_failed';
  if (/ERR_CERT_|ERR_SSL_|ERR_BAD_SSL/.test(message)) return 'page_tls_error';
  if (/Timeout .*exceeded|ERR_TIMED_OUT|ERR_CONNECTION_TIMED_OUT/.test(message)) return 'page_load_timeout';
  return 'page_unreachable';
}

/** requestAnimationFrame callbacks sampled for the frame clock (~0.2 s at 60 Hz). */
const FRAME_CLOCK_TICKS = 13;

/**
 * The frame clock from requestAnimationFrame timestamps (ms on the page's clock, whose zero is `timeOrigin` ms
 * since the epoch; Chromium coarsens them to 0.1 ms): a least-squares line through the ticks gives the interval
 * and the time of the last tick. A timestamp is the time of the tick the frame was drawn on, so a frame the
 * page skipped (busy while it loads) leaves a gap of whole ticks: each interval is counted in ticks of the
 * median one-tick interval. Undefined unless every interval is within 20 % of a whole number of ticks, and the tick is
 * 5–50 ms.
 */
export function frameClockFromTicks(timeOrigin: number, ticks: number[]): FrameClock | undefined {
  const n = ticks.length;
  if (n < 4) return undefined;
  const intervals = ticks.slice(1).map((t, i) => t - ticks[i]!);
  const shortest = Math.min(...intervals);
  // The one-tick intervals: up to half as long again as the shortest (a late callback shortens the next one).
  const single = intervals.filter((d) => d < shortest * 1.5).sort((a, b) => a - b);
  const tick = single[Math.floor(single.length / 2)]!;
  if (!(tick >= 5 && tick <= 50)) return undefined;
  const steps = intervals.map((d) => Math.round(d / tick));
  if (intervals.some((d, i) => steps[i]! < 1 || Math.abs(d - steps[i]! * tick) > tick * 0.2)) return undefined;
  // Each timestamp's tick number, and the line through them.
  const at = [0];
  for (const k of steps) at.push(at.at(-1)! + k);
  const meanI = at.reduce((a, b) => a + b, 0) / n;
  const meanT = ticks.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ticks.forEach((t, i) => {
    num += (at[i]! - meanI) * (t - meanT);
    den += (at[i]! - meanI) ** 2;
  });
  const fittedMs = num / den;
  const intervalMs = chromiumTickMs(fittedMs);
  return { tickWallMs: timeOrigin + meanT + fittedMs * (at[n - 1]! - meanI), intervalMs };
}

/**
 * Chromium's tick interval for a fitted one. Chromium ticks at the display's rate (60 Hz on Xvfb) with the
 * interval in whole microseconds, rounded down: 16.666 ms, not 1000/60 (measured over 1,812 ticks:
 * 16.66600 ms). A fit over 0.2 s is good to a few µs, and over a 10-minute recording (36,000 ticks) even the
 * 0.67 µs between the two moves the tick by 24 ms, more than a whole tick, so the fit is snapped to the
 * whole-µs interval of the nearest whole rate when it is within 20 µs of it.
 */
export function chromiumTickMs(fittedMs: number): number {
  const hz = Math.round(1000 / fittedMs);
  const snappedMs = Math.floor(1_000_000 / hz) / 1000;
  return Math.abs(fittedMs - snappedMs) <= 0.02 ? snappedMs : fittedMs;
}

type BrowserDriver = typeof import('playwright-core');
let driver: Promise<BrowserDriver> | undefined;

/**
 * The browser driver, loaded on first use, on the next turn of the event loop. Loading playwright-core takes
 * ~0.25 s of CPU (more through import(), which also scans the CommonJS source for its export names); the
 * recorder starts loading it while the display and sound server start, instead of before its first line runs.
 */
export function loadBrowserDriver(): Promise<BrowserDriver> {
  return (driver ??= new Promise<BrowserDriver>((resolve, reject) =>
    setImmediate(() => {
      try {
        resolve(createRequire(import.meta.url)('playwright-core') as BrowserDriver);
      } catch (err) {
        reject(err as Error);
      }
    }),
  ));
}

export class ChromiumBrowserSource implements BrowserSource {
  private readonly options: ChromiumOptions;
  private proxy?: EgressProxy;
  private context?: BrowserContext;
  private page?: Page;
  private closing = false;
  private problem!: Promise<string>;
  private reportProblem!: (reason: string) => void;
  private watchdog?: NodeJS.Timeout;

  constructor(options: ChromiumOptions) {
    this.options = options;
    this.rearm();
  }

  private rearm(): void {
    this.problem = new Promise((resolve) => (this.reportProblem = resolve));
  }

  nextProblem(): Promise<string> {
    return this.problem;
  }

  async open(url: string): Promise<void> {
    await this.launch();
    await this.show(url);
  }

  /**
   * The browser's frame clock (see FrameClock), read from requestAnimationFrame timestamps in the page the
   * browser opened with (the ticks belong to the window, not to a page: the meeting page keeps them).
   * Undefined if the page gives no steady ticks within `timeoutMs`.
   */
  async frameClock(timeoutMs = 1500): Promise<FrameClock | undefined> {
    const page = this.context?.pages()[0];
    if (!page) return undefined;
    const script = `new Promise((resolve) => {
      const ticks = [];
      const onFrame = (ts) => { ticks.push(ts); if (ticks.length < ${FRAME_CLOCK_TICKS}) requestAnimationFrame(onFrame); else resolve({ origin: performance.timeOrigin, ticks }); };
      requestAnimationFrame(onFrame);
    })`;
    let timer: NodeJS.Timeout | undefined;
    const sample = await Promise.race([
      page.evaluate(script).catch(() => undefined) as Promise<{ origin: number; ticks: number[] } | undefined>,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs))),
    ]);
    clearTimeout(timer);
    const clock = sample && frameClockFromTicks(sample.origin, sample.ticks);
    // Why there is none: no answer in time, or ticks off the grid (their intervals, ms).
    if (!clock) this.options.log?.info('no frame clock', { intervalsMs: sample ? sample.ticks.slice(1).map((t, i) => Math.round((t - sample.ticks[i]!) * 10) / 10) : 'no answer' });
    return clock;
  }

  async launch(): Promise<void> {
    const o = this.options;
    this.proxy ??= await EgressProxy.start({ policy: o.urlPolicy, resolver: o.resolver, log: o.log });
    let context: BrowserContext;
    try {
      const { chromium } = await loadBrowserDriver();
      context = await chromium.launchPersistentContext(join(o.workDir, 'chromium-profile'), {
        executablePath: o.executablePath,
        headless: false,
        viewport: null,
        ignoreDefaultArgs: ['--enable-automation'],
        args: [
          ...chromiumArgs(o.width, o.height),
          ...egressProxyArgs(this.proxy.url),
          ...(o.hostResolverRules ? [`--host-resolver-rules=${o.hostResolverRules}`] : []),
        ],
        env: { ...process.env, DISPLAY: o.display, PULSE_SERVER: o.pulseServer },
        timeout: 30_000,
      });
    } catch (err) {
      throw new RecorderError('browser_failed', `Chromium could not be started: ${(err as Error).message}`, { cause: err });
    }
    this.context = context;
    context.on('close', () => {
      if (!this.closing && this.context === context) this.reportProblem('the browser exited');
    });
  }

  /** Loads `url` in a fresh page of the current browser; an error page is never left on screen. */
  async show(url: string): Promise<void> {
    const o = this.options;
    const protocol = URL.canParse(url) ? new URL(url).protocol : 'an unparsable URL';
    if (protocol !== 'http:' && protocol !== 'https:') throw new RecorderError('url_not_allowed', `The meeting URL must be http(s), not ${protocol}.`);
    const context = this.context!;
    const stale = context.pages();
    const page = await context.newPage();
    this.page = page;
    page.on('crash', () => this.page === page && this.reportProblem('the page crashed'));
    // The kiosk window opened at launch, or the page that failed: only the new page stays.
    for (const old of stale) await old.close({ runBeforeUnload: false }).catch(() => undefined);

    // The main document's last request (after redirects): through the proxy, its failure is a failed tunnel
    // or a response the proxy made up, and the proxy knows why.
    let documentUrl = url;
    const onRequest = (request: Request) => {
      if (request.isNavigationRequest() && request.frame() === page.mainFrame()) documentUrl = request.url();
    };
    page.on('request', onRequest);
    let response;
    try {
      response = await page.goto(url, { waitUntil: 'load', timeout: o.loadTimeoutMs });
    } catch (err) {
      const message = (err as Error).message.split('\n')[0]!;
      const failure = PROXY_FAILURE.test(message) ? this.proxy!.failureFor(documentUrl) : undefined;
      if (failure) throw egressFailureError(failure);
      throw new RecorderError(classifyNavigationError(message), `The meeting page could not be loaded: ${message}`, { cause: err });
    } finally {
      page.off('request', onRequest);
    }
    // Only the proxy can set this header on a plain-http response (it strips it from upstream ones).
    const egressKind = response && new URL(response.url()).protocol === 'http:' ? response.headers()[EGRESS_HEADER] : undefined;
    if (egressKind) {
      throw egressFailureError(this.proxy!.failureFor(response!.url()) ?? { kind: egressKind as EgressFailure['kind'], host: '', port: 0, detail: `${response!.url()} (${egressKind})` });
    }
    if (response && response.status() >= 400) {
      throw new RecorderError('page_http_error', `The meeting page answered HTTP ${response.status()} ${response.statusText()}.`);
    }
    this.startWatchdog(page);
  }

  /** A page whose main thread does not answer within the timeout is hung (e.g. a script in a busy loop). */
  private startWatchdog(page: Page): void {
    clearTimeout(this.watchdog);
    const interval = this.options.watchdogIntervalMs ?? 2000;
    const timeout = this.options.watchdogTimeoutMs ?? 10_000;
    const check = async () => {
      if (this.page !== page || this.closing) return;
      let timer: NodeJS.Timeout | undefined;
      const answered = await Promise.race([
        page.evaluate('1').then(
          () => true,
          () => true, // a crash or close is reported by its own event
        ),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeout))),
      ]);
      clearTimeout(timer);
      if (this.page !== page || this.closing) return;
      if (!answered) return this.reportProblem(`the page did not respond for ${timeout} ms`);
      this.watchdog = setTimeout(check, interval);
    };
    this.watchdog = setTimeout(check, interval);
  }

  async recover(url: string): Promise<void> {
    clearTimeout(this.watchdog);
    this.page = undefined;
    this.rearm();
    if (!this.context || !(await this.browserAlive())) {
      const old = this.context;
      this.context = undefined;
      this.closing = true;
      await old?.close().catch(() => undefined);
      this.closing = false;
      await this.launch();
    }
    await this.show(url);
  }

  private async browserAlive(): Promise<boolean> {
    const browser = this.context?.browser();
    if (browser && !browser.isConnected()) return false;
    try {
      // A fresh page answers only if the browser process is alive.
      const probe = await Promise.race([this.context!.newPage(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 5000))]);
      await probe.close({ runBeforeUnload: false });
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.watchdog);
    await this.context?.close().catch(() => undefined);
    await this.proxy?.close();
  }
}
