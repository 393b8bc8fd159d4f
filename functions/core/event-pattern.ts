/**
 * EventBridge event pattern matching, for local mode's bus (and for tests that check a documented pattern
 * against real events). Implements the subset of
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
 * that rules are commonly written with, with AWS's semantics:
 *
 * - Every field named in the pattern must match; fields the pattern does not name are ignored.
 * - A leaf is an array of alternatives: exact strings, numbers, `null`, or filter objects: `prefix`,
 *   `suffix`, `equals-ignore-case`, `anything-but` (a value, a list, or `{ prefix }` / `{ suffix }`),
 *   `numeric` (`[">", 0, "<=", 5]`), `exists`, `wildcard` (`*` only).
 * - When the event's value is an array, the leaf matches if any element matches any alternative.
 * - A missing field matches only `{ "exists": false }`; `anything-but` never matches a missing field.
 * - `$or` at any object level: an array of sub-patterns, one of which must match.
 * - Exact matching is by JSON type and value: "5" does not match 5.
 *
 * Anything outside the subset (e.g. `cidr`) throws InvalidEventPatternError rather than matching wrongly.
 */
export class InvalidEventPatternError extends Error {
  constructor(message: string) {
    super(`Invalid event pattern: ${message}`);
    this.name = 'InvalidEventPatternError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function matchesEventPattern(pattern: unknown, event: unknown): boolean {
  if (!isObject(pattern)) throw new InvalidEventPatternError('the pattern must be a JSON object');
  validate(pattern);
  return matchObject(pattern, event);
}

/** Checks the whole pattern up front, so a bad part fails whatever the event (as PutRule would). */
function validate(pattern: Obj): void {
  for (const [key, sub] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!Array.isArray(sub) || sub.length < 2 || !sub.every(isObject)) throw new InvalidEventPatternError('$or takes an array of at least two patterns');
      sub.forEach(validate);
    } else if (Array.isArray(sub)) {
      if (sub.length === 0) throw new InvalidEventPatternError('an empty array matches nothing');
      for (const alt of sub) {
        if (isObject(alt) && !('exists' in alt)) matchFilter(alt, undefined);
        else if (isObject(alt) && typeof alt.exists !== 'boolean') throw new InvalidEventPatternError('exists takes true or false');
        else if (!isObject(alt) && alt !== null && typeof alt !== 'string' && typeof alt !== 'number' && typeof alt !== 'boolean') {
          throw new InvalidEventPatternError(`unsupported value ${JSON.stringify(alt)}`);
        }
      }
    } else if (isObject(sub)) {
      validate(sub);
    } else {
      throw new InvalidEventPatternError(`the value of '${key}' must be an array or an object`);
    }
  }
}

function matchObject(pattern: Obj, value: unknown): boolean {
  for (const [key, sub] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!Array.isArray(sub) || sub.length < 2 || !sub.every(isObject)) throw new InvalidEventPatternError('$or takes an array of at least two patterns');
      if (!sub.some((alternative) => matchObject(alternative, value))) return false;
      continue;
    }
    const field = isObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
    if (Array.isArray(sub)) {
      if (!matchLeaf(sub, field)) return false;
    } else if (isObject(sub)) {
      if (!isObject(field)) return false;
      if (!matchObject(sub, field)) return false;
    } else {
      throw new InvalidEventPatternError(`the value of '${key}' must be an array or an object`);
    }
  }
  return true;
}

function matchLeaf(alternatives: unknown[], field: unknown): boolean {
  if (alternatives.length === 0) throw new InvalidEventPatternError('an empty array matches nothing');
  const present = field !== undefined;
  const values: unknown[] = Array.isArray(field) ? field : [field];
  return alternatives.some((alt) => {
    if (isObject(alt)) {
      if ('exists' in alt) {
        if (typeof alt.exists !== 'boolean') throw new InvalidEventPatternError('exists takes true or false');
        // exists:true matches leaf values only (an object is not a leaf).
        return alt.exists ? present && !isObject(field) : !present;
      }
      if (!present) return false;
      return values.some((v) => matchFilter(alt, v));
    }
    if (!present) return false;
    if (alt !== null && typeof alt !== 'string' && typeof alt !== 'number' && typeof alt !== 'boolean') {
      throw new InvalidEventPatternError(`unsupported value ${JSON.stringify(alt)}`);
    }
    return values.some((v) => v === alt);
  });
}

function matchFilter(filter: Obj, value: unknown): boolean {
  const keys = Object.keys(filter);
  if (keys.length !== 1) throw new InvalidEventPatternError(`a filter object takes exactly one key, got ${JSON.stringify(filter)}`);
  const [name] = keys as [string];
  const arg = filter[name] as Json;
  switch (name) {
    case 'prefix':
      if (isObject(arg) && typeof arg['equals-ignore-case'] === 'string')
        return typeof value === 'string' && value.toLowerCase().startsWith(arg['equals-ignore-case'].toLowerCase());
      return typeof arg === 'string' && typeof value === 'string' && value.startsWith(arg);
    case 'suffix':
      if (isObject(arg) && typeof arg['equals-ignore-case'] === 'string')
        return typeof value === 'string' && value.toLowerCase().endsWith(arg['equals-ignore-case'].toLowerCase());
      return typeof arg === 'string' && typeof value === 'string' && value.endsWith(arg);
    case 'equals-ignore-case':
      if (typeof arg !== 'string') throw new InvalidEventPatternError('equals-ignore-case takes a string');
      return typeof value === 'string' && value.toLowerCase() === arg.toLowerCase();
    case 'wildcard': {
      if (typeof arg !== 'string') throw new InvalidEventPatternError('wildcard takes a string');
      const regex = new RegExp(`^${arg.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
      return typeof value === 'string' && regex.test(value);
    }
    case 'anything-but':
      return anythingBut(arg, value);
    case 'numeric':
      return numeric(arg, value);
    default:
      throw new InvalidEventPatternError(`unsupported filter '${name}'`);
  }
}

function anythingBut(arg: Json, value: unknown): boolean {
  if (isObject(arg)) {
    if (typeof arg.prefix === 'string') return typeof value === 'string' && !value.startsWith(arg.prefix);
    if (typeof arg.suffix === 'string') return typeof value === 'string' && !value.endsWith(arg.suffix);
    throw new InvalidEventPatternError('anything-but takes a value, a list of values, { prefix } or { suffix }');
  }
  const excluded = Array.isArray(arg) ? arg : [arg];
  if (excluded.some((e) => typeof e !== 'string' && typeof e !== 'number')) throw new InvalidEventPatternError('anything-but values must be strings or numbers');
  return !excluded.some((e) => e === value);
}

function numeric(arg: Json, value: unknown): boolean {
  if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0) throw new InvalidEventPatternError('numeric takes [op, number, ...]');
  if (typeof value !== 'number') return false;
  for (let i = 0; i < arg.length; i += 2) {
    const op = arg[i];
    const bound = arg[i + 1];
    if (typeof bound !== 'number') throw new InvalidEventPatternError('numeric bounds must be numbers');
    const ok =
      op === '=' ? value === bound : op === '>' ? value > bound : op === '>=' ? value >= bound : op === '<' ? value < bound : op === '<=' ? value <= bound : undefined;
    if (ok === undefined) throw new InvalidEventPatternError(`unsupported numeric operator ${JSON.stringify(op)}`);
    if (!ok) return false;
  }
  return true;
}
