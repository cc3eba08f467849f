import { CertauthCredentialsError } from "./errors.ts";
import type { CredentialSources, PemSource } from "./options.ts";
import { fileStamp, leafFingerprint, readText, type TlsMaterial } from "./transport.ts";

export interface LoadedCredentials {
  material: TlsMaterial;
  /** SHA-256 hex of the leaf's DER, as the server's audit events name it. */
  fingerprint: string;
}

const entries = (sources: CredentialSources) =>
  (Object.entries(sources) as [keyof CredentialSources, PemSource | undefined][]).filter((e): e is [keyof CredentialSources, PemSource] => e[1] !== undefined);

const describe = (err: unknown) => (err as { code?: string }).code ?? (err as Error).message;

/**
 * The certificate, key and CA, read again from their files only when a file's stamp moved (or when asked), and
 * taken as new only when their text changed and the key is the certificate's.
 */
export class Credentials {
  private stamps?: string;
  private current?: LoadedCredentials;

  constructor(private readonly sources: CredentialSources) {}

  get hasFiles(): boolean {
    return entries(this.sources).some(([, source]) => "file" in source);
  }

  /** Whether a file moved since the last load: stat only, cheap enough to ask every second. */
  async moved(): Promise<boolean> {
    if (!this.hasFiles) return false;
    return (await this.stampAll().catch(() => "")) !== this.stamps;
  }

  /**
   * The credentials to use; `changed` when they differ from the last load's (always on the first). Files that
   * cannot be used once credentials are held (half of a rotation, a file gone for a moment) leave those in use,
   * answered as `rejected`, and are read again only when they move again.
   */
  async load(reread = false): Promise<{ credentials: LoadedCredentials; changed: boolean; rejected?: CertauthCredentialsError }> {
    // "" when a file cannot be stat'ed, as moved() answers then too.
    let stamps = "";
    try {
      // Stamped before reading: a write that lands during the read moves the stamp again, and the next load sees it.
      stamps = this.hasFiles ? await this.stampAll() : "";
      if (this.current && !reread && stamps === this.stamps) return { credentials: this.current, changed: false };
      const material = await this.readAll();
      const previous = this.current?.material;
      if (previous && previous.cert === material.cert && previous.key === material.key && previous.ca === material.ca) {
        this.stamps = stamps;
        return { credentials: this.current!, changed: false };
      }
      let fingerprint: string;
      try {
        fingerprint = leafFingerprint(material);
      } catch (err) {
        throw new CertauthCredentialsError(`the certificate and key cannot be used: ${(err as Error).message}`);
      }
      this.current = { material, fingerprint };
      this.stamps = stamps;
      return { credentials: this.current, changed: true };
    } catch (err) {
      if (!this.current || !(err instanceof CertauthCredentialsError)) throw err;
      this.stamps = stamps;
      return { credentials: this.current, changed: false, rejected: err };
    }
  }

  private async stampAll(): Promise<string> {
    const stamps = await Promise.all(
      entries(this.sources).map(async ([name, source]) => {
        if (!("file" in source)) return "";
        try {
          return await fileStamp(source.file);
        } catch (err) {
          throw new CertauthCredentialsError(`cannot read the ${name} file ${source.file}: ${describe(err)}`);
        }
      }),
    );
    return stamps.join("|");
  }

  private async readAll(): Promise<TlsMaterial> {
    const texts: Partial<Record<keyof CredentialSources, string>> = {};
    for (const [name, source] of entries(this.sources)) {
      if ("text" in source) {
        texts[name] = source.text;
        continue;
      }
      try {
        texts[name] = await readText(source.file);
      } catch (err) {
        throw new CertauthCredentialsError(`cannot read the ${name} file ${source.file}: ${describe(err)}`);
      }
    }
    return { cert: texts.cert!, key: texts.key!, ...(texts.ca !== undefined ? { ca: texts.ca } : {}) };
  }
}
