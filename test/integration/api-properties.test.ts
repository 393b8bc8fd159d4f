/**
 * Property-based tests (fast-check) of every route over real HTTP on the local stack: random, truncated,
 * oversized and non-UTF-8 bodies, wrong JSON types, odd headers (content types, huge values, odd
 * Idempotency-Keys and credentials), huge and odd ids (Unicode, Latin-1 bytes, percent-encoding, dot
 * segments), random query strings. Whatever the input:
 * - an answer comes within the deadline (never a hang), and it is never a 5xx;
 * - a non-2xx answer is `application/problem+json` with `type`, `title`, `status` (the HTTP status),
 *   `detail` and a `code` that the OpenAPI document lists for that route and status;
 * - a 2xx answer is the documented success answer, and matches its documented schema.
 *
 * No fuzzed request may start a recorder: every create body that could pass validation names a meeting URL
 * the SSRF policy refuses (private, link-local, multicast, reserved addresses, in every notation), and a
 * 201 from POST /v1/recordings, or a running recorder, fails the test at once without shrinking.
 *
 * Settings: FC_NUM_RUNS (runs per property, default 200), FC_SEED (replay a failure), FC_NO_SHRINK=1 (report
 * the first failure as found), FC_STATS=1 (print how often each route/status/code came up), FC_DEBUG=<text>
 * (print the requests whose "route -> status code" contains the text).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintScopedToken } from '../../functions/core/auth/scoped-tokens.ts';
import type { RecordingStatus } from '../../functions/core/recording.ts';
import { ROUTES, type RouteDefinition } from '../../functions/routes.ts';
import { OpenApiChecker } from '../support/openapi.ts';
import { HangError, RawHttpClient, type RawAnswer, type RawRequest } from '../support/raw-http.ts';
import { seedRecording } from '../support/seed.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 200);
const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 1024 * 1024;

let t: TestStack;
let http: RawHttpClient;
const checker = new OpenApiChecker();
/** Ids of recordings that exist (seeded in every status), for the id generators. */
const seededIds: string[] = [];
const credentials: Record<'apiKey' | 'allActions' | 'readOnly' | 'otherMeeting' | 'expired', string> = {} as never;

beforeAll(async () => {
  t = await startTestStack();
  http = new RawHttpClient(t.stack.url, REQUEST_TIMEOUT_MS);
  credentials.apiKey = t.stack.apiKey;
  const mint = async (body: object) => {
    const res = await t.api.request('POST', '/v1/tokens', body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.token as string;
  };
  credentials.allActions = await mint({ meetingId: 'seeded', actions: ['start', 'stop', 'pause', 'resume', 'read'] });
  credentials.readOnly = await mint({ meetingId: 'seeded', actions: ['read'] });
  credentials.otherMeeting = await mint({ meetingId: 'elsewhere', actions: ['start', 'stop', 'pause', 'resume', 'read'] });
  // Expired for good (past the 30 s leeway), signed with the tenant's real secret.
  const tenant = (await t.credentials.getTenant(t.stack.tenantId))!;
  credentials.expired = mintScopedToken(tenant, { meetingId: 'seeded', actions: ['read'], ttlSeconds: 60 }, new Date(Date.now() - 3_600_000)).token;
  const statuses: RecordingStatus[] = ['INVOKED', 'RECORDING', 'RECORDING', 'PAUSED', 'UPLOADING', 'UPLOADED', 'UPLOADED', 'ERRORED'];
  for (const [i, status] of statuses.entries()) {
    const r = await seedRecording(t.stack.repository, t.stack.tenantId, {
      meetingId: i === 1 ? 'seeded-live' : 'seeded',
      status,
      lock: i === 1,
      ...(status === 'UPLOADED' && {
        patch: { uploadedAt: new Date().toISOString(), files: [{ key: `recordings/local/x${i}/recording.mp4`, sizeBytes: 10, durationSeconds: 1, format: 'mp4' as const }] },
      }),
    });
    seededIds.push(r.id);
  }
});

afterAll(async () => {
  http?.close();
  await t?.stop();
});

// ---------------------------------------------------------------------------------------------------------
// Generators

/** Characters Node's client sends in a header value (Latin-1 without control characters but tab). */
const headerSafe = (s: string) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
/** Encodes what Node's client refuses to put in a request line (space, controls, above U+00FF), '#', and '?'. */
const pathSafe = (s: string) => s.replace(/[^\x21-\xff]|[#?]/gu, (c) => encodeURIComponent(c));

const unicodeText = fc.string({ unit: 'binary', maxLength: 40 });
const latin1Text = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const visibleAscii = (min: number, max: number) =>
  fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: min, maxLength: max });

/** A path segment for `{id}` or `{meetingId}`. */
const segment = (kind: 'id' | 'meetingId') =>
  fc.oneof(
    { weight: 8, arbitrary: kind === 'id' ? fc.constantFrom(...seededIds) : fc.constantFrom('seeded', 'seeded-live', 'elsewhere', 'nobody') },
    { weight: 3, arbitrary: fc.stringMatching(/^rec_[a-z0-9]{24}$/) },
    { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9._:-]{1,140}$/) },
    { weight: 3, arbitrary: unicodeText.map(encodeURIComponent) },
    { weight: 1, arbitrary: unicodeText.map(pathSafe) },
    { weight: 1, arbitrary: latin1Text.map(pathSafe) },
    {
      weight: 3,
      arbitrary: fc
        .array(fc.constantFrom('%', '%Z', '%ZZ', '%E0%A4', '%C0%AF', '%00', '%2F', '%2f', '%2e', '%2E%2E', '..', '.', '%25', '%F0%9F%92%A9', '%FF', '~', '\\', ';', '@', ':', '$', "'", '"', '<', '>', '`', '{', '}', 'rec_'), { minLength: 1, maxLength: 6 })
        .map((parts) => parts.join('')),
    },
    { weight: 1, arbitrary: fc.integer({ min: 200, max: 12_000 }).map((n) => 'a'.repeat(n)) },
    { weight: 1, arbitrary: fc.integer({ min: 50, max: 1_200 }).map((n) => encodeURIComponent('🎥'.repeat(n))) },
    { weight: 1, arbitrary: fc.constant('') },
  );

