// unseen live page: sends each new camera frame downscaled, and paints it only once its filled patch is composited in.
"use strict";

// What the page exposes for tests and curious users (window.unseen).
const state = (window.unseen = {
  ready: false, frames: 0, fps: 0, latency: 0, p95: 0, latencies: [], serverMs: 0, pageMs: 0, sentFrames: 0, dropped: 0,
  selected: false, state: "idle", error: null, disconnects: 0, connected: false,
  probes: null, samples: [], // tests: [[x, y, w, h], ...] canvas rects read back after every paint (base64 RGBA)
});
const view = document.getElementById("view"); // only composited frames are drawn here (Record captures it)
const ctx = view.getContext("2d", { willReadFrequently: true });
const original = document.getElementById("original"); // the raw frame, shown over the view while comparing
const octx = original.getContext("2d");
const maskView = document.getElementById("maskview"); // "Show mask": the hole tinted over the view (never recorded)
const mctx = maskView.getContext("2d");
const MASK_TINT = "rgba(255, 0, 200, 0.5)";
const dragBox = document.getElementById("drag");
const stats = document.getElementById("stats");
const hint = document.getElementById("hint");
const picker = document.getElementById("classes");
const video = document.createElement("video");
video.muted = true;
video.playsInline = true;
video.loop = true;

const params = new URLSearchParams(location.search);
// A second frame in flight lets the page capture and encode while the server works, and the server run the mask and
// guide of one frame beside the network of the one before (two stages, two cores): throughput up to the slower
// stage's rate. Each frame then also waits for the stage ahead of it, so two are used only while that keeps the
// round trip within LATENCY_BUDGET ms. ?inflight=1 or 2 fixes it.
const FIXED_IN_FLIGHT = Number(params.get("inflight") || 0);
const LATENCY_BUDGET = 100;
let serverAvg = 1000, stageAvg = 1000, pageAvg = 0; // ms, moving averages (server: both stages; stage: the slower)
const FEATHER = 2; // px of soft edge just outside the hole
const work = document.createElement("canvas"); // the frame at working resolution, as sent
const workCtx = work.getContext("2d");
const soft = document.createElement("canvas"); // the patch with its hole as alpha, at display scale
const softCtx = soft.getContext("2d");
let workSize = [480, 288];
let scale = 1; // working pixels per full-resolution pixel
let socket = null;
let retry = null;
let encoding = 0; // frames being captured and encoded (not yet in `sent`)
let fresh = false; // a camera frame not yet sent
let nextId = 1;
let lastPainted = 0;
const sent = new Map(); // frame id -> {frame: ImageBitmap, t0, pageMs}
let commandsSent = 0; // control messages sent on this connection (the server reports how many it applied)
let selection = null; // what the user asked for: {kind: "box"} or {kind: "classes", names}
let serverError = null;
let comparing = false;
let drag = null;
let recorder = null;
let recordTrack = null;
const paints = [];
let results = Promise.resolve(); // results are handled strictly in arrival order

async function start() {
  try {
    const info = await (await fetch("/api/info")).json();
    workSize = info.work;
    for (const name of info.classes || []) picker.add(new Option(name, name));
    picker.hidden = !(info.classes && info.classes.length);
    // one click for the classes a streamer removes most: shown when the server offers them
    for (const [id, name] of [["people", "person"], ["hands", "hand"]]) {
      const button = document.getElementById(id);
      button.hidden = !(info.classes || []).includes(name);
      button.onclick = () => pickClass(name);
    }
  } catch (e) { /* keep the defaults */ }
  connect();
  useCamera();
}

function connect() {
  clearTimeout(retry);
  const proto = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${proto}://${location.host}/ws`);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => {
    state.connected = true;
    state.error = serverError = null;
    commandsSent = 0;
    selection = null; // a new connection is a new session on the server
    state.selected = false;
    showHint();
    pump();
  };
  socket.onmessage = (event) => { results = results.then(() => onResult(event.data)).catch(reportPageError); };
  socket.onclose = (event) => {
    const wasOpen = state.connected;
    state.connected = false;
    state.disconnects += wasOpen ? 1 : 0;
    state.error = event.reason || (wasOpen ? "connection closed" : "cannot reach the server");
    for (const entry of sent.values()) entry.frame.close();
    sent.clear();
    if (event.code === 1008) { showHint(`disconnected: ${state.error}`); return; } // a foreign page: retrying cannot help
    const wait = event.code === 1013 ? 5000 : 1000;
    showHint(`disconnected: ${state.error}; reconnecting in ${wait / 1000} s`);
    retry = setTimeout(connect, wait);
  };
}

