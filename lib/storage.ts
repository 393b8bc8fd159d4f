import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { TABLE_INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from '../functions/core/table-schema.ts';

export interface StorageProps {
  /**
   * Days a recording's media stays in the bucket before S3 expires it.
   * @default 7
   */
  readonly retentionDays?: number;
  /**
   * What happens to the table and the bucket when they leave the stack. With `DESTROY` the bucket is
   * emptied first (autoDeleteObjects), because CloudFormation cannot delete a non-empty bucket.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Days the bucket's server access logs are kept.
   * @default 90
   */
  readonly accessLogRetentionDays?: number;
}

/**
 * Where recordings live: the DynamoDB table holding the recording items (single-table, `pk`/`sk`) and the
 * S3 bucket holding their media. Media expires after `retentionDays`; abandoned multipart uploads (a
 * recorder that died mid-upload) are cleaned up after a day.
 */
export class Storage extends Construct {
  public readonly table: dynamodb.Table;
  public readonly bucket: s3.Bucket;
  /** Server access logs of `bucket` (who read or wrote which recording), under `media-bucket/`. */
  public readonly accessLogBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: StorageProps = {}) {
    super(scope, id);
    // S3 delivers access logs under a bucket policy (not an ACL), so the log bucket can keep ACLs disabled.
    // Set here, before the buckets exist, so that the behaviour does not depend on the embedding app's cdk.json.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const retentionDays = props.retentionDays ?? 7;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    if (!Number.isInteger(retentionDays) || retentionDays < 1) {
      throw new Error(`retentionDays must be a positive integer, got ${retentionDays}`);
    }

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // Idempotency records expire on their own.
      timeToLiveAttribute: TTL_ATTRIBUTE,
      // Triggers the status-event publisher (lib/events.ts); the events themselves are in the items (outbox).
      stream: dynamodb.StreamViewType.NEW_IMAGE,
      removalPolicy,
    });
    // Recording lists (by tenant, meeting, status) are served from these, never from a scan.
    for (const index of Object.values(TABLE_INDEXES)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }

    // Server access logs: a record of every download of a recording (presigned URLs included), which
    // CloudTrail only gives with paid data events. S3-managed keys, as S3 log delivery requires.
    this.accessLogBucket = new s3.Bucket(this, 'AccessLogBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'ExpireAccessLogs', expiration: Duration.days(props.accessLogRetentionDays ?? 90) }],
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });
    Validations.of(this.accessLogBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket itself; logging it into itself would loop and into another bucket would only move the finding.',
    });

    // Versioning is off, on purpose: a recording is written once (one multipart upload) and never
    // overwritten, so versions would protect nothing but accidental deletes, while DELETE /v1/recordings/{id}
    // and the retention rule must really remove a recording (privacy: meeting content), not leave a
    // noncurrent version behind. Point-in-time recovery protects the table, which is the system of record.
    this.bucket = new s3.Bucket(this, 'Bucket', {
      versioned: false,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'media-bucket/',
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          id: 'ExpireRecordings',
          expiration: Duration.days(retentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });
  }
}
