import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface NetworkProps {
  /**
   * An existing VPC to run the recorder in.
   * @default - a new minimal VPC: public subnets in two AZs, no NAT gateway, gateway endpoints for S3 and DynamoDB
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Subnets the recorder tasks run in. Tasks in public subnets get a public IP (they need the internet to
   * reach meetings and ECR); in private subnets they rely on the VPC's NAT or endpoints.
   * @default - the VPC's public subnets
   */
  readonly recorderSubnets?: ec2.SubnetSelection;
  /**
   * Retention of the flow log of the VPC this creates (none is added to a VPC you pass in: its flow logs are yours).
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The network the recorder runs in. The default VPC has no NAT gateway on purpose: a recorder needs
 * outbound internet anyway (it opens the meeting page), and a public IP costs far less than a NAT gateway.
 * S3 and DynamoDB traffic goes through free gateway endpoints instead of the internet.
 */
export class Network extends Construct {
  public readonly vpc: ec2.IVpc;
  /** Where recorder tasks are launched. */
  public readonly recorderSubnets: ec2.SelectedSubnets;
  /** Whether recorder tasks need a public IP (true when they run in public subnets). */
  public readonly assignPublicIp: boolean;
  /** The flow log of the VPC this created (every accepted and rejected flow), or undefined for your own VPC. */
  public readonly flowLogGroup?: logs.LogGroup;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);

    if (props.vpc) {
      this.vpc = props.vpc;
    } else {
      const vpc = new ec2.Vpc(this, 'Vpc', {
        maxAzs: 2,
        natGateways: 0,
        subnetConfiguration: [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
        gatewayEndpoints: {
          S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
          DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
        },
      });
      // Which hosts the recorders talked to, for incident response. A flow record is per connection and
      // 10-minute window, not per packet, so a recording's media adds a few records, not gigabytes.
      this.flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
        retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      vpc.addFlowLog('FlowLog', {
        destination: ec2.FlowLogDestination.toCloudWatchLogs(this.flowLogGroup),
        trafficType: ec2.FlowLogTrafficType.ALL,
      });
      this.vpc = vpc;
    }
    this.recorderSubnets = this.vpc.selectSubnets(props.recorderSubnets ?? { subnetType: ec2.SubnetType.PUBLIC });
    this.assignPublicIp = this.recorderSubnets.hasPublic;
  }
}