const queryName = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('meetingId', 'status', 'createdFrom', 'createdTo', 'limit', 'cursor', 'expiresIn') },
  { weight: 1, arbitrary: unicodeText },
);
const queryValue = fc.oneof(
  fc.constantFrom('', '0', '1', '20', '100', '101', '-1', '1e3', '0x10', '999999999', '9999999999', '604800', '604801', 'RECORDING', 'UPLOADED', 'nope'),
  fc.constantFrom('2024-01-01', '2024-02-30', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00.000+02:00', '9999-12-31T23:59:59Z', '0000-01-01', 'yesterday'),
  fc.constantFrom('seeded', 'seeded-live', 'a b', 'x'.repeat(200)),
  fc.base64String({ maxLength: 200 }).map((s) => s.replace(/=+$/, '')),
  fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null').toString('base64url')),
  unicodeText,
  fc.integer({ min: 100, max: 6000 }).map((n) => 'c'.repeat(n)),
);
const queryString = fc.oneof(
  { weight: 6, arbitrary: fc.constant('') },
  { weight: 4, arbitrary: fc.array(fc.tuple(queryName, queryValue), { maxLength: 5 }).map((pairs) => `?${new URLSearchParams(pairs)}`) },
  {
    weight: 2,
    arbitrary: fc
      .array(
        fc.oneof(
          { weight: 5, arbitrary: fc.constantFrom('&', '=', '&&', '==', '%', '%zz', '%E0', '+', ';', 'limit', 'limit=', '=1', 'a[b]=c', '%00=%00', '?', '/', '#') },
          { weight: 1, arbitrary: latin1Text.map(pathSafe) },
        ),
        { minLength: 1, maxLength: 8 },
      )
      .map((parts) => `?${parts.join('')}`.replace(/#/g, '%23')),
  },
);

/** Hosts the SSRF policy refuses by default, in the notations a URL parser accepts. Never loopback. */
const FORBIDDEN_HOSTS = [
  '10.0.0.1',
  '10.255.255.254',
  '172.16.5.4',
  '172.31.255.255',
  '192.168.0.1',
  '169.254.169.254',
  '169.254.170.2',
  '169.254.43518', // 169.254.169.254
  '100.64.0.1',
  '0.0.0.0',
  '224.0.0.1',
  '239.255.255.250',
  '240.0.0.1',
  '255.255.255.255',
  '198.18.0.1',
  '192.0.2.1',
  '0xa.0.0.1', // 10.0.0.1
  '012.0.0.1', // 10.0.0.1
  '167772161', // 10.0.0.1
  '0xA9FEA9FE', // 169.254.169.254
  '[fd00:ec2::254]',
  '[fc00::1]',
  '[fe80::1]',
  '[ff02::1]',
  '[::]',
  '[::ffff:10.0.0.1]',
  '[::ffff:169.254.169.254]',
  '[::ffff:a9fe:a9fe]',
  '[64:ff9b::a00:1]',
  '[2002:a00:1::]',
];

const forbiddenMeetingUrl = fc
  .record({
    scheme: fc.constantFrom('http', 'https', 'HTTP', 'hTtPs'),
    userinfo: fc.option(fc.constantFrom('user@', 'user:pass@', 'a%40b@'), { nil: '' }),
    host: fc.constantFrom(...FORBIDDEN_HOSTS),
    port: fc.option(fc.integer({ min: 1, max: 65535 }).map((p) => `:${p}`), { nil: '' }),
    path: fc.webPath(),
    query: fc.option(fc.webQueryParameters().map((q) => `?${q}`), { nil: '' }),
    fragment: fc.option(fc.webFragments().map((f) => `#${f}`), { nil: '' }),
  })
  .map((u) => `${u.scheme}://${u.userinfo}${u.host}${u.port}${u.path}${u.query}${u.fragment}`);

const meetingIdValue = fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/), fc.constantFrom('seeded', 'seeded-live', 'elsewhere'), unicodeText, fc.constant(''));

/** Create bodies that may pass validation: their URL is one the SSRF policy refuses. */
const createBodyLooksValid = fc.record(
  {
    meetingUrl: forbiddenMeetingUrl,
    meetingId: fc.oneof({ weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/) }, { weight: 1, arbitrary: meetingIdValue }),
    maxDurationSeconds: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 86_400 }) }, { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double()) }),
  },
  { requiredKeys: ['meetingUrl'] },
);

