const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Any 8-4-4-4-12 hex text, whatever its version: what PostgreSQL's `uuid` type accepts as written here. */
export function isUuid(text: string): boolean {
  return UUID.test(text);
}

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits. Ids made later sort later, so a
 * primary key of them grows at its right edge instead of touching a random page of its index per insert.
 */
export function timeOrderedUuid(now = Date.now()): string {
  // A v4 UUID has the variant bits v7 needs and 74 random bits past its first 48 and its version digit;
  // randomUUID draws from a cached pool, where getRandomValues costs a call into the runtime per id.
  const random = crypto.randomUUID();
  const ms = now.toString(16).padStart(12, "0");
  return `${ms.slice(0, 8)}-${ms.slice(8)}-7${random.slice(15)}`;
}
