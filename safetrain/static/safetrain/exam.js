// Exam pages (EXM-03, EXM-04, FACE-01). The paper: countdown from the server's time left, a navigator of answered
// questions, every answer saved the moment it is given (one request per answer, retried until it lands; kept in
// localStorage while offline), the paper submitted at the end, leaving the page reported, and the identity checks
// the server asks for during the exam (the camera panel opens; answering and the countdown go on meanwhile).
// The start page: the start button opens once the face check at the start has passed.

function csrfToken() {
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function call(method, path, body, headers = {}) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(data.message || response.statusText), { data, status: response.status });
  return data;
}

function setup(root) {
  const id = root.dataset.attemptId;
  // The paper's key for this sign-in: with it the server saves an answer without its page stack.
  const answerHeaders = root.dataset.examKey ? { "X-Exam-Key": root.dataset.examKey } : {};
  const msg = (name) => root.dataset[name];
  const state = root.querySelector("[data-testid=save-state]");
  const countdown = root.querySelector("[data-testid=countdown]");
  const storeKey = `safetrain-exam-${id}`;
  const pending = new Map(Object.entries(JSON.parse(localStorage.getItem(storeKey) || "{}"))); // question -> {value, at}
  let closed = false;
  const face = { due: false, check: null, ask: () => {} }; // the identity checks during the exam (below)
  // The paper is saved answer by answer: the form itself is never sent (Enter in a blank does nothing).
  root.querySelector("[data-testid=paper]").addEventListener("submit", (event) => event.preventDefault());

  const keep = () => localStorage.setItem(storeKey, JSON.stringify(Object.fromEntries(pending)));
  let problem = ""; // a message that must stay on screen (signed out, refused answer)
  const show = () => {
    if (closed) return;
    root.dataset.saved = pending.size ? "false" : "true";
    if (problem) state.textContent = problem;
    else if (!pending.size) state.textContent = msg("msgSaved");
    else state.textContent = navigator.onLine ? msg("msgSaving") : msg("msgOffline");
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

  // Send what is pending, oldest first. Nothing pending is ever dropped except an answer the server refuses for
  // good (a 400/404/422 with its message); signed out (401/403) keeps everything here until the learner is back.
  let flushing = null;
  const sendAll = async () => {
    try {
      for (const [question, entry] of Array.from(pending.entries())) {
        try {
          await call("PUT", `/api/v1/attempts/${id}/answers/${question}`, { value: entry.value }, answerHeaders);
          if (pending.get(question) === entry) pending.delete(question);
          keep();
          problem = "";
        } catch (err) {
          if (err.status === 409) return finish(); // submitted (time up)
          if (err.status === 401 || err.status === 403) {
            problem = msg("msgSignIn");
            break;
          }
          if ([400, 404, 422].includes(err.status)) {
            if (pending.get(question) === entry) pending.delete(question);
            keep();
            problem = err.message;
            continue;
          }
          break; // network or server trouble: try again shortly
        }
      }
    } finally {
      show();
    }
  };
  const flush = () => {
    if (closed) return Promise.resolve();
    if (!flushing) flushing = sendAll().finally(() => (flushing = null));
    return flushing;
  };
  setInterval(flush, 3000);
  window.addEventListener("online", flush);
  window.addEventListener("offline", show);
  // The exam has its own deadline: keep the signed-in session alive while the page is open.
  setInterval(() => fetch("/api/v1/me", { credentials: "same-origin" }).catch(() => {}), 5 * 60 * 1000);

  // The navigator (UX-01): folded on phones, with the answered / unanswered counts in its summary line.
  const navBox = root.querySelector("[data-testid=navigator-box]");
  const phone = window.matchMedia("(max-width: 640px)");
  if (navBox && phone.matches) navBox.open = false;
  root.querySelectorAll("[data-nav]").forEach((link) =>
    link.addEventListener("click", () => {
      if (navBox && phone.matches) navBox.open = false;
    }),
  );
  const counts = () => {
    const total = root.querySelectorAll("[data-nav]").length;
    const done = root.querySelectorAll("[data-nav].answered").length;
    const answeredEl = root.querySelector("[data-nav-answered]");
    const openEl = root.querySelector("[data-nav-open]");
    if (answeredEl) answeredEl.textContent = String(done);
    if (openEl) openEl.textContent = String(total - done);
  };

  root.querySelectorAll("[data-question]").forEach((fieldset) => {
    const save = () => {
      pending.set(fieldset.dataset.question, { value: valueOf(fieldset), at: Date.now() });
      keep();
      root.querySelector(`[data-nav="${fieldset.dataset.question}"]`).classList.toggle("answered", answered(fieldset));
      counts();
      show();
      flush();
    };
    fieldset.addEventListener("change", save);
    let typing = null;
    fieldset.querySelectorAll("input[data-blank]").forEach((input) => {
      input.addEventListener("input", () => {
        // Kept here at once; sent when typing pauses.
        pending.set(fieldset.dataset.question, { value: valueOf(fieldset), at: Date.now() });
        keep();
        clearTimeout(typing);
        typing = setTimeout(save, 800);
      });
    });
  });
  // Answers given here but not yet saved (offline, signed out) come back after a reload and are sent, unless the
  // server has a newer answer to that question (given later on another computer).
  for (const [question, entry] of Array.from(pending.entries())) {
    const fieldset = root.querySelector(`[data-question="${question}"]`);
    if (!fieldset || !entry || typeof entry !== "object" || entry.at < Number(fieldset.dataset.savedAt || 0)) {
      pending.delete(question);
      continue;
    }
    const value = entry.value;
    if (fieldset.dataset.kind === "fill") {
      fieldset.querySelectorAll("input[data-blank]").forEach((input, i) => (input.value = value[i] || ""));
    } else {
      fieldset.querySelectorAll("input").forEach((input) => (input.checked = value.includes(Number(input.value))));
    }
    root.querySelector(`[data-nav="${question}"]`).classList.toggle("answered", answered(fieldset));
  }
  counts();
  keep();
  show();
  flush();

  const finish = () => {
    closed = true;
    if (!pending.size) localStorage.removeItem(storeKey); // anything unsaved stays for the record
    state.textContent = msg("msgClosed");
    window.location.href = root.dataset.resultUrl;
  };
  const submit = async (timeUp) => {
    await flush();
    if (pending.size && !timeUp) {
      // Not everything is saved yet: submitting now would score without it.
      state.textContent = problem || msg("msgNotSaved");
      return;
    }
    if (face.due && !timeUp) {
      state.textContent = msg("msgFaceFirst"); // the server refuses it too
      return;
    }
    try {
      await call("POST", `/api/v1/attempts/${id}/submit`);
      finish();
    } catch (err) {
      if (err.data && err.data.code === "face_check_due") {
        face.ask();
        state.textContent = err.message;
      } else if (err.status === 409 || err.status === 404) finish();
      else state.textContent = err.status === 401 || err.status === 403 ? msg("msgSignIn") : err.message || msg("msgOffline");
    }
  };
  root.querySelector("[data-testid=submit-paper]").addEventListener("click", () => {
    const open = Array.from(root.querySelectorAll("[data-question]")).filter((f) => !answered(f)).length;
    const note = open ? `\n${msg("msgUnanswered").replace("{n}", open)}` : "";
    if (window.confirm(`${msg("msgConfirm")}${note}`)) submit(false);
  });

  // The server keeps the time; the page counts down from what it said and submits at zero.
  const end = Date.now() + Number(root.dataset.remaining) * 1000;
  const tick = () => {
    const left = Math.max(0, Math.round((end - Date.now()) / 1000));
    const h = Math.floor(left / 3600);
    const m = Math.floor((left % 3600) / 60);
    const s = left % 60;
    countdown.textContent = `${h ? `${h}:` : ""}${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
    if (left === 0 && !closed && !state.dataset.timeUp) {
      state.dataset.timeUp = "1";
      submit(true); // the server submits at the deadline in any case
    }
  };
  tick();
  setInterval(tick, 1000);

  // Identity checks during the exam (FACE-01, GD#11): the server picks the moments at random and says only that a
  // check is due, never when the next one comes. The page asks every few seconds; a due check opens the camera panel
  // while answering and the countdown go on. The server keeps the rule (docs/features.md): the paper cannot be
  // submitted while a check is due, and a check not passed in time ends the attempt or flags it for review.
  if (root.dataset.faceChecks === "true") {
    const panel = root.querySelector("[data-face-check]");
    const notice = root.querySelector("[data-testid=face-notice]");
    const say = (text) => {
      notice.textContent = text;
      notice.hidden = !text;
    };
    face.clear = () => {
      face.due = false;
      root.dataset.faceDue = "false";
      panel.hidden = true;
      if (face.check) face.check.close();
    };
    face.ask = () => {
      if (face.due || closed) return;
      face.due = true;
      root.dataset.faceDue = "true";
      say(msg("msgFaceDue"));
      if (!face.check) {
        face.check = new window.FaceCheck(panel, {
          purpose: "exam",
          paths: { challenge: `/api/v1/attempts/${id}/face-challenges`, check: `/api/v1/attempts/${id}/face-checks` },
          onDone: (result) => {
            if (result.ended) {
              say(msg("msgFaceEnded"));
              flush().finally(() => closed || finish());
            } else if (result.passed) {
              face.clear();
              say(msg("msgFaceOk"));
            }
          },
        });
      }
      face.check.open();
    };
    const poll = async () => {
      if (closed) return;
      try {
        const data = await call("GET", `/api/v1/attempts/${id}/face-check`);
        if (data.submitted) return flush().finally(() => closed || finish());
        if (data.due) face.ask();
        else if (face.due) {
          face.clear();
          say("");
        }
      } catch (err) {
        // network trouble: asked again shortly; a closed attempt answers 409 on the next save
      }
    };
    setInterval(poll, Number(root.dataset.facePollSeconds || 10) * 1000);
    poll();
  }

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

// The start page (FACE-01): every exam attempt starts with a face check; the start button opens when it passes.
document.querySelectorAll("[data-exam-start]").forEach((form) => {
  const panel = document.querySelector("[data-face-check]");
  if (!panel || !window.FaceCheck) return;
  const button = form.querySelector("[data-testid=start-button]");
  const hint = form.querySelector("[data-testid=start-after-check]");
  const check = new window.FaceCheck(panel, {
    purpose: "exam",
    onDone: (result) => {
      if (!result.passed) return;
      // One button at a time: the check's button goes, the exam's start button comes.
      panel.querySelector("[data-testid=face-start]").hidden = true;
      if (hint) hint.hidden = true;
      button.hidden = false;
      button.disabled = false;
      button.focus();
    },
  });
  check.open();
});
