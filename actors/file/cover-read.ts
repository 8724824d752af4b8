/**
 * `chorus.file.<id>.cover`: a song's embedded cover art (the front cover
 * when the file names one, else its first picture), for the HTTP gateway's
 * getCoverArt. Read from the file on every request: tags without covers are
 * what the catalogue keeps, and art is asked for once per album by a client
 * that caches it. The session is verified at its auth node, as for reads.
 */
import { parseFile } from "music-metadata";
import { ChorusError } from "../../wire/errors.js";
import { coverMaxBytes, type CoverReply, type CoverRequest } from "../../wire/file.js";
import type { Session } from "../../wire/session.js";
import type { Catalogue } from "./catalogue.js";

export async function readCover(
  catalogue: Catalogue,
  verify: (session: Session) => Promise<unknown>,
  req: CoverRequest,
): Promise<CoverReply> {
  const [, song] = await Promise.all([verify(req.session), catalogue.resolve(req.song)]);
  if (!song.song.cover) throw new ChorusError("NOT_FOUND", "the song has no embedded cover art");
  const meta = await parseFile(song.path, { duration: false, skipCovers: false }).catch(() => {
    throw new ChorusError("NOT_FOUND", "the song's file cannot be read now");
  });
  const pictures = meta.common.picture ?? [];
  const picture = pictures.find((p) => /front/i.test(p.type ?? "")) ?? pictures[0];
  if (!picture) throw new ChorusError("NOT_FOUND", "the song has no embedded cover art");
  if (picture.data.length > coverMaxBytes) {
    throw new ChorusError("NOT_FOUND", `the song's cover art is over ${coverMaxBytes} bytes`);
  }
  const mime = picture.format.includes("/") ? picture.format : `image/${picture.format}`;
  return { mime, data: Buffer.from(picture.data).toString("base64") };
}
