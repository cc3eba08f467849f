/** PRODUCT §2.2 requiredExtensions and §2.1 required_extension_missing: Vault's syntax, judged by the engine. */
import { describe, expect, it } from "bun:test";
import * as asn1js from "asn1js";
import { compileTrust, TrustConfigError } from "../../src/pki/index.ts";
import { extensionText } from "../../src/pki/lib/extensions.ts";
import { customExtension, makeCa, makeLeaf } from "../fixtures/pki.ts";
import { reason, settings } from "./support.ts";

const ASSET = "1.3.6.1.4.1.55555.1";
const LEVEL = "1.3.6.1.4.1.55555.2";
const ca = await makeCa({ subject: "CN=Required Extensions CA" });
const der = (block: asn1js.BaseBlock) => new Uint8Array(block.toBER());
const levelDer = der(new asn1js.Integer({ value: 3 }));
const tagged = await makeLeaf({
  issuer: ca,
  cn: "svc",
  extraExtensions: [customExtension(ASSET, { utf8: "asset-42" }), customExtension(LEVEL, { der: levelDer })],
});
const untagged = await makeLeaf({ issuer: ca, cn: "svc" });
const verdict = (requiredExtensions: string[] | null, leaf = tagged) => reason(settings(ca, { requiredExtensions }), [leaf]);

describe("requiredExtensions", () => {
  it("passes a leaf whose extension value, read as a string, matches the glob", async () => {
    expect(await verdict([`${ASSET}:asset-42`])).toBe("ok");
    expect(await verdict([`${ASSET}:asset-*`])).toBe("ok");
    expect(await verdict([`${ASSET}:*`, `${LEVEL}:*`])).toBe("ok");
    expect(await verdict(null)).toBe("ok");
  });

  it("refuses a leaf without the extension, or whose value does not match, with required_extension_missing", async () => {
    expect(await verdict([`${ASSET}:*`], untagged)).toBe("required_extension_missing");
    expect(await verdict([`${ASSET}:asset-7*`])).toBe("required_extension_missing");
    // Globs are case-sensitive, as Vault's are.
    expect(await verdict([`${ASSET}:ASSET-42`])).toBe("required_extension_missing");
    // Every entry must match.
    expect(await verdict([`${ASSET}:asset-42`, "1.3.6.1.4.1.55555.9:*"])).toBe("required_extension_missing");
  });

  it("reads a value that is not a DER string as the empty string, as Vault does: only * or an empty glob match it", async () => {
    expect(await verdict([`${LEVEL}:`])).toBe("ok");
    expect(await verdict([`${LEVEL}:3`])).toBe("required_extension_missing");
  });

  it("matches <oid>:hex:<glob> (and Vault's hex:<oid>:<glob>) against the DER in lower-case hex, the glob in any case", async () => {
    const hex = Buffer.from(levelDer).toString("hex");
    expect(await verdict([`${LEVEL}:hex:${hex}`])).toBe("ok");
    expect(await verdict([`hex:${LEVEL}:${hex.toUpperCase()}`])).toBe("ok");
    expect(await verdict([`${ASSET}:hex:0c08*`])).toBe("ok");
    expect(await verdict([`${LEVEL}:hex:020104`])).toBe("required_extension_missing");
    expect(await verdict([`${LEVEL}:hex:*`], untagged)).toBe("required_extension_missing");
  });

  it("comes before the allow-lists: a leaf failing both is refused for the extension", async () => {
    const trust = settings(ca, { requiredExtensions: [`${ASSET}:*`], allowedCommonNames: "other" });
    expect(await reason(trust, [untagged])).toBe("required_extension_missing");
  });

  it.each([
    ["asset-42", "no OID"],
    ["1..3:*", "OID with an empty arc"],
    ["3.1.2:*", "OID outside 0-2"],
    ["1.3.6.1.4.1.55555.1", "no glob"],
    ["1.3.6.1.4.1.55555.1:hex:0x0c", "hex glob with other characters"],
    ["1.3.6.1.4.01:*", "arc with a leading zero"],
    ["2.25.329800735698586629295641978511506172918:*", "arc too large for the decoder"],
  ])("refuses the entry %p (%s) at compile time, naming it", async (entry) => {
    const compiled = compileTrust(settings(ca, { requiredExtensions: [entry] }));
    await expect(compiled).rejects.toBeInstanceOf(TrustConfigError);
    await expect(compiled).rejects.toThrow(`"${entry}"`);
  });

  it("reads only an exact DER string as text: trailing bytes or malformed lengths are no string", () => {
    const utf8 = der(new asn1js.Utf8String({ value: "abc" }));
    expect(extensionText(utf8)).toBe("abc");
    expect(extensionText(der(new asn1js.PrintableString({ value: "abc" })))).toBe("abc");
    expect(extensionText(der(new asn1js.IA5String({ value: "abc" })))).toBe("abc");
    expect(extensionText(new Uint8Array([...utf8, 0]))).toBeNull();
    expect(extensionText(new Uint8Array([0x0c, 0x05, 0x61]))).toBeNull();
    expect(extensionText(levelDer)).toBeNull();
    expect(extensionText(new Uint8Array())).toBeNull();
  });

  it("reads an OID with a 12-digit arc, the largest entries accept", async () => {
    const oid = "1.3.6.1.4.1.999999999999";
    const leaf = await makeLeaf({ issuer: ca, cn: "svc", extraExtensions: [customExtension(oid, { utf8: "v" })] });
    expect(await verdict([`${oid}:v`], leaf)).toBe("ok");
  });

  it("matches a long value in linear time (no backtracking on many stars)", async () => {
    const long = await makeLeaf({ issuer: ca, cn: "svc", extraExtensions: [customExtension(ASSET, { utf8: "a".repeat(8000) })] });
    expect(await verdict([`${ASSET}:${"*a".repeat(400)}b`], long)).toBe("required_extension_missing");
  });
});