function reportPageError(e) {
  state.error = String(e);
  showHint(`page error: ${state.error}`);
}

async function useCamera() {
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: false });
    await video.play();
  } catch (e) {
    showHint("no camera: pick a video file");
  }
}

function useFile(file) {
  video.srcObject = null;
  video.src = URL.createObjectURL(file);
  video.play();
}

video.addEventListener("loadedmetadata", () => {
  for (const c of [view, original, maskView]) { c.width = video.videoWidth; c.height = video.videoHeight; }
  scale = Math.min(workSize[0] / view.width, workSize[1] / view.height, 1);
  work.width = Math.round(view.width * scale);
  work.height = Math.round(view.height * scale);
  fresh = true;
  pump();
});

// Only new camera frames are sent: the video tells us when one is presented.
function watchFrames() {
  if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) {
    const onFrame = () => { fresh = true; pump(); video.requestVideoFrameCallback(onFrame); };
    video.requestVideoFrameCallback(onFrame);
  } else {
    let last = -1;
    const onTick = () => {
      if (video.currentTime !== last) { last = video.currentTime; fresh = true; pump(); }
      requestAnimationFrame(onTick);
    };
    requestAnimationFrame(onTick);
  }
}

async function pump() {
  if (!fresh || encoding + sent.size >= maxInFlight() || !socket || socket.readyState !== WebSocket.OPEN || video.readyState < 2 || !work.width) return;
  fresh = false;
  encoding += 1;
  const t0 = performance.now();
  const id = nextId++;
  try {
    const frame = await createImageBitmap(video); // held until its result is painted
    workCtx.drawImage(frame, 0, 0, work.width, work.height);
    const blob = await new Promise((resolve) => work.toBlob(resolve, "image/jpeg", 0.85));
    const body = new Uint8Array(4 + blob.size);
    new DataView(body.buffer).setUint32(0, id, true);
    body.set(new Uint8Array(await blob.arrayBuffer()), 4);
    if (socket.readyState !== WebSocket.OPEN) { frame.close(); return; }
    sent.set(id, { frame, t0, pageMs: performance.now() - t0 });
    socket.send(body);
    state.sentFrames += 1;
  } catch (e) {
    reportPageError(e);
  } finally {
    encoding -= 1;
  }
}

function maxInFlight() {
  if (FIXED_IN_FLIGHT) return FIXED_IN_FLIGHT;
  return serverAvg + stageAvg + pageAvg <= LATENCY_BUDGET ? 2 : 1;
}

async function onResult(buffer) {
  const n = new DataView(buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n)));
  const entry = sent.get(header.id);
  // frames the server skipped (a newer one replaced them) get no reply: they leave with this one
  for (const [id, old] of sent) if (id < header.id) { old.frame.close(); sent.delete(id); }
  sent.delete(header.id);
  pump(); // the next frame is encoded while this one is decoded and painted
  if (!entry) return;
  const t1 = performance.now();
  let patch = null, mask = null;
  if (!header.empty) {
    const at = 4 + n;
    [patch, mask] = await Promise.all([
      createImageBitmap(new Blob([new Uint8Array(buffer, at, header.patch_bytes)], { type: "image/jpeg" })),
      createImageBitmap(new Blob([new Uint8Array(buffer, at + header.patch_bytes, header.mask_bytes)], { type: "image/png" })),
    ]);
  }
  // Everything is decoded: the frame and its fill are drawn together, in one go, so no raw frame is ever shown.
  if (header.id > lastPainted) {
    paint(entry.frame, patch, mask, header);
    lastPainted = header.id;
    measure(entry, header, performance.now() - t1);
  }
  entry.frame.close();
  if (patch) { patch.close(); mask.close(); }
  followServer(header);
}

// the hole of the frame just painted, tinted, on the overlay canvas: what the server removes, to check a selection
function tintHole(mask, h) {
  mctx.globalCompositeOperation = "source-over";
  mctx.clearRect(0, 0, maskView.width, maskView.height);
  if (!mask) return;
  const inv = 1 / scale;
  mctx.drawImage(mask, h.x * inv, h.y * inv, Math.ceil(h.w * inv), Math.ceil(h.h * inv));
  mctx.globalCompositeOperation = "source-in"; // the tint only where the mask's alpha is
  mctx.fillStyle = MASK_TINT;
  mctx.fillRect(0, 0, maskView.width, maskView.height);
  mctx.globalCompositeOperation = "source-over";
}

