/**
 * CourseHub notifications in JupyterLab: a bell in the top bar with the unread count, the
 * latest notifications on a click (with "Mark all as read"), and a toast for each new one,
 * live.
 *
 * JupyterLab cannot use the course service's sign-in, so everything goes through CourseHub's
 * server extension (`<base url>/coursehub/api/notifications...`), which asks the service as
 * this server's owner. New notifications arrive over the relayed server-sent-event stream,
 * read with fetch (so the request carries JupyterLab's own credentials); when the stream
 * ends, it is opened again after the last notification seen, so none is missed or shown
 * twice.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

const SERVICE_PREFIX = '/services/coursehub';
const RECONNECT_MS = 3000;
const RETRY_AFTER_ERROR_MS = 15000;
const SHOWN = 10;

/** One notification as the service sends it. */
interface ICourseHubNotification {
  id: number;
  kind: string;
  title?: string;
  url?: string;
  payload: { title?: string; url?: string; [key: string]: unknown };
  created_at: string;
  read_at?: string | null;
}

interface ILatest {
  notifications: ICourseHubNotification[];
  unread: number;
}

function api(...path: string[]): { url: string; settings: ServerConnection.ISettings } {
  const settings = ServerConnection.makeSettings();
  return { url: URLExt.join(settings.baseUrl, 'coursehub', 'api', ...path), settings };
}

async function call<T>(path: string[], init: RequestInit = {}): Promise<T> {
  const { url, settings } = api(...path);
  const response = await ServerConnection.makeRequest(url, init, settings);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.message || `CourseHub answered ${response.status}.`);
  }
  return body as T;
}

function titleOf(n: ICourseHubNotification): string {
  return n.title || n.payload?.title || 'You have a new notification on CourseHub.';
}

/**
 * The hub's origin (`https://courses.example.org`) when this server has an origin of its own
 * (per-user subdomains: JupyterHub's `hubHost` page option), else '' (the same origin).
 */
function hubOrigin(): string {
  const host = PageConfig.getOption('hubHost');
  return /^https?:\/\/[^/]+$/.test(host) ? host : '';
}

/** The CourseHub page of a notification, on the hub's origin (never another site). */
function pageOf(n: ICourseHubNotification): string {
  const url = n.url || n.payload?.url;
  const path =
    typeof url === 'string' && url.startsWith(`${SERVICE_PREFIX}/`)
      ? url
      : `${SERVICE_PREFIX}/notifications`;
  return `${hubOrigin()}${path}`;
}

function openPage(n: ICourseHubNotification): void {
  window.open(pageOf(n), '_blank', 'noopener');
}

/** The bell in the top bar. */
class Bell extends Widget {
  constructor(onClick: () => void) {
    super({ node: document.createElement('button') });
    this.id = 'coursehub-notification-bell';
    this.addClass('coursehub-Bell');
    this.node.setAttribute('type', 'button');
    this.node.title = 'CourseHub notifications';
    const icon = document.createElement('span');
    icon.textContent = '\u{1F514}';
    icon.setAttribute('aria-hidden', 'true');
    this.badge = document.createElement('span');
    this.badge.className = 'coursehub-Bell-count';
    this.node.append(icon, this.badge);
    this.node.addEventListener('click', onClick);
    this.setCount(0);
  }

  setCount(unread: number): void {
    this.badge.textContent = unread > 99 ? '99+' : String(unread);
    this.badge.hidden = unread === 0;
    this.node.dataset.unread = String(unread);
    this.node.setAttribute(
      'aria-label',
      unread ? `CourseHub notifications, ${unread} unread` : 'CourseHub notifications'
    );
  }

  private badge: HTMLSpanElement;
}

/** The dialog body: the latest notifications, each a link to its CourseHub page. */
class LatestList extends Widget {
  constructor(latest: ICourseHubNotification[]) {
    super();
    this.addClass('coursehub-NotificationList');
    if (!latest.length) {
      const none = document.createElement('p');
      none.textContent = 'No notifications yet.';
      this.node.appendChild(none);
    }
    const list = document.createElement('ul');
    for (const n of latest.slice(0, SHOWN)) {
      const item = document.createElement('li');
      if (!n.read_at) {
        item.classList.add('coursehub-unread');
      }
      const link = document.createElement('a');
      link.href = pageOf(n);
      link.target = '_blank';
      link.rel = 'noopener';
      link.textContent = titleOf(n);
      const when = document.createElement('small');
      when.textContent = new Date(n.created_at).toLocaleString();
      item.append(link, when);
      list.appendChild(item);
    }
    const all = document.createElement('a');
    all.href = `${hubOrigin()}${SERVICE_PREFIX}/notifications`;
    all.target = '_blank';
    all.rel = 'noopener';
    all.textContent = 'All notifications and email settings';
    this.node.append(list, all);
  }
}

