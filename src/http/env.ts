import type { PeerBindings } from "../http/peer.ts";
import type { ReasonCode } from "../reasons.ts";

/** Who is calling an admin or token route, once authenticated. */
export type Principal =
  | { kind: "admin" }
  | { kind: "identity"; identityId: string; orgId: string; rootOrgId: string; role: "admin" | "member"; tokenId: string };

export type AppEnv = {
  Bindings: PeerBindings;
  Variables: {
    reqId: string;
    principal?: Principal;
    /** Set by handlers so the request's log line can name them. */
    identityId?: string;
    reasonCode?: ReasonCode;
  };
};
