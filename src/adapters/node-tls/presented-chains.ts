import { createHash } from "node:crypto";

/**
 * The certificates clients sent after their leaf in full handshakes, by leaf, within a byte budget (oldest
 * dropped first). OpenSSL (Node) keeps only the leaf in a session ticket, so a resumed session there reports
 * the leaf alone; its intermediates are public, come from an earlier handshake of this process (tickets do
 * not outlive it), and are verified again at every login like any other chain.
 */
export class PresentedChains {
  private readonly byLeaf = new Map<string, { rest: Uint8Array[]; bytes: number }>();
  private bytes = 0;

  constructor(private readonly maxBytes = 4 * 1024 * 1024) {}

  /** A full handshake's chain, leaf first. */
  remember(chain: Uint8Array[]): void {
    if (chain.length < 2) return;
    const key = leafKey(chain[0]!);
    this.forget(key);
    const rest = chain.slice(1);
    const bytes = rest.reduce((sum, der) => sum + der.length, key.length);
    if (bytes > this.maxBytes) return;
    this.byLeaf.set(key, { rest, bytes });
    this.bytes += bytes;
    for (const [oldest] of this.byLeaf) {
      if (this.bytes <= this.maxBytes) break;
      this.forget(oldest);
    }
  }

  /** A resumed session's chain: as reported when the runtime kept it, else the leaf and what came with it. */
  complete(chain: Uint8Array[]): Uint8Array[] {
    if (chain.length !== 1) return chain;
    const known = this.byLeaf.get(leafKey(chain[0]!));
    return known ? [chain[0]!, ...known.rest] : chain;
  }

  private forget(key: string): void {
    const known = this.byLeaf.get(key);
    if (!known) return;
    this.byLeaf.delete(key);
    this.bytes -= known.bytes;
  }
}

function leafKey(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("base64");
}
