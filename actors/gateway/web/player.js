// The Chorus web player: plain DOM, only the gateway's own Subsonic API.
// Credentials live in sessionStorage (gone when the tab closes) and travel
// as query parameters of fetch and audio requests, never in the address bar.

const $ = (id) => document.getElementById(id);
const audio = $("audio");
const state = { queue: [], index: -1 };

/** The saved login, or null. */
function credentials() {
  const saved = sessionStorage.getItem("chorus-login");
  return saved ? JSON.parse(saved) : null;
}

function restUrl(method, params = {}) {
  const login = credentials();
  const query = new URLSearchParams({
    u: login.user,
    p: login.password,
    v: "1.16.1",
    c: "chorus-web",
    f: "json",
    ...params,
  });
  return `rest/${method}?${query}`;
}

/** Calls METHOD; the response body, or throws the Subsonic error message. */
async function api(method, params) {
  const res = await fetch(restUrl(method, params));
  const body = (await res.json())["subsonic-response"];
  if (body.status !== "ok") throw new Error(body.error?.message ?? "request failed");
  return body;
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

const clock = (s) =>
  Number.isFinite(s)
    ? `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`
    : "0:00";

// --- log in ---

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  sessionStorage.setItem(
    "chorus-login",
    JSON.stringify({ user: $("user").value, password: $("password").value }),
  );
  try {
    await api("getUser", { username: $("user").value });
    showApp();
  } catch (err) {
    sessionStorage.removeItem("chorus-login");
    $("login-error").textContent = `Could not log in: ${err.message}`;
  }
});

$("logout").addEventListener("click", () => {
  sessionStorage.removeItem("chorus-login");
  audio.pause();
  location.reload();
});

function showApp() {
  $("login").hidden = true;
  $("app").hidden = false;
  $("player").hidden = false;
  $("logout").hidden = false;
  $("who").textContent = credentials().user;
  void showArtists();
}

// --- browse and search ---

/** Fills the list: CRUMBS (label → action) above, ITEMS below. */
function show(crumbs, items) {
  $("crumbs").replaceChildren(
    ...crumbs.flatMap(([label, action], i) => {
      const part = action
        ? el("a", { href: "#", textContent: label, onclick: (e) => (e.preventDefault(), action()) })
        : label;
      return i ? [" › ", part] : [part];
    }),
  );
  $("list").replaceChildren(
    ...(items.length ? items : [el("li", { textContent: "Nothing here" })]),
  );
}

const home = ["Artists", () => showArtists()];

function linkItem(label, action, extra = []) {
  return el(
    "li",
    {},
    el("a", {
      className: "name",
      href: "#",
      textContent: label,
      onclick: (e) => (e.preventDefault(), action()),
    }),
    ...extra,
  );
}

function songItem(song) {
  const label = `${song.title} — ${song.artist ?? ""} (${clock(song.duration)})`;
  return el(
    "li",
    { className: "song" },
    el("span", { className: "name", textContent: label }),
    el("button", {
      type: "button",
      textContent: "Play",
      className: "play-song",
      onclick: () => playNow(song),
    }),
    el("button", { type: "button", textContent: "+ Queue", onclick: () => enqueue([song]) }),
  );
}

async function guarded(work) {
  try {
    await work();
  } catch (err) {
    show([home], [el("li", { className: "error", textContent: err.message })]);
  }
}

const showArtists = () =>
  guarded(async () => {
    const body = await api("getArtists");
    const artists = body.artists.index.flatMap((i) => i.artist);
    show(
      [["Artists"]],
      artists.map((a) => linkItem(a.name, () => showArtist(a.id))),
    );
  });

const showArtist = (id) =>
  guarded(async () => {
    const { artist } = await api("getArtist", { id });
    show(
      [home, [artist.name]],
      (artist.album ?? []).map((a) => linkItem(a.name, () => showAlbum(a.id, artist))),
    );
  });

const showAlbum = (id, artist) =>
  guarded(async () => {
    const { album } = await api("getAlbum", { id });
    const songs = album.song ?? [];
    const all = el(
      "li",
      {},
      el("span", { className: "name", textContent: `${songs.length} songs` }),
      el("button", { type: "button", textContent: "+ Queue album", onclick: () => enqueue(songs) }),
    );
    show(
      [home, [artist.name, () => showArtist(artist.id)], [album.name]],
      [all, ...songs.map(songItem)],
    );
  });

$("artists-button").addEventListener("click", () => void showArtists());

// --- listen together: who plays what now (getNowPlaying), and join them where they are ---

$("now-button").addEventListener("click", () => void showNowPlaying());

const showNowPlaying = () =>
  guarded(async () => {
    const asked = Date.now();
    const entries = (await api("getNowPlaying")).nowPlaying.entry ?? [];
    const me = credentials().user.toLowerCase();
    const others = entries.filter(
      (e) => e.username.toLowerCase() !== me && e.position < e.duration - 1,
    );
    show(
      [home, ["Listening now"]],
      others.map((e) =>
        el(
          "li",
          { className: "listener" },
          el("span", {
            className: "name",
            textContent: `${e.username}: ${e.title} (${clock(e.position)})`,
          }),
          el("button", {
            type: "button",
            textContent: "Join",
            // Their position when asked, plus the time since: where they are now.
            onclick: () => playNow(e, e.position + (Date.now() - asked) / 1000),
          }),
        ),
      ),
    );
  });

