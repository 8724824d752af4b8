#!/usr/bin/env node
/**
 * Synthesises Chorus's demo songs into music/ (or the folder given as the
 * first argument). Everything is made here from sine waves, so the songs are
 * free of rights; the output is deterministic, so re-running it changes
 * nothing. Each song uses a different WAV format, to exercise the player.
 *
 *   node scripts/make-music.mjs [FOLDER]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import wavefile from "wavefile";

const A4 = 440;
const note = (semitonesFromA4) => A4 * 2 ** (semitonesFromA4 / 12);

/** Notes as [semitones from A4 (null = rest), beats]. */
const songs = [
  {
    file: "chorus-theme.wav",
    title: "Chorus Theme",
    rate: 44100,
    channels: 2,
    bits: 16,
    bpm: 150,
    melody: [
      [3, 1],
      [7, 1],
      [10, 1],
      [15, 2],
      [14, 1],
      [10, 1],
      [12, 1],
    ],
    bass: [
      [-21, 4],
      [-16, 4],
    ],
  },
  {
    file: "mono-lullaby.wav",
    title: "Mono Lullaby",
    rate: 22050,
    channels: 1,
    bits: 16,
    bpm: 90,
    melody: [
      [0, 1],
      [4, 1],
      [7, 2],
      [5, 1],
      [4, 1],
      [2, 2],
      [0, 4],
    ],
    bass: [
      [-24, 6],
      [-19, 6],
    ],
  },
  {
    file: "eight-bit-dance.wav",
    title: "Eight Bit Dance",
    rate: 16000,
    channels: 1,
    bits: 8,
    bpm: 180,
    melody: [
      [12, 1],
      [null, 1],
      [12, 1],
      [15, 1],
      [19, 2],
      [17, 1],
      [15, 1],
      [12, 1],
      [10, 1],
      [12, 2],
      [7, 2],
      [12, 4],
    ],
    bass: [
      [-12, 8],
      [-17, 8],
      [-12, 4],
    ],
  },
  {
    file: "deep-24bit-drone.wav",
    title: "Deep Drone (24-bit)",
    rate: 8000,
    channels: 2,
    bits: 24,
    bpm: 60,
    melody: [
      [-5, 2],
      [-3, 2],
    ],
    bass: [[-29, 4]],
  },
];

function render(voice, bpm, rate, total, amplitude, harmonics) {
  const out = new Float64Array(total);
  const beat = (60 / bpm) * rate;
  let start = 0;
  for (const [pitch, beats] of voice) {
    const length = Math.round(beats * beat);
    if (pitch !== null) {
      const f = note(pitch);
      for (let i = 0; i < length && start + i < total; i++) {
        const t = i / rate;
        // Short attack and release so notes do not click.
        const env = Math.min(1, i / (0.01 * rate), (length - i) / (0.05 * rate));
        let s = 0;
        harmonics.forEach((h, k) => (s += h * Math.sin(2 * Math.PI * f * (k + 1) * t)));
        out[start + i] += amplitude * env * s;
      }
    }
    start += length;
  }
  return out;
}

export function makeSong(spec) {
  const beats = spec.melody.reduce((n, [, b]) => n + b, 0);
  const total = Math.round(((beats * 60) / spec.bpm) * spec.rate);
  const lead = render(spec.melody, spec.bpm, spec.rate, total, 0.35, [1, 0.3, 0.1]);
  const bass = render(spec.bass, spec.bpm, spec.rate, total, 0.3, [1, 0.5]);
  const max = 2 ** (spec.bits - 1) - 1;
  const toInt = (x) => Math.round(Math.max(-1, Math.min(1, x)) * max);
  const channels = [];
  for (let c = 0; c < spec.channels; c++) {
    // Stereo: the lead leans left, the bass right.
    const pan = spec.channels === 1 ? [1, 1] : c === 0 ? [1, 0.6] : [0.6, 1];
    const samples = new Array(total);
    for (let i = 0; i < total; i++) samples[i] = toInt(pan[0] * lead[i] + pan[1] * bass[i]);
    // 8-bit WAV is unsigned: wavefile expects 0..255 for bit depth "8".
    channels.push(spec.bits === 8 ? samples.map((s) => s + 128) : samples);
  }
  const wav = new wavefile.WaveFile();
  wav.fromScratch(spec.channels, spec.rate, String(spec.bits), channels);
  wav.setTag("INAM", spec.title);
  wav.setTag("IART", "Chorus demo synthesiser");
  return wav.toBuffer();
}

const folder =
  process.argv[2] ?? path.join(path.dirname(new URL(import.meta.url).pathname), "..", "music");
mkdirSync(folder, { recursive: true });
for (const spec of songs) {
  const bytes = makeSong(spec);
  writeFileSync(path.join(folder, spec.file), bytes);
  console.log(
    `${spec.file}: ${spec.rate} Hz, ${spec.channels} ch, ${spec.bits}-bit, ${bytes.length} bytes`,
  );
}
