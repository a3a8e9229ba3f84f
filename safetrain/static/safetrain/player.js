// Lesson player (CAT-05, LRN-01..03, ANTI-01..03): HLS through hls.js, quality choice, and the study session.
// The server credits time from the heartbeats; this page only reports honestly and enforces the visible rules:
// resume where the learner stopped, no seeking past the furthest point, rate 1, pause when the page is hidden
// or loses focus, hand over to a newer tab or device, sign out after the idle time.

function setupVideo(root, video) {
  const select = root.querySelector("[data-testid=quality]");
  const current = root.querySelector("[data-testid=current-quality]");
  const error = root.querySelector("[data-testid=player-error]");
  const src = root.dataset.src;
  const labels = Array.from(select.options).slice(1).map((o) => o.textContent);
  const showError = (text) => {
    error.textContent = text;
    error.hidden = false;
  };
  if (window.Hls && window.Hls.isSupported()) {
    const hls = new window.Hls({ capLevelToPlayerSize: false, startLevel: 0 });
    hls.loadSource(src);
    hls.attachMedia(video);
    hls.on(window.Hls.Events.LEVEL_SWITCHED, (_event, data) => {
      current.textContent = labels[data.level] || String(data.level);
      root.dataset.level = String(data.level);
    });
    hls.on(window.Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) showError(`${root.dataset.msgLoadFailed} (${data.details})`);
    });
    select.addEventListener("change", () => {
      const level = Number(select.value);
      hls.currentLevel = level; // switches at once; -1 returns to automatic selection
      if (level === -1) hls.nextLevel = -1;
    });
    root.hls = hls;
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = src;
    select.disabled = true;
    current.textContent = select.options[0].textContent;
  } else {
    showError(root.dataset.msgUnsupported);
  }
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function api(path, body, extraHeaders) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    keepalive: true,
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), ...(extraHeaders || {}) },
    body: JSON.stringify(body || {}),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(data.message || response.statusText), { data, status: response.status });
  return data;
}