/** Tells the gateway what we play and from when, so others can join us. */
function announce() {
  const song = state.queue[state.index];
  if (!song || audio.paused) return;
  const time = Math.round(Date.now() - audio.currentTime * 1000);
  api("scrobble", { id: song.id, submission: "false", time: String(time) }).catch(() => {});
}
audio.addEventListener("playing", announce);
audio.addEventListener("seeked", announce);
$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  const query = $("query").value.trim();
  void guarded(async () => {
    const found = (await api("search3", { query, songCount: 100, albumCount: 20, artistCount: 20 }))
      .searchResult3;
    const items = [
      ...(found.artist ?? []).map((a) => linkItem(`Artist: ${a.name}`, () => showArtist(a.id))),
      ...(found.album ?? []).map((a) =>
        linkItem(`Album: ${a.name}`, () => showAlbum(a.id, { id: a.artistId, name: a.artist })),
      ),
      ...(found.song ?? []).map(songItem),
    ];
    show([home, [`Search: ${query || "everything"}`]], items);
  });
});

// --- queue and playback ---

function renderQueue() {
  $("queue").replaceChildren(
    ...state.queue.map((song, i) =>
      el(
        "li",
        { className: i === state.index ? "current" : "" },
        el("a", {
          className: "name",
          href: "#",
          textContent: song.title,
          onclick: (e) => (e.preventDefault(), playAt(i)),
        }),
        el("button", {
          type: "button",
          textContent: "✕",
          "aria-label": "Remove",
          onclick: () => remove(i),
        }),
      ),
    ),
  );
}

function enqueue(songs) {
  state.queue.push(...songs);
  renderQueue();
  if (state.index < 0) playAt(state.queue.length - songs.length);
}

function playNow(song, start = 0) {
  state.queue.splice(state.index + 1, 0, song);
  playAt(state.index + 1, start);
}

function remove(i) {
  state.queue.splice(i, 1);
  if (i < state.index) state.index--;
  else if (i === state.index) {
    audio.pause();
    state.index = Math.min(state.index, state.queue.length - 1);
  }
  renderQueue();
}

function playAt(i, start = 0) {
  const song = state.queue[i];
  if (!song) return;
  // Joining someone: the position can be set only once the length is known.
  if (start > 0)
    audio.addEventListener("loadedmetadata", () => (audio.currentTime = start), { once: true });
  state.index = i;
  $("player-error").textContent = "";
  // The original bytes: browsers play WAV, MP3, FLAC, Ogg and M4A themselves,
  // and the gateway answers Range requests on them, so seeking just works.
  audio.src = restUrl("stream", { id: song.id, format: "raw" });
  audio.play().catch((err) => ($("player-error").textContent = `Cannot play: ${err.message}`));
  $("now").textContent = `${song.title} — ${song.artist ?? ""}`;
  document.title = `${song.title} · Chorus`;
  renderQueue();
}

$("play").addEventListener("click", () => {
  if (state.index < 0) return playAt(0);
  if (audio.paused) void audio.play();
  else audio.pause();
});
$("next").addEventListener("click", () => playAt(state.index + 1));
$("prev").addEventListener("click", () => {
  // Like most players: back to the start first, the song before on a second press.
  if (audio.currentTime > 3 || state.index <= 0) audio.currentTime = 0;
  else playAt(state.index - 1);
});
$("clear").addEventListener("click", () => {
  audio.pause();
  audio.removeAttribute("src");
  state.queue = [];
  state.index = -1;
  $("now").textContent = "Nothing playing";
  renderQueue();
});

audio.addEventListener("ended", () => playAt(state.index + 1));
audio.addEventListener("play", () => ($("play").textContent = "Pause"));
audio.addEventListener("pause", () => ($("play").textContent = "Play"));
audio.addEventListener(
  "error",
  () => ($("player-error").textContent = "This song cannot be played in this browser"),
);
audio.addEventListener("loadedmetadata", () => ($("seek").max = String(audio.duration)));

let seeking = false; // while the thumb is held, time updates must not move it
$("seek").addEventListener("input", () => (seeking = true));
$("seek").addEventListener("change", () => {
  audio.currentTime = Number($("seek").value);
  seeking = false;
});
audio.addEventListener("timeupdate", () => {
  if (!seeking) $("seek").value = String(audio.currentTime);
  $("time").textContent = `${clock(audio.currentTime)} / ${clock(audio.duration)}`;
});

$("volume").addEventListener("input", () => {
  audio.volume = Number($("volume").value);
  localStorage.setItem("chorus-volume", $("volume").value);
});
$("volume").value = localStorage.getItem("chorus-volume") ?? "1";
audio.volume = Number($("volume").value);

if (credentials()) showApp();
