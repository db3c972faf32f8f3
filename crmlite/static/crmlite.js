// crmlite behaviour that HTML attributes cannot express. No inline scripts (CSP).
// Sections per area; keep each small.

// == base ==
// htmx does not swap error responses: show their message in the flash area instead.
document.addEventListener("htmx:responseError", (event) => {
  const flash = document.getElementById("flash");
  if (!flash) return;
  const status = event.detail.xhr.status;
  const text = status === 403 ? flash.dataset.forbidden || "You may not do this."
    : status === 413 ? flash.dataset.tooLarge || "This is too large."
    : (flash.dataset.failed || "The server could not do this") + ` (${status}).`;
  const p = document.createElement("p");
  p.className = "flash flash-error";
  p.setAttribute("role", "alert");
  p.textContent = text;
  flash.replaceChildren(p);
});

// == tags ==
// Esc in the inline tag editor cancels it (the Cancel link fetches the plain row again).
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const editor = event.target.closest && event.target.closest(".tag-editor");
  const cancel = editor && editor.querySelector(".tag-cancel");
  if (cancel) {
    event.preventDefault();
    cancel.click();
  }
});

// == contact ==
// Inline edits on the contact page: Esc cancels (clicks the form's Cancel, an hx-get that
// swaps the plain value back); Enter in a select, or Ctrl/Cmd+Enter in the notes, saves.
document.addEventListener("keydown", (event) => {
  const form = event.target.closest && event.target.closest("form.inline-edit");
  if (!form) return;
  if (event.key === "Escape") {
    const cancel = form.querySelector("[data-cancel]");
    if (cancel) {
      event.preventDefault();
      cancel.click();
    }
  } else if (event.key === "Enter") {
    const tag = event.target.tagName;
    if (tag === "SELECT" || (tag === "TEXTAREA" && (event.ctrlKey || event.metaKey))) {
      event.preventDefault();
      form.requestSubmit();
    }
  }
});

// == contacts list ==
// Row selection for the bulk bar. Row checkboxes live in the table (form="bulk-form"), so
// rows added by infinite scroll join the same form. Without JS the bar is always shown.
(() => {
  const rowBoxes = (form) =>
    Array.from(document.querySelectorAll(`input[name="ids"][form="${form.id}"]`));

  const refresh = () => {
    const form = document.getElementById("bulk-form");
    if (!form) return;
    form.classList.add("js");
    const boxes = rowBoxes(form);
    const checked = boxes.filter((b) => b.checked).length;
    const all = form.querySelector('input[name="all"]');
    const selecting = checked > 0 || (all && all.checked);
    form.classList.toggle("has-selection", Boolean(selecting));
    const label = form.querySelector(".bulk-selected");
    if (label) {
      const text = (label.dataset.template || "{n}").replace("{n}", checked);
      label.textContent = all && all.checked ? "" : checked ? text : "";
    }
    const pageBox = document.querySelector(".select-page");
    if (pageBox) {
      pageBox.checked = boxes.length > 0 && checked === boxes.length;
      pageBox.indeterminate = checked > 0 && checked < boxes.length;
    }
  };

  document.addEventListener("change", (event) => {
    const el = event.target;
    const form = document.getElementById("bulk-form");
    if (!form || !el.matches) return;
    if (el.matches(".select-page")) {
      rowBoxes(form).forEach((b) => { b.checked = el.checked; });
      const all = form.querySelector('input[name="all"]');
      if (all && !el.checked) all.checked = false;
    } else if (el.matches('#bulk-form input[name="all"]')) {
      // "All matching" covers rows not loaded yet; tick the loaded ones to show it.
      rowBoxes(form).forEach((b) => { b.checked = el.checked; });
    } else if (el.matches('input[name="ids"]') && !el.checked) {
      const all = form.querySelector('input[name="all"]');
      if (all) all.checked = false;
    } else if (!el.matches('input[name="ids"]')) {
      return;
    }
    refresh();
  });

  // New rows (infinite scroll) inherit "all matching"; a fresh results block starts clean.
  document.addEventListener("htmx:load", (event) => {
    const all = document.querySelector('#bulk-form input[name="all"]');
    if (all && all.checked && event.target.querySelectorAll) {
      event.target.querySelectorAll('input[name="ids"]').forEach((b) => { b.checked = true; });
    }
    refresh();
  });
  document.addEventListener("DOMContentLoaded", refresh);
})();

// == reminders ==
// The add form's quick picks (tomorrow, in a week, in a month) fill in the due date.
document.addEventListener("click", (event) => {
  const pick = event.target.closest && event.target.closest(".reminder-picks [data-due]");
  if (!pick) return;
  const input = pick.closest("form").querySelector('input[name="due_on"]');
  if (input) input.value = pick.dataset.due;
});
