import { TokenKeeper } from "./keeper.ts";
import type { ClientOptions } from "./options.ts";
import type { LoginAnswer } from "./routes.ts";

/** One login: the server's answer, or the typed error of its refusal. */
export async function login(options: ClientOptions): Promise<LoginAnswer> {
  const keeper = new TokenKeeper(options);
  try {
    return (await keeper.step()).answer;
  } finally {
    keeper.close();
  }
}
