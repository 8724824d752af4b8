#!/usr/bin/env node
/**
 * The long demo songs: four songs of two to three minutes, synthesised here
 * from scratch (oscillators, plucked strings, noise drums; no samples), so
 * they are free of rights. Set-up (scripts/setup.mjs) makes them in music/;
 * they are not committed. The output is deterministic: a seeded PRNG, no
 * clock, no Math.random, so the same generator version writes the same bytes.
 *
 * A file is rewritten only when its size or its header (which carries the
 * tags and the generator version) differs from what this version would write,
 * so running set-up again costs a few reads.
 *
 *   node scripts/demo-songs.mjs [FOLDER] [--seconds N] [--only FILE] [--force]
 *   node scripts/demo-songs.mjs --list
 *
 * --seconds N cuts every song to N seconds (with a short fade), for tests;
 * --list prints the songs, their tags and lengths as JSON without rendering.
 * Memory: one song's mix (three float buffers) at a time; the WAV is written
 * in blocks.
 */
import { Buffer } from "node:buffer";
import {
  closeSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { endianness } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

/** Bump when anything below changes the audio: set-up then renders the songs again. */
export const generatorVersion = 1;

const RATE = 44100;
const TAIL_SECONDS = 3;
const TAU = 2 * Math.PI;

// ---------------------------------------------------------------------------
// The songs.

const album = "Chorus Demo Tape";
const year = "2025";

/**
 * Degrees are 0-based scale degrees of the song's key (0 = tonic); a
 * progression has one chord per bar, cycled through a section.
 */
export const demoSongs = [
  {
    file: "01-morning-relay.wav",
    title: "Morning Relay",
    artist: "The Heartbeats",
    track: 1,
    genre: "Pop",
    seed: 11,
    bpm: 112,
    tonic: 62, // D
    scale: "major",
    swing: 0,
    sevenths: false,
    pad: { kind: "pad", table: "warm", cutoff: 1800, gain: 0.09, attack: 0.25, release: 0.6 },
    lead: { table: "bright", octave: 12, gain: 0.22, cutoff: 5000, vibrato: 0.004 },
    bass: { pattern: "pop", gain: 0.24, cutoff: 700 },
    arp: { every: 2, gain: 0.12, brightness: 0.6 },
    drums: { style: "pop", kick: [48, 110, 0.28], snareDecay: 0.16, gain: 1 },
    sections: [
      { bars: 4, prog: [0, 4, 5, 3], pad: true, arp: true },
      { bars: 8, prog: [0, 4, 5, 3], pad: true, bass: true, drums: "light", lead: "A" },
      { bars: 8, prog: [0, 4, 5, 3], pad: true, bass: true, drums: "full", lead: "A" },
      { bars: 8, prog: [3, 0, 4, 5], pad: true, bass: true, drums: "full", lead: "B", arp: true },
      { bars: 8, prog: [0, 4, 5, 3], pad: true, bass: true, drums: "full", lead: "A" },
      { bars: 8, prog: [3, 0, 4, 5], pad: true, bass: true, drums: "full", lead: "B", arp: true },
      { bars: 8, prog: [5, 3, 0, 4], pad: true, bass: true, drums: "hats", arp: true, lead: "C" },
      { bars: 8, prog: [3, 0, 4, 5], pad: true, bass: true, drums: "full", lead: "B", arp: true },
      { bars: 8, prog: [3, 0, 4, 5], pad: true, bass: true, drums: "full", lead: "B2", arp: true },
      { bars: 4, prog: [0, 4, 5, 3], pad: true, arp: true, lead: "end" },
      { bars: 2, prog: [0], final: true },
    ],
  },
  {
    file: "02-night-shift.wav",
    title: "Night Shift",
    artist: "Jet Stream",
    track: 2,
    genre: "Synthwave",
    seed: 22,
    bpm: 100,
    tonic: 57, // A
    scale: "minor",
    swing: 0,
    sevenths: false,
    pad: { kind: "pad", table: "saw", cutoff: 1400, gain: 0.07, attack: 0.5, release: 1.2 },
    lead: { table: "square", octave: 12, gain: 0.17, cutoff: 3200, vibrato: 0.006 },
    bass: { pattern: "pulse", gain: 0.22, cutoff: 500 },
    arp: { every: 1, gain: 0.08, brightness: 0.8 },
    drums: { style: "synthwave", kick: [45, 90, 0.35], snareDecay: 0.3, gain: 1 },
    sections: [
      { bars: 8, prog: [0, 5, 2, 6], pad: true, bass: true, drums: "hats" },
      { bars: 8, prog: [0, 5, 2, 6], pad: true, bass: true, drums: "full", lead: "A" },
      { bars: 8, prog: [0, 5, 2, 6], pad: true, bass: true, drums: "full", lead: "A", arp: true },
      { bars: 8, prog: [5, 2, 6, 0], pad: true, bass: true, drums: "full", lead: "B", arp: true },
      { bars: 4, prog: [3, 5], pad: true, arp: true },
      { bars: 8, prog: [0, 5, 2, 6], pad: true, bass: true, drums: "full", lead: "A", arp: true },
      { bars: 8, prog: [5, 2, 6, 0], pad: true, bass: true, drums: "full", lead: "B", arp: true },
      { bars: 8, prog: [5, 2, 6, 0], pad: true, bass: true, drums: "full", lead: "B2", arp: true },
      { bars: 8, prog: [0, 5, 2, 6], pad: true, bass: true, drums: "hats", arp: true, lead: "end" },
      { bars: 2, prog: [0], final: true },
    ],
  },
  {
    file: "03-slow-heartbeat.wav",
    title: "Slow Heartbeat",
    artist: "Lena Subject",
    track: 3,
    genre: "Lo-fi",
    seed: 33,
    bpm: 80,
    tonic: 63, // E flat
    scale: "major",
    swing: 0.28,
    sevenths: true,
    pad: { kind: "epiano", gain: 0.1, release: 0.5 },
    lead: { table: "soft", octave: 12, gain: 0.2, cutoff: 2400, vibrato: 0.003 },
    bass: { pattern: "lofi", gain: 0.26, cutoff: 400 },
    arp: { every: 2, gain: 0.09, brightness: 0.35 },
    drums: { style: "lofi", kick: [50, 80, 0.3], snareDecay: 0.12, gain: 0.85 },
    master: { lowpass: 7000 },
    sections: [
      { bars: 4, prog: [1, 4, 0, 5], pad: true },
      { bars: 8, prog: [1, 4, 0, 5], pad: true, bass: true, drums: "full", lead: "A" },
      { bars: 8, prog: [1, 4, 0, 5], pad: true, bass: true, drums: "full", lead: "A", arp: true },
      { bars: 8, prog: [3, 2, 1, 4], pad: true, bass: true, drums: "full", lead: "B" },
      { bars: 8, prog: [1, 4, 0, 5], pad: true, bass: true, drums: "light", arp: true },
      { bars: 8, prog: [3, 2, 1, 4], pad: true, bass: true, drums: "full", lead: "B2", arp: true },
      { bars: 4, prog: [1, 4, 0, 5], pad: true, lead: "end" },
      { bars: 2, prog: [0], final: true },
    ],
  },
  {
    file: "04-fan-out.wav",
    title: "Fan-Out",
    artist: "Request Reply",
    track: 4,
    genre: "House",
    seed: 44,
    bpm: 124,
    tonic: 65, // F
    scale: "minor",
    swing: 0,
    sevenths: true,
    pad: { kind: "stab", table: "saw", cutoff: 2600, gain: 0.08, attack: 0.004, release: 0.12 },
    lead: { table: "bright", octave: 0, gain: 0.18, cutoff: 4200, vibrato: 0.003 },
    bass: { pattern: "house", gain: 0.25, cutoff: 650 },
    arp: { every: 1, gain: 0.08, brightness: 0.7 },
    drums: { style: "house", kick: [46, 120, 0.32], snareDecay: 0.14, gain: 1 },
    sections: [
      { bars: 8, prog: [0, 3, 6, 2], drums: "light" },
      { bars: 8, prog: [0, 3, 6, 2], pad: true, bass: true, drums: "light" },
      { bars: 16, prog: [0, 3, 6, 2], pad: true, bass: true, drums: "full", lead: "A" },
      { bars: 8, prog: [5, 6, 0, 0], pad: true, arp: true, lead: "C" },
      { bars: 16, prog: [5, 6, 0, 0], pad: true, bass: true, drums: "full", lead: "B", arp: true },
      { bars: 8, prog: [0, 3, 6, 2], pad: true, bass: true, drums: "full", lead: "B2", arp: true },
      { bars: 8, prog: [0, 3, 6, 2], pad: true, bass: true, drums: "light", lead: "end" },
      { bars: 2, prog: [0], final: true },
    ],
  },
];

// ---------------------------------------------------------------------------
// Building blocks.

/** mulberry32: a small, fast, seeded PRNG in [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const scales = { major: [0, 2, 4, 5, 7, 9, 11], minor: [0, 2, 3, 5, 7, 8, 10] };
const hz = (midi) => 440 * 2 ** ((midi - 69) / 12);
const mod = (n, m) => ((n % m) + m) % m;

/** Wavetables: one cycle as a sum of harmonics, with a guard sample for interpolation. */
const TABLE = 4096;
function wavetable(amplitude, count) {
  const t = new Float32Array(TABLE + 1);
  let peak = 0;
  for (let i = 0; i < TABLE; i++) {
    let s = 0;
    for (let h = 1; h <= count; h++) s += amplitude(h) * Math.sin((TAU * h * i) / TABLE);
    t[i] = s;
    peak = Math.max(peak, Math.abs(s));
  }
  for (let i = 0; i < TABLE; i++) t[i] /= peak;
  t[TABLE] = t[0];
  return t;
}
const tables = {
  sine: wavetable((h) => (h === 1 ? 1 : 0), 1),
  warm: wavetable((h) => 1 / (h * h * 0.6 + 0.4), 12),
  saw: wavetable((h) => 1 / h, 24),
  square: wavetable((h) => (h % 2 ? 1 / h : 0.08 / h), 15),
  bright: wavetable((h) => (h % 2 ? 1 / h : 0.5 / h), 10),
  soft: wavetable((h) => (h % 2 ? 1 / (h * h) : 0), 7),
};
function lookup(table, phase) {
  const x = phase * TABLE;
  const i = x | 0;
  const a = table[i];
  return a + (table[i + 1] - a) * (x - i);
}
const gains = (pan) => [Math.cos(((pan + 1) * Math.PI) / 4), Math.sin(((pan + 1) * Math.PI) / 4)];
const onePole = (cutoff) => 1 - Math.exp((-TAU * cutoff) / RATE);

/** The mix of one song: dry stereo and a mono reverb send. */
function makeBus(frames) {
  return {
    frames,
    left: new Float32Array(frames),
    right: new Float32Array(frames),
    send: new Float32Array(frames),
  };
}

/** Pad: two detuned wavetable oscillators through a one-pole low-pass (mono; mixed by `hit`). */
function pad(length, midi, o) {
  const attack = Math.max(1, o.attack * RATE);
  const releaseCoef = Math.exp(-1 / (o.release * RATE * 0.3));
  const out = new Float32Array(length + Math.round(o.release * RATE * 1.5));
  const table = tables[o.table];
  const f = hz(midi);
  const inc1 = (f * 1.0035) / RATE;
  const inc2 = (f * 0.9965) / RATE;
  const a = onePole(o.cutoff);
  let p1 = 0;
  let p2 = 0.5;
  let lp = 0;
  let env = 0;
  for (let n = 0; n < out.length; n++) {
    if (n < attack) env = n / attack;
    else if (n < length) env = 1;
    else env *= releaseCoef;
    p1 += inc1;
    if (p1 >= 1) p1 -= 1;
    p2 += inc2;
    if (p2 >= 1) p2 -= 1;
    lp += a * (lookup(table, p1) + lookup(table, p2) - lp);
    out[n] = lp * env;
  }
  return out;
}

/** Electric piano: two-operator FM with a decaying index (mono; mixed by `hit`). */
function epiano(length, midi, o) {
  const f = hz(midi);
  const out = new Float32Array(length + Math.round(o.release * RATE * 3));
  const inc = f / RATE;
  const decay = Math.exp(-1 / (RATE * 1.4));
  const indexDecay = Math.exp(-1 / (RATE * 0.25));
  const releaseCoef = Math.exp(-1 / (o.release * RATE * 0.5));
  const sine = tables.sine;
  let pc = 0;
  let env = 1;
  let index = 1.6;
  for (let n = 0; n < out.length; n++) {
    env *= n < length ? decay : releaseCoef;
    index *= indexDecay;
    pc += inc;
    if (pc >= 1) pc -= 1;
    let q = pc + ((index + 0.15) * lookup(sine, pc)) / TAU;
    q -= Math.floor(q);
    const attack = n < 200 ? n / 200 : 1;
    out[n] = lookup(sine, q) * env * attack;
  }
  return out;
}

/** Rendered notes by what decides their samples: chords repeat, so most are made once. */
function noteCache() {
  const notes = new Map();
  return (key, make) => {
    let note = notes.get(key);
    if (!note) {
      if (notes.size >= 48) notes.clear();
      note = make();
      notes.set(key, note);
    }
    return note;
  };
}

/** Karplus-Strong plucked string. */
function pluck(bus, start, midi, gain, pan, brightness, seconds, rand) {
  const f = hz(midi);
  const period = Math.max(2, Math.round(RATE / f - 0.5));
  const line = new Float32Array(period);
  let smooth = 0;
  for (let i = 0; i < period; i++) {
    smooth += brightness * (rand() * 2 - 1 - smooth);
    line[i] = smooth;
  }
  const end = Math.min(bus.frames, start + Math.round(RATE * seconds));
  const [gl, gr] = gains(pan);
  const damping = 0.996;
  let k = 0;
  for (let i = start; i < end; i++) {
    const next = k + 1 === period ? 0 : k + 1;
    const out = line[k];
    line[k] = damping * 0.5 * (out + line[next]);
    k = next;
    const fade = i - start < 64 ? (i - start) / 64 : 1;
    const s = out * gain * fade;
    bus.left[i] += s * gl;
    bus.right[i] += s * gr;
    bus.send[i] += s * 0.3;
  }
}

/** Bass: a saw and a sub sine through a resonant low-pass whose cutoff falls after the attack. */
function bass(bus, start, length, midi, gain, cutoff) {
  const f = hz(midi);
  const end = Math.min(bus.frames, start + length + 400);
  const inc = f / RATE;
  const saw = tables.saw;
  const sine = tables.sine;
  let p = 0;
  let low = 0;
  let band = 0;
  let g = 0;
  for (let i = start; i < end; i++) {
    const n = i - start;
    if ((n & 15) === 0) {
      const fc = cutoff * (1 + 3 * Math.exp(-n / (RATE * 0.06)));
      g = 2 * Math.sin((Math.PI * Math.min(fc, 8000)) / RATE);
    }
    p += inc;
    if (p >= 1) p -= 1;
    const x = 0.6 * lookup(saw, p) + 0.7 * lookup(sine, p);
    low += g * band;
    const high = x - low - 0.5 * band;
    band += g * high;
    const env =
      n < 60
        ? n / 60
        : n < length
          ? 1 - (0.25 * n) / length
          : Math.max(0, 1 - (n - length) / 400) * 0.75;
    const s = low * env * gain;
    bus.left[i] += s;
    bus.right[i] += s;
  }
}

/**
 * Lead: a wavetable voice with delayed vibrato, softened by a one-pole
 * low-pass, rendered once into `scratch` (mixed in by `hit`, echoes too).
 */
function lead(scratch, length, midi, o) {
  const f = hz(midi);
  const release = Math.round(RATE * 0.12);
  const total = Math.min(scratch.length, length + release);
  const table = tables[o.table];
  const sine = tables.sine;
  const a = onePole(o.cutoff);
  const vibInc = 5.5 / RATE;
  const onset = RATE * 0.25;
  let p = 0;
  let vp = 0;
  let lp = 0;
  for (let n = 0; n < total; n++) {
    const depth = n < onset ? 0 : Math.min(1, (n - onset) / (RATE * 0.3)) * o.vibrato;
    vp += vibInc;
    if (vp >= 1) vp -= 1;
    p += (f / RATE) * (1 + depth * lookup(sine, vp));
    if (p >= 1) p -= 1;
    lp += a * (lookup(table, p) - lp);
    const env =
      n < 400
        ? n / 400
        : n < length
          ? 0.75 + 0.25 * Math.exp(-(n - 400) / (RATE * 0.15))
          : 0.75 * (1 - (n - length) / release);
    scratch[n] = lp * env;
  }
  return scratch.subarray(0, total);
}

/** Drum one-shots, made once per song from noise and pitched decays. */
function makeDrums(rand, d) {
  const shot = (seconds, fn) => {
    const out = new Float32Array(Math.round(seconds * RATE));
    for (let n = 0; n < out.length; n++) out[n] = fn(n / RATE, n);
    return out;
  };
  const noise = () => rand() * 2 - 1;
  const [low, sweep, kickDecay] = d.kick;
  let phase = 0;
  const kick = shot(0.6, (t, n) => {
    phase += (low + sweep * Math.exp(-t / 0.03)) / RATE;
    const click = n < 90 ? noise() * (1 - n / 90) * 0.4 : 0;
    return Math.tanh(1.6 * Math.sin(TAU * phase) * Math.exp(-t / kickDecay)) + click;
  });
  const bandpass = (center, q) => {
    const g = 2 * Math.sin((Math.PI * center) / RATE);
    let l = 0;
    let b = 0;
    return (x) => {
      l += g * b;
      const h = x - l - q * b;
      b += g * h;
      return { low: l, band: b, high: h };
    };
  };
  const snareFilter = bandpass(2200, 0.9);
  const snare = shot(0.5, (t) => {
    const tone = (Math.sin(TAU * 185 * t) + 0.6 * Math.sin(TAU * 330 * t)) * Math.exp(-t / 0.05);
    return 0.5 * tone + 1.1 * snareFilter(noise()).band * Math.exp(-t / d.snareDecay);
  });
  const hatFilter = bandpass(8000, 0.6);
  const hat = shot(0.12, (t) => 0.9 * hatFilter(noise()).high * Math.exp(-t / 0.025));
  const openFilter = bandpass(7500, 0.6);
  const openHat = shot(0.5, (t) => 0.7 * openFilter(noise()).high * Math.exp(-t / 0.16));
  const clapFilter = bandpass(1300, 0.7);
  const clap = shot(0.4, (t) => {
    const bursts = [0, 0.011, 0.022].reduce(
      (s, at) => s + (t >= at ? Math.exp(-(t - at) / 0.006) : 0),
      0,
    );
    return 1.4 * clapFilter(noise()).band * (bursts + 0.6 * Math.exp(-t / 0.1));
  });
  const crashFilter = bandpass(6000, 0.8);
  const crash = shot(2.6, (t) => 0.5 * crashFilter(noise()).high * Math.exp(-t / 0.9));
  return { kick, snare, hat, openHat, clap, crash };
}

function hit(bus, sample, start, gain, pan, send) {
  const [gl, gr] = gains(pan);
  const end = Math.min(bus.frames, start + sample.length);
  for (let i = start; i < end; i++) {
    const s = sample[i - start] * gain;
    bus.left[i] += s * gl;
    bus.right[i] += s * gr;
    bus.send[i] += s * send;
  }
}

/** Schroeder/Freeverb-style reverb of the send into the dry mix: four combs, three all-passes. */
function reverb(bus, amount) {
  for (const [out, spread] of [
    [bus.left, 0],
    [bus.right, 23],
  ]) {
    const [c0, c1, c2, c3] = [1116, 1188, 1277, 1356].map((n) => new Float32Array(n + spread));
    const [a0, a1, a2] = [556, 441, 341].map((n) => new Float32Array(n + spread));
    let k0 = 0,
      k1 = 0,
      k2 = 0,
      k3 = 0,
      j0 = 0,
      j1 = 0,
      j2 = 0;
    let s0 = 0,
      s1 = 0,
      s2 = 0,
      s3 = 0;
    const send = bus.send;
    const fb = 0.84;
    for (let i = 0; i < bus.frames; i++) {
      const x = send[i] * 0.2;
      const o0 = c0[k0],
        o1 = c1[k1],
        o2 = c2[k2],
        o3 = c3[k3];
      s0 = o0 * 0.75 + s0 * 0.25;
      s1 = o1 * 0.75 + s1 * 0.25;
      s2 = o2 * 0.75 + s2 * 0.25;
      s3 = o3 * 0.75 + s3 * 0.25;
      c0[k0] = x + s0 * fb;
      c1[k1] = x + s1 * fb;
      c2[k2] = x + s2 * fb;
      c3[k3] = x + s3 * fb;
      if (++k0 === c0.length) k0 = 0;
      if (++k1 === c1.length) k1 = 0;
      if (++k2 === c2.length) k2 = 0;
      if (++k3 === c3.length) k3 = 0;
      let y = o0 + o1 + o2 + o3;
      let o = a0[j0];
      a0[j0] = y + o * 0.5;
      if (++j0 === a0.length) j0 = 0;
      y = o - y;
      o = a1[j1];
      a1[j1] = y + o * 0.5;
      if (++j1 === a1.length) j1 = 0;
      y = o - y;
      o = a2[j2];
      a2[j2] = y + o * 0.5;
      if (++j2 === a2.length) j2 = 0;
      y = o - y;
      out[i] += y * amount;
    }
  }
}

// ---------------------------------------------------------------------------
// Composition: chords, bass lines, drum patterns and melodies on a 16-step bar.

const drumPatterns = {
  pop: { kick: "x.......x.x.....", snare: "....x.......x...", hat: "x.x.x.x.x.x.x.x." },
  synthwave: { kick: "x.......x.......", snare: "....x.......x...", hat: "xxxxxxxxxxxxxxxx" },
  lofi: { kick: "x......x..x.....", snare: "....x.......x...", hat: "x.x.x.x.x.x.x.xx" },
  house: {
    kick: "x...x...x...x...",
    clap: "....x.......x...",
    hat: "x.x.x.x.x.x.x.x.",
    openHat: "..x...x...x...x.",
  },
};

/** Bass patterns: [step, length in steps, scale steps above the chord root (7 = octave)]. */
const bassPatterns = {
  pop: [
    [0, 3, 0],
    [3, 3, 0],
    [6, 2, 4],
    [8, 3, 0],
    [11, 3, 0],
    [14, 2, 7],
  ],
  pulse: [0, 2, 4, 6, 8, 10, 12, 14].map((s, i) => [s, 2, i % 4 === 3 ? 7 : 0]),
  lofi: [
    [0, 6, 0],
    [7, 3, 4],
    [10, 4, 0],
    [14, 2, -1],
  ],
  house: [
    [2, 2, 0],
    [6, 2, 0],
    [10, 2, 7],
    [14, 2, 0],
  ],
};

/** Melody rhythms: [step, length]. The last one of a phrase is a cadence. */
const rhythms = [
  [
    [0, 3],
    [3, 1],
    [4, 2],
    [6, 2],
    [8, 4],
    [12, 2],
    [14, 2],
  ],
  [
    [0, 2],
    [2, 2],
    [4, 4],
    [10, 2],
    [12, 4],
  ],
  [
    [0, 4],
    [4, 2],
    [6, 2],
    [8, 2],
    [10, 2],
    [12, 4],
  ],
  [
    [2, 2],
    [4, 2],
    [6, 4],
    [10, 2],
    [12, 2],
    [14, 2],
  ],
  [
    [0, 6],
    [6, 2],
    [8, 6],
    [14, 2],
  ],
];
const cadence = [
  [0, 2],
  [2, 2],
  [4, 12],
];
const sparse = [
  [0, 8],
  [8, 8],
];

function chordDegrees(root, sevenths) {
  return sevenths ? [root, root + 2, root + 4, root + 6] : [root, root + 2, root + 4];
}
function isChordTone(degree, root, sevenths) {
  const r = mod(degree - root, 7);
  return r === 0 || r === 2 || r === 4 || (sevenths && r === 6);
}

/**
 * A four-bar phrase over `prog`: a walk through the scale that lands on chord
 * tones on the strong steps, ending on a long note (the tonic when `closed`).
 */
function phrase(rand, prog, low, high, rhythmSet, sevenths, closed, start) {
  const notes = [];
  let degree = start;
  for (let bar = 0; bar < 4; bar++) {
    const root = prog[bar % prog.length];
    const rhythm = bar === 3 ? cadence : rhythmSet[bar === 2 ? 0 : bar];
    rhythm.forEach(([step, len], i) => {
      const moves = [-2, -1, -1, 1, 1, 2, 0, 3, -3];
      let next = degree + moves[Math.floor(rand() * moves.length)];
      if (next < low) next = low + (low - next);
      if (next > high) next = high - (next - high);
      const last = bar === 3 && i === rhythm.length - 1;
      if (step % 4 === 0 || len >= 4 || last) {
        const want =
          last && closed ? (d) => mod(d, 7) === 0 : (d) => isChordTone(d, root, sevenths);
        let best = next;
        for (let off = 0; off < 7; off++) {
          if (want(next - off) && next - off >= low - 2) {
            best = next - off;
            break;
          }
          if (want(next + off) && next + off <= high + 2) {
            best = next + off;
            break;
          }
        }
        next = best;
      }
      degree = next;
      notes.push({ bar, step, len, degree });
    });
  }
  return notes;
}

/** Small changes for a repeat: a few weak notes move by a step. */
function vary(rand, notes, amount) {
  return notes.map((n) =>
    n.step % 4 !== 0 && n.len < 4 && rand() < amount
      ? { ...n, degree: n.degree + (rand() < 0.5 ? -1 : 1) }
      : n,
  );
}

/** Everything a song plays, as calls on the bus, in a fixed order. */
function compose(song, bus) {
  const rand = prng(song.seed * 7919 + generatorVersion);
  const scale = scales[song.scale];
  const pitch = (degree) => song.tonic + 12 * Math.floor(degree / 7) + scale[mod(degree, 7)];
  const stepFrames = (RATE * 60) / song.bpm / 4;
  const at = (bar, step) =>
    Math.round((bar * 16 + step + (step % 2 ? song.swing : 0)) * stepFrames);
  const drums = makeDrums(prng(song.seed), song.drums);
  const pattern = drumPatterns[song.drums.style];

  // The song's melodies: A (verse), B (chorus, higher), C (bridge, sparse).
  const pick = () => rhythms[Math.floor(rand() * rhythms.length)];
  const setA = [pick(), pick()];
  const setB = [pick(), pick()];
  const melodies = new Map();
  const melodyFor = (name, prog) => {
    const key = `${name}:${prog.join()}`;
    if (!melodies.has(key)) {
      const [low, high, set, start] =
        name === "A"
          ? [-1, 7, setA, 2]
          : name === "C"
            ? [-3, 5, [sparse, sparse], 0]
            : [2, 10, setB, 4];
      const first = phrase(rand, prog, low, high, set, song.sevenths, false, start);
      const second = phrase(rand, prog, low, high, set, song.sevenths, true, start);
      // The second half repeats the first two bars (the hook) and answers it.
      const answer = [...first.filter((n) => n.bar < 2), ...second.filter((n) => n.bar >= 2)];
      melodies.set(key, [...first, ...answer.map((n) => ({ ...n, bar: n.bar + 4 }))]);
    }
    return melodies.get(key);
  };

  const scratch = new Float32Array(RATE * 12);
  const notes = noteCache();
  let voicing = [];
  let bar0 = 0;
  for (const [index, section] of song.sections.entries()) {
    const first = bar0;
    const last = index === song.sections.length - 1;
    const playedBefore = song.sections
      .slice(0, index)
      .filter((s) => s.lead === section.lead).length;
    for (let b = 0; b < section.bars; b++) {
      const bar = first + b;
      const root = section.prog[b % section.prog.length];
      const start = at(bar, 0);
      const barFrames = Math.round(16 * stepFrames);

      // Chords, voiced near the last voicing (smooth voice leading).
      if (section.pad || section.final) {
        const degrees = chordDegrees(root, song.sevenths);
        const center = voicing.length
          ? voicing.reduce((s, v) => s + v, 0) / voicing.length
          : song.tonic - 2;
        voicing = degrees.map((d) => {
          let p = pitch(d);
          while (p > center + 6) p -= 12;
          while (p < center - 6) p += 12;
          return p;
        });
        const o = song.pad;
        const length = section.final ? barFrames * 2 : barFrames;
        voicing.forEach((p, v) => {
          const pan = (v / Math.max(1, voicing.length - 1)) * 0.8 - 0.4;
          const note = (from, len, gain, options) => {
            if (from >= bus.frames) return;
            const render = options.kind === "epiano" ? epiano : pad;
            const key = `${p}:${len}:${JSON.stringify(options)}`;
            hit(
              bus,
              notes(key, () => render(len, p, options)),
              from,
              gain,
              pan,
              0.4,
            );
          };
          if (o.kind === "epiano") {
            const strum = Math.round(v * 0.012 * RATE);
            const ring = section.final ? length : Math.round(barFrames * 0.55);
            note(start + strum, ring, o.gain, o);
            if (!section.final)
              note(at(bar, 10) + strum, Math.round(barFrames * 0.35), o.gain * 0.7, o);
          } else if (o.kind === "stab" && !section.final) {
            for (const step of [2, 6, 10, 14]) {
              if (step === 14 && rand() < 0.5) continue;
              note(at(bar, step), Math.round(stepFrames * 1.2), o.gain, o);
            }
          } else {
            note(
              start,
              length,
              o.gain * (section.final ? 1.2 : 1),
              section.final ? { ...o, kind: "pad", release: 1.6 } : o,
            );
          }
          if (section.final) {
            const low = { kind: "pad", table: "warm", cutoff: 1200, attack: 0.01, release: 1.6 };
            hit(bus, pad(length, p - 12, low), start, o.gain * 0.6, -pan, 0.4);
          }
        });
        if (section.final) {
          bass(
            bus,
            start,
            Math.round(barFrames * 1.5),
            pitch(0) - 24,
            song.bass.gain,
            song.bass.cutoff,
          );
          hit(bus, drums.kick, start, 0.9, 0, 0.1);
          hit(bus, drums.crash, start, 0.8, 0.2, 0.5);
        }
      }

      // Bass line, with a walk into the next section on its last bar.
      if (section.bass) {
        const bp = bassPatterns[song.bass.pattern];
        for (const [step, len, off] of bp) {
          const deg = root + (off === 7 ? 0 : off);
          const p = pitch(deg) - 24 + (off === 7 ? 12 : 0);
          bass(
            bus,
            at(bar, step),
            Math.round(len * stepFrames * 0.92),
            p,
            song.bass.gain,
            song.bass.cutoff,
          );
        }
      }

      // Arpeggio: plucked chord tones, up then down.
      if (section.arp) {
        const tones = chordDegrees(root, song.sevenths).map((d) => pitch(d) + 12);
        const seq = [...tones, tones[0] + 12, ...tones.slice(1).reverse()];
        const every = song.arp.every;
        for (let step = 0, k = 0; step < 16; step += every, k++) {
          const p = seq[k % seq.length];
          const pan = k % 2 ? 0.5 : -0.5;
          const gain = song.arp.gain * (step % 4 === 0 ? 1 : 0.75);
          pluck(bus, at(bar, step), p, gain, pan, song.arp.brightness, 0.4 + 0.4 * every, rand);
        }
      }

      // Drums.
      const style = section.drums;
      if (style) {
        const fill = b === section.bars - 1 && !last && style === "full";
        for (let step = 0; step < 16; step++) {
          const f = at(bar, step);
          const vel = 0.85 + 0.15 * rand();
          const accent = step % 4 === 0 ? 1 : 0.7;
          if (style !== "hats" && pattern.kick[step] === "x")
            hit(bus, drums.kick, f, 0.75 * vel, 0, 0.05);
          if (style === "full" && pattern.snare?.[step] === "x")
            hit(bus, drums.snare, f, 0.5 * vel, 0.05, 0.5);
          if (style === "full" && pattern.clap?.[step] === "x")
            hit(bus, drums.clap, f, 0.45 * vel, -0.05, 0.4);
          if (pattern.hat[step] === "x") hit(bus, drums.hat, f, 0.22 * vel * accent, 0.3, 0.05);
          if (style !== "hats" && pattern.openHat?.[step] === "x")
            hit(bus, drums.openHat, f, 0.16 * vel, 0.35, 0.1);
          if (fill && step >= 12) hit(bus, drums.snare, f, 0.25 + 0.07 * (step - 12), 0.05, 0.4);
        }
        if (b === 0 && style === "full" && index > 0) hit(bus, drums.crash, start, 0.6, -0.3, 0.4);
      }

      // Melody (and the ending: the hook once more, then the tonic held).
      if (section.lead) {
        const name = section.lead === "end" ? "A" : section.lead === "B2" ? "B" : section.lead;
        const notes = melodyFor(name, section.prog);
        const sectionRand = prng(song.seed * 31 + index);
        const shift = section.lead === "B2" ? 2 : 0;
        let play = notes.filter((n) => n.bar === b % 8);
        if (playedBefore > 0 || section.lead === "B2") play = vary(sectionRand, play, 0.35);
        if (section.lead === "end" && b >= section.bars - 2) {
          play = b === section.bars - 2 ? [{ bar: b, step: 0, len: 32, degree: 7 }] : [];
        }
        for (const n of play) {
          const p = pitch(n.degree + shift) + song.lead.octave;
          const f = at(bar, n.step);
          const len = Math.round(n.len * stepFrames * 0.9);
          if (f >= bus.frames) continue;
          const voice = lead(scratch, len, p, song.lead);
          hit(bus, voice, f, song.lead.gain, -0.1, 0.25);
          // Echoes, a dotted eighth apart, to the sides.
          const echo = Math.round(3 * stepFrames);
          hit(bus, voice, f + echo, song.lead.gain * 0.3, 0.6, 0.1);
          hit(bus, voice, f + 2 * echo, song.lead.gain * 0.12, -0.6, 0.1);
        }
      }
    }
    bar0 += section.bars;
  }
}

/** Frames of a song: all its bars and a tail for the last chord to ring out, or `seconds`. */
export function framesOf(song, seconds) {
  if (seconds !== undefined) return Math.round(seconds * RATE);
  const bars = song.sections.reduce((n, s) => n + s.bars, 0);
  return Math.round((bars * 16 * RATE * 60) / song.bpm / 4) + TAIL_SECONDS * RATE;
}

/** The mastered mix: reverb, optional tone, level to about -15 dBFS RMS, a soft limiter, fades. */
function render(song, frames) {
  const bus = makeBus(frames);
  compose(song, bus);
  reverb(bus, 0.9);
  bus.send = null;
  const { left, right } = bus;
  if (song.master?.lowpass) {
    const a = onePole(song.master.lowpass);
    for (const ch of [left, right]) {
      let y = 0;
      for (let i = 0; i < frames; i++) ch[i] = y += a * (ch[i] - y);
    }
  }
  let sum = 0;
  for (let i = 0; i < frames; i++) sum += left[i] * left[i] + right[i] * right[i];
  const rms = Math.sqrt(sum / (2 * frames)) || 1;
  const gain = 0.178 / rms; // -15 dBFS
  const fadeIn = Math.min(frames, 220);
  const fadeOut = Math.min(Math.round(frames / 4), 2 * RATE);
  for (const ch of [left, right]) {
    for (let i = 0; i < frames; i++) {
      let x = ch[i] * gain;
      const ax = Math.abs(x);
      if (ax > 0.7) x = Math.sign(x) * (0.7 + 0.3 * Math.tanh((ax - 0.7) / 0.3));
      if (i < fadeIn) x *= i / fadeIn;
      if (i >= frames - fadeOut) x *= (frames - i) / fadeOut;
      ch[i] = x * 0.95;
    }
  }
  return { left, right };
}

// ---------------------------------------------------------------------------
// The WAV file: RIFF, fmt (PCM, 44.1 kHz, stereo, 16-bit), LIST/INFO tags, data.

function infoChunk(song) {
  const tags = [
    ["INAM", song.title],
    ["IART", song.artist],
    ["IPRD", album],
    ["ITRK", String(song.track)],
    ["ICRD", year],
    ["IGNR", song.genre],
    ["ISFT", `Chorus demo synthesiser v${generatorVersion}`],
  ];
  const parts = [Buffer.from("INFO", "latin1")];
  for (const [id, value] of tags) {
    const text = Buffer.from(`${value}\0`, "latin1");
    const head = Buffer.alloc(8);
    head.write(id, 0, "latin1");
    head.writeUInt32LE(text.length, 4);
    parts.push(head, text, Buffer.alloc(text.length % 2));
  }
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(8);
  head.write("LIST", 0, "latin1");
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}

/** Everything before the samples; with the size, what decides whether a file is up to date. */
export function headerOf(song, frames) {
  const channels = 2;
  const bits = 16;
  const dataBytes = frames * channels * (bits / 8);
  const fmt = Buffer.alloc(24);
  fmt.write("fmt ", 0, "latin1");
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(1, 8);
  fmt.writeUInt16LE(channels, 10);
  fmt.writeUInt32LE(RATE, 12);
  fmt.writeUInt32LE(RATE * channels * (bits / 8), 16);
  fmt.writeUInt16LE(channels * (bits / 8), 20);
  fmt.writeUInt16LE(bits, 22);
  const info = infoChunk(song);
  const data = Buffer.alloc(8);
  data.write("data", 0, "latin1");
  data.writeUInt32LE(dataBytes, 4);
  const riff = Buffer.alloc(12);
  riff.write("RIFF", 0, "latin1");
  riff.writeUInt32LE(4 + fmt.length + info.length + data.length + dataBytes, 4);
  riff.write("WAVE", 8, "latin1");
  return Buffer.concat([riff, fmt, info, data]);
}

function upToDate(file, header, size) {
  try {
    if (statSync(file).size !== size) return false;
    const fd = openSync(file, "r");
    try {
      const head = Buffer.alloc(header.length);
      readSync(fd, head, 0, head.length, 0);
      return head.equals(header);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** Render one song into `file` (through a temporary name, so readers never see half a file). */
export function writeSong(song, file, seconds) {
  const frames = framesOf(song, seconds);
  const header = headerOf(song, frames);
  const { left, right } = render(song, frames);
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  const fd = openSync(temporary, "w");
  try {
    writeSync(fd, header);
    const block = 65536;
    const out = Buffer.alloc(block * 4);
    const samples = new Int16Array(out.buffer, out.byteOffset, block * 2);
    for (let i = 0; i < frames; i += block) {
      const n = Math.min(block, frames - i);
      for (let k = 0; k < n; k++) {
        samples[2 * k] = Math.round(left[i + k] * 32767);
        samples[2 * k + 1] = Math.round(right[i + k] * 32767);
      }
      if (endianness() === "BE") out.swap16();
      writeSync(fd, out, 0, n * 4);
    }
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
  return header.length + frames * 4;
}

/**
 * Make the demo songs in `folder` that are missing or out of date.
 * Returns what happened to each, and how long it took.
 */
export function ensureDemoSongs(folder, options = {}) {
  mkdirSync(folder, { recursive: true });
  const results = [];
  for (const song of demoSongs) {
    if (options.only && options.only !== song.file) continue;
    const file = path.join(folder, song.file);
    const frames = framesOf(song, options.seconds);
    const header = headerOf(song, frames);
    if (!options.force && upToDate(file, header, header.length + frames * 4)) {
      results.push({ file: song.file, made: false, seconds: frames / RATE, ms: 0 });
      continue;
    }
    const begun = performance.now();
    options.starting?.(song);
    try {
      writeSong(song, file, options.seconds);
    } catch (err) {
      rmSync(path.join(folder, `.${song.file}.tmp`), { force: true });
      throw err;
    }
    results.push({
      file: song.file,
      made: true,
      seconds: frames / RATE,
      ms: Math.round(performance.now() - begun),
    });
  }
  return results;
}

const clock = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const value = (flag) => {
    const i = args.indexOf(flag);
    if (i < 0) return undefined;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
  const force = args.includes("--force");
  if (force) args.splice(args.indexOf("--force"), 1);
  const secondsText = value("--seconds");
  const seconds = secondsText === undefined ? undefined : Number(secondsText);
  if (seconds !== undefined && !(seconds > 0 && seconds <= 600)) {
    console.error("--seconds must be a number of seconds (0 < N <= 600)");
    process.exit(2);
  }
  const only = value("--only");
  if (args.includes("--list")) {
    const list = demoSongs.map((s) => ({
      file: s.file,
      title: s.title,
      artist: s.artist,
      album,
      track: s.track,
      year,
      genre: s.genre,
      bpm: s.bpm,
      seconds: framesOf(s) / RATE,
    }));
    console.log(JSON.stringify(list, null, 2));
    process.exit(0);
  }
  const folder = args[0] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "music");
  const begun = performance.now();
  for (const r of ensureDemoSongs(folder, { seconds, only, force })) {
    console.log(`${r.file}: ${clock(r.seconds)} ${r.made ? `made in ${r.ms} ms` : "up to date"}`);
  }
  console.log(`demo songs: ${Math.round(performance.now() - begun)} ms`);
}