// Seconds as the player shows them: 74 -> "1:14" (never rounded up).
function clock(seconds) {
  const whole = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

function setupStudy(root, video) {
  const notice = root.querySelector("[data-testid=study-notice]");
  const credited = root.querySelector("[data-testid=credited]");
  // A watched video completes the lesson, unless its quiz is still to be passed (QZ-01): then the page says so.
  const done = root.querySelector("[data-testid=lesson-done]");
  const watchedNote = root.querySelector("[data-testid=lesson-watched]");
  const quizLink = root.querySelector("[data-testid=quiz-link]");
  const gap = root.querySelector("[data-testid=study-gap]");
  const gapButton = root.querySelector("[data-testid=play-gap]");
  const say = (text) => {
    notice.textContent = text;
    notice.hidden = !text;
  };
  const msg = (name) => root.dataset[name];
  // LRN-05: what is still to be watched, and a button that plays it (going back is always allowed).
  const gapText = (data) =>
    msg("msgGap").replace("{missing}", clock(Math.ceil(data.missing_seconds))).replace("{start}", clock(data.gap_start));
  const showProgress = (data) => {
    credited.textContent = clock(data.lesson_credited);
    root.dataset.creditedSeconds = String(data.lesson_credited);
    if (done) done.hidden = !data.completed;
    if (watchedNote) {
      watchedNote.hidden = !data.completed;
      if (data.completed) quizLink.hidden = false;
    }
    // Not while playback is simply filling the first unwatched part (the point moves on with every beat).
    const open =
      !data.completed &&
      data.gap_start != null &&
      data.lesson_credited > 0 &&
      (video.paused || video.currentTime > data.gap_start + 5);
    gap.hidden = !open;
    if (open) {
      gap.querySelector("[data-testid=gap-text]").textContent = gapText(data);
      gapButton.dataset.seek = String(data.gap_start);
      gapButton.textContent = msg("msgPlayFrom").replace("{start}", clock(data.gap_start));
    }
  };
  gapButton.addEventListener("click", () => {
    if (state.stopped) return;
    video.currentTime = Number(gapButton.dataset.seek);
    video.play().catch(() => {});
  });
  const state = { session: null, seq: 0, furthest: 0, stopped: false, lastInteraction: Date.now() };
  root.study = state;

  const stop = (text) => {
    state.stopped = true;
    video.pause();
    video.controls = false;
    say(text);
    root.dataset.stopped = "true";
  };

  // Beats go out one at a time, in order: a pause beat and a timer beat never overtake each other.
  let queue = Promise.resolve();
  const beat = (report) => {
    const send = () => sendBeat(report);
    queue = queue.then(send, send);
    return queue;
  };
  const sendBeat = async (report) => {
    if (!state.session || state.stopped) return null;
    state.seq += 1;
    const body = {
      seq: state.seq,
      position: video.currentTime,
      playing: !video.paused && !video.ended,
      visible: document.visibilityState === "visible",
      focused: document.hasFocus(),
      rate: video.playbackRate,
      ...(report || {}),
    };
    const sentSeq = state.seq;
    try {
      // The page's heartbeat key lets the server answer the beat without the page stack.
      const data = await api(`/api/v1/study-sessions/${state.session.id}/heartbeats`, body, {
        "X-Study-Key": state.session.heartbeat_key,
      });
      showProgress(data);
      state.furthest = Math.max(state.furthest, data.furthest_position);
      if (data.next_action === "signed_out" && data.reasons && data.reasons.includes("face_check_timeout")) {
        stop(root.querySelector("[data-face-check]").dataset.msgSignedOut);
        window.location.href = `${root.dataset.loginUrl}?ended=face_check_failed`;
      } else if (data.state !== "active" || data.next_action === "signed_out") stop(msg("msgHandedOver"));
      else if (data.next_action === "verify_face") {
        if (sentSeq > state.faceClearedSeq) askFace(); // a beat sent before the last pass is old news
      } else if (state.faceDue && sentSeq > state.faceClearedSeq) clearFace(); // the server no longer asks
      else if (data.next_action === "daily_cap_reached") stop(msg("msgDailyCap"));
      else if (data.next_action === "quiz" && !state.quizShown) {
        state.quizShown = true;
        video.pause();
        if (!watchedNote) say(msg("msgQuiz")); // the note under the player already says it
        quizLink.hidden = false;
      }
      return data;
    } catch (err) {
      if (err.status === 401 || err.status === 403) stop(err.message || msg("msgSignedOut"));
    }
    return null;
  };

  // Identity check while studying (FACE-01): when the server asks, playback pauses until a check passes.
  const panel = root.querySelector("[data-face-check]");
  let face = null;
  state.faceClearedSeq = 0;
  const clearFace = () => {
    state.faceDue = false;
    state.faceClearedSeq = state.seq;
    root.dataset.faceDue = "false";
    panel.hidden = true;
    if (face) face.close();
  };
  const askFace = () => {
    if (state.faceDue) return;
    state.faceDue = true;
    root.dataset.faceDue = "true";
    video.pause();
    if (!root.dataset.hasPhoto) {
      say(msg("msgFacePhoto"));
      root.querySelector("[data-testid=photo-link]").hidden = false;
      return;
    }
    say(msg("msgFaceDue"));
    if (!face) {
      face = new window.FaceCheck(panel, {
        purpose: "study",
        studySessionId: state.session.id,
        onDone: (result) => {
          if (!result.passed) return;
          clearFace();
          panel.dataset.passed = "";
          if (result.resume_position != null) {
            // Back to where crediting stopped: nothing after the due moment counted, so it is watched again.
            state.furthest = result.resume_position;
            video.currentTime = result.resume_position;
          }
          say(msg("msgFaceOk"));
        },
      });
    }
    face.open();
  };
  video.addEventListener("play", () => {
    if (state.faceDue) video.pause(); // no playing past a due identity check
  });

  api("/api/v1/study-sessions", { lesson_id: Number(root.dataset.lessonId) })
    .then((session) => {
      state.session = session;
      state.furthest = session.furthest_position;
      root.dataset.sessionId = String(session.id);
      const resume = () => {
        // LRN-03: where the learner stopped, on any device, or the first part not yet watched; the server's
        // crediting starts at this same point, so the page must start playing exactly there.
        if (session.resume_position > 0) video.currentTime = Math.min(session.resume_position, video.duration);
        root.dataset.ready = "true";
      };
      if (video.readyState >= 1) resume();
      else video.addEventListener("loadedmetadata", resume, { once: true });
      setInterval(beat, session.heartbeat_interval * 1000);
    })
    .catch((err) => stop(err.message));

  // No seeking past the furthest point already watched (LRN-02); going back is allowed.
  video.addEventListener("timeupdate", () => {
    if (!video.seeking && !video.paused && video.currentTime <= state.furthest + 2) {
      state.furthest = Math.max(state.furthest, video.currentTime);
    }
  });
  video.addEventListener("seeking", () => {
    if (video.currentTime > state.furthest + 1) {
      video.currentTime = state.furthest;
      say(msg("msgNoSeek"));
    }
  });
  // Normal speed only (ANTI-04).
  video.addEventListener("ratechange", () => {
    if (video.playbackRate !== 1) {
      video.playbackRate = 1;
      say(msg("msgRate"));
    }
  });
  // Hidden page or lost focus: pause, say why, report it at once (ANTI-01).
  const pauseAway = () => {
    if (!video.paused && !state.stopped) {
      video.pause(); // the "pause" event reports it
      say(msg("msgPaused"));
    }
  };
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") pauseAway();
  });
  window.addEventListener("blur", pauseAway);
  video.addEventListener("play", () => {
    if (!state.stopped && notice.textContent === msg("msgPaused")) say("");
  });
  // A seek moves where the next stretch starts (going back is allowed: re-watching an unwatched part credits it).
  // It is reported at once as a paused beat at the new position, so the seconds played from there count; a
  // paused beat earns nothing by itself and the usual rules (no skipping ahead) apply to it.
  video.addEventListener("seeked", () => {
    // A jump ahead is undone by the "seeking" handler below; only the allowed point it ends at is reported.
    if (!state.faceDue && video.currentTime <= state.furthest + 1) beat({ position: video.currentTime, playing: false });
  });
  video.addEventListener("pause", () => beat());
  // At the end, say whether the lesson is complete or what is still missing (LRN-05).
  video.addEventListener("ended", () =>
    beat().then((data) => {
      if (!data || state.stopped || state.faceDue || data.next_action) return;
      say(data.completed ? msg("msgDone") : data.gap_start != null ? gapText(data) : "");
    }),
  );

  // Idle sign-out (ANTI-02): no interaction for the profile's idle time.
  for (const name of ["mousemove", "keydown", "touchstart", "click", "scroll"]) {
    window.addEventListener(name, () => (state.lastInteraction = Date.now()), { passive: true });
  }
  const idleMs = Number(root.dataset.idleMinutes) * 60 * 1000;
  setInterval(async () => {
    if (!state.stopped && Date.now() - state.lastInteraction > idleMs) {
      stop(msg("msgIdle"));
      await api("/api/v1/auth/logout").catch(() => {});
      window.location.href = `${root.dataset.loginUrl}?ended=idle`;
    }
  }, 10000);
  window.addEventListener("pagehide", () => {
    if (state.session && !state.stopped) api(`/api/v1/study-sessions/${state.session.id}/close`).catch(() => {});
  });
}

document.querySelectorAll("[data-player]").forEach((root) => {
  const video = root.querySelector("video");
  setupVideo(root, video);
  if (root.dataset.lessonId) setupStudy(root, video);
});