function paint(frame, patch, mask, h) {
  ctx.drawImage(frame, 0, 0);
  if (patch) {
    const inv = 1 / scale;
    const W = Math.ceil(h.w * inv), H = Math.ceil(h.h * inv);
    if (soft.width < W || soft.height < H) { soft.width = Math.max(soft.width, W); soft.height = Math.max(soft.height, H); }
    softCtx.globalCompositeOperation = "source-over";
    softCtx.clearRect(0, 0, W, H);
    softCtx.filter = `blur(${FEATHER * 0.5}px)`;
    softCtx.drawImage(mask, 0, 0, W, H); // the feather fades outwards from the hole...
    softCtx.filter = "none";
    softCtx.drawImage(mask, 0, 0, W, H); // ...and the hole itself is fully covered
    softCtx.globalCompositeOperation = "source-in";
    softCtx.drawImage(patch, 0, 0, W, H);
    ctx.drawImage(soft, 0, 0, W, H, h.x * inv, h.y * inv, W, H);
  }
  if (comparing) octx.drawImage(frame, 0, 0);
  if (!maskView.hidden) tintHole(mask, h);
  if (recordTrack) recordTrack.requestFrame();
  if (state.probes) {
    const rects = state.probes.map(([x, y, w, hh]) => {
      const data = ctx.getImageData(x, y, w, hh).data;
      let s = "";
      for (let i = 0; i < data.length; i += 8192) s += String.fromCharCode.apply(null, data.subarray(i, i + 8192));
      return btoa(s);
    });
    state.samples.push({ rects, state: h.state, applied: h.applied, filled: !!patch });
  }
}

function measure(entry, header, decodeMs) {
  const now = performance.now();
  state.latency = now - entry.t0;
  const latencies = state.latencies;
  latencies.push(state.latency);
  if (latencies.length > 200) latencies.shift();
  state.p95 = [...latencies].sort((a, b) => a - b)[Math.floor(0.95 * (latencies.length - 1))];
  paints.push(now);
  while (paints.length && now - paints[0] > 2000) paints.shift();
  state.fps = paints.length > 1 ? (1000 * (paints.length - 1)) / (now - paints[0]) : 0;
  state.frames += 1;
  state.serverMs = header.ms;
  state.pageMs = entry.pageMs + decodeMs;
  serverAvg = serverAvg === 1000 ? header.ms : 0.9 * serverAvg + 0.1 * header.ms;
  const stage = header.stage ?? header.ms;
  stageAvg = stageAvg === 1000 ? stage : 0.9 * stageAvg + 0.1 * stage;
  pageAvg = 0.9 * pageAvg + 0.1 * state.pageMs;
  state.inFlight = maxInFlight();
  state.dropped = header.dropped;
  state.ready = true;
  stats.textContent = `${state.fps.toFixed(1)} fps  ${state.latency.toFixed(0)} ms (p95 ${state.p95.toFixed(0)})  server ${header.ms.toFixed(0)} ms  page ${state.pageMs.toFixed(0)} ms`;
}

// The hint says what the server is doing, once it has applied what the page asked.
function followServer(header) {
  state.state = header.state;
  if (header.error) {
    serverError = state.error = header.error;
    selection = null;
    state.selected = false;
  }
  if (header.applied < commandsSent) return; // the server has not caught up with the last click yet
  showHint();
}

function showHint(text) {
  if (text) { hint.textContent = text; return; }
  if (!state.connected) return;
  if (serverError) { hint.textContent = `${serverError}.`; return; }
  if (!selection) {
    hint.textContent = picker.hidden
      ? "Draw a box around the object (or click a person or a hand) to remove it."
      : "Draw a box around the object (or click a person or a hand), or pick a class, to remove it.";
  } else if (commandsSent > 0 && state.state === "idle") {
    hint.textContent = "Starting...";
  } else if (state.state === "lost") {
    hint.textContent = selection.kind === "box"
      ? "Lost the object (it left the view or cannot be seen): it will be removed again when it comes back. Or draw a new box."
      : `No ${selection.names.join(", ")} in view: learning the background meanwhile.`;
  } else {
    hint.textContent = "Removing. Hold Before / after to compare; Clear selection to stop.";
  }
}

