/**
 * The web player at / in a real browser: Debian's chromium driven by
 * playwright-core, against a real system and its gateway. Skips (saying so)
 * only when /usr/bin/chromium is absent; `node scripts/install-chromium.mjs`
 * installs it. Screenshots go to test-output/web/.
 */
import { expect } from "chai";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { writeTone } from "../harness/fixtures/file.js";
import { freePort } from "../harness/ports.js";
import { repoRoot, TestSystem } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";

const chromiumPath = "/usr/bin/chromium";
const shots = path.join(repoRoot, "test-output", "web");

/** The audio element's state, read in the page. */
interface AudioState {
  currentTime: number;
  paused: boolean;
  error: number | null;
  src: string;
}

describe("web player: the page at / in chromium (real system, real gateway)", function () {
  this.timeout(60_000);
  let sys: TestSystem | undefined;
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  let page: Page;
  let base: string;

  const audio = (): Promise<AudioState> =>
    page.evaluate(() => {
      const a = document.querySelector("audio") as HTMLAudioElement;
      return {
        currentTime: a.currentTime,
        paused: a.paused,
        error: a.error?.code ?? null,
        src: a.src,
      };
    });

  const shot = (name: string): Promise<Buffer> =>
    page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  before(async function () {
    if (!existsSync(chromiumPath)) {
      console.log(
        `    skipped: ${chromiumPath} is absent (node scripts/install-chromium.mjs installs it)`,
      );
      this.skip();
    }
    mkdirSync(shots, { recursive: true });
    sys = new TestSystem();
    await sys.startBroker();
    const port = await freePort();
    const config = sys.config("prime", { maxLoad: 6, http: `127.0.0.1:${port}` });
    writeTone(path.join(config.music, "tone-a.wav"), 30, { title: "Alpha Tone" });
    writeTone(path.join(config.music, "tone-b.wav"), 20, { title: "Beta Tone" });
    base = `http://127.0.0.1:${port}`;
    await sys.startControl("prime", config);
    await waitFor(
      async () => (await fetch(`${base}/rest/ping`).catch(() => undefined))?.ok === true,
      "the gateway to answer",
    );
    profile = mkdtempSync(path.join(tmpdir(), "chorus-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      viewport: { width: 900, height: 700 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    if (profile) rmSync(profile, { recursive: true, force: true });
    await sys?.cleanup();
  });

  it("serves the page, its module and its CSS with their content types and no-cache", async () => {
    for (const [file, type] of [
      ["/", "text/html"],
      ["/player.js", "text/javascript"],
      ["/player.css", "text/css"],
    ] as const) {
      const res = await fetch(base + file);
      expect(res.status, file).to.equal(200);
      expect(res.headers.get("content-type"), file).to.include(type);
      expect(res.headers.get("cache-control"), file).to.equal("no-cache");
    }
    expect((await fetch(`${base}/../package.json`)).status).to.equal(404);
  });

  it("says so on a wrong password, then logs in with the right one", async () => {
    await page.goto(base + "/");
    await page.fill("#user", "Someone");
    await page.fill("#password", "wrong-password");
    await page.click("#login button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#login-error")?.textContent !== "");
    expect(await page.textContent("#login-error")).to.match(/could not log in/i);
    expect(await page.isVisible("#app")).to.equal(false);
    expect(await page.isVisible("#login")).to.equal(true);
    await shot("login-error");

    await page.fill("#password", "password123");
    await page.click("#login button[type=submit]");
    await page.waitForSelector("#app:not([hidden])");
    expect(await page.isVisible("#login")).to.equal(false);
    expect(page.url()).to.not.include("password");
    // The artists list fills in.
    await page.waitForSelector("#list li a");
  });

  it("browses artists → albums → songs", async () => {
    await page.click("#artists-button");
    await page.locator("#list li a", { hasText: "Unknown Artist" }).click();
    await page.waitForFunction(() =>
      document.querySelector("#crumbs")?.textContent?.includes("Unknown Artist"),
    );
    await page.locator("#list li a").first().click();
    await page.waitForFunction(() => document.querySelectorAll("#list li.song").length >= 2);
    const titles = await page.$$eval("#list li.song .name", (els) => els.map((e) => e.textContent));
    expect(titles.join("|")).to.include("Alpha Tone").and.include("Beta Tone");
    await shot("album");
  });

  it("searches, plays a song (the audio really advances), pauses, seeks and goes to the next", async () => {
    await page.evaluate(() => ((document.querySelector("audio") as HTMLAudioElement).muted = true));
    await page.fill("#query", "Tone");
    await page.click("#search button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll("#list li.song").length >= 2);
    const titles = await page.$$eval("#list li.song .name", (els) => els.map((e) => e.textContent));
    expect(titles.join("|")).to.include("Alpha Tone").and.include("Beta Tone");

    // Queue both (Alpha first), which starts playing Alpha.
    const alpha = page.locator("#list li.song", { hasText: "Alpha Tone" });
    const beta = page.locator("#list li.song", { hasText: "Beta Tone" });
    await alpha.getByText("+ Queue").click();
    await beta.getByText("+ Queue").click();
    await page.waitForFunction(
      () => (document.querySelector("audio") as HTMLAudioElement).currentTime > 0.5,
    );
    const playing = await audio();
    expect(playing.error).to.equal(null);
    expect(playing.paused).to.equal(false);
    expect(await page.textContent("#now")).to.include("Alpha Tone");
    expect(await page.$$eval("#queue li", (els) => els.length)).to.equal(2);
    await shot("playing");

    // Pause: the time stops.
    await page.click("#play");
    const pausedAt = (await audio()).currentTime;
    await new Promise((r) => setTimeout(r, 700));
    const stillAt = await audio();
    expect(stillAt.paused).to.equal(true);
    expect(Math.abs(stillAt.currentTime - pausedAt)).to.be.below(0.05);

    // Seek with the range input to 20 s, resume: it plays on from there.
    await page.$eval("#seek", (input: HTMLInputElement) => {
      input.value = "20";
      input.dispatchEvent(new Event("input"));
      input.dispatchEvent(new Event("change"));
    });
    await page.click("#play");
    await page.waitForFunction(() => {
      const a = document.querySelector("audio") as HTMLAudioElement;
      return !a.paused && a.currentTime > 20.3;
    });
    const sought = await audio();
    expect(sought.currentTime).to.be.within(20, 22);
    expect(sought.error).to.equal(null);

    // Next: Beta Tone plays from its start.
    await page.click("#next");
    await page.waitForFunction(() =>
      document.querySelector("#now")?.textContent?.includes("Beta Tone"),
    );
    await page.waitForFunction(() => {
      const a = document.querySelector("audio") as HTMLAudioElement;
      return !a.paused && a.currentTime > 0.3 && a.currentTime < 5;
    });
    expect((await audio()).error).to.equal(null);
    await shot("next");
  });

  it("listens together: another user sees who is playing and joins them at their point", async () => {
    // Someone's page is still playing Beta Tone; AnotherUser logs in in a second tab.
    // Someone seeks to 10 s first, so joining at the start would not pass.
    await page.$eval("#seek", (input: HTMLInputElement) => {
      input.value = "10";
      input.dispatchEvent(new Event("input"));
      input.dispatchEvent(new Event("change"));
    });
    await page.waitForFunction(() => {
      const a = document.querySelector("audio") as HTMLAudioElement;
      return !a.paused && !a.seeking && a.currentTime > 10.2;
    });
    const other = await context!.newPage();
    try {
      await other.goto(base + "/");
      await other.fill("#user", "AnotherUser");
      await other.fill("#password", "password123");
      await other.click("#login button[type=submit]");
      await other.waitForSelector("#app:not([hidden])");
      await other.evaluate(
        () => ((document.querySelector("audio") as HTMLAudioElement).muted = true),
      );
      await other.click("#now-button");
      const listener = other.locator("#list li.listener", { hasText: "Someone" });
      await listener.waitFor();
      expect(await listener.textContent()).to.include("Beta Tone");
      await listener.getByText("Join").click();
      await other.waitForFunction(() => {
        const a = document.querySelector("audio") as HTMLAudioElement;
        return !a.paused && !a.seeking && a.currentTime > 10;
      });
      const host = await audio();
      const joined = await other.evaluate(
        () => (document.querySelector("audio") as HTMLAudioElement).currentTime,
      );
      expect(await other.textContent("#now")).to.include("Beta Tone");
      expect(
        Math.abs(joined - host.currentTime),
        `host ${host.currentTime}, joined ${joined}`,
      ).to.be.below(1.5);
      await other.screenshot({ path: path.join(shots, "joined.png"), fullPage: true });
    } finally {
      await other.close();
    }
  });

  it("fits a phone's screen", async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > 391)
        .map((e) => `${e.tagName}#${e.id}.${e.className}`),
    );
    expect(wide).to.deep.equal([]);
    await shot("phone");
  });
});
