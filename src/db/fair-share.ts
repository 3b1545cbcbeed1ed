/**
 * A fair share of the pool: each user (token subject) runs at most `cap` statements at once, so one
 * user's burst (or one runaway agent loop) cannot take every connection from the others. A user
 * over the cap queues briefly (waiting calls hold no connection), at most QUEUE_FACTOR × `cap` more
 * calls for at most `waitMs`; past that the call is refused at once with USER_BUSY, so a burst
 * holds no unbounded memory either.
 *
 * @example
 *   const release = await slots.acquire(identity.sub, limits.poolWaitMs);
 *   try { await work(); } finally { release(); }
 */
import { DbError } from './run.js';

/** Waiting calls allowed per running one: an agent's parallel reads queue rather than fail. */
const QUEUE_FACTOR = 4;

interface UserState {
  active: number;
  waiting: { grant: () => void }[];
}

export class UserSlots {
  private readonly users = new Map<string, UserState>();

  constructor(readonly cap: number) {}

  async acquire(sub: string, waitMs: number): Promise<() => void> {
    const user = this.users.get(sub) ?? { active: 0, waiting: [] };
    this.users.set(sub, user);
    const release = once(() => this.release(sub, user));
    if (user.active < this.cap) {
      user.active++;
      return release;
    }
    if (user.waiting.length >= QUEUE_FACTOR * this.cap) throw this.busy('queued');
    return new Promise((resolve, reject) => {
      const entry = { grant: () => (clearTimeout(timer), resolve(release)) };
      const timer = setTimeout(() => {
        user.waiting.splice(user.waiting.indexOf(entry), 1);
        reject(this.busy('waited'));
      }, waitMs);
      user.waiting.push(entry);
    });
  }

  private release(sub: string, user: UserState): void {
    // The slot passes straight to the user's next waiting call, so `active` stays.
    const next = user.waiting.shift();
    if (next) return next.grant();
    if (--user.active === 0) this.users.delete(sub);
  }

  private busy(why: 'queued' | 'waited'): DbError {
    return new DbError(
      'USER_BUSY',
      `You already have ${this.cap} statement${this.cap === 1 ? '' : 's'} running, the most one user may run at once ` +
        `(DB_USER_CONCURRENCY)${why === 'queued' ? ', and the most that may wait' : ', and this one waited too long for its turn'}. ` +
        'Run statements one after another, or retry in a second.',
      undefined,
      { limit: this.cap, retryAfterSeconds: 1 },
    );
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
