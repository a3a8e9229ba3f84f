// Exam page (EXM-03, EXM-04): countdown from the server's time left, a navigator of answered questions, every
// answer saved the moment it is given (one request per answer, retried until it lands; kept in localStorage while
// offline), the paper submitted at the end, leaving the page reported.

function csrfToken() {
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(data.message || response.statusText), { data, status: response.status });
  return data;
}

function setup(root) {
  const id = root.dataset.attemptId;
  const msg = (name) => root.dataset[name];
  const state = root.querySelector("[data-testid=save-state]");
  const countdown = root.querySelector("[data-testid=countdown]");
  const storeKey = `safetrain-exam-${id}`;
  const pending = new Map(Object.entries(JSON.parse(localStorage.getItem(storeKey) || "{}")));
  let closed = false;
  let sending = false;

  const keep = () => localStorage.setItem(storeKey, JSON.stringify(Object.fromEntries(pending)));
  const show = () => {
    if (closed) return;
    if (!pending.size) {
      state.textContent = msg("msgSaved");
      root.dataset.saved = "true";
    } else {
      root.dataset.saved = "false";
      state.textContent = navigator.onLine ? msg("msgSaving") : msg("msgOffline");
    }
  };

  const valueOf = (fieldset) => {
    if (fieldset.dataset.kind === "fill") {
      return Array.from(fieldset.querySelectorAll("input[data-blank]")).map((i) => i.value);
    }
    return Array.from(fieldset.querySelectorAll("input:checked")).map((i) => Number(i.value));
  };
  const answered = (fieldset) => {
    const value = valueOf(fieldset);
    return fieldset.dataset.kind === "fill" ? value.some((v) => v.trim()) : value.length > 0;
  };

  // Send what is pending, oldest first; a failure leaves it pending and tries again shortly.
  const flush = async () => {
    if (sending || closed) return;
    sending = true;
    try {
      for (const [question, value] of Array.from(pending.entries())) {
        try {
          await call("PUT", `/api/v1/attempts/${id}/answers/${question}`, { value });
          if (JSON.stringify(pending.get(question)) === JSON.stringify(value)) pending.delete(question);
          keep();
        } catch (err) {
          if (err.status === 409) return finish(); // submitted (time up)
          if (err.status && err.status < 500 && err.status !== 429) {
            pending.delete(question); // refused for good: the message says why
            keep();
            state.textContent = err.message;
            continue;
          }
          break; // network or server trouble: try again later
        }
      }
    } finally {
      sending = false;
      show();
    }
  };
  setInterval(flush, 3000);
  window.addEventListener("online", flush);
  window.addEventListener("offline", show);

  root.querySelectorAll("[data-question]").forEach((fieldset) => {
    const save = () => {
      pending.set(fieldset.dataset.question, valueOf(fieldset));
      keep();
      root.querySelector(`[data-nav="${fieldset.dataset.question}"]`).classList.toggle("answered", answered(fieldset));
      show();
      flush();
    };
    fieldset.addEventListener("change", save);
    fieldset.querySelectorAll("input[data-blank]").forEach((input) => input.addEventListener("blur", save));
  });
  // Answers given while offline before a reload are restored on the page and sent.
  for (const [question, value] of pending) {
    const fieldset = root.querySelector(`[data-question="${question}"]`);
    if (!fieldset) continue;
    if (fieldset.dataset.kind === "fill") {
      fieldset.querySelectorAll("input[data-blank]").forEach((input, i) => (input.value = value[i] || ""));
    } else {
      fieldset.querySelectorAll("input").forEach((input) => (input.checked = value.includes(Number(input.value))));
    }
    root.querySelector(`[data-nav="${question}"]`).classList.toggle("answered", answered(fieldset));
  }
  show();
  flush();

  const finish = () => {
    closed = true;
    localStorage.removeItem(storeKey);
    state.textContent = msg("msgClosed");
    window.location.href = root.dataset.resultUrl;
  };
  const submit = async () => {
    await flush();
    try {
      await call("POST", `/api/v1/attempts/${id}/submit`);
      finish();
    } catch (err) {
      if (err.status === 409 || err.status === 404) finish();
      else state.textContent = err.message || msg("msgOffline");
    }
  };
  root.querySelector("[data-testid=submit-paper]").addEventListener("click", () => {
    const open = Array.from(root.querySelectorAll("[data-question]")).filter((f) => !answered(f)).length;
    const note = open ? `\n${msg("msgUnanswered").replace("{n}", open)}` : "";
    if (window.confirm(`${msg("msgConfirm")}${note}`)) submit();
  });

  // The server keeps the time; the page counts down from what it said and submits at zero.
  const end = Date.now() + Number(root.dataset.remaining) * 1000;
  const tick = () => {
    const left = Math.max(0, Math.round((end - Date.now()) / 1000));
    const h = Math.floor(left / 3600);
    const m = Math.floor((left % 3600) / 60);
    const s = left % 60;
    countdown.textContent = `${h ? `${h}:` : ""}${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
    if (left === 0 && !closed) submit();
  };
  tick();
  setInterval(tick, 1000);

  // Leaving the exam page is recorded (exams only).
  if (root.dataset.kind === "exam") {
    const report = (kind) => call("POST", `/api/v1/attempts/${id}/events`, { kind }).catch(() => {});
    window.addEventListener("blur", () => report("blur"));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") report("hidden");
    });
  }
}

document.querySelectorAll("[data-exam]").forEach(setup);
