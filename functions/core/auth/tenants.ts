/** Tenant ids: what an operator names a tenant with the api-keys CLI. They appear in keys and token headers. */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;
export const TENANT_ID_RULE = 'a tenant id is 1 to 64 characters of a-z, 0-9 and -, not starting with -';

export function isTenantId(value: unknown): value is string {
  return typeof value === 'string' && TENANT_ID_PATTERN.test(value);
}
