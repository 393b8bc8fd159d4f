/**
 * The embedded AWS data plane: DynamoDB on dynalite and S3 on s3rver, both over real HTTP on 127.0.0.1,
 * with their data under one folder so recordings survive a restart. CDK creates the table and bucket on
 * AWS; here `ensureResources` creates the same ones.
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  ScanCommand,
  type AttributeValue,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import dynalite from 'dynalite';
import { TABLE_INDEXES, TABLE_KEYS, recordingItemAttributes } from '#core/table-schema.ts';
import S3rver from 's3rver';

export interface Emulators {
  /** The folder holding both emulators' data. */
  dataDir: string;
  dynamodbEndpoint: string;
  s3Endpoint: string;
  /** Takes S3 down (open connections are cut), as an outage would; `startS3` brings it back on the same port. */
  stopS3(): Promise<void>;
  startS3(): Promise<void>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

export async function startEmulators(opts: { dataDir: string; dynamodbPort?: number; s3Port?: number }): Promise<Emulators> {
  const dynamoDir = join(opts.dataDir, 'dynamodb');
  const s3Dir = join(opts.dataDir, 's3');
  mkdirSync(dynamoDir, { recursive: true });
  mkdirSync(s3Dir, { recursive: true });

  const dynamo: Server = dynalite({ path: dynamoDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    dynamo.once('error', reject);
    dynamo.listen(opts.dynamodbPort ?? 0, HOST, () => resolve());
  });
  const dynamoPort = (dynamo.address() as AddressInfo).port;

  let s3: S3rver | undefined = newS3rver(opts.s3Port ?? 0, s3Dir);
  let s3Address: AddressInfo;
  try {
    s3Address = (await s3.run()) as AddressInfo;
  } catch (err) {
    dynamo.close();
    throw err;
  }
  const closeS3 = async () => {
    const running = s3;
    s3 = undefined;
    if (!running) return;
    const server = (running as unknown as { httpServer?: Server }).httpServer;
    const closed = new Promise<void>((resolve) => running.close(() => resolve()));
    server?.closeAllConnections();
    await closed;
  };

  return {
    dataDir: opts.dataDir,
    dynamodbEndpoint: `http://${HOST}:${dynamoPort}`,
    s3Endpoint: `http://${HOST}:${s3Address.port}`,
    stopS3: closeS3,
    async startS3() {
      if (s3) return;
      s3 = newS3rver(s3Address.port, s3Dir);
      await s3.run();
    },
    async stop() {
      await Promise.all([closeS3(), new Promise<void>((resolve) => dynamo.close(() => resolve()))]);
    },
  };
}

/**
 * s3rver, with its object deletes one at a time. Each delete removes the folders it leaves empty; s3rver
 * runs the deletes of one DeleteObjects call (or of concurrent calls) in parallel, and two of them racing on
 * one folder failed the call with an internal error (ENOENT): the recorder's pending segments stayed, with
 * "could not delete pending segments" in its log (test/integration/s3-emulator-deletes.test.ts).
 */
function newS3rver(port: number, directory: string): S3rver {
  const server = new S3rver({ address: HOST, port, directory, silent: true });
  const store = (server as unknown as { store: { deleteObject(bucket: string, key: string): Promise<void> } }).store;
  const deleteObject = store.deleteObject.bind(store);
  let queue: Promise<unknown> = Promise.resolve();
  store.deleteObject = (bucket, key) => {
    const done = queue.then(() => deleteObject(bucket, key));
    queue = done.catch(() => undefined);
    return done;
  };
  return server;
}

