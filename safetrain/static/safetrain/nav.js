// The main menu (base.html): its groups are <details> dropdowns and the phone's "菜单" is a checkbox toggle, so
// both work without this script. Here: one group open at a time, a click elsewhere or Escape closes them, and the
// "菜单" label answers the keyboard like a button.
const groups = () => document.querySelectorAll("details.menu-group[open]");

document.addEventListener(
  "toggle",
  (event) => {
    const opened = event.target;
    if (!(opened instanceof HTMLDetailsElement) || !opened.classList.contains("menu-group") || !opened.open) return;
    for (const other of groups()) if (other !== opened) other.open = false;
  },
  true,
);

document.addEventListener("click", (event) => {
  if (event.target instanceof Element && event.target.closest("details.menu-group")) return;
  for (const open of groups()) open.open = false;
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    for (const open of groups()) open.open = false;
    const toggle = document.getElementById("nav-toggle");
    if (toggle) toggle.checked = false;
  } else if ((event.key === "Enter" || event.key === " ") && event.target instanceof Element
             && event.target.matches("label.nav-toggle-button")) {
    event.preventDefault();
    const toggle = document.getElementById(event.target.getAttribute("for"));
    if (toggle) toggle.checked = !toggle.checked;
  }
});
