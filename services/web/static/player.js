// The course player: completion, time spent, video progress and bookmarks, notes.
// Plain script, no build step. Everything it sends goes to the course service's JSON API
// with the page's XSRF token.
(function () {
  "use strict";

  var root = document.getElementById("player");
  if (!root) return;
  var data = JSON.parse(root.getAttribute("data-player"));
  var xsrf = root.getAttribute("data-xsrf");
  var HEARTBEAT_SECONDS = 30;
  // How long the end of a lesson must have been on screen before it counts as read.
  var READ_DWELL_MS = 1500;

  function api(path, method, body) {
    return fetch(data.api + path, {
      method: method || "GET",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-XSRFToken": xsrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      if (response.status === 204) return { ok: true, status: 204, body: {} };
      return response
        .json()
        .catch(function () { return {}; })
        .then(function (json) { return { ok: response.ok, status: response.status, body: json }; });
    });
  }

  // -- completion ----------------------------------------------------------------------------

  function showCourseProgress(course) {
    if (!course) return;
    var bar = document.getElementById("course_progress");
    var text = document.getElementById("course_progress_text");
    var percent = Math.round(course.progress * 100);
    if (bar) {
      bar.setAttribute("aria-valuenow", String(percent));
      bar.firstElementChild.style.width = percent + "%";
    }
    if (text) text.textContent = String(percent);
  }

  function showCompleted(course) {
    data.completed = true;
    var item = document.querySelector('.syllabus-lesson[data-lesson-id="' + data.lessonId + '"]');
    if (item) {
      item.classList.add("completed");
      item.querySelector(".lesson-mark").textContent = "✓";
      item.querySelector(".state").textContent = "completed";
    }
    document.getElementById("lesson_state").classList.remove("d-none");
    var button = document.getElementById("mark_complete");
    if (button) button.classList.add("d-none");
    showCourseProgress(course);
  }

  var completing = false;
  function complete(how) {
    if (!data.recordsProgress || data.completed || completing) return;
    completing = true;
    api("/complete", "POST", { how: how }).then(function (result) {
      completing = false;
      if (result.ok) showCompleted(result.body.course);
    }, function () { completing = false; });
  }

  var markButton = document.getElementById("mark_complete");
  if (markButton) markButton.addEventListener("click", function () { complete("button"); });

  // The end of a notebook or text lesson: a sentinel below it. For a notebook it only counts
  // once the frame shows the rendered lesson (before that the frame is short and the end
  // would be on screen at once).
  var end = document.getElementById("lesson_end");
  var frame = document.getElementById("lesson_frame");
  var contentShown = !frame;
  var endVisible = false;
  var dwell = null;

  // A notebook lesson that could not start its kernel, or a cell of which raised, is never
  // counted as read: the student is told, with a way to try again.
  var lessonFailed = false;
  var START_LIMIT_MS = 20000;
  var NO_KERNEL = "This lesson could not start its Python kernel. Try again in a minute; " +
    "if it keeps happening, tell your instructor.";
  var CELL_FAILED = "Part of this lesson could not run, so it is not marked as read. " +
    "Try again; if it keeps happening, tell your instructor.";
  var TOO_MANY = "You already have as many notebook lessons running as one person may. " +
    "Leave one of their pages (or wait a few minutes), then try again.";
  var problem = document.getElementById("lesson_problem");
  var startTimer = null;

  function showProblem(sentence) {
    if (!problem) return;
    document.getElementById("lesson_problem_text").textContent = sentence;
    problem.classList.remove("d-none");
  }

  function hideProblem() {
    if (problem) problem.classList.add("d-none");
  }

  function waitForStart() {
    if (startTimer) clearTimeout(startTimer);
    startTimer = setTimeout(function () {
      if (!contentShown) showProblem(NO_KERNEL);
    }, START_LIMIT_MS);
  }

  function considerEnd() {
    if (dwell) { clearTimeout(dwell); dwell = null; }
    if (endVisible && contentShown && !lessonFailed) {
      dwell = setTimeout(function () { complete("end"); }, READ_DWELL_MS);
    }
  }
  if (end && "IntersectionObserver" in window) {
    new IntersectionObserver(function (entries) {
      endVisible = entries.some(function (entry) { return entry.isIntersecting; });
      considerEnd();
    }).observe(end);
  }

  // -- the notebook frame --------------------------------------------------------------------
  // The frame (an origin of its own) reports its height, whether the lesson is shown, and its
  // kernel; nothing else it could say is listened to. Leaving the page stops the kernel.
  var kernelId = "";
  if (frame) {
    waitForStart();
    var retry = document.getElementById("lesson_retry");
    if (retry) {
      retry.addEventListener("click", function () {
        hideProblem();
        contentShown = false;
        lessonFailed = false;
        frame.classList.remove("shown");
        frame.src = frame.src;  // a fresh page and kernel
        waitForStart();
      });
    }
    window.addEventListener("pagehide", function () {
      if (kernelId && navigator.sendBeacon) {
        navigator.sendBeacon(frame.getAttribute("data-voila") + "voila/api/shutdown/" + kernelId);
      }
    });
    window.addEventListener("message", function (event) {
      if (event.source !== frame.contentWindow) return;
      var message = event.data || {};
      if (message.coursehub !== "lesson-frame") return;
      var height = Number(message.height);
      if (isFinite(height) && height > 0) {
        // The frame's CSS height includes its border (border-box): add it, so the lesson
        // gets exactly the height it asked for and never reports a smaller one back.
        var style = window.getComputedStyle(frame);
        var border = style.boxSizing === "border-box"
          ? (parseFloat(style.borderTopWidth) || 0) + (parseFloat(style.borderBottomWidth) || 0)
          : 0;
        var wanted = Math.min(Math.max(height, 200), 200000) + border;
        if (Math.abs(frame.getBoundingClientRect().height - wanted) > 1) {
          frame.style.height = wanted + "px";
        }
      }
      if (typeof message.kernelId === "string" && /^[0-9a-f-]{36}$/.test(message.kernelId)) {
        kernelId = message.kernelId;
      }
      if (message.refused === "kernel-share") {
        if (startTimer) clearTimeout(startTimer);
        showProblem(TOO_MANY);
      }
      if (message.shown && !contentShown) {
        contentShown = true;
        frame.classList.add("shown");
        hideProblem();
        considerEnd();
      }
      if (message.failed && !lessonFailed) {
        lessonFailed = true;
        showProblem(CELL_FAILED);
        considerEnd();
      }
    });
  }

  // -- time spent ----------------------------------------------------------------------------
  if (data.recordsProgress) {
    var visibleSeconds = 0;
    setInterval(function () {
      if (document.visibilityState === "visible") visibleSeconds += 1;
    }, 1000);
    setInterval(function () {
      var seconds = Math.min(visibleSeconds, HEARTBEAT_SECONDS);
      if (seconds < 1) return;
      visibleSeconds = 0;
      api("/heartbeat", "POST", { seconds: seconds });
    }, HEARTBEAT_SECONDS * 1000);
  }

  // -- video ---------------------------------------------------------------------------------
  var video = document.getElementById("lesson_video");

  function watchedFraction() {
    if (!video || !isFinite(video.duration) || video.duration <= 0) return 0;
    var seen = 0;
    for (var i = 0; i < video.played.length; i++) {
      seen += video.played.end(i) - video.played.start(i);
    }
    return Math.min(seen / video.duration, 1);
  }

  function formatTime(seconds) {
    var whole = Math.max(0, Math.floor(seconds));
    var rest = whole % 60;
    return Math.floor(whole / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  var lastReport = 0;
  var bestFraction = data.videoFraction || 0;
  // The parts played since the last report, as [start, end] shares of the video: a part
  // played again is reported again, so staff see what is re-watched.
  var played = [];
  var segmentStart = null;
  var segmentEnd = null;
  function share(seconds) {
    return Math.round(Math.min(Math.max(seconds / video.duration, 0), 1) * 10000) / 10000;
  }
  function closeSegment() {
    if (segmentStart !== null && segmentEnd > segmentStart && isFinite(video.duration)) {
      played.push([share(segmentStart), share(segmentEnd)]);
    }
    segmentStart = segmentEnd = null;
  }
  function trackSegment() {
    if (video.paused || video.seeking) return;
    var now = video.currentTime;
    // A jump (a seek, or a gap longer than a few updates) ends the segment being played.
    if (segmentStart === null || now < segmentEnd || now - segmentEnd > 2 * Math.max(1, video.playbackRate)) {
      closeSegment();
      segmentStart = now;
    }
    segmentEnd = now;
  }
  function reportVideo() {
    if (!video || !data.recordsProgress || !isFinite(video.duration)) return;
    lastReport = Date.now();
    var playing = !video.paused;
    closeSegment();
    if (playing) segmentStart = segmentEnd = video.currentTime;
    var fraction = Math.max(watchedFraction(), 0);
    var segments = played.splice(0, 200);
    api("/video", "POST", { position_seconds: video.currentTime, watched_fraction: fraction, played: segments })
      .then(function (result) {
        if (!result.ok) return;
        bestFraction = Math.max(bestFraction, result.body.watched_fraction || 0);
        showWatched();
        if (result.body.completed && !data.completed) showCompleted(result.body.course);
      });
  }

  function showWatched() {
    var label = document.getElementById("video_watched");
    if (label && data.recordsProgress) {
      label.textContent = Math.round(bestFraction * 100) + "% watched";
    }
  }

  if (video) {
    var speed = document.getElementById("playback_speed");
    speed.addEventListener("change", function () { video.playbackRate = Number(speed.value); });
    var startAt = Number(new URLSearchParams(window.location.search).get("t"));
    video.addEventListener("loadedmetadata", function () {
      var resume = isFinite(startAt) && startAt > 0 ? startAt : data.videoPosition || 0;
      if (resume > 0 && resume < video.duration - 1) video.currentTime = resume;
    });
    video.addEventListener("timeupdate", function () {
      trackSegment();
      if (!video.paused && Date.now() - lastReport > 10000) reportVideo();
    });
    video.addEventListener("seeking", closeSegment);
    video.addEventListener("pause", reportVideo);
    video.addEventListener("ended", reportVideo);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden" && !video.paused) reportVideo();
    });
    showWatched();
    document.getElementById("bookmark_moment").addEventListener("click", function () {
      addNote({ body: "", is_bookmark: true, video_seconds: video.currentTime });
    });
  }

  // -- notes ---------------------------------------------------------------------------------
  var list = document.getElementById("notes_list");
  var form = document.getElementById("note_form");
  var noteError = document.getElementById("note_error");

  function noteItem(note) {
    var item = document.createElement("li");
    item.className = "list-group-item note-item";
    item.setAttribute("data-note-id", note.id);
    var head = document.createElement("div");
    head.className = "d-flex flex-wrap justify-content-between gap-2 small text-body-secondary mb-1";
    var left = document.createElement("span");
    if (note.is_bookmark) {
      var badge = document.createElement("span");
      badge.className = "badge text-bg-info me-1";
      badge.textContent = "Bookmark";
      left.appendChild(badge);
    }
    if (note.video_seconds !== null && note.video_seconds !== undefined && video) {
      var jump = document.createElement("button");
      jump.type = "button";
      jump.className = "btn btn-link btn-sm p-0 note-time";
      jump.textContent = "at " + formatTime(note.video_seconds);
      jump.addEventListener("click", function () {
        video.currentTime = note.video_seconds;
        video.play().catch(function () {});
      });
      left.appendChild(jump);
    }
    var right = document.createElement("span");
    var edit = document.createElement("button");
    edit.type = "button";
    edit.className = "btn btn-link btn-sm p-0 me-2 note-edit";
    edit.textContent = "Edit";
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "btn btn-link btn-sm p-0 text-danger note-delete";
    remove.textContent = "Delete";
    right.appendChild(edit);
    right.appendChild(remove);
    head.appendChild(left);
    head.appendChild(right);
    var body = document.createElement("div");
    body.className = "note-html";
    body.innerHTML = note.html; // sanitised by the server (markdown.to_safe_html)
    var editor = document.createElement("textarea");
    editor.className = "form-control d-none note-editor";
    editor.rows = 3;
    editor.maxLength = 10000;
    editor.setAttribute("aria-label", "Edit note");
    editor.value = note.body;
    item.appendChild(head);
    item.appendChild(body);
    item.appendChild(editor);

    edit.addEventListener("click", function () {
      if (editor.classList.contains("d-none")) {
        editor.classList.remove("d-none");
        edit.textContent = "Save";
        editor.focus();
        return;
      }
      notesRequest(noteUrl(note.id), "PATCH", { body: editor.value }).then(function (result) {
        if (!result.ok) { noteError.textContent = result.body.error || "The note was not saved."; return; }
        item.replaceWith(noteItem(result.body));
      });
    });
    remove.addEventListener("click", function () {
      notesRequest(noteUrl(note.id), "DELETE").then(function (result) {
        if (result.ok) item.remove();
      });
    });
    return item;
  }

  function noteUrl(id) {
    return data.api.replace(/\/api\/learn\/.*$/, "/api/notes/" + id);
  }

  function notesRequest(url, method, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-XSRFToken": xsrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      if (response.status === 204) return { ok: true, body: {} };
      return response.json().then(function (json) { return { ok: response.ok, body: json }; });
    });
  }

  function addNote(fields) {
    noteError.textContent = "";
    return api("/notes", "POST", fields).then(function (result) {
      if (!result.ok) { noteError.textContent = result.body.error || "The note was not saved."; return false; }
      list.appendChild(noteItem(result.body));
      return true;
    });
  }

  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = document.getElementById("note_body");
      var bookmark = document.getElementById("note_is_bookmark");
      var fields = { body: text.value, is_bookmark: bookmark.checked };
      if (bookmark.checked && video) fields.video_seconds = video.currentTime;
      addNote(fields).then(function (saved) {
        if (saved) { text.value = ""; bookmark.checked = false; }
      });
    });
    api("/notes").then(function (result) {
      if (!result.ok) return;
      result.body.notes.forEach(function (note) { list.appendChild(noteItem(note)); });
    });
  }

  // Opening in JupyterLab may first start the student's server: say so while it starts.
  var openInLab = document.getElementById("open_in_lab");
  if (openInLab) {
    openInLab.addEventListener("click", function () {
      var label = openInLab.textContent;
      openInLab.textContent = "Starting your JupyterLab…";
      openInLab.setAttribute("aria-busy", "true");
      setTimeout(function () {
        openInLab.textContent = label;
        openInLab.removeAttribute("aria-busy");
      }, 15000);
    });
  }
})();
