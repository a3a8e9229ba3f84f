// Video upload with a progress bar (CAT-05): the form is sent with XMLHttpRequest so that the bytes sent can be
// shown; the server's answer is followed as a normal submit would be (the video list after a redirect, or the
// form again with its errors). Without JavaScript the form posts as usual.
const form = document.querySelector("[data-upload-form]");

function bind(node) {
  const box = node.querySelector("[data-upload-progress]");
  if (!box || !window.XMLHttpRequest || !window.FormData) return;
  const bar = box.querySelector("progress");
  const percent = box.querySelector("[data-upload-percent]");
  const done = box.querySelector("[data-upload-done]");
  const failed = box.querySelector("[data-upload-failed]");
  const button = node.querySelector("button[type=submit]");

  node.addEventListener("submit", (event) => {
    event.preventDefault();
    const xhr = new XMLHttpRequest();
    xhr.open("POST", node.action || window.location.href);
    box.hidden = false;
    done.hidden = true;
    failed.hidden = true;
    bar.value = 0;
    percent.textContent = "0%";
    if (button) button.disabled = true;
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      const value = Math.floor((100 * e.loaded) / e.total);
      bar.value = value;
      percent.textContent = `${value}%`;
    });
    xhr.upload.addEventListener("load", () => {
      bar.value = 100;
      percent.textContent = "100%";
      done.hidden = false;  // the server now probes the file: a few seconds more
    });
    xhr.addEventListener("load", () => {
      if (xhr.status < 400 && xhr.responseURL && xhr.responseURL !== window.location.href) {
        window.location.assign(xhr.responseURL);  // the list with the upload banner
        return;
      }
      // The form again with what is wrong, in place of this one.
      const page = new DOMParser().parseFromString(xhr.responseText, "text/html");
      const again = page.querySelector("[data-upload-form]");
      if (again) {
        node.replaceWith(again);
        bind(again);
      } else {
        if (button) button.disabled = false;
        box.hidden = false;
        failed.hidden = false;
      }
    });
    xhr.addEventListener("error", () => {
      if (button) button.disabled = false;
      failed.hidden = false;
    });
    xhr.send(new FormData(node));
  });
}

if (form) bind(form);
