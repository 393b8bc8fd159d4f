/**
 * The local bus's EventBridge pattern matcher, against the semantics AWS documents
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html and
 * eb-create-pattern-operators.html): each case is one documented rule, with a matching and a non-matching event.
 */
import { describe, expect, it } from 'vitest';
import { InvalidEventPatternError, matchesEventPattern } from '../../functions/core/event-pattern.ts';

// The example event of the EventBridge docs (EC2 instance state change), trimmed.
const ec2 = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated', count: 5, tags: ['a', 'b'], empty: null, nested: { x: 'y' } },
};

describe('matchesEventPattern (EventBridge semantics)', () => {
  it('exact values: every named field must match one of its alternatives; unnamed fields are ignored', () => {
    expect(matchesEventPattern({ source: ['aws.ec2'] }, ec2)).toBe(true);
    expect(matchesEventPattern({ source: ['aws.s3', 'aws.ec2'], detail: { state: ['terminated'] } }, ec2)).toBe(true);
    expect(matchesEventPattern({ source: ['aws.ec2'], detail: { state: ['running'] } }, ec2)).toBe(false);
    expect(matchesEventPattern({}, ec2)).toBe(true);
  });

  it('matches by JSON type: "5" is not 5; null matches null only', () => {
    expect(matchesEventPattern({ detail: { count: [5] } }, ec2)).toBe(true);
    expect(matchesEventPattern({ detail: { count: ['5'] } }, ec2)).toBe(false);
    expect(matchesEventPattern({ detail: { empty: [null] } }, ec2)).toBe(true);
    expect(matchesEventPattern({ detail: { state: [null] } }, ec2)).toBe(false);
  });

  it('an array in the event matches when any element matches', () => {
    expect(matchesEventPattern({ detail: { tags: ['b', 'z'] } }, ec2)).toBe(true);
    expect(matchesEventPattern({ detail: { tags: ['z'] } }, ec2)).toBe(false);
    expect(matchesEventPattern({ resources: [{ prefix: 'arn:aws:ec2:' }] }, ec2)).toBe(true);
  });

  it('a missing field matches only exists:false; anything-but never matches a missing field', () => {
    expect(matchesEventPattern({ detail: { missing: ['x'] } }, ec2)).toBe(false);
    expect(matchesEventPattern({ detail: { missing: [{ exists: false }] } }, ec2)).toBe(true);
    expect(matchesEventPattern({ detail: { state: [{ exists: false }] } }, ec2)).toBe(false);
    expect(matchesEventPattern({ detail: { state: [{ exists: true }] } }, ec2)).toBe(true);
    expect(matchesEventPattern({ detail: { missing: [{ 'anything-but': 'x' }] } }, ec2)).toBe(false);
    // exists matches leaves only: an object is not one.
    expect(matchesEventPattern({ detail: { nested: [{ exists: true }] } }, ec2)).toBe(false);
  });

  it('prefix, suffix, equals-ignore-case, wildcard', () => {
    expect(matchesEventPattern({ detail: { state: [{ prefix: 'term' }] } }, ec2)).toBe(true);
    expect(matchesEventPattern({ detail: { state: [{ prefix: 'run' }] } }, ec2)).toBe(false);
    expect(matchesEventPattern({ detail: { state: [{ suffix: 'nated' }] } }, ec2)).toBe(true);
    expect(matchesEventPattern({ detail: { state: [{ prefix: { 'equals-ignore-case': 'TERM' } }] } }, ec2)).toBe(true);
    expect(matchesEventPattern({ detail: { state: [{ 'equals-ignore-case': 'TERMINATED' }] } }, ec2)).toBe(true);
    expect(matchesEventPattern({ detail: { state: [{ wildcard: 't*n*d' }] } }, ec2)).toBe(true);
    expect(matchesEventPattern({ detail: { state: [{ wildcard: 't*x' }] } }, ec2)).toBe(false);
    expect(matchesEventPattern({ detail: { state: [{ wildcard: 'term.nated' }] } }, ec2)).toBe(false);
  });

  it('anything-but: a value, a list, or a prefix', () => {
    expect(matchesEventPattern({ detail: { state: [{ 'anything-but': 'running' }] } }, ec2)).toBe(true);
    expect(matchesEventPattern({ detail: { state: [{ 'anything-but': ['running', 'terminated'] }] } }, ec2)).toBe(false);
    expect(matchesEventPattern({ detail: { state: [{ 'anything-but': { prefix: 'term' } }] } }, ec2)).toBe(false);
  });

  it('numeric ranges', () => {
    expect(matchesEventPattern({ detail: { count: [{ numeric: ['>', 0, '<=', 5] }] } }, ec2)).toBe(true);
    expect(matchesEventPattern({ detail: { count: [{ numeric: ['<', 5] }] } }, ec2)).toBe(false);
    expect(matchesEventPattern({ detail: { state: [{ numeric: ['>', 0] }] } }, ec2)).toBe(false);
  });

  it('$or: one of the sub-patterns must match', () => {
    const pattern = { source: ['aws.ec2'], $or: [{ detail: { state: ['running'] } }, { detail: { count: [{ numeric: ['>=', 5] }] } }] };
    expect(matchesEventPattern(pattern, ec2)).toBe(true);
    expect(matchesEventPattern({ $or: [{ detail: { state: ['running'] } }, { source: ['aws.s3'] }] }, ec2)).toBe(false);
  });

  it('a pattern object against a scalar does not match', () => {
    expect(matchesEventPattern({ detail: { state: { inner: ['x'] } } }, ec2)).toBe(false);
  });

  it('refuses what it does not implement instead of matching wrongly', () => {
    expect(() => matchesEventPattern({ detail: { ip: [{ cidr: '10.0.0.0/24' }] } }, ec2)).toThrow(InvalidEventPatternError);
    expect(() => matchesEventPattern({ source: 'aws.ec2' }, ec2)).toThrow(InvalidEventPatternError);
    expect(() => matchesEventPattern({ source: [] }, ec2)).toThrow(InvalidEventPatternError);
  });
});
