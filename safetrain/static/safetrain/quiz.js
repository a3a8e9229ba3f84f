// The lesson quiz's countdown (QZ-01). The server keeps the deadline; this only shows the seconds left and submits
// the answers when they run out.
const timer = document.querySelector("[data-testid=quiz-timer]");
const form = document.querySelector("[data-testid=quiz-form]");
if (timer && form) {
  let left = Number(timer.dataset.seconds);
  const tick = setInterval(() => {
    left = Math.max(0, left - 1);
    timer.textContent = String(left);
    if (left === 0) {
      clearInterval(tick);
      form.submit();
    }
  }, 1000);
}
