/**
 * `npm run api-keys -- <command>`: creates, lists and revokes API keys, in local mode's data or in a deployed
 * stack's table. It talks to DynamoDB directly (CredentialStore), not to the API: managing keys needs no key.
 *
 * Local mode (the default): while `npm start` runs, through its DynamoDB emulator (the endpoint it writes
 * into the data dir); otherwise the CLI opens the data dir itself for the moment it needs it.
 * A deployed stack: `--table-name` (the stack's TableName output) and the default AWS credential chain.
 *
 * `create` prints only the key on stdout (`KEY=$(npm run -s api-keys -- create --tenant acme)`); everything
 * else goes to stderr. Exit codes: 0 done, 1 failed, 2 bad usage.
 */
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { KEY_ID_PATTERN } from '../functions/core/auth/api-keys.ts';
import { DEFAULT_AUTH_CACHE_SECONDS } from '../functions/core/auth/authenticator.ts';
import { ApiKeyNotFoundError, CredentialStore, type ApiKeyInfo } from '../functions/core/auth/credential-store.ts';
import { isTenantId, TENANT_ID_RULE } from '../functions/core/auth/tenants.ts';
import { parseFlags } from '../local/cli-args.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/emulators.ts';
import { ENDPOINTS_FILE, readLocalEndpoints } from '../local/local-credentials.ts';
import { LOCAL_TABLE } from '../local/local-stack.ts';

const USAGE = `Usage:
  npm run api-keys -- create --tenant <tenant-id> [--name <label>]   creates the tenant if needed; prints the key once
  npm run api-keys -- list --tenant <tenant-id> [--format table|json] a tenant's keys (never their secrets)
  npm run api-keys -- revoke <key-id>                                 the key stops working

Where (default: local mode's data in .local/data, or LOCAL_DATA_DIR):
  --data-dir <dir>                       local mode's data dir (while npm start runs, through its emulator)
  --table-name <name> [--region <region>] a deployed stack's table (its TableName output), with the default
                                          AWS credential chain (AWS_PROFILE, AWS_REGION, ...)`;

class UsageError extends Error {}

interface Target {
  store: CredentialStore;
  where: string;
  close(): Promise<void>;
}

const FLAGS = { tenant: 'string', name: 'string', format: 'string', 'data-dir': 'string', 'table-name': 'string', region: 'string' } as const;

function parseArgs(argv: string[]) {
  if (argv.includes('--help') || argv.includes('-h')) return { help: true as const };
  const [command, ...rest] = argv;
  if (!command) throw new UsageError('Name a command: create, list or revoke.');
  if (!['create', 'list', 'revoke'].includes(command)) throw new UsageError(`Unknown command '${command}'.`);
  const positional = rest[0] !== undefined && !rest[0].startsWith('--') ? rest.shift() : undefined;
  let flags;
  try {
    flags = parseFlags(rest, FLAGS) as Partial<Record<keyof typeof FLAGS, string>>;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const allowed: Record<string, (keyof typeof FLAGS)[]> = { create: ['tenant', 'name'], list: ['tenant', 'format'], revoke: [] };
  for (const name of ['tenant', 'name', 'format'] as const) {
    if (flags[name] !== undefined && !allowed[command]!.includes(name)) throw new UsageError(`'${command}' takes no --${name}.`);
  }
  if (command === 'revoke') {
    if (!positional) throw new UsageError('revoke needs the key id: npm run api-keys -- revoke <key-id>');
    if (!KEY_ID_PATTERN.test(positional)) throw new UsageError(`'${positional}' is not a key id (16 hex digits, as 'list' shows).`);
  } else {
    if (positional) throw new UsageError(`Unexpected argument '${positional}'.`);
    if (flags.tenant === undefined) throw new UsageError(`${command} needs --tenant <tenant-id>.`);
    if (!isTenantId(flags.tenant)) throw new UsageError(`Invalid --tenant '${flags.tenant}': ${TENANT_ID_RULE}.`);
  }
  if (flags.name !== undefined && (flags.name.length === 0 || flags.name.length > 100)) throw new UsageError('--name must be 1 to 100 characters.');
  if (flags.format !== undefined && flags.format !== 'table' && flags.format !== 'json') throw new UsageError("--format must be 'table' or 'json'.");
  if (flags['table-name'] !== undefined && flags['data-dir'] !== undefined) throw new UsageError('Give either --table-name (a deployed stack) or --data-dir (local mode), not both.');
  if (flags.region !== undefined && flags['table-name'] === undefined) throw new UsageError('--region goes with --table-name.');
  return { help: false as const, command, keyId: positional, flags };
}

const documentClient = (client: DynamoDBClient) => DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });

