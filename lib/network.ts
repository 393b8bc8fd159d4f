import * as ec2 from 'aws-cdk-lib/aws-ec2';
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

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);

    this.vpc =
      props.vpc ??
      new ec2.Vpc(this, 'Vpc', {
        maxAzs: 2,
        natGateways: 0,
        subnetConfiguration: [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
        gatewayEndpoints: {
          S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
          DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
        },
      });
    this.recorderSubnets = this.vpc.selectSubnets(props.recorderSubnets ?? { subnetType: ec2.SubnetType.PUBLIC });
    this.assignPublicIp = this.recorderSubnets.hasPublic;
  }
}
