/**
 * API Gateway HTTP API stand-in: turns a Node request into an API Gateway v2 (payload 2.0) event, matches it
 * against the same route table the CDK app deploys, and calls the same handler module.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { RouteNotFoundError } from '#core/errors.ts';
import { problem, titleFor, type HttpResult } from '#core/http.ts';
import { ROUTES, type RouteDefinition } from '../functions/routes.ts';

type LambdaHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<HttpResult>;

interface CompiledRoute {
  route: RouteDefinition;
  pattern: RegExp;
  params: string[];
  handler?: LambdaHandler;
}

/** API Gateway's payload limit is 10 MB; Lambda's is 6 MB. We stop far earlier: no route takes more than a few KB. */
export const MAX_BODY_BYTES = 1024 * 1024;

function compile(route: RouteDefinition): CompiledRoute {
  const params: string[] = [];
  const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{(\w+)\\?\}/g, (_m, name: string) => {
    params.push(name);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`), params };
}

export class LocalHttpApi {
  private readonly routes = ROUTES.map(compile);

  /** Imports every handler module (after the environment contract has been set). */
  async load(): Promise<void> {
    for (const r of this.routes) {
      const mod = await import(`../functions/handlers/${r.route.handler}.ts`);
      r.handler = mod.handler;
    }
  }

  async handle(req: IncomingMessage, res: ServerResponse, rawBody: Buffer | undefined, tooLarge: boolean): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    let result: HttpResult;
    if (tooLarge) {
      result = problem(413, 'payload_too_large', titleFor(413), `The request body exceeds ${MAX_BODY_BYTES} bytes.`, url.pathname);
    } else {
      const match = this.match(method, url.pathname);
      if (!match) {
        const e = new RouteNotFoundError(method, url.pathname);
        result = problem(e.status, e.code, titleFor(e.status), e.message, url.pathname);
      } else {
        const event = toEvent(req, url, method, match.route, match.pathParameters, rawBody);
        result = await match.route.handler!(event, lambdaContext(match.route.route.handler));
      }
    }
    res.writeHead(result.statusCode, result.headers);
    res.end(result.body);
  }

  private match(method: string, path: string) {
    for (const r of this.routes) {
      if (r.route.method !== method) continue;
      const m = r.pattern.exec(path);
      if (!m) continue;
      let pathParameters: Record<string, string>;
      try {
        pathParameters = Object.fromEntries(r.params.map((name, i) => [name, decodeURIComponent(m[i + 1])]));
      } catch {
        return undefined; // malformed percent-encoding: API Gateway answers 404 too
      }
      return { route: r, pathParameters };
    }
    return undefined;
  }
}

/**
 * Answers a request that Node's HTTP parser refused before any handler saw it (request line and headers over
 * the 16 KiB limit, bytes not allowed in a URL or header, a request that took too long to arrive) with
 * problem+json, as every other answer is, instead of Node's bare status line. For the server's 'clientError'.
 */
export function answerClientError(err: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex): void {
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  const code = err.code ?? '';
  if (!socket.writable || inFlight?.headersSent || !(code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT')) {
    socket.destroy();
    return;
  }
  const [status, problemCode, detail] =
    code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'request_header_too_large', 'The request line and headers exceed 16 KiB.']
      : code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'The request did not arrive in time.']
        : [400, 'malformed_request', 'The request is not valid HTTP/1.1 (for example, bytes a URL or header may not contain).'];
  const { body } = problem(status, problemCode, STATUS_CODES[status] ?? 'Error', detail);
  // An answer to HEAD has no body (the client would take it for the start of another answer).
  const head = err.rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${head ? '' : body}`,
  );
}

function toEvent(
  req: IncomingMessage,
  url: URL,
  method: string,
  route: CompiledRoute,
  pathParameters: Record<string, string>,
  rawBody: Buffer | undefined,
): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const isText = rawBody !== undefined && /json|text|xml|urlencoded/i.test(headers['content-type'] ?? 'application/json');
  const routeKey = `${route.route.method} ${route.route.path}`;
  const now = new Date();
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: Object.keys(query).length ? query : undefined,
    pathParameters: Object.keys(pathParameters).length ? pathParameters : undefined,
    body: rawBody && rawBody.length ? (isText ? rawBody.toString('utf8') : rawBody.toString('base64')) : undefined,
    isBase64Encoded: Boolean(rawBody && rawBody.length && !isText),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: { method, path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
  };
}

/** A Lambda context for a locally hosted handler (Powertools' Logger reads the function name and request id). */
export function lambdaContext(functionName: string): Context {
  const deadline = Date.now() + 10_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/local/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
