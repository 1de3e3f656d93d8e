/** Requests from the JupyterLab side to CourseHub's server extension. */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** A request to `<base url>/coursehub/api/<path>`; errors carry the service's own sentence. */
export async function requestCourseHub<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'coursehub', 'api', path);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new Error('CourseHub could not be reached. Check your connection and try again.');
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.message || `CourseHub answered ${response.status}.`);
  }
  return body as T;
}
