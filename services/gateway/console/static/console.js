// wxp console: behaviour shared by every page. Loaded as a file: the CSP allows no inline script.
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(() => {
    button.dataset.copied = "1";
    const done = button.dataset.copiedText;
    if (done) button.textContent = done;
  });
});
