"""The LMS's side of LTI client-side postMessage storage (1EdTech "LTI Client Side
postMessages", Platform Storage), as a platform serves it: a storage frame of the LMS's page
that answers ``lti.capabilities``, ``lti.put_data`` and ``lti.get_data`` per the spec, keeping
each tool origin's values apart, and the pages the tests put around it (the LMS's course page,
and another site's page that forges the storage's answers). The pages are served by the test
platform's own web server (``tests.test_lti.KeySetServer``)."""

from __future__ import annotations

import html
import json

STORAGE_FRAME = "lti_storage"
STORAGE_PATH = "/lti-storage"

# The storage frame's page. It answers the window that asked, at its origin only; what it
# keeps lives as long as the LMS's page does (the frame stays while the tool's frame moves on).
# ``window.storageLog`` lets the test see what was asked.
STORAGE_PAGE = """<!DOCTYPE html><html><head><title>LMS storage</title></head><body><script>
const kept = new Map();
window.storageLog = [];
window.addEventListener("message", (event) => {
  const data = event.data;
  if (!data || typeof data !== "object" || typeof data.subject !== "string") return;
  const answer = (fields) => event.source.postMessage(
    {subject: `${data.subject}.response`, message_id: data.message_id, ...fields}, event.origin);
  window.storageLog.push({subject: data.subject, origin: event.origin, key: data.key});
  if (data.subject === "lti.capabilities") {
    answer({supported_messages: [{subject: "lti.put_data"}, {subject: "lti.get_data"}]});
  } else if (data.subject === "lti.put_data") {
    if (typeof data.key !== "string" || !data.key) {
      answer({error: {code: "bad_request", message: "a key is required"}});
      return;
    }
    kept.set(`${event.origin} ${data.key}`, data.value);
    answer({key: data.key, value: data.value});
  } else if (data.subject === "lti.get_data") {
    const name = `${event.origin} ${data.key}`;
    if (!kept.has(name)) {
      answer({key: data.key, error: {code: "bad_request", message: "nothing kept by that key"}});
      return;
    }
    answer({key: data.key, value: kept.get(name)});
  } else {
    answer({error: {code: "unsupported_subject", message: `${data.subject} is not supported`}});
  }
});
</script></body></html>"""


def course_page(frame_name: str, login_url: str) -> str:
    """The LMS's course page: its storage frame, and the tool's launch in an iframe."""
    return (
        "<!DOCTYPE html><html><body><h1>Data Analysis 101</h1>"
        f'<iframe name="{STORAGE_FRAME}" src="{STORAGE_PATH}" hidden></iframe>'
        f'<iframe id="{frame_name}" name="{frame_name}" src="{html.escape(login_url)}"'
        ' style="width: 1200px; height: 700px"></iframe></body></html>'
    )


def forging_page(frame_name: str, launch_url: str, id_token: str, state: str, nonce: str) -> str:
    """Another site's page: it posts a launch (an id_token of its own) into CourseHub's frame
    and answers for the LMS's storage itself, over and over, with the state and nonce of that
    launch (a storage frame of its own is there too, so CourseHub finds one by name)."""
    forged = [
        {"subject": "lti.get_data.response", "message_id": "forged", "key": key, "value": value}
        for key, value in ((f"state_{state}", state), (f"nonce_{nonce}", nonce))
    ]
    return (
        "<!DOCTYPE html><html><body><h1>Free notebooks</h1>"
        f'<iframe name="{STORAGE_FRAME}" src="{STORAGE_PATH}" hidden></iframe>'
        f'<iframe id="{frame_name}" name="{frame_name}" style="width: 1200px; height: 700px">'
        "</iframe>"
        f'<form method="post" action="{html.escape(launch_url)}" target="{frame_name}">'
        f'<input type="hidden" name="id_token" value="{html.escape(id_token)}">'
        f'<input type="hidden" name="state" value="{html.escape(state)}"></form>'
        "<script>document.forms[0].submit();"
        f"const forged = {json.dumps(forged)};"
        "window.forgedSent = 0;"
        "setInterval(() => { for (const message of forged) {"
        f" window.frames[{json.dumps(frame_name)}].postMessage(message, '*');"
        " window.forgedSent += 1; } }, 200);"
        "</script></body></html>"
    )
