/**
 * CourseHub in JupyterLab: "Publish to course…" sends the open notebook to one of the
 * instructor's notebook lessons as a new version, "Publish as assignment…"
 * (publish_assignment.ts) to one of their courses as a new assignment; the notification bell and toasts are in
 * notifications.ts, titles and due dates in nbgrader's Assignment List in assignments.ts.
 *
 * Everything goes through CourseHub's server extension under `<base url>/coursehub/api/`,
 * which calls the course service with this server's hub token. Students get an empty list
 * of lessons, so the command stays hidden for them.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  Notification,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { DocumentWidget } from '@jupyterlab/docregistry';
import { Widget } from '@lumino/widgets';

import { assignmentListPlugin } from './assignments';
import { notificationsPlugin } from './notifications';
import { addPublishAssignmentCommand } from './publish_assignment';
import { requestCourseHub } from './request';

const COMMAND = 'coursehub:publish-notebook';

/** A notebook lesson the signed-in instructor may publish to. */
interface IPublishTarget {
  id: number;
  title: string;
  module_title: string;
  course_title: string;
  course_slug: string;
  version: number | null;
}

interface IPublishTargets {
  can_publish: boolean;
  lessons: IPublishTarget[];
}

interface IPublished {
  lesson_id: number;
  version: number;
  created: boolean;
  path: string;
}

/** The notebook document in the main area, if the current widget is one. */
function currentNotebook(shell: JupyterFrontEnd.IShell): DocumentWidget | null {
  const widget = shell.currentWidget;
  if (widget instanceof DocumentWidget && widget.context.path.endsWith('.ipynb')) {
    return widget;
  }
  return null;
}

function describe(target: IPublishTarget): string {
  const version = target.version ? `now version ${target.version}` : 'not published yet';
  return `${target.course_title} › ${target.module_title} › ${target.title} (${version})`;
}

/** The dialog body: one list of the instructor's notebook lessons. */
class LessonPicker extends Widget implements Dialog.IBodyWidget<number> {
  constructor(targets: IPublishTarget[], notebookPath: string) {
    super();
    this.addClass('coursehub-LessonPicker');
    const intro = document.createElement('p');
    intro.textContent = `Publish ${notebookPath} as the newest version of this lesson:`;
    const label = document.createElement('label');
    label.textContent = 'Lesson';
    this.select = document.createElement('select');
    this.select.setAttribute('aria-label', 'Lesson');
    for (const target of targets) {
      const option = document.createElement('option');
      option.value = String(target.id);
      option.textContent = describe(target);
      this.select.appendChild(option);
    }
    label.appendChild(this.select);
    const note = document.createElement('p');
    note.textContent = 'Students see the new version the next time they open the lesson.';
    this.node.append(intro, label, note);
  }

  getValue(): number {
    return Number(this.select.value);
  }

  private select: HTMLSelectElement;
}

async function publishCurrentNotebook(app: JupyterFrontEnd): Promise<void> {
  const notebook = currentNotebook(app.shell);
  if (!notebook) {
    await showErrorMessage('Publish to course', 'Open the notebook you want to publish first.');
    return;
  }
  const targets = await requestCourseHub<IPublishTargets>('lessons');
  if (!targets.lessons.length) {
    await showErrorMessage(
      'Publish to course',
      'You have no notebook lessons yet. Add a notebook lesson to one of your courses on ' +
        'the Teach page, then publish to it from here.'
    );
    return;
  }
  const path = notebook.context.path;
  const choice = await showDialog({
    title: 'Publish to course',
    body: new LessonPicker(targets.lessons, path),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Publish' })]
  });
  if (!choice.button.accept || !choice.value) {
    return;
  }
  const lesson = targets.lessons.find(target => target.id === choice.value);
  if (notebook.context.model.dirty) {
    await notebook.context.save();
  }
  const published = await requestCourseHub<IPublished>(`lessons/${choice.value}/versions`, {
    method: 'POST',
    body: JSON.stringify({ path })
  });
  const title = lesson?.title ?? 'the lesson';
  Notification.success(
    published.created
      ? `Published ${path} as version ${published.version} of “${title}”.`
      : `${path} is already version ${published.version} of “${title}”; nothing changed.`,
    { autoClose: 8000 }
  );
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'coursehub-lab:publish',
  description: 'Publish the open notebook to a CourseHub lesson.',
  autoStart: true,
  requires: [ILabShell],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, labShell: ILabShell, palette: ICommandPalette | null) => {
    let canPublish = false;
    app.commands.addCommand(COMMAND, {
      label: 'Publish to course…',
      caption: 'Publish this notebook as the newest version of one of your lessons',
      isVisible: () => canPublish,
      isEnabled: () => canPublish && currentNotebook(app.shell) !== null,
      execute: async () => {
        try {
          await publishCurrentNotebook(app);
        } catch (error) {
          await showErrorMessage('Publish to course', (error as Error).message);
        }
      }
    });
    palette?.addItem({ command: COMMAND, category: 'CourseHub' });
    labShell.currentChanged.connect(() => app.commands.notifyCommandChanged(COMMAND));
    requestCourseHub<IPublishTargets>('lessons')
      .then(targets => {
        canPublish = targets.can_publish;
        app.commands.notifyCommandChanged(COMMAND);
      })
      .catch(error => console.warn('CourseHub: publishing is unavailable:', error));
    addPublishAssignmentCommand(app, labShell, palette, currentNotebook);
  }
};

export default [plugin, notificationsPlugin, assignmentListPlugin];
