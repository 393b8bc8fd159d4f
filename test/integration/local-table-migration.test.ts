/**
 * Local mode upgrades an older data dir: its table lacks the list indexes, and the emulator cannot add an
 * index to a table, so ensureResources rebuilds the table and copies the items. Real dynalite on disk.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { expect, it } from 'vitest';
import { ensureResources, LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators, waitForActiveTable } from '../../local/emulators.ts';

it('a table from before the indexes gains them, keeps every item, and lists old recordings', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mr-migrate-'));
  const emulators = await startEmulators({ dataDir });
  const ddb = new DynamoDBClient({ endpoint: emulators.dynamodbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    // Prepare: the table as an older version created it, with a recording and a manifest item.
    await ddb.send(
      new CreateTableCommand({
        TableName: 'old-table',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
    // The emulator answers a write to a table still CREATING with ResourceNotFoundException (seen once in a
    // suite run on a busy machine).
    await waitForActiveTable(ddb, 'old-table');
    const recording = { id: 'rec_000000000000000000000001', tenantId: 'local', meetingId: 'm1', status: 'UPLOADED', createdAt: '2026-01-01T00:00:00.000Z' };
    await ddb.send(
      new PutItemCommand({
        TableName: 'old-table',
        Item: { pk: { S: `RECORDING#${recording.id}` }, sk: { S: 'RECORDING' }, ...Object.fromEntries(Object.entries(recording).map(([k, v]) => [k, { S: v }])) },
      }),
    );
    await ddb.send(new PutItemCommand({ TableName: 'old-table', Item: { pk: { S: `RECORDING#${recording.id}` }, sk: { S: 'UPLOAD' }, parts: { N: '3' } } }));

    // Act
    await ensureResources(emulators, 'old-table', 'old-bucket');

    // Assess
    const table = (await ddb.send(new DescribeTableCommand({ TableName: 'old-table' }))).Table!;
    expect(table.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort()).toEqual(['byMeeting', 'byStatus', 'byTenant', 'pendingEvents']);
    const manifest = await ddb.send(new GetItemCommand({ TableName: 'old-table', Key: { pk: { S: `RECORDING#${recording.id}` }, sk: { S: 'UPLOAD' } } }));
    expect(manifest.Item?.parts).toEqual({ N: '3' });
    for (const [index, key, value] of [
      ['byTenant', 'gsi1pk', 'TENANT#local'],
      ['byMeeting', 'gsi2pk', 'TENANT#local#MEETING#m1'],
      ['byStatus', 'gsi3pk', 'TENANT#local#STATUS#UPLOADED'],
    ]) {
      const out = await ddb.send(
        new QueryCommand({ TableName: 'old-table', IndexName: index, KeyConditionExpression: `${key} = :v`, ExpressionAttributeValues: { ':v': { S: value! } } }),
      );
      expect(out.Items?.map((i) => i.id?.S)).toEqual([recording.id]);
    }
    // Running it again changes nothing.
    await ensureResources(emulators, 'old-table', 'old-bucket');
  } finally {
    ddb.destroy();
    await emulators.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

it('a migration cut short after the old table was dropped is finished from its saved items at the next start', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mr-migrate-'));
  // Prepare: what a crash between DeleteTable and the copy leaves: no table, and the scanned items on disk.
  const id = 'rec_000000000000000000000002';
  const saved = [
    { pk: { S: `RECORDING#${id}` }, sk: { S: 'RECORDING' }, id: { S: id }, tenantId: { S: 'local' }, meetingId: { S: 'm2' }, status: { S: 'FAILED' }, createdAt: { S: '2026-01-02T00:00:00.000Z' } },
    { pk: { S: `RECORDING#${id}` }, sk: { S: 'UPLOAD' }, parts: { N: '1' } },
  ];
  writeFileSync(join(dataDir, 'cut-table.migration.json'), JSON.stringify(saved));
  const emulators = await startEmulators({ dataDir });
  const ddb = new DynamoDBClient({ endpoint: emulators.dynamodbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    // Act
    await ensureResources(emulators, 'cut-table', 'cut-bucket');

    // Assess: both items are back, the recording is listed, and the saved copy is gone.
    const manifest = await ddb.send(new GetItemCommand({ TableName: 'cut-table', Key: { pk: { S: `RECORDING#${id}` }, sk: { S: 'UPLOAD' } } }));
    expect(manifest.Item?.parts).toEqual({ N: '1' });
    const listed = await ddb.send(
      new QueryCommand({ TableName: 'cut-table', IndexName: 'byTenant', KeyConditionExpression: 'gsi1pk = :v', ExpressionAttributeValues: { ':v': { S: 'TENANT#local' } } }),
    );
    expect(listed.Items?.map((i) => i.id?.S)).toEqual([id]);
    expect(existsSync(join(dataDir, 'cut-table.migration.json'))).toBe(false);
  } finally {
    ddb.destroy();
    await emulators.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
