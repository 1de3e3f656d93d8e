/**
 * nbgrader's Assignment List with CourseHub's titles and due dates.
 *
 * nbgrader's list names each assignment by its nbgrader id (`adding-numbers-12`: the title
 * as a file name, then its number) and shows no dates. While the list is open, each of its
 * rows gets the assignment's title and, under it, the due date (and cut-off) that apply to
 * this student, in the browser's local time; the nbgrader id stays beside them, small, since
 * `nbgrader fetch_assignment` in a terminal takes it. The details come from CourseHub's
 * server extension (`<base url>/coursehub/api/assignments`).
 */
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

const LIST_ID = 'nbgrader-assignment-list';
const LISTS = ['released', 'fetched', 'submitted']
  .map(kind => `#${kind}_assignments_list > .list_item`)
  .join(', ');

interface IAssignmentDetails {
  course_id: string;
  course_title: string | null;
  assignment_id: string;
  title: string;
  due_at: string | null;
  cutoff_at: string | null;
}

const WHEN: Intl.DateTimeFormatOptions = {
  weekday: 'short',
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: 'numeric',
  minute: '2-digit',
  timeZoneName: 'short'
};

/** A service timestamp (ISO 8601, UTC) in the browser's local time. */
export function localTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, WHEN);
}

async function loadDetails(): Promise<Map<string, IAssignmentDetails>> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'coursehub', 'api', 'assignments');
  const response = await ServerConnection.makeRequest(url, {}, settings);
  if (!response.ok) {
    throw new Error(`CourseHub answered ${response.status}`);
  }
  const body = (await response.json()) as { assignments: IAssignmentDetails[] };
  return new Map(body.assignments.map(a => [`${a.course_id}/${a.assignment_id}`, a]));
}

/** Give each row of the list its title and dates (rows nbgrader rebuilt included). */
function decorate(list: HTMLElement, details: Map<string, IAssignmentDetails>): boolean {
  let missing = false;
  list.querySelectorAll<HTMLElement>(LISTS).forEach(row => {
    const name = row.querySelector<HTMLElement>(':scope > .col-md-12 > .item_name');
    const label = name?.firstElementChild as HTMLElement | null;
    const course = row.querySelector<HTMLElement>(':scope > .col-md-12 > .item_course');
    if (!name || !label || !course || name.querySelector('.coursehub-AssignmentDates')) {
      return;
    }
    const id = label.textContent?.trim() ?? '';
    const found = details.get(`${course.textContent?.trim()}/${id}`);
    if (!found) {
      missing = true;
      return;
    }
    label.textContent = found.title;
    label.title = id;
    label.classList.add('coursehub-AssignmentTitle');
    if (found.course_title) {
      course.title = found.course_title;
    }
    const dates = document.createElement('div');
    dates.className = 'coursehub-AssignmentDates';
    const parts: string[] = [];
    parts.push(found.due_at ? `Due ${localTime(found.due_at)}` : 'No due date');
    if (found.cutoff_at && found.cutoff_at !== found.due_at) {
      parts.push(`late work until ${localTime(found.cutoff_at)}`);
    }
    const due = document.createElement('span');
    due.className = 'coursehub-AssignmentDue';
    due.textContent = parts.join(', ');
    const small = document.createElement('span');
    small.className = 'coursehub-AssignmentId';
    small.textContent = id;
    dates.append(due, ' · ', small);
    name.append(dates);
  });
  return missing;
}

export const assignmentListPlugin: JupyterFrontEndPlugin<void> = {
  id: 'coursehub-lab:assignment-list',
  description: "Titles and due dates in nbgrader's Assignment List.",
  autoStart: true,
  optional: [ILabShell],
  activate: (app: JupyterFrontEnd, labShell: ILabShell | null) => {
    let details = new Map<string, IAssignmentDetails>();
    let loading: Promise<void> | null = null;
    let watched: HTMLElement | null = null;
    const refresh = (list: HTMLElement): void => {
      if (!decorate(list, details) || loading) {
        return;
      }
      // A row CourseHub has no details for yet: ask again (a newly released assignment).
      loading = loadDetails()
        .then(found => {
          details = found;
          decorate(list, details);
        })
        .catch(error => console.warn('CourseHub: no assignment details:', error))
        .finally(() => {
          loading = null;
        });
    };
    const watch = (): void => {
      const list = document.getElementById(LIST_ID);
      if (!list || list === watched) {
        return;
      }
      watched = list;
      let queued = false;
      new MutationObserver(() => {
        if (!queued) {
          queued = true;
          requestAnimationFrame(() => {
            queued = false;
            refresh(list);
          });
        }
      }).observe(list, { childList: true, subtree: true });
      refresh(list);
    };
    app.restored.then(watch);
    labShell?.layoutModified.connect(watch);
    app.commands.commandExecuted.connect((_, args) => {
      if (args.id === 'nbgrader:open-assignment-list') {
        watch();
      }
    });
  }
};
