// Lesson player: HLS through hls.js (MSE), native HLS where the browser has it (iOS Safari).
// The learner picks 流畅 / 标清 / 高清 or automatic quality (CAT-05). Study-time crediting arrives with LRN-01.

function setup(root) {
  const video = root.querySelector("video");
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
      // currentLevel switches at once (flushing the buffer); -1 returns to automatic selection.
      hls.currentLevel = level;
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

document.querySelectorAll("[data-player]").forEach(setup);
