/**
 * "Publish as assignment…": the open notebook, an nbgrader source (made with nbgrader's
 * Create Assignment toolbar), becomes a new assignment of one of the instructor's courses,
 * unreleased until they set its dates and release it on the assignment's CourseHub page.
 * The course service checks the source with nbgrader's rules and makes the student version;
 * its sentence is shown when it refuses. With "Include the files in its folder", the files
 * beside the notebook (and below) go along as the assignment's data files, as nbgrader's
 * generate_assignment takes them.
 *
 * Shown only to people who teach a course (the server extension answers `can_publish`).
 */
import { ILabShell, JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  Notification,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { DocumentWidget } from '@jupyterlab/docregistry';
import { Widget } from '@lumino/widgets';

import { requestCourseHub } from './request';

const COMMAND = 'coursehub:publish-assignment';
const TITLE = 'Publish as assignment';

interface ICourse {
  slug: string;
  title: string;
}

interface ICourses {
  can_publish: boolean;
  courses: ICourse[];
}

interface IChoice {
  course_slug: string;
  title: string;
  with_files: boolean;
}

interface IPublishedAssignment {
  assignment_id: number;
  title: string;
  course_slug: string;
  path: string;
  files: string[];
  edit_url: string;
}

function field(labelText: string, control: HTMLElement): HTMLLabelElement {
  const label = document.createElement('label');
  label.className = 'coursehub-Field';
  label.append(labelText, control);
  return label;
}

/** The dialog body: the course, the title, and whether the folder's files go too. */
class AssignmentForm extends Widget implements Dialog.IBodyWidget<IChoice> {
  constructor(courses: ICourse[], notebookPath: string) {
    super();
    this.addClass('coursehub-LessonPicker');
    const intro = document.createElement('p');
    intro.textContent =
      `Publish ${notebookPath} as a new assignment. CourseHub checks it with nbgrader's ` +
      'rules and keeps it unreleased until you release it on its page.';
    this.course = document.createElement('select');
    this.course.setAttribute('aria-label', 'Course');
    for (const course of courses) {
      const option = document.createElement('option');
      option.value = course.slug;
      option.textContent = course.title;
      this.course.appendChild(option);
    }
    this.title_ = document.createElement('input');
    this.title_.setAttribute('aria-label', 'Assignment title');
    this.title_.maxLength = 200;
    const stem = notebookPath.split('/').pop() ?? notebookPath;
    this.title_.value = stem.replace(/\.ipynb$/, '').replace(/[-_]+/g, ' ');
    this.files = document.createElement('input');
    this.files.type = 'checkbox';
    this.files.setAttribute('aria-label', 'Include the files in its folder as data files');
    const inFolder = notebookPath.includes('/');
    this.files.checked = inFolder;
    this.files.disabled = !inFolder;
    const filesLabel = document.createElement('label');
    filesLabel.className = 'coursehub-Check';
    filesLabel.append(
      this.files,
      inFolder
        ? ' Include the files in its folder as data files'
        : ' Data files: put the notebook and its data in a folder of their own to include them'
    );
    this.node.append(
      intro,
      field('Course', this.course),
      field('Title', this.title_),
      filesLabel
    );
  }

  getValue(): IChoice {
    return {
      course_slug: this.course.value,
      title: this.title_.value.trim(),
      with_files: this.files.checked
    };
  }

  private course: HTMLSelectElement;
  private title_: HTMLInputElement;
  private files: HTMLInputElement;
}

async function publishAsAssignment(
  app: JupyterFrontEnd,
  currentNotebook: (shell: JupyterFrontEnd.IShell) => DocumentWidget | null
): Promise<void> {
  const notebook = currentNotebook(app.shell);
  if (!notebook) {
    await showErrorMessage(TITLE, 'Open the nbgrader source notebook you want to publish first.');
    return;
  }
  const found = await requestCourseHub<ICourses>('assignment-courses');
  if (!found.courses.length) {
    await showErrorMessage(
      TITLE,
      'You teach no course yet. Create one on the Teaching page, then publish to it from here.'
    );
    return;
  }
  const path = notebook.context.path;
  const choice = await showDialog({
    title: TITLE,
    body: new AssignmentForm(found.courses, path),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Publish' })]
  });
  if (!choice.button.accept || !choice.value) {
    return;
  }
  if (notebook.context.model.dirty) {
    await notebook.context.save();
  }
  const published = await requestCourseHub<IPublishedAssignment>('assignment-sources', {
    method: 'POST',
    body: JSON.stringify({ path, ...choice.value })
  });
  const files = published.files.length
    ? ` with ${published.files.length} data file${published.files.length === 1 ? '' : 's'}`
    : '';
  Notification.success(
    `Published ${path}${files} as the assignment “${published.title}”. ` +
      'Set its dates and release it on its CourseHub page.',
    {
      autoClose: false,
      actions: [
        {
          label: 'Open in CourseHub',
          callback: () => window.open(published.edit_url, '_blank', 'noopener')
        }
      ]
    }
  );
}

/** The command, in the File menu beside "Publish to course…" and in the palette. */
export function addPublishAssignmentCommand(
  app: JupyterFrontEnd,
  labShell: ILabShell,
  palette: ICommandPalette | null,
  currentNotebook: (shell: JupyterFrontEnd.IShell) => DocumentWidget | null
): void {
  let canPublish = false;
  app.commands.addCommand(COMMAND, {
    label: 'Publish as assignment…',
    caption: 'Make this nbgrader source notebook a new assignment of one of your courses',
    isVisible: () => canPublish,
    isEnabled: () => canPublish && currentNotebook(app.shell) !== null,
    execute: async () => {
      try {
        await publishAsAssignment(app, currentNotebook);
      } catch (error) {
        await showErrorMessage(TITLE, (error as Error).message);
      }
    }
  });
  palette?.addItem({ command: COMMAND, category: 'CourseHub' });
  labShell.currentChanged.connect(() => app.commands.notifyCommandChanged(COMMAND));
  requestCourseHub<ICourses>('assignment-courses')
    .then(found => {
      canPublish = found.can_publish;
      app.commands.notifyCommandChanged(COMMAND);
    })
    .catch(error => console.warn('CourseHub: publishing assignments is unavailable:', error));
}
