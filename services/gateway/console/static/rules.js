// wxp console, rules page: reorder by drag (HTML5 drag and drop), by the move buttons and by
// Alt+ArrowUp/ArrowDown in a row. Each move is saved at once (the whole order, posted in
// turn) and announced in the page's live region. Without script the move buttons post a form.
"use strict";
(() => {
  const table = document.querySelector("table[data-reorder-url]");
  if (!table) return;
  const body = table.tBodies[0];
  const live = document.getElementById(table.dataset.live);
  let dragged = null;
  let saving = Promise.resolve();

  const rows = () => Array.from(body.rows);

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (_) {
      return "";
    }
  }

  function say(template, values) {
    live.textContent = template.replace(/\{(\w+)\}/g, (all, name) =>
      name in values ? String(values[name]) : all);
  }

  function renumber() {
    const all = rows();
    all.forEach((row, index) => {
      row.querySelector("[data-position]").textContent = String(index + 1);
      row.querySelector('[data-move="up"]').disabled = index === 0;
      row.querySelector('[data-move="down"]').disabled = index === all.length - 1;
    });
  }

  function save(row) {
    const order = rows().map((r) => r.dataset.ruleId);
    const position = rows().indexOf(row) + 1;
    const values = { name: row.dataset.ruleName, position, total: order.length };
    saving = saving.then(async () => {
      try {
        const response = await fetch(table.dataset.reorderUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
          body: JSON.stringify({ order }),
        });
        say(response.ok ? table.dataset.movedText : table.dataset.failedText, values);
      } catch (_) {
        say(table.dataset.failedText, values);
      }
    });
  }

  // Moves ``row`` one place up (-1) or down (+1); keeps the focus on ``focus`` (or its
  // row's other move button when ``focus`` is now disabled).
  function move(row, step, focus) {
    const sibling = step < 0 ? row.previousElementSibling : row.nextElementSibling;
    if (!sibling) return;
    if (step < 0) sibling.before(row); else sibling.after(row);
    renumber();
    if (focus) {
      const target = focus.disabled
        ? row.querySelector(`[data-move="${focus.dataset.move === "up" ? "down" : "up"}"]`)
        : focus;
      target.focus();
    }
    save(row);
  }

  body.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-move]");
    if (!button) return;
    event.preventDefault();
    move(button.closest("tr"), button.dataset.move === "up" ? -1 : 1, button);
  });

  body.addEventListener("keydown", (event) => {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
    const row = event.target.closest("tr");
    if (!row) return;
    event.preventDefault();
    const focused = document.activeElement;
    move(row, event.key === "ArrowUp" ? -1 : 1, null);
    if (focused && !focused.disabled) focused.focus();
  });

  body.addEventListener("dragstart", (event) => {
    const handle = event.target.closest && event.target.closest(".handle");
    if (!handle) return;
    dragged = handle.closest("tr");
    dragged.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.ruleId);
    event.dataTransfer.setDragImage(dragged, 12, 12);
  });

  body.addEventListener("dragover", (event) => {
    const over = event.target.closest && event.target.closest("tr");
    if (!dragged || !over) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    rows().forEach((row) => row.classList.toggle("drop-target", row === over && row !== dragged));
  });

  body.addEventListener("drop", (event) => {
    const target = event.target.closest && event.target.closest("tr");
    if (!dragged || !target) return;
    event.preventDefault();
    const row = dragged;
    if (target !== row) {
      // The dropped row takes the target's place: before it from below, after it from above.
      if (rows().indexOf(row) > rows().indexOf(target)) target.before(row); else target.after(row);
      renumber();
      save(row);
    }
  });

  body.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    rows().forEach((row) => row.classList.remove("drop-target"));
    dragged = null;
  });
})();
