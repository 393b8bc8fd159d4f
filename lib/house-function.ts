import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { ENV } from '../functions/core/config.ts';
import { powertoolsEnvironment } from '../functions/core/observability-config.ts';
import { DEPS_LOCK_FILE, PROJECT_ROOT, projectPath } from './project-paths.ts';
import { grantTableAccess, type TableAccess } from './table-access.ts';

/** Relative to the project root, where bundling runs (esbuild resolves alias targets from there). */
const SEMVER_SHIM = 'functions/shims/semver.ts';

export interface HouseFunctionProps extends Omit<NodejsFunctionProps, 'entry' | 'logGroup' | 'logRetention'> {
  /** Handler module, relative to the repository root (e.g. `functions/handlers/get-recording.ts`). It exports `handler`. */
  readonly entry: string;
  /**
   * Retention of the function's own log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Removal policy of the function's log group.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * The house Lambda function: Node 22 on arm64, X-Ray tracing, explicit memory and timeout, a minified CommonJS
 * bundle with source maps, and a log group of its own with a retention. Every default can be overridden.
 *
 * The `bind*` helpers grant access and set the matching environment variable (see `ENV` in
 * functions/core/config.ts) in one call, so the two cannot drift apart.
 */
export class HouseFunction extends NodejsFunction {
  /** The handler module, relative to the repository root (the `entry` prop). */
  public readonly entry: string;

  constructor(scope: Construct, id: string, props: HouseFunctionProps) {
    const { entry, logRetention, logRemovalPolicy, bundling, environment, role, ...rest } = props;
    // Created beside the function (not inside it: `this` is unavailable before super) and passed in, so
    // Lambda never creates an unmanaged /aws/lambda/... group without retention. `this.logGroup` returns it.
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    // The execution role, without the AWSLambdaBasicExecutionRole managed policy (logs on every log group):
    // it may write to its own log group only. Grants (bind*) add the rest.
    const executionRole =
      role ??
      new iam.Role(scope, `${id}ServiceRole`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Execution role of ${id}`,
      });
    if (!role) logGroup.grantWrite(executionRole);

    super(scope, id, {
      role: executionRole,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      tracing: lambda.Tracing.ACTIVE,
      memorySize: 256,
      timeout: Duration.seconds(10),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: DEPS_LOCK_FILE,
      ...rest,
      entry: projectPath(entry),
      logGroup,
      environment: {
        // The bundle ships a source map; without this flag stack traces point into minified code.
        NODE_OPTIONS: '--enable-source-maps',
        // Powertools (functions/core/observability.ts): service name, metrics namespace, log level.
        ...powertoolsEnvironment(),
        ...environment,
      },
      bundling: {
        // CommonJS, not ESM: the runtime's SDK is CommonJS, and an ES module that imports a CommonJS package
        // makes Node first scan the package's (large) index for its exports. Measured on the bench machine,
        // get-recording's cold init was 146 ms as ESM and 96 ms as CommonJS. From CommonJS the SDK is a plain
        // require, resolved through the runtime's NODE_PATH.
        format: OutputFormat.CJS,
        minify: true,
        sourceMap: true,
        target: 'node22',
        mainFields: ['module', 'main'],
        logLevel: LogLevel.WARNING,
        // The AWS SDK v3 that the Lambda Node.js 22 runtime provides, not a bundled copy: a bundled SDK costs
        // at least 340 KB minified even for one DynamoDB GetItem (@smithy/core alone is 130 KB), which is over
        // our 300 KB per function. The price: in Lambda the SDK version is the runtime's, not the one in
        // package-lock.json that the tests ran. Exactly the packages the runtime provides and we import are
        // external; @aws-sdk/s3-request-presigner is not guaranteed there, so it is bundled.
        externalModules: ['@aws-sdk/client-*', '@aws-sdk/lib-dynamodb'],
        // The X-Ray SDK (under Powertools Tracer) loads all of `semver` for one version comparison: 28 KB of
        // the 300 KB budget. functions/shims/semver.ts answers that comparison instead.
        esbuildArgs: { '--alias': `semver=./${SEMVER_SHIM}` },
        ...bundling,
      },
    });
    this.entry = entry;
  }

  /** Grants `access` (item kinds and indexes, lib/table-access.ts) and sets TABLE_NAME. With no access it only sets the env var. */
  bindTable(table: dynamodb.ITable, access: TableAccess = {}): this {
    grantTableAccess(this, table, access);
    this.addEnvironment(ENV.tableName, table.tableName);
    return this;
  }

  /**
   * Sets BUCKET_NAME. Object access is granted by prefix with grantRecordingMedia (lib/recorder.ts).
   */
  bindBucket(bucket: s3.IBucket): this {
    this.addEnvironment(ENV.bucketName, bucket.bucketName);
    return this;
  }

  /** Grants `actions` on the state machine (e.g. `states:StartExecution`) and sets STATE_MACHINE_ARN. */
  bindStateMachine(stateMachine: sfn.IStateMachine, actions: readonly string[] = []): this {
    if (actions.length > 0) stateMachine.grant(this, ...actions);
    this.addEnvironment(ENV.stateMachineArn, stateMachine.stateMachineArn);
    return this;
  }
}