/** Any JSON value that is not a string: a field of the wrong type. */
const notAString = fc.jsonValue({ maxDepth: 2 }).filter((v) => typeof v !== 'string');

/** Create bodies that cannot pass validation: a field of the wrong type, an unknown field, or no URL. */
const createBodyInvalid = fc.oneof(
  fc.record({ meetingUrl: notAString, meetingId: fc.option(meetingIdValue, { nil: undefined }) }),
  fc.record({ meetingUrl: forbiddenMeetingUrl, meetingId: fc.jsonValue({ maxDepth: 2 }).filter((v) => typeof v !== 'string') }),
  fc.record({ meetingUrl: forbiddenMeetingUrl, maxDurationSeconds: fc.jsonValue({ maxDepth: 1 }).filter((v) => typeof v !== 'number') }),
  fc.record({ meetingUrl: forbiddenMeetingUrl, unknown: fc.jsonValue({ maxDepth: 1 }) }),
  fc.record({ meetingUrl: fc.oneof(unicodeText, fc.constantFrom('file:///etc/passwd', 'javascript:alert(1)', '//10.0.0.1/', 'http://', 'ftp://10.0.0.1/')) }),
  fc.record({ meetingId: meetingIdValue }),
  fc.record({ meetingUrl: fc.integer({ min: 2049, max: 400_000 }).map((n) => `http://10.0.0.1/${'a'.repeat(n)}`) }),
);

const tokenBody = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record(
      {
        meetingId: fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
        actions: fc.subarray(['start', 'stop', 'pause', 'resume', 'read'], { minLength: 1 }),
        ttlSeconds: fc.integer({ min: 1, max: 86_400 }),
      },
      { requiredKeys: ['meetingId', 'actions'] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        meetingId: fc.oneof(meetingIdValue, notAString),
        actions: fc.oneof(fc.subarray(['start', 'stop', 'pause', 'resume', 'read']), fc.array(fc.oneof(unicodeText, fc.constantFrom('delete', 'admin'))), notAString),
        ttlSeconds: fc.oneof(fc.integer({ min: -10, max: 200_000 }), fc.double(), notAString),
        extra: fc.jsonValue({ maxDepth: 1 }),
      },
      { requiredKeys: [] },
    ),
  },
);

