// The quiz builder: settings, the quiz's questions (add, edit, reorder, remove), questions
// from the bank and random draws by tag. Every change goes to the JSON API at once, and the
// page is drawn again from its answer. Plain script, no build step.
(function () {
  "use strict";

  const root = document.getElementById("quiz_builder");
  if (!root) { return; }
  const data = JSON.parse(root.dataset.builder);
  const xsrf = root.dataset.xsrf;
  const api = data.api;
  let quiz = data.quiz;
  let bank = data.bank;
  let editing = null; // the bank question being edited, or null for a new one
  const $ = function (id) { return document.getElementById(id); };
  const status = $("builder_status");

  function say(message, isError) {
    status.textContent = message;
    status.classList.toggle("text-danger", Boolean(isError));
    status.classList.toggle("text-success", !isError && Boolean(message));
  }

  const call = window.CourseHub.api.jsonCaller(xsrf); // api.js

  async function act(work, done) {
    say("Saving…", false);
    try {
      await work();
      say(done, false);
    } catch (error) {
      say(error.message, true);
    }
  }

  const quizApi = function () { return api + "/quizzes/" + quiz.id; };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function (pair) {
      if (pair[0] === "text") { node.textContent = pair[1]; } else { node.setAttribute(pair[0], pair[1]); }
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  // -- settings ----------------------------------------------------------------------------------
  // Dates in the person's time zone (their profile's, else the browser's: api.js).
  function localInput(iso) { return window.CourseHub.toZonedInput(iso); }

  function fromLocal(value) { return window.CourseHub.fromZonedInput(value); }

  function showSettings() {
    $("set_title").value = quiz.title;
    $("set_description").value = quiz.description || "";
    $("set_time_limit").value = quiz.time_limit_minutes || "";
    $("set_attempts").value = quiz.max_attempts || "";
    $("set_opens").value = localInput(quiz.opens_at);
    $("set_due").value = localInput(quiz.due_at);
    $("set_published").checked = quiz.published;
    $("set_show_answers").value = quiz.show_answers || "AFTER_LAST_ATTEMPT";
    $("set_lesson").value = quiz.lesson_id || "";
    $("max_score").textContent = String(quiz.max_score);
    $("builder_title").textContent = quiz.title;
  }

  $("settings_form").addEventListener("submit", function (event) {
    event.preventDefault();
    act(async function () {
      quiz = await call("PATCH", quizApi(), {
        title: $("set_title").value,
        description: $("set_description").value,
        time_limit_minutes: $("set_time_limit").value ? Number($("set_time_limit").value) : null,
        max_attempts: $("set_attempts").value ? Number($("set_attempts").value) : null,
        opens_at: fromLocal($("set_opens").value),
        due_at: fromLocal($("set_due").value),
        published: $("set_published").checked,
        show_answers: $("set_show_answers").value,
        lesson_id: $("set_lesson").value ? Number($("set_lesson").value) : null,
      });
      draw();
    }, "Settings saved.");
  });

  // -- slots -------------------------------------------------------------------------------------
  function slotLabel(slot) {
    if (slot.question) {
      return data.kinds[slot.question.kind] + ": " + (slot.question.title || slot.question.prompt);
    }
    const d = slot.draw;
    return "Random: " + d.count + " question(s) tagged “" + d.tag + "” (" + d.available + " in the bank)";
  }

  function move(slot, step) {
    const ids = quiz.slots.map(function (s) { return s.id; });
    const at = ids.indexOf(slot.id);
    const to = at + step;
    if (to < 0 || to >= ids.length) { return; }
    ids.splice(at, 1);
    ids.splice(to, 0, slot.id);
    act(async function () {
      quiz = await call("PUT", quizApi() + "/slot-order", { slot_ids: ids });
      draw();
    }, "Order saved.");
  }

  function slotItem(slot) {
    const label = slotLabel(slot);
    const points = el("input", {
      type: "number", min: "0.01", step: "any", class: "form-control form-control-sm", style: "width:6rem",
      "aria-label": "Points of " + label,
    });
    points.value = slot.draw ? slot.draw.points_each : slot.points;
    points.addEventListener("change", function () {
      act(async function () {
        quiz = await call("PATCH", quizApi() + "/slots/" + slot.id, { points: points.value === "" ? null : Number(points.value) });
        draw();
      }, "Points saved.");
    });
    const button = function (text, aria, handler) {
      const node = el("button", { type: "button", class: "btn btn-sm btn-outline-secondary", "aria-label": aria, text: text });
      node.addEventListener("click", handler);
      return node;
    };
    const actions = el("div", { class: "slot-actions d-flex gap-1 align-items-center" }, [
      points,
      el("span", { class: "small", text: slot.draw ? "pts each" : "pts" }),
      button("↑", "Move " + label + " up", function () { move(slot, -1); }),
      button("↓", "Move " + label + " down", function () { move(slot, 1); }),
    ]);
    if (slot.question) {
      actions.appendChild(button("Edit", "Edit " + label, function () { openEditor(slot.question); }));
    }
    actions.appendChild(button("Remove", "Remove " + label, function () {
      act(async function () {
        quiz = await call("DELETE", quizApi() + "/slots/" + slot.id);
        draw();
      }, "Removed from the quiz (the bank keeps the question).");
    }));
    const warn = slot.draw && slot.draw.available < slot.draw.count
      ? [el("div", { class: "small text-danger", text: "The bank has too few questions with this tag: students cannot start the quiz." })]
      : [];
    return el("li", { class: "list-group-item d-flex flex-wrap gap-2 align-items-center builder-slot", "data-slot-id": String(slot.id) }, [
      el("div", { class: "me-auto" }, [el("span", { class: "slot-label", text: label })].concat(warn)),
      actions,
    ]);
  }

  function draw() {
    showSettings();
    const list = $("slots");
    list.replaceChildren.apply(list, quiz.slots.map(slotItem));
    if (!quiz.slots.length) {
      list.appendChild(el("li", { class: "list-group-item text-body-secondary", text: "No questions yet." }));
    }
    const select = $("bank_select");
    select.replaceChildren.apply(select, bank.map(function (q) {
      return el("option", { value: String(q.id), text: data.kinds[q.kind] + ": " + (q.title || q.prompt) });
    }));
    const tags = $("tag_list");
    tags.replaceChildren.apply(tags, Object.keys(quiz.tags || {}).map(function (tag) {
      return el("option", { value: tag, text: tag + " (" + quiz.tags[tag] + ")" });
    }));
  }

  $("bank_form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (!$("bank_select").value) { say("The bank has no questions yet; write a new one.", true); return; }
    act(async function () {
      quiz = await call("POST", quizApi() + "/slots", { question_id: Number($("bank_select").value) });
      draw();
    }, "Question added.");
  });

  $("draw_form").addEventListener("submit", function (event) {
    event.preventDefault();
    act(async function () {
      quiz = await call("POST", quizApi() + "/slots", {
        tag: $("draw_tag").value, count: Number($("draw_count").value), points: Number($("draw_points").value),
      });
      draw();
    }, "Random draw added.");
  });

  // -- the question editor -----------------------------------------------------------------------
  const kindSelect = $("q_kind");
  // In the builder's order (the page's JSON sorts the labels' keys), multiple choice first.
  (data.kind_order || Object.keys(data.kinds)).forEach(function (kind) {
    kindSelect.appendChild(el("option", { value: kind, text: data.kinds[kind] }));
  });
  kindSelect.value = "SINGLE_CHOICE";

  function showKindParts() {
    document.querySelectorAll(".kind-part").forEach(function (part) {
      part.classList.toggle("d-none", part.dataset.kinds.split(" ").indexOf(kindSelect.value) < 0);
    });
  }
  kindSelect.addEventListener("change", showKindParts);

  function removable(row) {
    const remove = el("button", { type: "button", class: "btn btn-sm btn-outline-danger", text: "×", "aria-label": "Remove" });
    remove.addEventListener("click", function () { row.remove(); });
    row.appendChild(remove);
    return row;
  }

  function choiceRow(choice) {
    const count = $("choice_rows").children.length + 1;
    const text = el("input", { class: "form-control choice-text", "aria-label": "Choice " + count });
    text.value = choice.text || "";
    const correct = el("input", { type: "checkbox", class: "form-check-input choice-correct", "aria-label": "Choice " + count + " is correct" });
    correct.checked = Boolean(choice.correct);
    $("choice_rows").appendChild(removable(el("div", { class: "choice-row" }, [text, correct])));
  }

  function answerRow(answer) {
    const count = $("answer_rows").children.length + 1;
    const mode = el("select", { class: "form-select answer-mode", style: "width:12rem", "aria-label": "Matching of answer " + count });
    [["exact", "Exact"], ["case_insensitive", "Ignore case"], ["regex", "Regular expression"], ["numeric", "Number"]].forEach(function (pair) {
      mode.appendChild(el("option", { value: pair[0], text: pair[1] }));
    });
    mode.value = answer.mode || "exact";
    const value = el("input", { class: "form-control answer-value", "aria-label": "Accepted answer " + count });
    value.value = answer.value === undefined ? "" : String(answer.value);
    const abs = el("input", { type: "number", step: "any", min: "0", class: "form-control answer-abs", style: "width:7rem", placeholder: "± abs", "aria-label": "Absolute tolerance of answer " + count });
    abs.value = answer.abs_tol || "";
    const rel = el("input", { type: "number", step: "any", min: "0", class: "form-control answer-rel", style: "width:7rem", placeholder: "± rel", "aria-label": "Relative tolerance of answer " + count });
    rel.value = answer.rel_tol || "";
    $("answer_rows").appendChild(removable(el("div", { class: "answer-row" }, [mode, value, abs, rel])));
  }

  $("add_choice").addEventListener("click", function () { choiceRow({}); });
  $("add_answer").addEventListener("click", function () { answerRow({}); });

  function openEditor(question) {
    editing = question;
    const q = question || { kind: "SINGLE_CHOICE", points: 1, choices: [{}, {}], answers: [{}] };
    $("editor_heading").textContent = question ? "Edit question (the bank's copy; quizzes using it change too)" : "New question";
    kindSelect.value = q.kind;
    kindSelect.disabled = false;
    $("q_title").value = q.title || "";
    $("q_points").value = q.points || 1;
    $("q_prompt").value = q.prompt || "";
    $("q_tags").value = (q.tags || []).join(", ");
    $("q_explanation").value = q.explanation || "";
    $("q_shuffle").checked = Boolean(q.shuffle);
    $(q.correct === false ? "q_tf_false" : "q_tf_true").checked = true;
    $("q_display").value = q.display || "";
    $("q_generator").value = generatorText(q.generator);
    $("q_calc_abs").value = q.generator ? q.abs_tol || "" : "";
    $("q_calc_rel").value = q.generator ? q.rel_tol || "" : "";
    $("calculated_part").open = Boolean(q.generator);
    $("q_guidance").value = q.guidance || "";
    $("q_solution").value = q.solution || "def answer():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION\n";
    $("q_tests").value = q.tests || "assert answer() == 42\n";
    $("choice_rows").replaceChildren();
    (q.choices && q.choices.length ? q.choices : [{}, {}]).forEach(choiceRow);
    $("answer_rows").replaceChildren();
    (q.answers && q.answers.length ? q.answers : [{}]).forEach(answerRow);
    showKindParts();
    $("editor").classList.remove("d-none");
    $("q_prompt").focus();
  }

  function numberOrZero(value) { return value === "" ? 0 : Number(value); }

  // A generator made from plain Python is shown as that Python; any other notebook as JSON.
  function generatorText(generator) {
    if (!generator) return "";
    const cells = generator.cells || [];
    const plain = cells.length === 2 && cells[0].source === "seed = 0";
    const text = function (source) { return Array.isArray(source) ? source.join("") : source; };
    return plain ? text(cells[1].source) : JSON.stringify(generator, null, 1);
  }

  function questionFields() {
    const kind = kindSelect.value;
    const fields = {
      kind: kind,
      title: $("q_title").value,
      prompt: $("q_prompt").value,
      points: Number($("q_points").value),
      tags: $("q_tags").value,
      explanation: $("q_explanation").value,
    };
    if (kind === "SINGLE_CHOICE" || kind === "MULTIPLE_CHOICE") {
      fields.choices = Array.from($("choice_rows").children).map(function (row) {
        return { text: row.querySelector(".choice-text").value, correct: row.querySelector(".choice-correct").checked };
      });
      fields.shuffle = $("q_shuffle").checked;
    } else if (kind === "TRUE_FALSE") {
      fields.correct = $("q_tf_true").checked;
    } else if (kind === "FILL_IN" && $("q_generator").value.trim()) {
      fields.generator = $("q_generator").value;
      fields.abs_tol = numberOrZero($("q_calc_abs").value);
      fields.rel_tol = numberOrZero($("q_calc_rel").value);
    } else if (kind === "FILL_IN") {
      fields.generator = null;
      fields.answers = Array.from($("answer_rows").children).map(function (row) {
        const mode = row.querySelector(".answer-mode").value;
        const raw = row.querySelector(".answer-value").value;
        const answer = { mode: mode, value: raw };
        if (mode === "numeric") {
          answer.abs_tol = numberOrZero(row.querySelector(".answer-abs").value);
          answer.rel_tol = numberOrZero(row.querySelector(".answer-rel").value);
        }
        return answer;
      });
      fields.display = $("q_display").value;
    } else if (kind === "ESSAY") {
      fields.guidance = $("q_guidance").value;
    } else {
      fields.solution = $("q_solution").value;
      fields.tests = $("q_tests").value;
    }
    return fields;
  }

  $("new_question").addEventListener("click", function () { openEditor(null); });
  $("cancel_question").addEventListener("click", function () { $("editor").classList.add("d-none"); });

  $("question_form").addEventListener("submit", function (event) {
    event.preventDefault();
    act(async function () {
      const fields = questionFields();
      if (editing) {
        const saved = await call("PATCH", api + "/quiz-bank/" + editing.id, fields);
        bank = bank.map(function (q) { return q.id === saved.id ? saved : q; });
        quiz = await call("GET", quizApi());
      } else {
        quiz = await call("POST", quizApi() + "/slots", { question: fields });
        bank = (await call("GET", api + "/quiz-bank")).questions;
      }
      $("editor").classList.add("d-none");
      draw();
    }, "Question saved.");
  });

  draw();
})();
