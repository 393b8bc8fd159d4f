/**
 * The deployed HTTP API and the OpenAPI document describe the same routes: the (method, path) pairs of the
 * synthesized AWS::ApiGatewayV2::Route resources equal those of the shipped openapi.json.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { MeetingRecorderStack } from '../../lib/meeting-recorder-stack.ts';
import { tempOutdir } from '../support/cdk-outdir.ts';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

describe('the CDK HTTP API and the OpenAPI document', () => {
  let deployed: string[];
  let documented: string[];

  beforeAll(() => {
    // Prepare: the deployable stack, synthesized once. Routes do not depend on the Lambda code, so esbuild is skipped.
    const app = new App({ outdir: tempOutdir(), context: { 'aws:cdk:bundling-stacks': [] } });
    const template = Template.fromStack(new MeetingRecorderStack(app, 'MeetingRecorder'));
    const doc = JSON.parse(readFileSync(resolve(import.meta.dirname, '..', '..', 'openapi.json'), 'utf8'));

    // Act
    deployed = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((route) => route.Properties.RouteKey as string);
    documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((key) => HTTP_METHODS.includes(key))
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
  });

  it('have the same set of (method, path)', () => {
    expect(new Set(deployed).size, 'no route is deployed twice').toBe(deployed.length);
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual([...deployed].sort());
  });

  it('found routes to compare (a synth without routes would compare two empty sets)', () => {
    expect(deployed.length).toBeGreaterThanOrEqual(10);
    expect(deployed).toContain('POST /v1/recordings');
    expect(deployed).toContain('GET /v1/openapi.json');
  });
});
