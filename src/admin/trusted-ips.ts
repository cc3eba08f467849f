import { z } from "@hono/zod-openapi";
import type { TrustedIp } from "../db/schema.ts";
import { parseCidr, parseIp, type IpAddress } from "../net/ip.ts";

/**
 * One `accessTokenTrustedIps` entry as written (`{ ipAddress: "10.0.0.0/8" }`) or as read back
 * (`{ ipAddress: "10.0.0.0", type: "ipv4", prefix: 8 }`), so that a client echoing a GET is accepted as it is.
 */
export const trustedIpInput = z
  .strictObject({
    ipAddress: z.string().trim().min(1).max(64),
    type: z.enum(["ipv4", "ipv6"]).optional(),
    prefix: z.number().int().min(0).max(128).optional(),
  })
  .superRefine((entry, ctx) => {
    try {
      toTrustedIp(entry);
    } catch (err) {
      ctx.addIssue({ code: "custom", path: ["ipAddress"], message: (err as Error).message });
    }
  });

export type TrustedIpInput = z.infer<typeof trustedIpInput>;

/** The list an attach gets when it names none: anywhere. */
export const ANYWHERE: TrustedIpInput[] = [{ ipAddress: "0.0.0.0/0" }, { ipAddress: "::/0" }];

/**
 * Infisical's stored shape: `{ ipAddress, type }` for one address, `{ ipAddress, type, prefix }` for a range,
 * where `ipAddress` holds the address without its prefix. Throws a message naming the entry when it is none.
 */
export function toTrustedIp(entry: TrustedIpInput): TrustedIp {
  const named = JSON.stringify(entry.ipAddress);
  const slash = entry.ipAddress.indexOf("/");
  const address = slash < 0 ? entry.ipAddress : entry.ipAddress.slice(0, slash);
  const written = slash < 0 ? undefined : entry.ipAddress.slice(slash + 1);
  if (written !== undefined && entry.prefix !== undefined && written !== String(entry.prefix)) {
    throw new Error(`${named} and prefix ${entry.prefix} name different ranges`);
  }
  const range = written !== undefined || entry.prefix !== undefined;
  let ip: IpAddress;
  let prefix: number | undefined;
  try {
    if (range) [ip, prefix] = parseCidr(`${address}/${written ?? entry.prefix}`);
    else ip = parseIp(entry.ipAddress);
  } catch {
    throw new Error(`${named} is not a dotted-quad IPv4 or standard IPv6 address or CIDR range`);
  }
  if (entry.type !== undefined && entry.type !== ip.kind()) throw new Error(`${named} is not an ${entry.type} address`);
  return prefix === undefined ? { ipAddress: ip.toString(), type: ip.kind() } : { ipAddress: ip.toString(), type: ip.kind(), prefix };
}