function command(message, newSelection) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  socket.send(JSON.stringify(message));
  commandsSent += 1;
  selection = newSelection;
  serverError = null;
  state.selected = !!newSelection;
  hint.textContent = newSelection ? "Starting..." : "Clearing...";
}

function toCanvas(event) {
  const r = view.getBoundingClientRect();
  const x = ((event.clientX - r.left) * view.width) / r.width, y = ((event.clientY - r.top) * view.height) / r.height;
  return [Math.min(Math.max(x, 0), view.width), Math.min(Math.max(y, 0), view.height)]; // boxes stay inside the frame
}

function showDrag() {
  const r = view.getBoundingClientRect(), k = r.width / view.width;
  Object.assign(dragBox.style, {
    left: `${Math.min(drag.x0, drag.x1) * k}px`, top: `${Math.min(drag.y0, drag.y1) * k}px`,
    width: `${Math.abs(drag.x1 - drag.x0) * k}px`, height: `${Math.abs(drag.y1 - drag.y0) * k}px`,
  });
  dragBox.hidden = false;
}

view.addEventListener("pointerdown", (e) => {
  const [x, y] = toCanvas(e);
  drag = { x0: x, y0: y, x1: x, y1: y };
  view.setPointerCapture(e.pointerId);
  showDrag();
});
view.addEventListener("pointermove", (e) => {
  if (!drag) return;
  [drag.x1, drag.y1] = toCanvas(e);
  showDrag();
});
view.addEventListener("pointerup", (e) => {
  if (!drag) return;
  [drag.x1, drag.y1] = toCanvas(e);
  dragBox.hidden = true;
  const x0 = Math.min(drag.x0, drag.x1) * scale, y0 = Math.min(drag.y0, drag.y1) * scale;
  const x1 = Math.max(drag.x0, drag.x1) * scale, y1 = Math.max(drag.y0, drag.y1) * scale;
  drag = null;
  // working-resolution pixels, rounded inwards so the box never leaves the frame the server sees
  const box = [Math.ceil(x0), Math.ceil(y0), Math.floor(Math.min(x1, work.width)) - Math.ceil(x0), Math.floor(Math.min(y1, work.height)) - Math.ceil(y0)];
  if (box[2] < 4 || box[3] < 4) { // a click: the hand or person under it, found by the server on the frame on screen
    const at = [Math.min(Math.floor(x1), work.width - 1), Math.min(Math.floor(y1), work.height - 1)];
    picker.value = "";
    command({ type: "point", at, frame: lastPainted }, { kind: "box" });
    return;
  }
  picker.value = "";
  // the frame on screen, a round trip older than the one this reaches: the server follows the object from it
  command({ type: "select", box, frame: lastPainted }, { kind: "box" });
});

function pickClass(name) {
  command({ type: "detect", classes: [name] }, { kind: "classes", names: [name] });
}
picker.onchange = (e) => {
  if (e.target.value) pickClass(e.target.value);
};
document.getElementById("camera").onclick = useCamera;
document.getElementById("file").onchange = (e) => e.target.files[0] && useFile(e.target.files[0]);
document.getElementById("reset").onclick = () => {
  picker.value = "";
  command({ type: "reset" }, null);
};
const compare = document.getElementById("compare");
compare.onpointerdown = () => { comparing = true; compare.classList.add("on"); original.hidden = false; };
compare.onpointerup = compare.onpointerleave = () => { comparing = false; compare.classList.remove("on"); original.hidden = true; };
document.getElementById("showmask").onclick = (e) => {
  maskView.hidden = !maskView.hidden;
  e.target.classList.toggle("on", !maskView.hidden);
  if (maskView.hidden) mctx.clearRect(0, 0, maskView.width, maskView.height);
};
document.getElementById("record").onclick = (e) => {
  if (recorder) { recorder.stop(); return; }
  const chunks = [];
  const stream = view.captureStream(0); // a recorded frame only when the page asks: after each composited paint
  recordTrack = stream.getVideoTracks()[0];
  recorder = new MediaRecorder(stream, { mimeType: "video/webm" });
  recorder.ondataavailable = (ev) => chunks.push(ev.data);
  recorder.onstop = () => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob(chunks, { type: "video/webm" }));
    a.download = "unseen.webm";
    a.click();
    recorder = null;
    recordTrack = null;
    e.target.classList.remove("on");
    e.target.textContent = "Record";
  };
  recorder.start();
  e.target.classList.add("on");
  e.target.textContent = "Stop";
};

watchFrames();
start();
