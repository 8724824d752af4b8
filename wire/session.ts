/** The one session shape: what a login gives and every later request carries. */
import { z } from "zod";
import { idPattern, idSchema } from "./ids.js";

/** What an auth node checks: the session's id and its secret token. */
export const sessionCredentialsSchema = z.object({
  sessionId: z.string().regex(idPattern, "sessionId is not a session id"),
  token: z.string().min(1).max(256),
});
export type SessionCredentials = z.infer<typeof sessionCredentialsSchema>;

/** A session as other nodes see it: its credentials and the auth node that holds it. */
export const sessionSchema = sessionCredentialsSchema.extend({ authNode: idSchema });
export type Session = z.infer<typeof sessionSchema>;
