/**
 * Every chorus process stops within 2 s (1.5 s and the time to exit) of SIGINT or SIGTERM, whatever the
 * broker's state. The first signal starts the graceful stop the command or
 * actor arranged (its own signal listeners) and a deadline; a second signal,
 * the deadline, or a signal nobody else listens to ends the process at once.
 */
import { constants } from "node:os";

/** After the first signal, the graceful stop has this long. */
export const stopDeadlineMs = 1500;

const watched: NodeJS.Signals[] = ["SIGINT", "SIGTERM"];

export function exitCodeOf(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/** Call once, first thing in a process, before anything listens to signals. */
export function enforceStopDeadline(deadlineMs = stopDeadlineMs): void {
  let first: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    // Nobody arranged a graceful stop, or we were asked twice: go now.
    if (first || process.listenerCount(signal) === 1) process.exit(exitCodeOf(signal));
    first = signal;
    setTimeout(() => {
      process.stderr.write(`chorus: still stopping ${deadlineMs} ms after ${signal}; exiting\n`);
      process.exit(exitCodeOf(signal));
    }, deadlineMs).unref();
  };
  for (const signal of watched) process.on(signal, onSignal);
}

/** Resolves with `true` if `promise` settles within `ms`, `false` if not (it is left running). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
