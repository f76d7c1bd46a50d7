// Saving an API document (results, exported quizzes) as a file: api.raw keeps the
// bearer token and its refresh, the body becomes a blob behind a temporary link.
import { api } from '../../api.js';

function filenameFrom(disposition) {
  if (!disposition) return null;
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  if (star) {
    try {
      return decodeURIComponent(star[1]);
    } catch {
      // Fall through to the plain form.
    }
  }
  const plain = /filename="?([^";]+)"?/i.exec(disposition);
  return plain ? plain[1] : null;
}

/** Downloads `path` (relative to /api/v1) under the server's file name, or `fallback`. */
export async function download(path, fallback) {
  const accept = path.endsWith('.csv') ? 'text/csv' : 'application/json';
  const res = await api.raw(path, { headers: { Accept: accept } });
  const blob = await res.blob();
  const name = filenameFrom(res.headers.get('content-disposition')) || fallback;
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The click has handed the blob to the download; free it a little later.
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
  return name;
}