/** A JSON document as text, sometimes cut short, padded, or wrapped in odd bytes. */
const asText = (value: fc.Arbitrary<unknown>) =>
  fc.tuple(value, fc.constantFrom('whole', 'whole', 'whole', 'whole', 'whole', 'whole', 'truncated', 'bom', 'spaces', 'trailing')).chain(([v, how]) => {
    const text = JSON.stringify(v) ?? 'null';
    if (how === 'truncated') return fc.integer({ min: 0, max: Math.max(0, text.length - 1) }).map((n) => text.slice(0, n));
    if (how === 'bom') return fc.constant(`\ufeff${text}`);
    if (how === 'spaces') return fc.constant(`  \n\t${text}\r\n `);
    if (how === 'trailing') return fc.constant(`${text}}`);
    return fc.constant(text);
  });

type Body = { bytes: Buffer; kind: string } | undefined;
const text = (kind: string) => (s: string) => ({ bytes: Buffer.from(s, 'utf8'), kind });

/** Bodies that no route accepts, whatever the route. */
const junkBody: fc.Arbitrary<Body> = fc.oneof(
  { weight: 3, arbitrary: asText(fc.jsonValue({ maxDepth: 3 })).map(text('random JSON')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => ({ bytes: Buffer.from(a), kind: 'random bytes' })) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\n', 'null', '[]', '""', '0', 'true', '{', '}', '{"a":', '\u0000', '[[[[[[[[', '{"__proto__":{"x":1}}').map(text('odd JSON')) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 50_000 }).map((n) => text('deep nesting')(`${'['.repeat(n)}${']'.repeat(n)}`)) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: MAX_BODY_BYTES + 1, max: MAX_BODY_BYTES + 300_000 }).map((n) => ({ bytes: Buffer.alloc(n, 0x61), kind: 'oversized' })),
  },
);

const bodyFor = (route: RouteDefinition): fc.Arbitrary<Body> => {
  if (route.handler === 'create-recording') {
    return fc.oneof(
      { weight: 5, arbitrary: asText(createBodyLooksValid).map(text('create, looks valid')) },
      { weight: 3, arbitrary: asText(createBodyInvalid).map(text('create, invalid')) },
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: junkBody },
    );
  }
  if (route.handler === 'create-token') {
    return fc.oneof({ weight: 5, arbitrary: asText(tokenBody).map(text('token body')) }, { weight: 1, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: junkBody });
  }
  if (route.method === 'POST') {
    return fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: fc.constantFrom('', '{}', ' { } ', '\n', '{"reason":"x"}').map(text('no body')) },
      { weight: 3, arbitrary: junkBody },
    );
  }
  return fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: junkBody });
};

const contentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/problem+json',
      'application/vnd.api+json',
      'application/jsonx',
      'application/json-patch+json',
      'text/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      '*/*',
      'json',
      ';',
      '',
      'application/json, text/plain',
      'application/json; charset=latin1',
    ),
  },
  { weight: 1, arbitrary: latin1Text.map(headerSafe) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 12_000 }).map((n) => `application/json;${' x=y'.repeat(n / 4)}`) },
);

const idempotencyKey = fc.oneof(
  { weight: 4, arbitrary: visibleAscii(1, 255) },
  { weight: 2, arbitrary: fc.constantFrom('k1', 'k2', 'replay-me') }, // reused across requests: replays and 422s
  { weight: 2, arbitrary: fc.constantFrom('', ' ', 'a b', '\t', 'é', 'x'.repeat(256), 'ключ') .map(headerSafe) },
  { weight: 1, arbitrary: latin1Text.map(headerSafe) },
  { weight: 1, arbitrary: fc.integer({ min: 256, max: 12_000 }).map((n) => 'k'.repeat(n)) },
);

type CredentialChoice = { headers: Record<string, string>; label: string };
const credential: fc.Arbitrary<CredentialChoice> = fc.oneof(
  { weight: 14, arbitrary: fc.constant('apiKey').map(() => ({ headers: { authorization: `Bearer ${credentials.apiKey}` }, label: 'API key' })) },
  { weight: 1, arbitrary: fc.constant(0).map(() => ({ headers: { 'x-api-key': credentials.apiKey }, label: 'x-api-key' })) },
  {
    weight: 3,
    arbitrary: fc.constantFrom('allActions', 'readOnly', 'otherMeeting', 'expired').map((name) => ({
      headers: { authorization: `Bearer ${credentials[name as keyof typeof credentials]}` },
      label: `token ${name}`,
    })),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.constantFrom('', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer mr_', 'Bearer a.b.c', 'Bearer ..', 'Bearer mr_0000000000000000_' + 'A'.repeat(43)),
        fc.constant(0).map(() => `Bearer ${credentials.apiKey}x`),
        fc.constant(0).map(() => `Bearer ${credentials.allActions.slice(0, -2)}AA`),
        fc.constant(0).map(() => `Bearer  ${credentials.apiKey}  `),
        latin1Text.map((s) => headerSafe(`Bearer ${s}`)),
        fc.integer({ min: 1_000, max: 12_000 }).map((n) => `Bearer ${'A'.repeat(n)}`),
      )
      .map((value) => ({ headers: { authorization: value }, label: 'junk authorization' })),
  },
  { weight: 1, arbitrary: fc.constant(0).map(() => ({ headers: { authorization: `Bearer ${credentials.apiKey}`, 'x-api-key': `mr_${'0'.repeat(16)}_x` }, label: 'two credentials' })) },
  { weight: 1, arbitrary: fc.constant({ headers: {}, label: 'none' }) },
);

const extraHeaders = fc.oneof(
  { weight: 4, arbitrary: fc.constant({}) },
  {
    weight: 2,
    arbitrary: fc.dictionary(
      fc.stringMatching(/^x-[a-z0-9-]{1,20}$/),
      fc.oneof(latin1Text.map(headerSafe), fc.integer({ min: 1_000, max: 8_000 }).map((n) => 'v'.repeat(n))),
      { maxKeys: 3 },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Record<string, string>>(
      { accept: 'text/html' },
      { accept: '' },
      { 'accept-encoding': 'gzip, br' },
      { 'x-forwarded-for': '10.0.0.1' },
      { 'x-http-method-override': 'DELETE' },
      { expect: '100-continue' },
      { 'content-encoding': 'gzip' },
      { host: 'evil.example' },
    ),
  },
);

interface FuzzRequest extends RawRequest {
  label: string;
}

/** Replaces each `{param}` of the route's path with a generated segment. */
const pathFor = (route: RouteDefinition): fc.Arbitrary<string> => {
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  return fc
    .tuple(fc.tuple(...names.map((name) => segment(name === 'id' ? 'id' : 'meetingId'))), queryString)
    .map(([values, query]) => names.reduce((path, name, i) => path.replace(`{${name}}`, values[i]!), route.path) + query);
};

const requestFor = (route: RouteDefinition): fc.Arbitrary<FuzzRequest> =>
  fc
    .record({
      path: pathFor(route),
      body: bodyFor(route),
      contentType: fc.option(contentType, { freq: 5, nil: undefined }),
      idempotencyKey: fc.option(idempotencyKey, { freq: 2, nil: undefined }),
      credential,
      extra: extraHeaders,
      chunked: fc.boolean(),
    })
    .map(({ path, body, contentType: type, idempotencyKey: key, credential: cred, extra, chunked }) => {
      const headers: Record<string, string> = { ...extra, ...cred.headers };
      if (body && type !== undefined) headers['content-type'] = type;
      if (key !== undefined) headers['idempotency-key'] = key;
      return {
        method: route.method,
        path,
        headers,
        body: body?.bytes,
        chunked: chunked && body !== undefined,
        label: `${cred.label}; body: ${body?.kind ?? 'none'}`,
      };
    });

// ---------------------------------------------------------------------------------------------------------
// The invariants

const COMPILED = ROUTES.map((route) => {
  const params: string[] = [];
  const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{(\w+)\\?\}/g, (_m, name: string) => {
    params.push(name);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`) };
});

/** The route a request reaches (after URL normalization: dot segments), or undefined for none. */
function routeOf(method: string, rawPath: string): RouteDefinition | undefined {
  let pathname: string;
  try {
    pathname = new URL(rawPath, 'http://localhost').pathname;
  } catch {
    return undefined;
  }
  for (const { route, pattern } of COMPILED) {
    const m = route.method === method ? pattern.exec(pathname) : null;
    if (m) return route;
  }
  return undefined;
}

const preview = (req: FuzzRequest) => {
  const clip = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);
  const headers = Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k, clip(String(v), 120)]));
  return `${req.method} ${clip(req.path, 200)}\n  ${req.label}\n  headers: ${JSON.stringify(headers)}\n  body: ${req.body ? clip(req.body.toString('utf8')) : '(none)'}`;
};

/** What the HTTP layer answers before any route is chosen, when it must; undefined when the route decides. */
function expectedBeforeRouting(req: FuzzRequest): { status: number; code: string; why: string } | undefined {
  // Raw bytes above ASCII in the request line are not HTTP/1.1 (RFC 9112 wants them percent-encoded).
  if (/[^\x21-\x7e]/.test(req.path)) return { status: 400, code: 'malformed_request', why: 'raw non-ASCII bytes in the path' };
  if (req.body && req.body.length > MAX_BODY_BYTES) return { status: 413, code: 'payload_too_large', why: 'a body over 1 MiB' };
  return undefined;
}

/** Throws, naming the request and the answer, when an answer breaks an invariant. */
function checkAnswer(req: FuzzRequest, answer: RawAnswer): void {
  const fail = (why: string): never => {
    throw new Error(`${why}\nrequest: ${preview(req)}\nanswer: ${answer.status} ${answer.headers['content-type']} ${answer.text.slice(0, 500)}`);
  };
  if (answer.status >= 500) fail(`a ${answer.status}`);
  if (t.stack.recorders.running.size > 0) fail('a recorder is running: a fuzzed request started a recording');
  const route = routeOf(req.method, req.path);
  const contentType = answer.headers['content-type'] as string | undefined;
  const early = expectedBeforeRouting(req);
  if (answer.status < 300) {
    if (early) fail(`a 2xx for ${early.why}`);
    if (!route) fail('a 2xx from no route');
    if (route!.handler === 'create-recording') fail('POST /v1/recordings accepted a fuzzed body: it started a recording');
    const why = checker.check(req.method, route!.path, { status: answer.status, contentType, body: answer.json ?? (answer.text || undefined) });
    if (why) fail(why);
    return;
  }
  if (contentType !== 'application/problem+json') fail(`content-type '${contentType}' instead of application/problem+json`);
  if (req.method === 'HEAD') {
    if (answer.text !== '') fail('an answer to HEAD with a body');
  } else {
    const body = answer.json as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') fail('the body is not a JSON object');
    for (const member of ['type', 'title', 'detail', 'code'] as const) {
      if (typeof body![member] !== 'string' || (body![member] as string).length === 0) fail(`'${member}' is missing or not a non-empty string`);
    }
    if (body!.status !== answer.status) fail(`'status' ${String(body!.status)} is not the HTTP status ${answer.status}`);
  }
  const code = (answer.json as { code?: unknown } | undefined)?.code;
  const tooLargeHeaders = answer.status === 431 && (req.method === 'HEAD' || code === 'request_header_too_large');
  if (tooLargeHeaders) return; // checked before the request line is even looked at, whatever else is wrong
  if (early) {
    if (answer.status !== early.status || (req.method !== 'HEAD' && code !== early.code)) fail(`${early.why} must get ${early.status} ${early.code}`);
    return;
  }
  if (!route) {
    if (answer.status !== 404 || (req.method !== 'HEAD' && code !== 'route_not_found')) fail('a request matching no route must get 404 route_not_found');
    return;
  }
  const why = checker.check(req.method, route.path, { status: answer.status, contentType, body: answer.json });
  if (why) fail(`${why} (documented for ${req.method} ${route.path} at ${answer.status}: ${checker.problemCodes(req.method, route.path, answer.status).join(', ') || 'none'})`);
}

async function sendAndCheck(req: FuzzRequest): Promise<void> {
  let answer: RawAnswer;
  try {
    answer = await http.send(req);
  } catch (err) {
    if (err instanceof HangError) throw new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms (a hang)\nrequest: ${preview(req)}`);
    throw new Error(`the connection failed (${(err as Error).message})\nrequest: ${preview(req)}`);
  }
  const route = routeOf(req.method, req.path);
  const key = `${route ? `${route.method} ${route.path}` : 'no route'} -> ${answer.status} ${(answer.json as { code?: string } | undefined)?.code ?? ''}`;
  seen.set(key, (seen.get(key) ?? 0) + 1);
  if (process.env.FC_DEBUG && key.includes(process.env.FC_DEBUG)) console.log(preview(req));
  checkAnswer(req, answer);
}

/** (route, status, code) of every answer, for the coverage check at the end. */
const seen = new Map<string, number>();

const params = (extra: fc.Parameters<any> = {}): fc.Parameters<any> => ({
  numRuns: NUM_RUNS,
  ...(SEED !== undefined && { seed: SEED }),
  ...(process.env.FC_NO_SHRINK && { endOnFailure: true }),
  ...extra,
});

// ---------------------------------------------------------------------------------------------------------

describe('every route answers bad input with documented problem+json, never a 5xx or a hang', () => {
  for (const route of ROUTES) {
    it(`${route.method} ${route.path}`, async () => {
      await fc.assert(
        fc.asyncProperty(requestFor(route), sendAndCheck),
        // A create that passed would have started a recorder: no shrinking, which would start more.
        params(route.handler === 'create-recording' ? { endOnFailure: true } : {}),
      );
    });
  }

  it('unknown routes and methods: 404 route_not_found (HEAD: no body)', async () => {
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'PROPFIND');
    const path = fc.oneof(
      fc.constantFrom('/', '/v1', '/v1/', '/v1/recordings/', '/v2/recordings', '/V1/RECORDINGS', '/v1/recordings//stop', '/v1/tokens/x', '/v1/openapi.yaml', '//v1/recordings'),
      fc.array(segment('id'), { minLength: 1, maxLength: 4 }).map((parts) => `/v1/${parts.join('/')}`),
      fc.tuple(fc.constantFrom(...ROUTES.map((r) => r.path)), segment('id')).map(([p, s]) => `${p.replace(/\{\w+\}/g, s)}/${s}`),
    );
    const request = fc.record({ method, path, query: queryString, credential }).map(
      ({ method: m, path: p, query, credential: cred }): FuzzRequest => ({ method: m, path: `${p}${query}`, headers: cred.headers, label: cred.label }),
    );
    await fc.assert(
      fc.asyncProperty(request, async (req) => {
        if (routeOf(req.method, req.path)) return; // a real route: covered above
        if (new URL(req.path, 'http://x').pathname === '/' && req.method === 'GET') return; // local mode's index (not part of the API)
        await sendAndCheck(req);
      }),
      params(),
    );
  });
});

describe('targeted properties', () => {
  const apiKeyHeaders = () => ({ authorization: `Bearer ${credentials.apiKey}`, 'content-type': 'application/json' });

  it('POST /v1/recordings with a valid body for a forbidden address: always 422 url_not_allowed, never a recording', async () => {
    const body = fc.record(
      { meetingUrl: forbiddenMeetingUrl, meetingId: fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/), maxDurationSeconds: fc.integer({ min: 1, max: 86_400 }) },
      { requiredKeys: ['meetingUrl'] },
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const req: FuzzRequest = { method: 'POST', path: '/v1/recordings', headers: apiKeyHeaders(), body: Buffer.from(JSON.stringify(b)), label: 'SSRF' };
        const answer = await http.send(req);
        checkAnswer(req, answer);
        expect((answer.json as { code?: string }).code, answer.text).toBe('url_not_allowed');
      }),
      params({ endOnFailure: true }),
    );
  });

  it('GET /v1/recordings with forged cursors (the right shape, any key values): 200 or 400, never a 5xx', async () => {
    const keyValue = fc.oneof(fc.constant(''), fc.string({ maxLength: 20 }), unicodeText, fc.integer({ min: 500, max: 512 }).map((n) => 'k'.repeat(n)));
    const forged = fc
      .record({
        filter: fc.constantFrom('', 'meetingId=seeded', 'status=UPLOADED', 'meetingId=seeded&status=RECORDING'),
        index: fc.constantFrom('byTenant', 'byMeeting', 'byStatus'),
        rightPartition: fc.boolean(),
        pk: keyValue,
        sk: keyValue,
        indexSk: keyValue,
        partition: keyValue,
      })
      .map((c) => {
        const gsi = { byTenant: 'gsi1', byMeeting: 'gsi2', byStatus: 'gsi3' }[c.index];
        const partition = !c.rightPartition
          ? c.partition
          : c.index === 'byMeeting'
            ? `TENANT#${t.stack.tenantId}#MEETING#seeded`
            : c.index === 'byStatus'
              ? `TENANT#${t.stack.tenantId}#STATUS#UPLOADED`
              : `TENANT#${t.stack.tenantId}`;
        const decoded = JSON.stringify({ i: c.index, k: { pk: c.pk, sk: c.sk, [`${gsi}pk`]: partition, [`${gsi}sk`]: c.indexSk } });
        return { path: `/v1/recordings?${c.filter}${c.filter ? '&' : ''}cursor=${Buffer.from(decoded).toString('base64url')}`, decoded };
      });
    await fc.assert(
      fc.asyncProperty(forged, ({ path, decoded }) => sendAndCheck({ method: 'GET', path, headers: apiKeyHeaders(), label: `forged cursor ${decoded}` })),
      params(),
    );
  });
});

