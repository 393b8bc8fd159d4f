/**
 * The browser source: Debian's Chromium, full screen on the recording's X display, playing sound into its
 * PulseAudio sink. Capture starts only after the meeting page has loaded, so an error page is never recorded.
 */
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { join } from 'node:path';
import { RecorderError } from './recorder-error.ts';
import type { RecorderErrorCode } from '#core/recorder-errors.ts';

export interface BrowserSource {
  open(url: string): Promise<void>;
  /** Resolves if the browser goes away on its own (crash, page process killed). */
  readonly crashed: Promise<string>;
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
    '--disable-features=Translate,MediaRouter,DialMediaRouteProvider',
    '--password-store=basic',
    // Rendering must not be throttled when nothing "visible" changes for the compositor.
    '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
  ];
}

/** Maps a Chromium network error to a recording error code. */
export function classifyNavigationError(message: string): RecorderErrorCode {
  if (/ERR_CONNECTION_REFUSED/.test(message)) return 'page_connection_refused';
  if (/ERR_NAME_NOT_RESOLVED|ERR_NAME_RESOLUTION_FAILED/.test(message)) return 'page_dns_failed';
  if (/ERR_CERT_|ERR_SSL_|ERR_BAD_SSL/.test(message)) return 'page_tls_error';
  if (/Timeout .*exceeded|ERR_TIMED_OUT|ERR_CONNECTION_TIMED_OUT/.test(message)) return 'page_load_timeout';
  return 'page_unreachable';
}

export class ChromiumBrowserSource implements BrowserSource {
  private readonly options: ChromiumOptions;
  private context?: BrowserContext;
  private page?: Page;
  private resolveCrashed!: (reason: string) => void;
  private closing = false;
  readonly crashed: Promise<string>;

  constructor(options: ChromiumOptions) {
    this.options = options;
    this.crashed = new Promise((resolve) => (this.resolveCrashed = resolve));
  }

  async open(url: string): Promise<void> {
    const o = this.options;
    try {
      this.context = await chromium.launchPersistentContext(join(o.workDir, 'chromium-profile'), {
        executablePath: o.executablePath,
        headless: false,
        viewport: null,
        ignoreDefaultArgs: ['--enable-automation'],
        args: chromiumArgs(o.width, o.height),
        env: { ...process.env, DISPLAY: o.display, PULSE_SERVER: o.pulseServer },
        timeout: 30_000,
      });
    } catch (err) {
      throw new RecorderError('browser_failed', `Chromium could not be started: ${(err as Error).message}`, { cause: err });
    }
    this.context.on('close', () => !this.closing && this.resolveCrashed('browser closed'));
    this.page = this.context.pages()[0] ?? (await this.context.newPage());
    this.page.on('crash', () => this.resolveCrashed('page crashed'));

    let response;
    try {
      response = await this.page.goto(url, { waitUntil: 'load', timeout: o.loadTimeoutMs });
    } catch (err) {
      const message = (err as Error).message.split('\n')[0];
      throw new RecorderError(classifyNavigationError(message), `The meeting page could not be loaded: ${message}`, { cause: err });
    }
    if (response && response.status() >= 400) {
      throw new RecorderError('page_http_error', `The meeting page answered HTTP ${response.status()} ${response.statusText()}.`);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.context?.close().catch(() => undefined);
  }
}
