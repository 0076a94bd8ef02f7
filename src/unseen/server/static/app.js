// unseen live page: sends downscaled frames, composites the returned patches into the full-resolution original.
"use strict";

const state = (window.unseen = { ready: false, frames: 0, fps: 0, latency: 0, dropped: 0, selected: false, error: null });
const view = document.getElementById("view");
const ctx = view.getContext("2d", { willReadFrequently: true });
const stats = document.getElementById("stats");
const video = document.createElement("video");
video.muted = true;
video.playsInline = true;
video.loop = true;

const work = document.createElement("canvas"); // the frame at working resolution, as sent
const workCtx = work.getContext("2d");
const FEATHER = 2; // px of soft edge inside the hole, as the server's composite_patch
let workSize = [480, 288];
let scale = 1; // working pixels per full-resolution pixel
let socket = null;
let inFlight = false;
let nextId = 1;
const sent = new Map(); // frame id -> {full: canvas, t0}
let showOriginal = false;
let drag = null;
let recorder = null;
const times = [];

async function start() {
  try {
    const info = await (await fetch("/api/info")).json();
    workSize = info.work;
    const picker = document.getElementById("classes");
    for (const name of info.classes || []) picker.add(new Option(name, name));
    picker.hidden = !(info.classes && info.classes.length);
  } catch (e) { /* keep defaults */ }
  connect();
  useCamera();
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${proto}://${location.host}/ws`);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => pump();
  socket.onmessage = (event) => onResult(event.data);
  socket.onclose = (event) => {
    state.error = event.reason || "connection closed";
    stats.textContent = `disconnected: ${state.error}`;
    inFlight = false;
  };
}

async function useCamera() {
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: false });
    await video.play();
  } catch (e) {
    stats.textContent = "no camera: pick a video file";
  }
}

function useFile(file) {
  video.srcObject = null;
  video.src = URL.createObjectURL(file);
  video.play();
}

video.addEventListener("loadedmetadata", () => {
  view.width = video.videoWidth;
  view.height = video.videoHeight;
  scale = Math.min(workSize[0] / view.width, workSize[1] / view.height, 1);
  work.width = Math.round(view.width * scale);
  work.height = Math.round(view.height * scale);
  sent.clear();
  inFlight = false;
  pump();
});

function pump() {
  if (inFlight || !socket || socket.readyState !== WebSocket.OPEN || video.readyState < 2 || !view.width) {
    if (!inFlight) requestAnimationFrame(pump);
    return;
  }
  const full = document.createElement("canvas");
  full.width = view.width;
  full.height = view.height;
  full.getContext("2d").drawImage(video, 0, 0);
  workCtx.drawImage(full, 0, 0, work.width, work.height);
  const id = nextId++;
  inFlight = true;
  sent.set(id, { full, t0: performance.now() });
  work.toBlob(async (blob) => {
    const body = new Uint8Array(4 + blob.size);
    new DataView(body.buffer).setUint32(0, id, true);
    body.set(new Uint8Array(await blob.arrayBuffer()), 4);
    socket.send(body);
  }, "image/jpeg", 0.85);
}

async function onResult(buffer) {
  const n = new DataView(buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n)));
  const entry = sent.get(header.id);
  for (const id of sent.keys()) if (id <= header.id) sent.delete(id);
  if (entry) {
    ctx.drawImage(entry.full, 0, 0);
    if (!header.empty && !showOriginal) {
      const start = 4 + n;
      const patch = await createImageBitmap(new Blob([new Uint8Array(buffer, start, header.patch_bytes)], { type: "image/jpeg" }));
      const mask = await createImageBitmap(new Blob([new Uint8Array(buffer, start + header.patch_bytes, header.mask_bytes)], { type: "image/png" }));
      compositePatch(patch, mask, header);
    }
    if (drag) drawBox(drag);
    const now = performance.now();
    state.latency = now - entry.t0;
    times.push(now);
    while (times.length && now - times[0] > 2000) times.shift();
    state.fps = times.length > 1 ? (1000 * (times.length - 1)) / (now - times[0]) : 0;
    state.frames += 1;
    state.dropped = header.dropped;
    state.ready = true;
    stats.textContent = `${state.fps.toFixed(1)} fps  ${state.latency.toFixed(0)} ms  server ${header.ms.toFixed(0)} ms`;
  }
  inFlight = false;
  pump();
}

