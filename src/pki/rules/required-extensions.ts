import type { ParsedCertificate } from "../lib/certificate.ts";
import { extensionText, extensionValues, OID_PATTERN } from "../lib/extensions.ts";
import { anyRunGlob, type Matcher } from "../lib/glob.ts";
import { toHex } from "../lib/names.ts";
import { TrustConfigError } from "../errors.ts";
import type { RuleResult } from "../types.ts";

/** One `requiredExtensions` entry: the extension with `oid` must be present and its value match. */
export interface RequiredExtension {
  entry: string;
  oid: string;
  /** "text": the value read as a string (empty when it is not one); "hex": its DER in lower-case hex. */
  form: "text" | "hex";
  matches: Matcher;
}

/**
 * Vault's syntax: "<oid>:<glob>" against the value read as a string, "<oid>:hex:<glob>" (or Vault's own
 * "hex:<oid>:<glob>") against its DER in lower-case hex; `*` matches any run of characters, case-sensitively.
 * Throws TrustConfigError naming the entry.
 */
export function compileRequiredExtensions(entries: readonly string[] | null | undefined): RequiredExtension[] | null {
  if (!entries || entries.length === 0) return null;
  return entries.map((entry) => {
    let rest = entry;
    let form: RequiredExtension["form"] = "text";
    if (rest.startsWith("hex:")) {
      form = "hex";
      rest = rest.slice(4);
    }
    const colon = rest.indexOf(":");
    const oid = colon < 0 ? rest : rest.slice(0, colon);
    if (colon < 0 || !OID_PATTERN.test(oid)) {
      throw new TrustConfigError(`The required extension "${entry}" is not "<oid>:<glob>" or "<oid>:hex:<glob>" with a dotted OID such as 1.3.6.1.4.1.55555.1.`);
    }
    let pattern = rest.slice(colon + 1);
    if (form === "text" && pattern.startsWith("hex:")) {
      form = "hex";
      pattern = pattern.slice(4);
    }
    if (form === "hex") {
      if (!/^[0-9a-fA-F*]*$/.test(pattern)) {
        throw new TrustConfigError(`The required extension "${entry}" has a hex pattern with characters other than hex digits and *.`);
      }
      pattern = pattern.toLowerCase();
    }
    return { entry, oid, form, matches: anyRunGlob(pattern) };
  });
}

/** Every entry must be matched by every extension of the leaf with its OID, and there must be one. */
export function checkRequiredExtensions(leaf: ParsedCertificate, required: readonly RequiredExtension[] | null): RuleResult {
  if (!required) return null;
  for (const rule of required) {
    const values = extensionValues(leaf, rule.oid);
    const read = (der: Uint8Array) => (rule.form === "hex" ? toHex(der) : (extensionText(der) ?? ""));
    if (values.length === 0 || !values.every((der) => rule.matches(read(der)))) {
      // Like the allow-lists, the refusal does not tell a client what the configuration asks for.
      return {
        reason: "required_extension_missing",
        message: "The certificate lacks an extension this identity requires, or the extension's value does not match.",
      };
    }
  }
  return null;
}
