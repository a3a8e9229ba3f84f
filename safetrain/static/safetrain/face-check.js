// Face check panel (FACE-01..03): camera preview with a face guide, the server's liveness challenge, frames
// captured into a canvas and sent for verification. The server decides; this page only shows and reports.
// Used by the sign-in check page, the lesson player and the exam pages (start and during the exam).

function csrfToken() {
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body || {}),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(data.message || response.statusText), { data, status: response.status });
  return data;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Seconds of countdown between the instruction and the first frame (FACE-02): time to read it and get ready.
const COUNTDOWN_SECONDS = 3;

class FaceCheck {
  // panel: the element rendered by proctoring/_face_check.html; options: {purpose, studySessionId, onDone}
  constructor(panel, options) {
    this.panel = panel;
    this.options = options;
    this.video = panel.querySelector("video");
    this.status = panel.querySelector("[data-testid=face-status]");
    this.instruction = panel.querySelector("[data-testid=face-instruction]");
    this.button = panel.querySelector("[data-testid=face-start]");
    this.countdown = panel.querySelector("[data-testid=face-countdown]");
    this.stream = null;
    this.busy = false;
    this.button.addEventListener("click", () => this.run());
    this.button.disabled = false; // the page renders it disabled until this listener exists
  }

  msg(name) {
    return this.panel.dataset[name] || "";
  }

  say(text, kind) {
    this.status.textContent = text;
    this.status.className = kind ? `msg ${kind}` : "";
    this.panel.dataset.state = kind || "";
  }

  // The step the check is in (countdown, capturing, checking, passed, failed): shown by CSS, read by the tests.
  phase(name) {
    this.panel.dataset.phase = name;
  }

  // The instruction first, then 3-2-1, so the learner is ready before the first frame (a blink is easily missed).
  async countDown(instruction) {
    this.instruction.textContent = instruction;
    const counter = this.countdown || document.createElement("p"); // a page without the counter still waits
    counter.hidden = false;
    for (let n = COUNTDOWN_SECONDS; n > 0; n -= 1) {
      this.phase(`countdown-${n}`);
      counter.textContent = String(n);
      this.say(this.msg("msgGetReady").replace("{n}", n), "info");
      await sleep(1000);
    }
    counter.hidden = true;
    counter.textContent = "";
  }

  // The server takes seconds to compare faces: say that it is working, with the time so far.
  checking() {
    const started = Date.now();
    const show = () => {
      const seconds = Math.round((Date.now() - started) / 1000);
      this.say(this.msg("msgChecking").replace("{s}", seconds), "info busy");
    };
    this.phase("checking");
    show();
    const timer = setInterval(show, 1000);
    return () => clearInterval(timer);
  }

  async open() {
    this.panel.hidden = false;
    this.panel.scrollIntoView({ block: "center" });
    if (this.stream) return true;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      this.say(this.msg("msgNoCamera"), "error");
      return false;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
        audio: false,
      });
    } catch (err) {
      const denied = err && (err.name === "NotAllowedError" || err.name === "SecurityError");
      this.say(this.msg(denied ? "msgDenied" : "msgNoCamera"), "error");
      this.button.textContent = this.msg("msgRetry");
      return false;
    }
    this.video.srcObject = this.stream;
    await this.video.play().catch(() => {});
    this.say(this.msg("msgReady"), "");
    return true;
  }

  close() {
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    this.stream = null;
    this.video.srcObject = null;
  }

  frame(canvas) {
    const width = this.video.videoWidth || 640;
    const height = this.video.videoHeight || 480;
    const scale = Math.min(1, 640 / width);
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    canvas.getContext("2d").drawImage(this.video, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/jpeg", 0.85);
  }

  async run() {
    if (this.busy) return;
    this.busy = true;
    this.button.disabled = true;
    try {
      if (!(await this.open())) return;
      if (this.video.readyState < 2) await new Promise((r) => this.video.addEventListener("loadeddata", r, { once: true }));
      // A page may name its own endpoints (the exam page: the attempt's checks); the body is theirs to know.
      const paths = this.options.paths || {};
      const challenge = await post(
        paths.challenge || "/api/v1/face-challenges",
        paths.challenge ? {} : { purpose: this.options.purpose, study_session_id: this.options.studySessionId || null },
      );
      this.panel.dataset.challenge = challenge.challenge;
      await this.countDown(challenge.instruction);
      // The instruction stays on screen while the frames are taken.
      this.phase("capturing");
      this.say(this.msg("msgCapturing"), "info");
      const canvas = document.createElement("canvas");
      const frames = [];
      for (let i = 0; i < challenge.frames; i += 1) {
        frames.push(this.frame(canvas));
        if (i < challenge.frames - 1) await sleep(challenge.interval_ms);
      }
      const stop = this.checking();
      let result;
      try {
        result = await post(paths.check || "/api/v1/face-checks", { challenge_id: challenge.id, frames });
      } finally {
        stop();
      }
      this.instruction.textContent = "";
      this.phase(result.passed ? "passed" : "failed");
      if (result.passed) {
        this.say(result.message, "success");
        this.close();
        this.panel.dataset.passed = "true";
        if (this.options.onDone) this.options.onDone(result);
        return;
      }
      if (result.signed_out) {
        this.say(this.msg("msgSignedOut"), "error");
        this.close();
        if (this.options.onDone) this.options.onDone(result);
        window.location.href = `${this.panel.dataset.loginUrl}?ended=face_check_failed`;
        return;
      }
      const left = result.tries_left == null ? "" : ` ${this.msg("msgTriesLeft").replace("{n}", result.tries_left)}`;
      this.say(`${result.message}${left}`, "error");
      this.button.textContent = this.msg("msgRetry");
      if (this.options.onDone) this.options.onDone(result); // a failure may end more than the check (an exam)
    } catch (err) {
      this.phase("failed");
      this.instruction.textContent = "";
      if (this.countdown) this.countdown.hidden = true;
      this.say(err.message || this.msg("msgFailed"), "error");
      this.button.textContent = this.msg("msgRetry");
      if (err.status === 401) window.location.href = `${this.panel.dataset.loginUrl}?ended=${(err.data && err.data.reason) || "logout"}`;
    } finally {
      this.busy = false;
      this.button.disabled = false;
    }
  }
}

window.FaceCheck = FaceCheck; // the player (a separate module) uses it

// The sign-in check page: pass, then go on to where the learner was going.
document.querySelectorAll("[data-face-check][data-standalone]").forEach((panel) => {
  const check = new FaceCheck(panel, {
    purpose: panel.dataset.purpose,
    onDone: (result) => {
      if (result.passed) window.location.href = panel.dataset.next;
    },
  });
  check.open();
});
