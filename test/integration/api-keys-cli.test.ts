/**
 * `npm run api-keys`, spawned for real: against running local mode (through its DynamoDB emulator), against
 * a local data dir when local mode is stopped, and along the deployed-stack path (--table-name, default
 * credential chain) pointed at the emulator with AWS_ENDPOINT_URL_DYNAMODB.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordingApiClient } from '../../local/api-client.ts';
import { apiKeyPath, endpointsPath, readSavedApiKey } from '../../local/local-credentials.ts';
import { startLocalStack, type LocalStack } from '../../local/local-stack.ts';
import { existsSync } from 'node:fs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'mr-cli-'));
  dirs.push(dir);
  return dir;
};
let running: LocalStack | undefined;
afterAll(async () => {
  await running?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['scripts/api-keys.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const statusWith = async (stack: LocalStack, apiKey: string) => (await new RecordingApiClient(stack.url, apiKey).request('GET', '/v1/recordings')).status;

describe('api-keys against running local mode', () => {
  it('creates a key that works, lists it without its secret, and revokes it', async () => {
    // Prepare
    const dataDir = tempDir();
    running = await startLocalStack({ dataDir, port: 0 });
    expect(existsSync(endpointsPath(dataDir))).toBe(true);

    // Act: create
    const created = await cli(['create', '--tenant', 'acme', '--name', 'ci', '--data-dir', dataDir]);
    // Assess: only the key on stdout, and it works at once
    expect(created.code, created.stderr).toBe(0);
    const apiKey = created.stdout.trim();
    expect(apiKey).toMatch(/^mr_[0-9a-f]{16}_[\w-]{43}$/);
    expect(created.stderr).toContain("Created tenant 'acme'");
    const keyId = apiKey.slice(3, 19);
    expect(await statusWith(running, apiKey)).toBe(200);

    // Act: a second key for the same tenant, then list
    const second = await cli(['create', '--tenant', 'acme', '--data-dir', dataDir]);
    expect(second.code).toBe(0);
    expect(second.stderr).not.toContain('Created tenant');
    const table = await cli(['list', '--tenant', 'acme', '--data-dir', dataDir]);
    const json = await cli(['list', '--tenant', 'acme', '--format', 'json', '--data-dir', dataDir]);
    // Assess: both keys, no secret, no hash
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`${keyId}\\s+ci\\s+\\S+\\s+active`));
    const listed = JSON.parse(json.stdout);
    expect(listed.map((k: { keyId: string }) => k.keyId).sort()).toEqual([keyId, second.stdout.trim().slice(3, 19)].sort());
    for (const output of [table.stdout, json.stdout]) {
      expect(output).not.toContain(apiKey.slice(20));
      expect(output).not.toContain('keyHash');
    }
    // The local tenant's keys are not acme's
    expect(JSON.parse((await cli(['list', '--tenant', 'local', '--format', 'json', '--data-dir', dataDir])).stdout)).toHaveLength(1);

    // Act: revoke
    const revoked = await cli(['revoke', keyId, '--data-dir', dataDir]);
    // Assess: refused at once (local mode has no cache), shown as revoked, the other key unaffected
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stderr).toContain(`Revoked API key ${keyId}`);
    expect(await statusWith(running, apiKey)).toBe(401);
    expect(await statusWith(running, second.stdout.trim())).toBe(200);
    expect((await cli(['list', '--tenant', 'acme', '--data-dir', dataDir])).stdout).toMatch(new RegExp(`${keyId}\\s+ci\\s+\\S+\\s+revoked`));
    const again = await cli(['revoke', keyId, '--data-dir', dataDir]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('already revoked');
    const unknown = await cli(['revoke', '0123456789abcdef', '--data-dir', dataDir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("No API key with id '0123456789abcdef'");
  });

  it('takes the deployed path (--table-name, default credential chain) to any DynamoDB endpoint', async () => {
    // Prepare: the SDK's standard endpoint variable points the "deployed" path at the running emulator
    const env = { AWS_ENDPOINT_URL_DYNAMODB: running!.emulators.dynamodbEndpoint, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', AWS_REGION: '' };
    // Act
    const created = await cli(['create', '--tenant', 'deployed', '--table-name', running!.tableName, '--region', 'us-east-1'], env);
    const missing = await cli(['list', '--tenant', 'deployed', '--table-name', 'no-such-table', '--region', 'us-east-1'], env);
    // Assess
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toContain(`table ${running!.tableName}`);
    expect(await statusWith(running!, created.stdout.trim())).toBe(200);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("Table 'no-such-table' does not exist");
  });
});

describe('api-keys against a stopped local mode', () => {
  it('opens the data dir itself; the key works once local mode runs again', async () => {
    // Prepare: local mode ran once, and stopped
    const dataDir = tempDir();
    const first = await startLocalStack({ dataDir, port: 0 });
    await first.stop();
    expect(existsSync(endpointsPath(dataDir))).toBe(false);
    expect(statSync(apiKeyPath(dataDir)).mode & 0o777).toBe(0o600);

    // Act
    const created = await cli(['create', '--tenant', 'offline', '--data-dir', dataDir]);
    const listed = await cli(['list', '--tenant', 'offline', '--format', 'json'], { LOCAL_DATA_DIR: dataDir });

    // Assess
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toContain(`local mode (${dataDir})`);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ tenantId: 'offline', keyId: created.stdout.trim().slice(3, 19) })]);
    const second = await startLocalStack({ dataDir, port: 0 });
    try {
      expect(await statusWith(second, created.stdout.trim())).toBe(200);
      expect(second.apiKey).toBe(readSavedApiKey(dataDir));
      expect(second.apiKeyCreated).toBe(false);
    } finally {
      await second.stop();
    }
  });

  it("replaces local mode's own key at the next start once it is revoked", async () => {
    // Prepare: local mode ran once; its key is revoked while it is stopped
    const dataDir = tempDir();
    const first = await startLocalStack({ dataDir, port: 0 });
    await first.stop();
    const revoked = await cli(['revoke', first.apiKey.slice(3, 19), '--data-dir', dataDir]);
    expect(revoked.code, revoked.stderr).toBe(0);

    // Act
    const second = await startLocalStack({ dataDir, port: 0 });
    try {
      // Assess: a new, working key, saved with mode 0600; the old one is refused
      expect(second.apiKeyCreated).toBe(true);
      expect(second.apiKey).not.toBe(first.apiKey);
      expect(readSavedApiKey(dataDir)).toBe(second.apiKey);
      expect(statSync(apiKeyPath(dataDir)).mode & 0o777).toBe(0o600);
      expect(await statusWith(second, second.apiKey)).toBe(200);
      expect(await statusWith(second, first.apiKey)).toBe(401);
    } finally {
      await second.stop();
    }
  });

  it('says what to do when there is no local data', async () => {
    const result = await cli(['list', '--tenant', 'acme', '--data-dir', join(tempDir(), 'never-started')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No local-mode data');
    expect(result.stderr).toContain('npm start');
  });
});

describe('api-keys rejects bad input with a message and exit code 2', () => {
  it.each([
    ['no command', [], 'Name a command'],
    ['an unknown command', ['rotate'], "Unknown command 'rotate'"],
    ['create without --tenant', ['create'], 'needs --tenant'],
    ['an invalid tenant id', ['create', '--tenant', 'Acme Corp'], 'Invalid --tenant'],
    ['a tenant id over 64 characters', ['create', '--tenant', 'a'.repeat(65)], 'Invalid --tenant'],
    ['an unknown option', ['list', '--tenant', 'acme', '--verbose'], "Unknown option '--verbose'"],
    ['an option without its value', ['create', '--tenant'], 'needs a value'],
    ['revoke without a key id', ['revoke'], 'needs the key id'],
    ['revoke with a whole key instead of its id', ['revoke', `mr_0123456789abcdef_${'a'.repeat(43)}`], 'is not a key id'],
    ['list with --name', ['list', '--tenant', 'acme', '--name', 'x'], "takes no --name"],
    ['both targets', ['list', '--tenant', 'acme', '--table-name', 't', '--data-dir', '/tmp'], 'not both'],
    ['--region without --table-name', ['list', '--tenant', 'acme', '--region', 'eu-west-1'], '--region goes with --table-name'],
    ['a bad --format', ['list', '--tenant', 'acme', '--format', 'xml'], '--format'],
  ])('%s', async (_label, args, message) => {
    const result = await cli(args as string[]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain('Usage:');
    expect(result.stdout).toBe('');
  });

  it('--help prints the usage and exits 0', async () => {
    const result = await cli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('npm run api-keys -- create --tenant');
  });
});
