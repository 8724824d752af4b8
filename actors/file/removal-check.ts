/**
 * Was a song file removed (or replaced) while a stream has it open? Its
 * handle's link count drops to 0. Asked before every chunk, so it is a
 * synchronous fstat (about a microsecond): the promise one, through libuv's
 * thread pool, cost a tenth of a busy file node's CPU (500 listeners,
 * `CHORUS_BENCH_PROFILE=1 npm run bench -- file`).
 */
import { fstatSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";

export function fileRemoved(fd: FileHandle): boolean {
  return fstatSync(fd.fd).nlink === 0;
}
