/**
 * `chorus user key NAME` and `chorus user app-password NAME`: the
 * credentials Subsonic apps use instead of the password (actors/auth/
 * secrets.ts). Like `chorus user add`, the change is written to this
 * machine's users file first (a new version of the user), then published
 * as a user event that every auth node applies.
 */
import { loadConfig, type ChorusConfig } from "../../actors/runtime/config.js";
import { connectBroker } from "../../actors/runtime/connect.js";
import { ChorusError } from "../../wire/errors.js";
import { actorPasswordOf, hostIdOf } from "../../actors/runtime/identity.js";
import { createLogger } from "../../actors/runtime/log.js";
import { checkUserName, userKey } from "../../actors/auth/names.js";
import type { UserSecrets } from "../../actors/auth/secrets.js";
import { EventKey } from "../../wire/seal.js";
import type { Command } from "../command.js";

/**
 * Catch up with user events, change the user's secrets with `change`, store
 * and publish the new version. Resolves with what `change` returned.
 */
async function changeSecrets<T>(
  config: ChorusConfig,
  name: string,
  change: (secrets: UserSecrets, key: EventKey) => { secrets?: UserSecrets; result: T },
): Promise<T> {
  const { openUsers } = await import("../../actors/auth/users.js");
  const { publishUser, UserSync } = await import("../../actors/auth/sync.js");
  const { parseSecrets } = await import("../../actors/auth/secrets.js");
  const store = await openUsers(config);
  try {
    const eventKey = new EventKey(actorPasswordOf(config));
    const nc = await connectBroker(config, "actor", "chorus-user-secrets", undefined, {
      reconnect: false,
    }).catch((err: unknown) => {
      process.stderr.write(
        `chorus: warning: ${(err as Error).message}; the change is kept on this machine ` +
          `and reaches the others when an auth node starts here\n`,
      );
      return undefined;
    });
    try {
      if (nc) {
        const sync = new UserSync(nc, store, eventKey, createLogger("user-secrets"));
        await sync.start().catch(() => undefined);
        await sync.stop();
      }
      const row = await store.find(userKey(checkUserName(name)));
      if (!row) throw new ChorusError("NOT_FOUND", `no user "${name}"`);
      const { secrets, result } = change(parseSecrets(row.secrets), eventKey);
      if (!secrets) return result;
      const next = {
        ...row,
        secrets: JSON.stringify(secrets),
        // Strictly newer than the version it replaces, wherever that was made.
        updatedAt: Math.max(Date.now(), row.updatedAt + 1),
        origin: hostIdOf(config),
      };
      await store.upsert(next);
      if (nc) await publishUser(nc, eventKey, next);
      return result;
    } finally {
      await nc?.close();
    }
  } finally {
    await store.close();
  }
}

function oneName(args: string[], usage: string): string {
  if (args.length !== 1)
    throw new ChorusError("BAD_REQUEST", `give exactly one user name: ${usage}`);
  return args[0] as string;
}

export const userKeyCommand: Command = {
  name: "user key",
  summary: "make (or --list, --revoke) a user's OpenSubsonic API keys",
  usage: `Usage: chorus user key NAME            make a new API key (printed on the last line)
       chorus user key NAME --list     the user's keys: id and creation time
       chorus user key NAME --revoke KEY_OR_ID

An API key logs a Subsonic app in as the user (the apiKey parameter) without
the password. Only a hash of it is kept: it is shown once. Needs the actor role.`,
  options: { list: { type: "boolean" }, revoke: { type: "string" } },
  async run(flags, args) {
    const name = oneName(args, "chorus user key NAME");
    const config = loadConfig(flags);
    const { newApiKey, apiKeyId } = await import("../../actors/auth/secrets.js");
    if (flags.list) {
      const keys = await changeSecrets(config, name, (s) => ({ result: s.keys ?? [] }));
      for (const k of keys) {
        process.stdout.write(`${k.id}  ${new Date(k.created).toISOString()}\n`);
      }
      return 0;
    }
    if (typeof flags.revoke === "string") {
      const id = apiKeyId(flags.revoke) ?? flags.revoke;
      const removed = await changeSecrets(config, name, (s) => {
        const keys = s.keys ?? [];
        const left = keys.filter((k) => k.id !== id);
        if (left.length === keys.length) return { result: false };
        return { secrets: { ...s, keys: left }, result: true };
      });
      if (!removed) throw new ChorusError("NOT_FOUND", `user "${name}" has no key ${id}`);
      process.stdout.write(`revoked key ${id}\n`);
      return 0;
    }
    const made = newApiKey();
    await changeSecrets(config, name, (s) => ({
      secrets: { ...s, keys: [...(s.keys ?? []), made.info] },
      result: undefined,
    }));
    process.stdout.write(`new API key for ${name} (id ${made.info.id}), shown only now:\n`);
    process.stdout.write(`${made.key}\n`);
    return 0;
  },
};

export const userAppPassword: Command = {
  name: "user app-password",
  summary: "make a user's app password for Subsonic token auth (printed on the last line)",
  usage: `Usage: chorus user app-password NAME

Subsonic's token auth (t = md5(password + salt)) needs the password itself on
the server, which Chorus never keeps for real passwords. This makes a separate,
random app password for apps that only speak token auth; it replaces any
earlier one and is kept sealed under the actor secret. Needs the actor role.`,
  async run(flags, args) {
    const name = oneName(args, "chorus user app-password NAME");
    const config = loadConfig(flags);
    const { newAppPassword, sealAppPassword } = await import("../../actors/auth/secrets.js");
    const password = newAppPassword();
    await changeSecrets(config, name, (s, key) => ({
      secrets: { ...s, app: sealAppPassword(key, password) },
      result: undefined,
    }));
    process.stdout.write(`app password for ${name} (use it instead of the password):\n`);
    process.stdout.write(`${password}\n`);
    return 0;
  },
};
