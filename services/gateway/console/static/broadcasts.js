// wxp console, broadcasts page: the new-broadcast form shows only the fields of the message
// type, audience and timing chosen. Without this script every field shows, and the server
// reads only those of the choices made.
"use strict";
(() => {
  const form = document.querySelector(".broadcast-form");
  if (!form) return;
  const chosen = (name) => {
    const control = form.querySelector(`select[data-chooses="${name}"]`);
    if (control) return control.value;
    const checked = form.querySelector(`input[data-chooses="${name}"]:checked`);
    return checked ? checked.value : "";
  };
  const update = () => {
    for (const name of ["type", "audience", "when"]) {
      const value = chosen(name);
      for (const part of form.querySelectorAll(`[data-for-${name}]`)) {
        part.hidden = !part.getAttribute(`data-for-${name}`).split(" ").includes(value);
      }
    }
  };
  form.addEventListener("change", (event) => {
    if (event.target.closest("[data-chooses]")) update();
  });
  update();
})();
