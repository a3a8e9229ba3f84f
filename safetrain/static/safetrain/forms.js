// Form behaviour the pages ask for with data attributes instead of inline handlers (the Content-Security-Policy
// runs no inline script). Listening on the document also covers parts htmx swaps in later.
//   <select data-autosubmit>: changing it submits its form (a <noscript> button does it without JavaScript).
//   <input type="checkbox" data-select-all="person">: ticks or clears the checkboxes named "person" in its table.
document.addEventListener("change", (event) => {
  const field = event.target;
  if (!(field instanceof HTMLInputElement || field instanceof HTMLSelectElement)) return;
  if (field.hasAttribute("data-autosubmit") && field.form) {
    field.form.submit();
  } else if (field.type === "checkbox" && field.dataset.selectAll) {
    const scope = field.closest("table") || field.form || document;
    for (const box of scope.querySelectorAll(`input[type=checkbox][name="${CSS.escape(field.dataset.selectAll)}"]`)) {
      box.checked = field.checked;
    }
  }
});
