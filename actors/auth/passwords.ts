/**
 * Password hashing with argon2id, and a limit on how many hashes run at once.
 *
 * Parameters: m = 19 MiB, t = 2, p = 1 — OWASP's minimum for argon2id, chosen
 * because every login waits for one hash and this machine kind is small. The
 * parameters travel inside each stored hash, so raising them later only needs
 * new hashes (`needsRehash` tells which).
 *
 * argon2 runs on libuv's thread pool (4 threads by default, shared with file
 * and DNS work). Unthrottled, a burst of logins would queue behind each other
 * there and starve everything else; `HashLimiter` lets a few hashes run and a
 * bounded number wait, and refuses the rest with RATE_LIMITED at once.
 */
import argon2 from "argon2";
import { cpus } from "node:os";
import { ChorusError } from "../../wire/errors.js";

export const hashOptions = {
  type: argon2.argon2id,
  memoryCost: 19 * 1024,
  timeCost: 2,
  parallelism: 1,
} as const;

/** Passwords are hashed as NFC, so the same password typed on another system still matches. */
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password.normalize("NFC"), hashOptions);
}

/** A hash of a random password: unknown users are checked against it, so they cost the same. */
let decoy: Promise<string> | undefined;
function decoyHash(): Promise<string> {
  decoy ??= hashPassword(`decoy-${Math.random()}-${Date.now()}`);
  return decoy;
}

/** True when `password` matches `hash`; with no hash (unknown user) the work is the same and the answer false. */
export async function verifyPassword(hash: string | undefined, password: string): Promise<boolean> {
  const digest = hash ?? (await decoyHash());
  try {
    const ok = await argon2.verify(digest, password.normalize("NFC"));
    return ok && hash !== undefined;
  } catch {
    return false;
  }
}

/** Hashes that may run at once: the thread pool minus one thread left for other work, at most the cores. */
export function defaultHashConcurrency(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, Math.min(cpus().length, pool - 1));
}

/**
 * Runs at most `concurrency` hashes at once. Logins the prime sent here (with
 * a claim) are bounded by the node's capacity already: they queue first and
 * are never refused. Other logins (anyone may send them) wait behind them in
 * a bounded queue, and are refused when it is full or when they waited too long.
 */
export class HashLimiter {
  private running = 0;
  private readonly waiting: Array<{ since: number; priority: boolean; go: () => void }> = [];

  constructor(
    readonly concurrency = defaultHashConcurrency(),
    /** Unclaimed logins that may queue: a few hashes' worth per running hash. */
    readonly maxWaiting = concurrency * 8,
    /** An unclaimed login that waited longer is refused at its turn: its client has likely given up. */
    readonly maxWaitMs = 2000,
  ) {}

  async run<T>(work: () => Promise<T>, priority = false): Promise<T> {
    if (this.running >= this.concurrency) {
      const queued = this.waiting.filter((w) => !w.priority).length;
      if (!priority && queued >= this.maxWaiting) throw busy();
      const since = Date.now();
      await new Promise<void>((go) => {
        const entry = { since, priority, go };
        const firstOrdinary = this.waiting.findIndex((w) => !w.priority);
        if (priority && firstOrdinary >= 0) this.waiting.splice(firstOrdinary, 0, entry);
        else this.waiting.push(entry);
      });
      if (!priority && Date.now() - since > this.maxWaitMs) {
        this.release();
        throw busy();
      }
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  /** Hand the slot straight to the next waiter, or free it. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next.go();
    else this.running--;
  }
}

function busy(): ChorusError {
  return new ChorusError("RATE_LIMITED", "auth node is busy; try again shortly");
}
