import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it, expect, beforeAll } from 'vitest';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ROUTES } from '../../functions/routes.ts';
import { RECORDER_CONTAINER_NAME, RECORDER_HEARTBEAT_SECONDS } from '../../workflow/recording-workflow.ts';
import { MeetingRecorderStack } from '../../lib/meeting-recorder-stack.ts';
import { IMAGE_CONTEXT } from '../../lib/recorder.ts';
import { PROJECT_ROOT } from '../../lib/project-paths.ts';
import { RecordingService } from '../../lib/recording-service.ts';
import type { RecordingServiceProps } from '../../lib/recording-service.ts';
import { tempOutdir } from '../support/cdk-outdir.ts';

type Resource = { Type: string; Properties: Record<string, any> };

/**
 * A stack with the service. `bundle: false` skips esbuild (the `aws:cdk:bundling-stacks` context), for tests
 * that only look at settings unrelated to the Lambda code.
 */
function synthService(props: RecordingServiceProps = {}, options: { bundle?: boolean } = {}) {
  const app = new App({ outdir: tempOutdir(), ...(options.bundle === false ? { context: { 'aws:cdk:bundling-stacks': [] } } : {}) });
  const stack = new Stack(app, 'TestStack');
  const service = new RecordingService(stack, 'Service', props);
  return { app, stack, service, template: Template.fromStack(stack) };
}

/** Logical id of the single resource of `type` (fails if there is not exactly one). */
function onlyLogicalId(template: Template, type: string): string {
  const ids = Object.keys(template.findResources(type));
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

/** All statements of the IAM policies attached to the role with the given logical id. */
function statementsOfRole(template: Template, roleLogicalId: string): Record<string, any>[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
  return policies
    .filter((policy) => (policy.Properties.Roles as unknown[]).some((role) => JSON.stringify(role) === JSON.stringify({ Ref: roleLogicalId })))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Record<string, any>[]);
}