/** What the bell knows: the newest notifications, the unread count, the last id seen. */
class Feed {
  constructor(bell: Bell) {
    this.bell = bell;
  }

  async load(): Promise<void> {
    const latest = await call<ILatest>(['notifications']);
    this.latest = latest.notifications;
    this.unread = latest.unread;
    for (const n of latest.notifications) {
      this.seen.add(n.id);
    }
    this.lastId = Math.max(this.lastId, ...latest.notifications.map(n => n.id));
    this.bell.setCount(this.unread);
  }

  /** Read the stream for as long as it lasts; then it is opened again. */
  async follow(): Promise<void> {
    for (;;) {
      let wait = RECONNECT_MS;
      try {
        await this.readStream();
      } catch (error) {
        console.warn('CourseHub: the notification stream stopped:', error);
        wait = RETRY_AFTER_ERROR_MS;
      }
      await new Promise(resolve => setTimeout(resolve, wait));
    }
  }

  async markAllRead(): Promise<void> {
    await call(['notifications', 'read'], { method: 'POST', body: '{}' });
    const now = new Date().toISOString();
    this.latest = this.latest.map(n => ({ ...n, read_at: n.read_at || now }));
    this.unread = 0;
    this.bell.setCount(0);
  }

  private async readStream(): Promise<void> {
    const { url, settings } = api('notifications', 'stream');
    const response = await ServerConnection.makeRequest(
      `${url}?after=${this.lastId}`,
      {},
      settings
    );
    if (!response.ok || !response.body) {
      throw new Error(`CourseHub answered ${response.status}.`);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        return;
      }
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        this.receive(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  /** One server-sent event (lines of `field: value`). */
  private receive(block: string): void {
    const lines = block.split('\n');
    const kind = lines.find(line => line.startsWith('event:'))?.slice(6).trim();
    const data = lines
      .filter(line => line.startsWith('data:'))
      .map(line => line.slice(5).trimStart())
      .join('\n');
    if (!data) {
      return; // a keep-alive comment
    }
    if (kind === 'read') {
      this.readElsewhere((JSON.parse(data) as { read: number[] | 'all' }).read);
      return;
    }
    if (kind !== 'notification') {
      return;
    }
    const n = JSON.parse(data) as ICourseHubNotification;
    // Notifications committed together can arrive out of order: each is placed by its id
    // and counted once, never dropped for being lower than one already shown.
    if (this.seen.has(n.id)) {
      return;
    }
    this.seen.add(n.id);
    this.lastId = Math.max(this.lastId, n.id);
    this.latest = [n, ...this.latest].sort((a, b) => b.id - a.id).slice(0, 50);
    this.unread += 1;
    this.bell.setCount(this.unread);
    Notification.info(titleOf(n), {
      autoClose: 10000,
      actions: [{ label: 'Open', callback: () => openPage(n) }]
    });
  }

  /**
   * Notifications read on one of the owner's CourseHub pages: off the bell here too. Each
   * number named was unread until then, so those older than the newest 50 leave the count.
   */
  private readElsewhere(read: number[] | 'all'): void {
    const now = new Date().toISOString();
    if (read === 'all') {
      this.latest = this.latest.map(n => ({ ...n, read_at: n.read_at || now }));
      this.unread = 0;
    } else {
      for (const id of read) {
        const known = this.latest.find(n => n.id === id);
        if (known && known.read_at) {
          continue;
        }
        if (known) {
          known.read_at = now;
        }
        this.unread = Math.max(0, this.unread - 1);
      }
    }
    this.bell.setCount(this.unread);
  }

  latest: ICourseHubNotification[] = [];
  private bell: Bell;
  private unread = 0;
  private lastId = 0;
  private seen = new Set<number>();
}

export const notificationsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'coursehub-lab:notifications',
  description: 'CourseHub notifications: a bell in the top bar and a toast for each new one.',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    let feed: Feed;
    const bell = new Bell(async () => {
      const choice = await showDialog({
        title: 'CourseHub notifications',
        body: new LatestList(feed.latest),
        buttons: [Dialog.cancelButton({ label: 'Close' }), Dialog.okButton({ label: 'Mark all as read' })]
      });
      if (choice.button.accept) {
        await feed.markAllRead().catch(error => console.warn('CourseHub:', error));
      }
    });
    feed = new Feed(bell);
    feed
      .load()
      .then(() => {
        app.shell.add(bell, 'top', { rank: 900 });
        void feed.follow();
      })
      .catch(error => console.warn('CourseHub: notifications are unavailable:', error));
  }
};
