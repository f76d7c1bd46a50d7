// Roadmap-generation jobs: followed live from `job.status` frames, with polling of
// GET /api/v1/jobs/{id} when no frame comes (the socket is down or the frame was missed).

import { useEffect, useState } from '../../ui.js';
import { api } from '../../api.js';
import { learnerSocket } from '../../socket.js';

const POLL_MS = 2000;
const QUIET_MS = 3000; // poll only when no frame has come for this long
const STORE_KEY = 'questpath.pendingJobs';

// The latest state of every job this tab has heard of, frames included that arrive
// before a screen starts watching (offline generation can finish within milliseconds).
const latest = new Map();
const watchers = new Map();

learnerSocket().on('job.status', (frame) => {
  if (frame.job && frame.job.id) publish(frame.job);
});

function publish(job) {
  const known = latest.get(job.id);
  if (known && isTerminal(known) && !isTerminal(job)) return; // stale frame after the end
  latest.set(job.id, { ...known, ...job });
  for (const fn of watchers.get(job.id) || []) fn(latest.get(job.id));
}

export const isTerminal = (job) => job.status === 'done' || job.status === 'failed';

/** The job kept current; starts from `initial` (the POST answer or a saved copy). */
export function useJob(initial) {
  const [job, setJob] = useState(() => latest.get(initial.id) || initial);
  useEffect(() => {
    let lastUpdate = Date.now();
    let stopped = false;
    const onUpdate = (next) => {
      lastUpdate = Date.now();
      setJob(next);
    };
    let set = watchers.get(initial.id);
    if (!set) watchers.set(initial.id, (set = new Set()));
    set.add(onUpdate);
    if (latest.has(initial.id)) onUpdate(latest.get(initial.id));
    else latest.set(initial.id, initial);

    const poll = async () => {
      const current = latest.get(initial.id);
      if (stopped || (current && isTerminal(current))) return;
      if (Date.now() - lastUpdate >= QUIET_MS) {
        try {
          publish(await api.get(`/jobs/${encodeURIComponent(initial.id)}`));
        } catch {
          // A failed poll is retried on the next tick; the UI keeps the last state.
        }
      }
      if (!stopped) timer = setTimeout(poll, POLL_MS);
    };
    let timer = setTimeout(poll, POLL_MS);
    return () => {
      stopped = true;
      clearTimeout(timer);
      set.delete(onUpdate);
    };
  }, [initial.id]);
  return job;
}

/** Jobs started in this tab that the home screen still shows (survives a reload). */
export const pendingJobs = {
  list() {
    try {
      return JSON.parse(sessionStorage.getItem(STORE_KEY) || '[]');
    } catch {
      return [];
    }
  },
  add(job) {
    const jobs = pendingJobs.list().filter((j) => j.id !== job.id);
    jobs.unshift({ id: job.id, status: job.status, step: job.step ?? null, description: job.description });
    pendingJobs.save(jobs);
  },
  remove(id) {
    pendingJobs.save(pendingJobs.list().filter((j) => j.id !== id));
  },
  save(jobs) {
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify(jobs.slice(0, 5)));
    } catch {
      // Storage may be full or disabled; the card then lasts until the next reload.
    }
  },
};
