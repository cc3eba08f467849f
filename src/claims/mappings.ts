import { badRequest } from "../errors.ts";
import { FIXED_ATTRIBUTES, parseAttributeSource, readAttribute, type AttributeSource, type DecodedLeaf } from "../pki/index.ts";
import { isReservedClaimName, type MappedClaims } from "./names.ts";

/** Bounds on what a tenant admin's mappings may put in a token, which must stay within the 8 KiB a JWT may have here. */
export const MAX_CLAIM_MAPPINGS = 16;
export const MAX_VALUES_PER_CLAIM = 64;
/** UTF-8 bytes of the mapped claims' JSON. */
export const MAX_MAPPED_CLAIM_BYTES = 2048;

/** A letter or underscore, then letters, digits and `_ . : / -`: plain names and URI-style collision-resistant ones. */
const CLAIM_NAME = /^[A-Za-z_][A-Za-z0-9_.:/-]{0,63}$/;

interface ClaimMapping {
  name: string;
  source: AttributeSource;
}

const SOURCES_HELP = `${FIXED_ATTRIBUTES.join(", ")} or ext:<oid>`;

function compile(mappings: Record<string, string>): ClaimMapping[] {
  const entries = Object.entries(mappings);
  if (entries.length > MAX_CLAIM_MAPPINGS) throw badRequest(`claimMappings may have at most ${MAX_CLAIM_MAPPINGS} claims.`);
  return entries.map(([name, text]) => {
    if (!CLAIM_NAME.test(name)) {
      throw badRequest(`The claim name "${name}" in claimMappings must be 1-64 letters, digits or _ . : / -, starting with a letter or _.`);
    }
    if (isReservedClaimName(name)) {
      throw badRequest(`The claim name "${name}" in claimMappings is a registered or certauth claim; choose another name.`);
    }
    const source = parseAttributeSource(text);
    if (!source) throw badRequest(`The source "${text}" of the claim "${name}" in claimMappings is not one of ${SOURCES_HELP}.`);
    return { name, source };
  });
}

/**
 * Runs on the raw JSON before zod reads claimMappings: a record schema would drop a `__proto__` name silently
 * (assigning it sets the prototype), so the entry would vanish where any other bad name is a 400.
 */
export function refusePrototypeName(raw: unknown): unknown {
  if (raw !== null && typeof raw === "object" && Object.hasOwn(raw, "__proto__")) {
    throw badRequest('The claim name "__proto__" in claimMappings cannot be a claim; choose another name.');
  }
  return raw;
}

/** Checks a configuration's claimMappings; a 400 names the entry at fault. */
export function assertClaimMappings(mappings: Record<string, string> | null | undefined): void {
  if (mappings) compile(mappings);
}

/** Compiled once per stored object: a remembered identity row hands the same one to every login. */
const compiled = new WeakMap<Record<string, string>, ClaimMapping[]>();

/**
 * The claims `mappings` take from the verified leaf: one value as a string, several as a list, none: no claim.
 * A leaf whose values exceed the bounds is refused (400) rather than given a token with some values left out.
 */
export function claimsFromCertificate(mappings: Record<string, string> | null, leaf: DecodedLeaf): MappedClaims {
  if (!mappings) return {};
  let list = compiled.get(mappings);
  if (!list) compiled.set(mappings, (list = compile(mappings)));
  const claims: MappedClaims = {};
  for (const { name, source } of list) {
    const values = readAttribute(leaf.certificate, source);
    if (values.length > MAX_VALUES_PER_CLAIM) {
      throw badRequest(`The certificate has ${values.length} values for the claim "${name}"; claimMappings takes at most ${MAX_VALUES_PER_CLAIM}.`);
    }
    if (values.length) claims[name] = values.length === 1 ? values[0]! : values;
  }
  if (new TextEncoder().encode(JSON.stringify(claims)).byteLength > MAX_MAPPED_CLAIM_BYTES) {
    throw badRequest(`The certificate's values for claimMappings take more than ${MAX_MAPPED_CLAIM_BYTES} bytes in a token.`);
  }
  return claims;
}