/** The files under `p` in the folder `root` (the path itself when it is a file), relative to `root`. */
function listFiles(root: string, p = ''): string[] {
  const full = path.join(root, p);
  if (fs.statSync(full).isFile()) return [p];
  return (fs.readdirSync(full, { recursive: true, withFileTypes: true }) as fs.Dirent[]).filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

describe('RecordingService', () => {
  let template: Template;
  let assemblyDir: string;
  let artifactId: string;

  beforeAll(() => {
    // Prepare: the deployable stack, with real bundling (slow, so synthesized once for all tests)
    const app = new App({ outdir: tempOutdir() });
    const stack = new MeetingRecorderStack(app, 'MeetingRecorder');

    // Act
    template = Template.fromStack(stack);
    assemblyDir = app.synth().directory;
    artifactId = stack.artifactId;
  });

  it('serves exactly the routes in ROUTES; API Gateway lets requests through to the functions, which authenticate them', () => {
    // Prepare
    const expected = ROUTES.map((route) => `${route.method} ${route.path}`).sort();

    // Act
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as Resource[];

    // Assess
    expect(routes.map((route) => route.Properties.RouteKey).sort()).toEqual(expected);
    for (const route of routes) expect(route.Properties.AuthorizationType).toBe('NONE');
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
  });

  it('throttles the default stage', () => {
    // Assess
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: Match.objectLike({ ThrottlingBurstLimit: 50, ThrottlingRateLimit: 20 }),
    });
  });

  it('gives every API function the table, bucket and state machine, on Node 22 arm64 with tracing', () => {
    // Prepare
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as Resource[];
    // API functions are described by their route ("POST /v1/recordings"); the workflow and event functions are not.
    const apiFunctions = functions.filter((fn) => /^(GET|POST|DELETE) \/v1\//.test(fn.Properties.Description ?? ''));

    // Assess
    expect(apiFunctions).toHaveLength(ROUTES.length);
    for (const fn of apiFunctions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        MemorySize: 256,
        Timeout: 10,
        Handler: 'index.handler',
      });
      expect(Object.keys(fn.Properties.Environment.Variables)).toEqual(
        expect.arrayContaining(['TABLE_NAME', 'BUCKET_NAME', 'STATE_MACHINE_ARN']),
      );
      expect(fn.Properties.LoggingConfig?.LogGroup).toBeDefined();
    }
  });

  it('runs the recorder from the shared ASL with a task token and a heartbeat', () => {
    // Prepare
    const stateMachines = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as Resource[];

    // Act
    const definition = JSON.stringify(stateMachines[0]?.Properties.DefinitionString);

    // Assess
    expect(stateMachines).toHaveLength(1);
    expect(stateMachines[0]!.Properties).toMatchObject({
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
    });
    expect(definition).toContain('arn:aws:states:::ecs:runTask.waitForTaskToken');
    expect(definition).toContain(`\\"HeartbeatSeconds\\":${RECORDER_HEARTBEAT_SECONDS}`);
    expect(definition).toContain(`\\"Name\\":\\"${RECORDER_CONTAINER_NAME}\\"`);
  });

  it('lets the state machine run only the recorder task and invoke only its task functions', () => {
    // Prepare
    const stateMachine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0] as Resource;
    const roleId = stateMachine.Properties.RoleArn['Fn::GetAtt'][0] as string;
    const taskDefinitionId = onlyLogicalId(template, 'AWS::ECS::TaskDefinition');

    // Act
    const statements = statementsOfRole(template, roleId);
    const byAction = (action: string) => statements.filter((s) => asArray(s.Action).includes(action));

    // Assess
    expect(byAction('ecs:RunTask')).toEqual([
      expect.objectContaining({ Resource: { Ref: taskDefinitionId }, Condition: { ArnEquals: { 'ecs:cluster': expect.anything() } } }),
    ]);
    expect(byAction('iam:PassRole')).toEqual([
      expect.objectContaining({ Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } }),
    ]);
    expect(asArray(byAction('iam:PassRole')[0]!.Resource)).toHaveLength(2);
    const invokeResources = byAction('lambda:InvokeFunction').flatMap((s) => asArray(s.Resource));
    expect(invokeResources).toHaveLength(2);
    expect(JSON.stringify(invokeResources)).not.toMatch(/:\*/);
    expect(JSON.stringify(invokeResources)).toMatch(/MarkUploadedFunction/);
    expect(JSON.stringify(invokeResources)).toMatch(/MarkErroredFunction/);
    expect(JSON.stringify(invokeResources)).not.toMatch(/CreateRecordingFunction/);
  });

  it('defines an arm64 Fargate task with a container named recorder built from the repo image asset', () => {
    // Assess
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      Cpu: '1024',
      Memory: '2048',
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
      ContainerDefinitions: [
        Match.objectLike({
          Name: RECORDER_CONTAINER_NAME,
          Image: { 'Fn::Sub': Match.stringLikeRegexp('container-assets') },
          StopTimeout: 120,
          // The recorder's drawing and grabbing threads may run SCHED_FIFO at priority 1 (no CAP_SYS_NICE on Fargate).
          Ulimits: [{ Name: 'rtprio', SoftLimit: 1, HardLimit: 1 }],
          LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
          Environment: Match.arrayWith([
            Match.objectLike({ Name: 'TABLE_NAME' }),
            Match.objectLike({ Name: 'BUCKET_NAME' }),
            { Name: 'VIDEO_WIDTH', Value: '1280' },
            { Name: 'VIDEO_HEIGHT', Value: '720' },
            { Name: 'VIDEO_FPS', Value: '30' },
          ]),
        }),
      ],
    });
  });

  it('builds the recorder image from recorder-image/Dockerfile for linux/arm64', () => {
    // Act
    const manifest = JSON.parse(fs.readFileSync(path.join(assemblyDir, `${artifactId}.assets.json`), 'utf8'));
    const images = Object.values(manifest.dockerImages ?? {}) as { source: Record<string, unknown> }[];

    // Assess
    expect(images).toHaveLength(1);
    expect(images[0]!.source).toMatchObject({ dockerFile: 'recorder-image/Dockerfile', platform: 'linux/arm64' });
    // The build context holds what the Dockerfile copies and nothing else (not node_modules, tests, or stray
    // folders), each copied whole.
    const files = listFiles(path.join(assemblyDir, images[0]!.source.directory as string));
    const roots = (file: string) => IMAGE_CONTEXT.find((p) => file === p || file.startsWith(`${p}/`));
    expect(files.filter((file) => !roots(file))).toEqual([]);
    for (const p of IMAGE_CONTEXT) expect(files.filter((file) => roots(file) === p).length, p).toBe(listFiles(PROJECT_ROOT, p).length);
    expect(files).toContain('recorder-image/Dockerfile');
  });

  it('gives the recorder no inbound access', () => {
    // Assess
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('Recorder'),
      SecurityGroupIngress: Match.absent(),
    });
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });

  it('creates a VPC with public subnets only, no NAT, and S3 and DynamoDB gateway endpoints', () => {
    // Assess
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 2);
    for (const service of ['s3', 'dynamodb']) {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        ServiceName: { 'Fn::Join': ['', Match.arrayWith([`.${service}`])] },
      });
    }
    const subnets = Object.values(template.findResources('AWS::EC2::Subnet')) as Resource[];
    for (const subnet of subnets) expect(subnet.Properties.MapPublicIpOnLaunch).toBe(true);
  });

  it('keys the table on pk/sk, on demand, with point-in-time recovery and AWS-managed encryption', () => {
    // Assess
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ]),
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: Match.objectLike({ SSEEnabled: true }),
    });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('expires recordings after 7 days and aborts incomplete multipart uploads after 1 day', () => {
    // Assess
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ Status: 'Enabled', ExpirationInDays: 7, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } })],
      },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
  });

  it('denies non-TLS access to the bucket', () => {
    // Assess
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('scopes the recorder task role S3 access to the recordings/ prefix (objects, and listing)', () => {
    // Prepare
    const taskDefinition = Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0] as Resource;
    const taskRoleId = taskDefinition.Properties.TaskRoleArn['Fn::GetAtt'][0] as string;

    // Act
    const s3Statements = statementsOfRole(template, taskRoleId).filter((s) =>
      asArray(s.Action).some((action: string) => action.startsWith('s3:')),
    );

    // Assess
    expect(s3Statements).toHaveLength(2);
    const objects = s3Statements.find((s) => !asArray(s.Action).includes('s3:ListBucket'))!;
    expect(asArray(objects.Action).sort()).toEqual(['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:ListMultipartUploadParts', 's3:PutObject']);
    expect(objects.Resource).toEqual({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/Bucket/), 'Arn'] }, '/recordings/*']],
    });
    const listing = s3Statements.find((s) => asArray(s.Action).includes('s3:ListBucket'))!;
    expect(listing.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/Bucket/), 'Arn'] });
    expect(listing.Condition).toEqual({ StringLike: { 's3:prefix': ['recordings/*'] } });
  });

  it('lets the recorder answer its task token and touch only recording items', () => {
    // Prepare
    const taskDefinition = Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0] as Resource;
    const taskRoleId = taskDefinition.Properties.TaskRoleArn['Fn::GetAtt'][0] as string;

    // Act
    const actions = statementsOfRole(template, taskRoleId).flatMap((s) => asArray(s.Action)).sort();

    // Assess
    expect(actions).toEqual(
      [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        's3:AbortMultipartUpload',
        's3:DeleteObject',
        's3:ListBucket',
        's3:ListMultipartUploadParts',
        's3:PutObject',
        'states:SendTaskFailure',
        'states:SendTaskHeartbeat',
        'states:SendTaskSuccess',
      ].sort(),
    );
    expect(tableAccessOf(taskRoleId)).toEqual({
      items: [{ actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], partitions: ['RECORDING#*'] }],
      query: [],
    });
  });

  /**
   * The DynamoDB grants of a role, summarized: item actions with the item kinds (LeadingKeys prefixes) they are
   * limited to, and the indexes it may query. Fails on any DynamoDB statement of another shape (a whole-table grant).
   */
  function tableAccessOf(roleId: string) {
    const items: { actions: string[]; partitions: string[] }[] = [];
    const query: string[] = [];
    for (const statement of statementsOfRole(template, roleId)) {
      const actions = asArray(statement.Action as string | string[]);
      if (!actions.some((action) => action.startsWith('dynamodb:'))) continue;
      // The stream trigger's reads (the publisher's event source) are on the stream, checked elsewhere.
      if (actions.every((action) => STREAM_ACTIONS.includes(action))) continue;
      const leadingKeys = statement.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'];
      if (actions.every((action) => action === 'dynamodb:Query')) {
        for (const resource of asArray(statement.Resource)) {
          const joined = JSON.stringify(resource);
          const index = /\/index\/([A-Za-z]+)"/.exec(joined)?.[1];
          expect(index, `Query on something else than a named index: ${joined}`).toBeDefined();
          query.push(index!);
        }
      } else {
        expect(leadingKeys, `item actions without LeadingKeys: ${JSON.stringify(statement)}`).toBeDefined();
        expect(statement.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/Table/), 'Arn'] });
        items.push({ actions: [...actions].sort(), partitions: [...leadingKeys].sort() });
      }
    }
    return { items: items.sort(byPartitions), query: query.sort() };
  }

  const STREAM_ACTIONS = ['dynamodb:ListStreams', 'dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'];
  const byPartitions = (a: { partitions: string[] }, b: { partitions: string[] }) => a.partitions.join().localeCompare(b.partitions.join());

  const roleOfFunction = (handlerName: string) => {
    const [, fn] = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => id.includes(`${handlerName}Function`))!;
    return (fn as Resource).Properties.Role['Fn::GetAtt'][0] as string;
  };
  const CREDENTIALS = { actions: ['dynamodb:GetItem'], partitions: ['APIKEY#*', 'TENANT#*'] };
  const IDEMPOTENT = ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];

  it('limits every DynamoDB grant of every API function to the item kinds and indexes its handler uses', () => {
    // Prepare
    const expected: Record<string, { items: { actions: string[]; partitions: string[] }[]; query: string[] }> = {
      CreateRecording: { items: [{ actions: IDEMPOTENT, partitions: ['IDEMPOTENCY#*', 'LIVE_RECORDINGS#*', 'MEETING#*', 'RECORDING#*'] }], query: [] },
      StopRecording: { items: [{ actions: IDEMPOTENT, partitions: ['IDEMPOTENCY#*', 'RECORDING#*'] }], query: [] },
      CreateToken: { items: [{ actions: IDEMPOTENT, partitions: ['IDEMPOTENCY#*'] }], query: [] },
      GetRecording: { items: [{ actions: ['dynamodb:GetItem'], partitions: ['RECORDING#*'] }], query: [] },
      GetActiveRecording: { items: [{ actions: ['dynamodb:GetItem'], partitions: ['MEETING#*', 'RECORDING#*'] }], query: [] },
      ListRecordings: { items: [], query: ['byMeeting', 'byStatus', 'byTenant'] },
      DeleteRecording: { items: [{ actions: ['dynamodb:DeleteItem', 'dynamodb:GetItem'], partitions: ['RECORDING#*'] }], query: [] },
      CreateWebhook: { items: [{ actions: IDEMPOTENT, partitions: ['IDEMPOTENCY#*', 'WEBHOOK#*'] }], query: ['byTenant'] },
      GetOpenapi: { items: [], query: [] },
    };

    for (const [name, access] of Object.entries(expected)) {
      // Act
      const actual = tableAccessOf(roleOfFunction(name));

      // Assess: the route's own grants, plus authentication's reads of credential items
      expect(actual, name).toEqual({ items: [...access.items, CREDENTIALS].sort(byPartitions), query: access.query });
    }
  });

  it('grants each API function only the actions its handler calls', () => {
    // Prepare
    const actionsOf = (handlerName: string) =>
      statementsOfRole(template, roleOfFunction(handlerName))
        .flatMap((s) => asArray(s.Action))
        .filter((action: string) => !action.startsWith('xray:') && !action.startsWith('logs:'))
        .sort();
    const unique = (actions: string[]) => [...new Set(actions)].sort();

    // Act + Assess
    expect(unique(actionsOf('CreateRecording'))).toEqual([...IDEMPOTENT, 'states:StartExecution']);
    for (const fn of ['StopRecording', 'PauseRecording', 'ResumeRecording', 'CreateToken']) expect(unique(actionsOf(fn))).toEqual(IDEMPOTENT);
    expect(unique(actionsOf('GetRecording'))).toEqual(['dynamodb:GetItem']);
    expect(unique(actionsOf('ListRecordings'))).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    expect(unique(actionsOf('DeleteRecording'))).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 's3:DeleteObject', 's3:ListBucket']);
    expect(unique(actionsOf('GetRecordingDownload'))).toEqual(['dynamodb:GetItem', 's3:GetObject']);
  });

  it('lets every API function read credential items (API keys, tenants) for authentication', () => {
    // Prepare
    const apiFunctions = Object.values(template.findResources('AWS::Lambda::Function')).filter((fn) =>
      /^(GET|POST|DELETE) \/v1\//.test((fn as Resource).Properties.Description ?? ''),
    ) as Resource[];

    // Act
    const accesses = apiFunctions.map((fn) => tableAccessOf(fn.Properties.Role['Fn::GetAtt'][0]));

    // Assess
    expect(accesses).toHaveLength(ROUTES.length);
    for (const access of accesses) expect(access.items).toContainEqual(CREDENTIALS);
  });

  it('limits the workflow tasks, the publisher and the webhook delivery to their item kinds', () => {
    expect(tableAccessOf(roleOfFunction('MarkUploaded')).items).toEqual([
      { actions: ['dynamodb:UpdateItem'], partitions: ['LIVE_RECORDINGS#*'] },
      { actions: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem'], partitions: ['MEETING#*', 'RECORDING#*'] },
    ]);
    expect(tableAccessOf(roleOfFunction('Publisher'))).toEqual({
      items: [{ actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], partitions: ['RECORDING#*'] }],
      query: ['pendingEvents'],
    });
    expect(tableAccessOf(roleOfFunction('Delivery'))).toEqual({
      items: [{ actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], partitions: ['WEBHOOK#*'] }],
      query: ['byTenant'],
    });
  });

  it('outputs the API URL, bucket name and table name', () => {
    // Assess
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['ApiUrl', 'BucketName', 'TableName']));
  });
});

describe('RecordingService props', () => {
  it('applies retentionDays to the bucket lifecycle', () => {
    // Prepare + Act
    const { template } = synthService({ retentionDays: 3 }, { bundle: false });

    // Assess
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 3 })] },
    });
  });

  it('rejects a recorder size Fargate does not offer', () => {
    // Prepare
    const app = new App({ outdir: tempOutdir(), context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'BadSize');

    // Act
    const create = () => new RecordingService(stack, 'Service', { recorderCpu: 1024, recorderMemoryMiB: 1024 });

    // Assess
    expect(create).toThrow(/recorderMemoryMiB/);
  });

  it('rejects a non-positive retentionDays', () => {
    // Prepare
    const app = new App({ outdir: tempOutdir(), context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'BadRetention');

    // Act
    const create = () => new RecordingService(stack, 'Service', { retentionDays: 0 });

    // Assess
    expect(create).toThrow(/retentionDays/);
  });
});