async function requireTable(client: DynamoDBClient, tableName: string, hint: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
  } catch (err) {
    if (err instanceof ResourceNotFoundException) throw new Error(`Table '${tableName}' does not exist ${hint}.`);
    throw err;
  }
}

async function deployedTarget(tableName: string, region: string | undefined): Promise<Target> {
  const client = new DynamoDBClient({ ...(region && { region }), maxAttempts: 5 });
  await requireTable(client, tableName, `in ${await client.config.region()} (check --table-name and --region)`);
  return { store: new CredentialStore(documentClient(client), tableName), where: `table ${tableName}`, close: async () => client.destroy() };
}

async function localTarget(dataDir: string): Promise<Target> {
  const local = (endpoint: string) =>
    new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 2 });
  const running = readLocalEndpoints(dataDir);
  if (running) {
    const client = local(running.dynamodbEndpoint);
    await requireTable(client, running.tableName, `in the running local service`);
    return { store: new CredentialStore(documentClient(client), running.tableName), where: `local mode (running, ${dataDir})`, close: async () => client.destroy() };
  }
  const dynamoDir = join(dataDir, 'dynamodb');
  if (!existsSync(dynamoDir)) {
    throw new Error(`No local-mode data in ${dataDir}. Start local mode once (npm start), or point --data-dir at its data.`);
  }
  // Not running: open the data dir ourselves, for as long as this command takes. dynalite reports a data dir
  // it cannot open (another process holds its lock) by throwing from a callback, not to the request.
  process.once('uncaughtException', (err) => {
    console.error(`api-keys failed: cannot open ${dynamoDir} (${err.message}). Another process has it open: if local mode runs, ` +
      `it writes ${ENDPOINTS_FILE} into the data dir; restart it with this version, then run this command again.`);
    process.exit(1);
  });
  const server: Server = dynalite({ path: dynamoDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res());
  });
  const client = local(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const close = async () => {
    client.destroy();
    await new Promise<void>((res) => server.close(() => res()));
  };
  try {
    await requireTable(client, LOCAL_TABLE, `in ${dataDir}; start local mode once (npm start)`);
  } catch (err) {
    await close();
    throw err;
  }
  return { store: new CredentialStore(documentClient(client), LOCAL_TABLE), where: `local mode (${dataDir})`, close };
}

function formatTable(keys: ApiKeyInfo[]): string {
  const rows = [['KEY ID', 'NAME', 'CREATED', 'STATUS'], ...keys.map((k) => [k.keyId, k.name ?? '', k.createdAt, k.revokedAt ? `revoked ${k.revokedAt}` : 'active'])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const { command, keyId, flags } = args;
  const target = flags['table-name']
    ? await deployedTarget(flags['table-name'], flags.region)
    : await localTarget(resolve(flags['data-dir'] ?? process.env.LOCAL_DATA_DIR ?? '.local/data'));
  try {
    if (command === 'create') {
      const tenantId = flags.tenant!;
      const { created } = await target.store.ensureTenant(tenantId);
      const { apiKey, key } = await target.store.createApiKey(tenantId, flags.name);
      console.error(`${created ? `Created tenant '${tenantId}'. ` : ''}Created API key ${key.keyId} for tenant '${tenantId}' in ${target.where}.`);
      console.error('Store it now; it is not shown again (only its hash is kept):');
      console.log(apiKey);
    } else if (command === 'list') {
      const keys = await target.store.listApiKeys(flags.tenant!);
      if (flags.format === 'json') console.log(JSON.stringify(keys, null, 2));
      else if (keys.length === 0) console.error(`Tenant '${flags.tenant}' has no API keys in ${target.where}.`);
      else console.log(formatTable(keys));
    } else {
      const { key, alreadyRevoked } = await target.store.revokeApiKey(keyId!);
      if (alreadyRevoked) console.error(`API key ${key.keyId} (tenant '${key.tenantId}') was already revoked at ${key.revokedAt}.`);
      else {
        console.error(`Revoked API key ${key.keyId} (tenant '${key.tenantId}') in ${target.where}.`);
        if (flags['table-name']) {
          console.error(`Warm API functions may still accept it for up to AUTH_CACHE_SECONDS (default ${DEFAULT_AUTH_CACHE_SECONDS} s).`);
        }
      }
    }
    return 0;
  } finally {
    await target.close();
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`${err.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else if (err instanceof ApiKeyNotFoundError) {
    console.error(err.message);
    process.exitCode = 1;
  } else {
    const e = err as Error;
    console.error(`api-keys failed: ${e.name === 'Error' ? '' : `${e.name}: `}${e.message}`);
    process.exitCode = 1;
  }
}
