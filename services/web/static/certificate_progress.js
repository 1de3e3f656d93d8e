// The course page's line about the course certificate: how far the student is toward it.
(function () {
  "use strict";
  const line = document.getElementById("certificate_progress");
  if (!line) return;
  const xsrf = document.querySelector('input[name="_xsrf"]');
  fetch(line.dataset.url, {
    credentials: "same-origin",
    headers: { "X-XSRFToken": xsrf ? xsrf.value : "" },
  })
    .then((response) => (response.ok ? response.json() : null))
    .then((standing) => {
      if (!standing || !standing.has_rule) return;
      const parts = [];
      if (standing.met) {
        line.textContent = "You have earned this course's certificate. ";
        const link = document.createElement("a");
        link.href = line.dataset.mine;
        link.textContent = "My certificates";
        line.append(link);
        line.hidden = false;
        return;
      }
      parts.push(`Certificate: ${Math.round(standing.lessons_progress * 100)} % of the required lessons done`);
      if (standing.min_grade !== null) {
        const grade = standing.grade_percent === null ? "no grade yet" : `${Math.round(standing.grade_percent)} %`;
        parts.push(`grade ${grade} of the ${standing.min_grade} % needed`);
      }
      if (standing.not_before && !standing.date_met) {
        parts.push(`issued from ${window.CourseHub.formatDate(standing.not_before)}`);
      }
      line.textContent = parts.join("; ") + ".";
      line.hidden = false;
    })
    .catch(() => {});
})();
