// Live updates: the app's WebSocket says *that* something changed (never what);
// the page then fetches its own fresh fragment from the app.
const status = () => document.getElementById("live-status");

function announce(text) {
  const el = status();
  if (!el) return;
  el.textContent = "";
  setTimeout(() => { el.textContent = text; }, 50);
}

function busy(container) {
  const active = document.activeElement;
  return active && container.contains(active) && (active.tagName === "TEXTAREA" || active.tagName === "INPUT");
}

async function refreshFragment(container, force = false) {
  if (!force && busy(container)) { container.dataset.stale = "yes"; return; }
  const response = await fetch(container.dataset.liveSrc, { credentials: "same-origin" });
  if (!response.ok) return;
  const html = await response.text();
  const focusedId = document.activeElement && container.contains(document.activeElement) ? document.activeElement.id : "";
  const before = container.querySelectorAll("article").length;
  container.innerHTML = html;
  container.dataset.stale = "";
  if (focusedId) document.getElementById(focusedId)?.focus();
  const after = container.querySelectorAll("article").length;
  if (after > before) announce(after - before === 1 ? "1 new message" : `${after - before} new messages`);
  document.dispatchEvent(new CustomEvent("cove:refreshed", { detail: { id: container.id } }));
}

async function refreshPage(container) {
  const response = await fetch(container.dataset.livePage, { credentials: "same-origin" });
  if (!response.ok) return;
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = doc.getElementById(container.id);
  if (fresh) container.innerHTML = fresh.innerHTML;
  document.dispatchEvent(new CustomEvent("cove:refreshed", { detail: { id: container.id } }));
}

export function refreshHere() {
  const found = document.querySelectorAll("[data-live-src]");
  return Promise.all(Array.from(found, (el) => refreshFragment(el, true)));
}

function refresh(event) {
  for (const el of document.querySelectorAll("[data-live-src]")) {
    const group = el.dataset.liveGroup;
    if (!event.group || group === "any" || group === event.group) refreshFragment(el).catch(() => {});
  }
  for (const el of document.querySelectorAll("[data-live-page]")) refreshPage(el).catch(() => {});
}

let socket = null;
let lastActive = 0;

export function reportActivity() {
  const now = Date.now();
  if (now - lastActive < 15000 || !socket || socket.readyState !== WebSocket.OPEN) return;
  lastActive = now;
  socket.send(JSON.stringify({ kind: "active" }));
}

export function connect(delay = 1000) {
  if (document.body.dataset.unlocked !== "yes") return;
  socket = new WebSocket(`ws://${location.host}/live`);
  socket.addEventListener("open", () => { document.body.dataset.live = "yes"; delay = 1000; });
  socket.addEventListener("message", (msg) => {
    let event;
    try { event = JSON.parse(msg.data); } catch { return; }
    if (event.kind === "locked") { location.assign("/unlock"); return; }
    if (event.kind === "changed" || event.kind === "groups") refresh(event);
  });
  socket.addEventListener("close", () => {
    document.body.dataset.live = "no";
    setTimeout(() => connect(Math.min(delay * 2, 30000)), delay);
  });
  for (const name of ["keydown", "input", "pointerdown", "scroll"]) {
    window.addEventListener(name, reportActivity, { passive: true });
  }
  document.addEventListener("focusout", () => {
    for (const el of document.querySelectorAll("[data-live-src][data-stale='yes']")) {
      setTimeout(() => { if (!busy(el)) refreshFragment(el).catch(() => {}); }, 0);
    }
  });
}