// The patch (working resolution) goes into the full-resolution frame through its mask: the whole hole, with a
// feathered edge just outside it (the original's pixels under the hole are never shown).
function compositePatch(patch, mask, h) {
  const inv = 1 / scale;
  const X = h.x * inv, Y = h.y * inv, W = h.w * inv, H = h.h * inv;
  const alpha = document.createElement("canvas");
  alpha.width = h.w;
  alpha.height = h.h;
  const a = alpha.getContext("2d");
  a.drawImage(mask, 0, 0);
  const img = a.getImageData(0, 0, h.w, h.h);
  for (let i = 0; i < img.data.length; i += 4) img.data[i + 3] = img.data[i]; // grey -> alpha
  a.putImageData(img, 0, 0);
  const soft = document.createElement("canvas");
  soft.width = Math.ceil(W);
  soft.height = Math.ceil(H);
  const s = soft.getContext("2d");
  s.filter = `blur(${FEATHER * 0.5}px)`;
  s.drawImage(alpha, 0, 0, W, H);
  s.filter = "none";
  s.drawImage(alpha, 0, 0, W, H); // the hole itself fully covered: the feather only fades outwards
  s.globalCompositeOperation = "source-in";
  s.drawImage(patch, 0, 0, W, H);
  ctx.drawImage(soft, X, Y);
}

function toCanvas(event) {
  const r = view.getBoundingClientRect();
  return [((event.clientX - r.left) * view.width) / r.width, ((event.clientY - r.top) * view.height) / r.height];
}

function drawBox(b) {
  ctx.strokeStyle = "#7fd";
  ctx.lineWidth = Math.max(2, view.width / 400);
  ctx.strokeRect(Math.min(b.x0, b.x1), Math.min(b.y0, b.y1), Math.abs(b.x1 - b.x0), Math.abs(b.y1 - b.y0));
}

view.addEventListener("pointerdown", (e) => {
  const [x, y] = toCanvas(e);
  drag = { x0: x, y0: y, x1: x, y1: y };
  view.setPointerCapture(e.pointerId);
});
view.addEventListener("pointermove", (e) => {
  if (!drag) return;
  [drag.x1, drag.y1] = toCanvas(e);
});
view.addEventListener("pointerup", (e) => {
  if (!drag) return;
  [drag.x1, drag.y1] = toCanvas(e);
  const x = Math.min(drag.x0, drag.x1), y = Math.min(drag.y0, drag.y1);
  const w = Math.abs(drag.x1 - drag.x0), h = Math.abs(drag.y1 - drag.y0);
  drag = null;
  if (w * scale < 4 || h * scale < 4) return;
  socket.send(JSON.stringify({ type: "select", box: [x * scale, y * scale, w * scale, h * scale].map(Math.round) }));
  state.selected = true;
  document.getElementById("hint").textContent = "Removing. Hold Before / after to compare.";
});

document.getElementById("classes").onchange = (e) => {
  if (!e.target.value) return;
  socket.send(JSON.stringify({ type: "detect", classes: [e.target.value] }));
  state.selected = true;
  document.getElementById("hint").textContent = `Removing every ${e.target.value}.`;
};
document.getElementById("camera").onclick = useCamera;
document.getElementById("file").onchange = (e) => e.target.files[0] && useFile(e.target.files[0]);
document.getElementById("reset").onclick = () => {
  socket.send(JSON.stringify({ type: "reset" }));
  state.selected = false;
};
const compare = document.getElementById("compare");
compare.onpointerdown = () => { showOriginal = true; compare.classList.add("on"); };
compare.onpointerup = compare.onpointerleave = () => { showOriginal = false; compare.classList.remove("on"); };
document.getElementById("record").onclick = (e) => {
  if (recorder) { recorder.stop(); return; }
  const chunks = [];
  recorder = new MediaRecorder(view.captureStream(30), { mimeType: "video/webm" });
  recorder.ondataavailable = (ev) => chunks.push(ev.data);
  recorder.onstop = () => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob(chunks, { type: "video/webm" }));
    a.download = "unseen.webm";
    a.click();
    recorder = null;
    e.target.classList.remove("on");
    e.target.textContent = "Record";
  };
  recorder.start();
  e.target.classList.add("on");
  e.target.textContent = "Stop";
};

start();
