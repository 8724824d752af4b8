/**
 * `chorus user add NAME`: add a user on this machine and announce it to
 * every other. The password is hashed here (argon2id), so it never travels;
 * the user is written to this machine's users file (the system of record),
 * then published as a user event that every auth node applies within moments.
 */
import { loadConfig } from "../../actors/runtime/config.js";
import { connectBroker } from "../../actors/runtime/connect.js";
import { ChorusError } from "../../wire/errors.js";
import { actorPasswordOf, hostIdOf } from "../../actors/runtime/identity.js";
import { createLogger } from "../../actors/runtime/log.js";
import { checkUserName, userKey } from "../../actors/auth/names.js";
import { hashPassword } from "../../actors/auth/passwords.js";
import { maxPasswordLength, minPasswordLength } from "../../wire/auth.js";
import { EventKey } from "../../wire/seal.js";
import type { Command } from "../command.js";
import { readPassword } from "../credentials.js";

function checkNewPassword(password: string): void {
  if ([...password].length < minPasswordLength) {
    throw new ChorusError(
      "BAD_REQUEST",
      `password is shorter than ${minPasswordLength} characters`,
    );
  }
  if (password.length > maxPasswordLength) {
    throw new ChorusError("BAD_REQUEST", `password is longer than ${maxPasswordLength} characters`);
  }
}

export const userAdd: Command = {
  name: "user add",
  summary: "add a user (password from a prompt, --password-stdin or CHORUS_PASSWORD)",
  usage: `Usage: chorus user add NAME [--password-stdin]

Adds a user who can then log in at any auth node, on any machine. The password
is read from a prompt (not echoed), from stdin with --password-stdin, or from
CHORUS_PASSWORD; at least ${minPasswordLength} characters. Names are 1-${64} characters, compared
without regard to case. Needs the actor role (this machine's data folder, or
CHORUS_ACTOR_PASSWORD).`,
  options: { "password-stdin": { type: "boolean" } },
  async run(flags, args) {
    if (args.length !== 1) {
      throw new ChorusError("BAD_REQUEST", "give exactly one user name: chorus user add NAME");
    }
    const name = checkUserName(args[0] as string);
    const key = userKey(name);
    const config = loadConfig(flags);
    const password = await readPassword(flags, "Password: ", true);
    checkNewPassword(password);

    // Loaded here, not at start: TypeORM and JetStream cost every other command time.
    const { openUsers } = await import("../../actors/auth/users.js");
    const { publishUser, UserSync } = await import("../../actors/auth/sync.js");
    const store = await openUsers(config);
    try {
      const eventKey = new EventKey(actorPasswordOf(config));
      const nc = await connectBroker(config, "actor", "chorus-user-add", undefined, {
        reconnect: false,
      }).catch((err: unknown) => {
        process.stderr.write(
          `chorus: warning: ${(err as Error).message}; the user is kept on this machine ` +
            `and reaches the others when an auth node starts here\n`,
        );
        return undefined;
      });
      try {
        // Catch up first, so a user added on another machine is known here.
        if (nc) {
          const sync = new UserSync(nc, store, eventKey, createLogger("user-add"));
          await sync.start().catch(() => undefined);
          await sync.stop();
        }
        if (await store.find(key)) {
          throw new ChorusError("BAD_REQUEST", `user "${name}" already exists`);
        }
        const row = {
          key,
          name,
          hash: await hashPassword(password),
          updatedAt: Date.now(),
          origin: hostIdOf(config),
        };
        await store.upsert(row);
        if (nc) await publishUser(nc, eventKey, row);
        process.stdout.write(`added user ${name}\n`);
        return 0;
      } finally {
        await nc?.close();
      }
    } finally {
      await store.close();
    }
  },
};
