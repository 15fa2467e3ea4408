// Cang console: the few things a server-rendered page cannot do alone — open and close dialogs, fill the
// KMS key picker, and upload files with a progress bar (large files in multipart parts, straight through
// the console to the OSS API; nothing is buffered whole). Every state-changing request carries the
// session's CSRF token from the page's <meta name="csrf-token">.
"use strict";

(function () {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  const label = (name) => document.body.dataset[name] || "";

  function setText(node, text) {
    node.textContent = text;
  }

  // Dialogs and toggles.
  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-open]");
    if (opener) {
      const dialog = document.getElementById(opener.dataset.open);
      if (dialog) dialog.showModal();
    }
    const closer = event.target.closest("[data-close]");
    if (closer) {
      const dialog = document.getElementById(closer.dataset.close);
      if (dialog) dialog.close();
    }
    const toggler = event.target.closest("[data-toggle]");
    if (toggler) {
      const form = document.getElementById(toggler.dataset.toggle);
      if (form) {
        form.hidden = !form.hidden;
        const current = form.parentElement.querySelector(".current");
        if (current) current.hidden = !form.hidden;
        if (!form.hidden) showKmsFields(form);
      }
    }
  });

  for (const dialog of document.querySelectorAll("dialog[data-show]")) {
    dialog.showModal();
  }

  // Server-side encryption choice: the key picker only for KMS, filled once from /api/keys.
  function showKmsFields(form) {
    const chosen = form.querySelector('input[name="sse"]:checked');
    const kms = form.querySelector(".kms-only");
    if (!kms) return;
    kms.hidden = !chosen || chosen.value !== "KMS";
    if (!kms.hidden) loadKeys(kms);
  }

  document.addEventListener("change", (event) => {
    if (event.target.name === "sse") showKmsFields(event.target.form);
  });
  for (const form of document.querySelectorAll("form")) {
    if (form.querySelector('input[name="sse"]') && !form.hidden) showKmsFields(form);
  }

  async function loadKeys(container) {
    const select = container.querySelector("select[data-keys]");
    const status = container.querySelector(".key-status");
    if (!select || select.dataset.loaded) return;
    select.dataset.loaded = "1";
    setText(status, label("tLoading"));
    status.className = "key-status";
    try {
      const answer = await fetch(select.dataset.keys, { credentials: "same-origin" });
      const body = await answer.json();
      if (!answer.ok) {
        setText(status, body.message || body.error || String(answer.status));
        status.className = "key-status error missing-permission";
        return;
      }
      const usable = body.keys.filter((k) => k.state === "Enabled");
      for (const key of usable) {
        const option = document.createElement("option");
        option.value = key.id;
        const names = key.aliases.length ? key.aliases.join(", ") + " · " : "";
        option.textContent = names + key.id + " (" + key.spec + ")";
        if (select.dataset.selected === key.id) option.selected = true;
        select.appendChild(option);
      }
      setText(status, usable.length ? "" : label("tNokeys"));
    } catch (err) {
      setText(status, String(err));
      status.className = "key-status error";
    }
  }

  // Deleting asks first.
  document.addEventListener("submit", (event) => {
    if (event.target.classList.contains("delete") && !window.confirm(label("tDeleteConfirm"))) {
      event.preventDefault();
    }
  });

  // Uploads.
  const upload = document.getElementById("upload");
  if (upload) {
    upload.addEventListener("submit", async (event) => {
      event.preventDefault();
      const files = document.getElementById("upload-file").files;
      const list = document.getElementById("uploads");
      for (const file of files) {
        const row = document.createElement("div");
        row.className = "upload-row";
        const name = document.createElement("span");
        setText(name, file.name);
        const bar = document.createElement("progress");
        bar.max = file.size || 1;
        bar.value = 0;
        const state = document.createElement("span");
        state.className = "upload-state";
        row.append(name, bar, state);
        list.appendChild(row);
        try {
          await uploadFile(upload.dataset, file, (sent) => {
            bar.value = sent;
            setText(state, Math.floor((100 * sent) / (file.size || 1)) + "%");
          });
          bar.value = bar.max;
          setText(state, label("tUploadDone"));
          row.classList.add("done");
        } catch (err) {
          setText(state, label("tUploadFailed") + ": " + err.message);
          row.classList.add("failed");
          return;
        }
      }
      window.location.reload();
    });
  }

  function api(method, url, body, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("x-cang-csrf", csrf());
      if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
      xhr.onload = () => {
        let answer = {};
        try {
          answer = JSON.parse(xhr.responseText || "{}");
        } catch (err) {
          answer = {};
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(answer);
        else reject(new Error(answer.message || answer.error || "HTTP " + xhr.status));
      };
      xhr.onerror = () => reject(new Error("network error"));
      xhr.send(body);
    });
  }

  async function uploadFile(target, file, progress) {
    const base = "/api/b/" + encodeURIComponent(target.bucket);
    const key = encodeURIComponent(target.prefix + file.name);
    const partSize = Number(target.partSize);
    if (file.size <= partSize) {
      await api("PUT", base + "/object?key=" + key, file, progress);
      return;
    }
    const started = await api("POST", base + "/multipart?key=" + key, null);
    const upload = encodeURIComponent(started.uploadId);
    const parts = [];
    try {
      for (let offset = 0, number = 1; offset < file.size; offset += partSize, number += 1) {
        const chunk = file.slice(offset, Math.min(offset + partSize, file.size));
        const done = await api(
          "PUT",
          base + "/part?key=" + key + "&uploadId=" + upload + "&partNumber=" + number,
          chunk,
          (sent) => progress(offset + sent),
        );
        parts.push({ partNumber: number, etag: done.etag });
      }
      await api(
        "POST",
        base + "/complete?key=" + key + "&uploadId=" + upload,
        JSON.stringify({ parts: parts }),
      );
    } catch (err) {
      await api("DELETE", base + "/multipart?key=" + key + "&uploadId=" + upload, null).catch(() => {});
      throw err;
    }
  }
})();