describe('the HTTP server itself answers problem+json', () => {
  it.each<[string, number, string, RawRequest]>([
    ['request line and headers over 16 KiB', 431, 'request_header_too_large', { method: 'GET', path: '/v1/recordings', headers: { 'x-big': 'a'.repeat(20_000) } }],
    ['a path over 16 KiB', 431, 'request_header_too_large', { method: 'GET', path: `/v1/recordings/${'a'.repeat(20_000)}` }],
    ['raw Latin-1 bytes in the path', 400, 'malformed_request', { method: 'GET', path: '/v1/recordings/r\xe9c' }],
    ['raw Latin-1 bytes in the path of a HEAD', 400, '', { method: 'HEAD', path: '/v1/recordings/r\xe9c' }],
  ])('%s: %i %s', async (_label, status, code, req) => {
    // Act
    const answer = await http.send({ ...req, headers: { authorization: `Bearer ${credentials.apiKey}`, ...req.headers } });

    // Assess
    expect(answer.status).toBe(status);
    expect(answer.headers['content-type']).toBe('application/problem+json');
    if (req.method === 'HEAD') expect(answer.text).toBe('');
    else expect(answer.json).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  });

  it('the checks are able to fail: a 5xx, a bare error and an undocumented code are caught', () => {
    const req: FuzzRequest = { method: 'GET', path: `/v1/recordings/${seededIds[0]}`, label: 'test' };
    const problem = (status: number, code: string) => ({
      status,
      headers: { 'content-type': 'application/problem+json' },
      text: '',
      json: { type: 'urn:x', title: 'x', status, detail: 'x', code },
      ms: 1,
    });
    expect(() => checkAnswer(req, problem(404, 'recording_not_found'))).not.toThrow();
    expect(() => checkAnswer(req, problem(500, 'internal_error'))).toThrow(/a 500/);
    expect(() => checkAnswer(req, problem(409, 'stop_in_progress'))).toThrow(/not documented/);
    expect(() => checkAnswer(req, problem(404, 'stop_in_progress'))).toThrow(/schema/);
    expect(() => checkAnswer(req, { ...problem(404, 'recording_not_found'), headers: { 'content-type': 'application/json' } })).toThrow(/content-type/);
    expect(() => checkAnswer(req, { ...problem(404, 'recording_not_found'), json: { status: 404, code: 'recording_not_found' } })).toThrow(/'type'/);
    expect(() => checkAnswer({ ...req, method: 'POST', path: '/v1/recordings' }, { status: 201, headers: {}, text: '{}', json: {}, ms: 1 })).toThrow(
      /started a recording/,
    );
  });

  it('the fuzzing reached the handlers: answers with many different codes, and successes', () => {
    if (process.env.FC_STATS) console.log([...seen].sort().map(([k, n]) => `${String(n).padStart(5)}  ${k}`).join('\n'));
    if (NUM_RUNS < 100) return; // too few runs to expect every code
    const codes = new Set([...seen.keys()].map((key) => key.split(' ').at(-1)));
    for (const code of [
      'validation_failed',
      'malformed_body',
      'malformed_request',
      'invalid_idempotency_key',
      'unauthorized',
      'token_expired',
      'insufficient_permissions',
      'recording_not_found',
      'route_not_found',
      'payload_too_large',
      'unsupported_media_type',
      'url_not_allowed',
    ]) {
      expect(codes, code).toContain(code);
    }
    expect([...seen.keys()].filter((key) => / -> 2\d\d /.test(key)).length, 'successful answers').toBeGreaterThan(5);
  });

  it('no fuzzed request started a recording', async () => {
    // Act
    const res = await t.api.request('GET', '/v1/recordings?limit=100');

    // Assess
    expect(res.status).toBe(200);
    expect(t.stack.recorders.running.size).toBe(0);
    for (const item of res.body.items) expect(seededIds, `recording ${item.id} (${item.meetingUrl}) was not seeded`).toContain(item.id);
  });
});
