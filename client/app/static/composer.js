// The composer: drafts kept (in the encrypted store) as you type, and sending with a
// progress bar for attachments. Ctrl+Enter (or Cmd+Enter) sends.
import { refreshHere } from "./live.js";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

function keepDraft(form, text) {
  const key = form.dataset.draftKey;
  if (!key) return Promise.resolve();
  const titleField = form.querySelector('input[name="title"]');
  const title = titleField ? titleField.value : "";
  return fetch("/drafts", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
    body: JSON.stringify({ key, text, title }),
  });
}

function send(form) {
  const box = form.querySelector(".upload");
  const bar = form.querySelector("progress");
  const label = form.querySelector(".upload-text");
  const button = form.querySelector('button[type="submit"]');
  const files = form.querySelector('input[type="file"]');
  const withFiles = files && files.files.length > 0;
  const xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  xhr.setRequestHeader("X-CSRF-Token", csrf());
  xhr.setRequestHeader("X-Requested-With", "cove-app");
  if (withFiles) {
    box.hidden = false;
    bar.value = 0;
    label.textContent = "Sending your files…";
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      const pct = Math.round((e.loaded / e.total) * 100);
      bar.value = pct;
      bar.textContent = `${pct}%`;
      form.dataset.progressSeen = String(Number(form.dataset.progressSeen || 0) + 1);
    });
  }
  button.disabled = true;
  xhr.addEventListener("load", () => {
    let answer = null;
    try { answer = JSON.parse(xhr.responseText); } catch { answer = null; }
    if (xhr.status === 200 && answer && answer.location) {
      const target = new URL(answer.location, location.href);
      const samePage = target.pathname === location.pathname && !target.search.includes("blocked=");
      const inPlace = samePage && !form.querySelector('input[name="reply_to"]') && document.querySelector("[data-live-src]");
      if (!inPlace) { location.assign(answer.location); return; }
      // Stay on the page: the new message shows in the list, the composer empties.
      if (withFiles) { bar.value = 100; bar.textContent = "100%"; label.textContent = "Files sent."; }
      for (const field of form.querySelectorAll("textarea, input[type=file]")) field.value = "";
      form.dataset.sent = "yes";
      button.disabled = false;
      const status = form.querySelector("#draft-status");
      if (status) status.textContent = "Sent.";
      refreshHere().catch(() => {});
      return;
    }
    button.disabled = false;
    if (box) box.hidden = false;
    if (label) label.textContent = "Cove could not send this. What you wrote is still here. " + (xhr.status === 403 ? xhr.responseText : "");
  });
  xhr.addEventListener("error", () => {
    button.disabled = false;
    if (label) { box.hidden = false; label.textContent = "Cove could not send this. What you wrote is still here."; }
  });
  xhr.send(new FormData(form));
}

export function attach(root) {
  for (const form of root.querySelectorAll("form[data-composer]")) {
    const text = form.querySelector("textarea");
    const status = form.querySelector("#draft-status");
    let timer = null;
    const later = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        keepDraft(form, text.value).then(() => { if (status) status.textContent = "Draft kept."; }).catch(() => {});
      }, 700);
    };
    text?.addEventListener("input", later);
    form.querySelector('input[name="title"]')?.addEventListener("input", later);
    text?.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      clearTimeout(timer);
      send(form);
    });
  }
}
