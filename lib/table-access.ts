import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { PARTITION_PREFIXES, TABLE_INDEXES } from '../functions/core/table-schema.ts';
import type { PartitionKind, TableIndexName } from '../functions/core/table-schema.ts';

/** DynamoDB item actions a function may be granted; named so a typo fails type checking, not at run time. */
export type ItemAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:ConditionCheckItem';

/** What a principal may do in the single table. */
export interface TableAccess {
  /** Item actions, allowed only on items whose partition key starts with a prefix of `partitions`. */
  readonly items?: readonly ItemAction[];
  /** The item kinds (partition-key prefixes, functions/core/table-schema.ts) `items` apply to. */
  readonly partitions?: readonly PartitionKind[];
  /** Indexes the principal may Query (named: never `index/*`). */
  readonly query?: readonly TableIndexName[];
}

/**
 * Grants `access` on `table`, as narrowly as DynamoDB allows:
 * - item actions on the table with `ForAllValues:StringLike dynamodb:LeadingKeys` limited to the partitions
 *   of the item kinds named, so a function that writes recordings cannot write API keys or webhooks;
 * - Query on the named indexes only (LeadingKeys is not used there: the index keys are not the item kinds).
 * No Scan, no batch or transaction actions, no access to the stream.
 */
export function grantTableAccess(grantee: iam.IGrantable, table: dynamodb.ITable, access: TableAccess): void {
  const items = [...new Set(access.items ?? [])];
  const partitions = [...new Set(access.partitions ?? [])];
  if (items.length > 0 && partitions.length === 0) throw new Error('grantTableAccess: item actions need the partitions they apply to');
  if (items.length > 0) {
    iam.Grant.addToPrincipal({
      grantee,
      actions: items,
      resourceArns: [table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': partitions.map((kind) => `${PARTITION_PREFIXES[kind]}*`) } },
    });
  }
  const indexes = [...new Set(access.query ?? [])];
  if (indexes.length > 0) {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:Query'],
      resourceArns: indexes.map((index) => `${table.tableArn}/index/${TABLE_INDEXES[index].name}`),
    });
  }
}

/**
 * Authentication (every API route, and the meeting trigger's tenant check) reads API key and tenant items,
 * and nothing else, whatever the function's own grants are.
 */
export function grantCredentialReads(grantee: iam.IGrantable, table: dynamodb.ITable): void {
  grantTableAccess(grantee, table, { items: ['dynamodb:GetItem'], partitions: ['tenant', 'apiKey'] });
}

/**
 * A resource ARN as cdk-nag writes it in a finding id (`AwsSolutions-IAM5[Resource::...]`): intrinsics resolved
 * to `<Logical.Arn>`, `<Logical>` and `<AWS::Region>`, joined. Used to acknowledge one finding precisely,
 * wherever the construct is embedded (logical ids and the stack's environment change the text).
 */
export function nagResourceText(scope: Construct, arn: string): string {
  const render = (value: unknown): string => {
    if (typeof value === 'string') return value;
    if (value && typeof value === 'object') {
      const o = value as Record<string, unknown>;
      if ('Ref' in o) return `<${String(o.Ref)}>`;
      if ('Fn::GetAtt' in o) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
      if ('Fn::Join' in o) {
        const [separator, parts] = o['Fn::Join'] as [string, unknown[]];
        return parts.map(render).join(separator);
      }
    }
    return JSON.stringify(value);
  };
  return render(Stack.of(scope).resolve(arn));
}
