/**
 * Timers for sweeps that expire things by their silence: sessions at an auth
 * node, nodes in the prime's registry, P2P hosts.
 *
 * Each tick sweeps only after the input already waiting has been read
 * (`setImmediate`: libuv's check phase comes after its poll phase). When the
 * process itself was held up (a long GC, a busy machine), its overdue timers
 * fire first in the next loop turn, before any socket is read: swept then,
 * everything that went on beating while we stalled would look silent, its
 * beats still unread in the socket, and be expired for our own stall.
 */
export function sweepEvery(ms: number, sweep: () => void): () => void {
  let queued = false;
  const timer = setInterval(() => {
    if (queued) return;
    queued = true;
    setImmediate(() => {
      queued = false;
      sweep();
    });
  }, ms);
  return () => clearInterval(timer);
}

/** Run `sweep` after the input already waiting has been read (see `sweepEvery`). */
export function afterPendingInput(sweep: () => void): void {
  setImmediate(sweep);
}