/** Dummy credentials: the emulators accept any signature, but the SDK insists on signing. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const LOCAL_REGION = 'us-east-1';

export async function ensureResources(e: Emulators, tableName: string, bucketName: string): Promise<void> {
  const ddb = new DynamoDBClient({ endpoint: e.dynamodbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const indexes = Object.values(TABLE_INDEXES);
  const indexDefinition = (i: (typeof indexes)[number]) => ({
    IndexName: i.name,
    KeySchema: [
      { AttributeName: i.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: i.sortKey, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'ALL' as const },
  });
  const attributeDefinitions = [TABLE_KEYS.partitionKey, TABLE_KEYS.sortKey, ...indexes.flatMap((i) => [i.partitionKey, i.sortKey])].map(
    (AttributeName) => ({ AttributeName, AttributeType: 'S' as const }),
  );
  const createTable = () =>
    ddb.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: attributeDefinitions,
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: indexes.map(indexDefinition),
      }),
    );
  // A migration cut short (the process died between dropping the old table and copying its items back)
  // left its items in this file; the copy is finished below.
  const migrationFile = join(e.dataDir, `${tableName}.migration.json`);
  try {
    await createTable();
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
    // A data dir from an older version: the emulator cannot add indexes to a table (UpdateTable), so the
    // table is rebuilt with them and its items copied over, recordings gaining their index attributes.
    const existing = await ddb.send(new DescribeTableCommand({ TableName: tableName }));
    const have = new Set((existing.Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
    if (indexes.some((i) => !have.has(i.name))) {
      const items: Record<string, AttributeValue>[] = [];
      let startKey: Record<string, AttributeValue> | undefined;
      do {
        const page = await ddb.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }));
        items.push(...(page.Items ?? []));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      // The items go to disk first, so that no crash from here on loses them.
      writeFileSync(`${migrationFile}.tmp`, JSON.stringify(items));
      renameSync(`${migrationFile}.tmp`, migrationFile);
      await ddb.send(new DeleteTableCommand({ TableName: tableName }));
      // The emulator answers DeleteTable before the table is gone, and a CreateTable in between fails with
      // ResourceInUseException (seen in CI).
      await waitForTableGone(ddb, tableName);
      await createTable();
    }
  }
  if (existsSync(migrationFile)) {
    await waitForActiveTable(ddb, tableName);
    for (const raw of JSON.parse(readFileSync(migrationFile, 'utf8')) as Record<string, AttributeValue>[]) {
      const item = unmarshall(raw);
      const withIndexes = item[TABLE_KEYS.sortKey] === 'RECORDING' ? { ...item, ...recordingItemAttributes(item as never) } : item;
      await ddb.send(new PutItemCommand({ TableName: tableName, Item: marshall(withIndexes, { removeUndefinedValues: true }) }));
    }
    rmSync(migrationFile, { force: true });
  }
  await ddb.send(new DescribeTableCommand({ TableName: tableName }));
  ddb.destroy();

  const s3 = new S3Client({ endpoint: e.s3Endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucketName }));
  } catch (err) {
    const name = (err as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
  }
  s3.destroy();
}

/** Polls DescribeTable (every 0.1 s, up to 10 s) until `reached` holds for the table, or undefined once it is gone. */
async function waitForTable(ddb: DynamoDBClient, tableName: string, want: string, reached: (t: TableDescription | undefined) => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    let table: TableDescription | undefined;
    try {
      table = (await ddb.send(new DescribeTableCommand({ TableName: tableName }))).Table;
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) throw err;
    }
    if (reached(table)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Table ${tableName} did not become ${want}`);
}

/** Waits until DescribeTable no longer finds the table. */
function waitForTableGone(ddb: DynamoDBClient, tableName: string): Promise<void> {
  return waitForTable(ddb, tableName, 'deleted', (t) => t === undefined);
}

/** Waits until the table and its indexes are ACTIVE: the emulator answers a write to a table still CREATING with ResourceNotFoundException. */
export function waitForActiveTable(ddb: DynamoDBClient, tableName: string): Promise<void> {
  return waitForTable(
    ddb,
    tableName,
    'ACTIVE',
    (t) => t?.TableStatus === 'ACTIVE' && (t.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === 'ACTIVE'),
  );
}
