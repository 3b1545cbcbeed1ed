/**
 * A fair share of the database: each user (token subject) runs at most `cap` statements at once, so
 * one user's burst (or one runaway agent loop) cannot take every connection from the others. A
 * user over the cap queues briefly (waiting calls hold no connection), at most QUEUE_FACTOR × their
 * cap more calls for at most `waitMs`; past that the call is refused at once with USER_BUSY, so a
 * burst holds no unbounded memory either.
 *
 * Connections are not the only thing a user can take: statements that keep a CPU busy for long,
 * side by side, take the database's cores, and the others' short queries then wait for CPU however
 * many connections are free (measured on 2 cores: three such statements made the others' p95 4×
 * slower, one left it within 2×). So the cap is weighed by cost: a user whose recent statements ran
 * longer than `heavyMs` in the database (a moving average) runs one at a time until their
 * statements are quick again. The cost is known only once a statement ends, so a new user's first
 * statements run at the full cap.
 *
 * @example
 *   const slot = await slots.acquire(identity.sub, limits.poolWaitMs);
 *   try { await work(); } finally { slot.release(databaseMs); }
 */
import { DbError } from './run.js';

/** Waiting calls allowed per running one: an agent's parallel reads queue rather than fail. */
const QUEUE_FACTOR = 4;
/** Weight of the latest statement in a user's moving average: a few quick ones undo a heavy streak. */
const SMOOTHING = 0.3;
/** Users whose average is remembered while they run nothing; the least recent are forgotten first. */
const REMEMBERED_USERS = 10_000;

interface UserState {
  active: number;
  waiting: { grant: () => void }[];
}

export interface Slot {
  /** Frees the slot; `databaseMs` (how long the statement held its connection) updates the user's cost. */
  release(databaseMs?: number): void;
}

export class UserSlots {
  private readonly users = new Map<string, UserState>();
  /** Moving average of each user's statement time in the database, ms. */
  private readonly costs = new Map<string, number>();

  constructor(
    readonly cap: number,
    /** A user averaging longer statements than this runs one at a time; 0 turns weighing off. */
    readonly heavyMs = 0,
  ) {}

  /** How many statements `sub` may run at once now. */
  capOf(sub: string): number {
    return this.isHeavy(sub) ? 1 : this.cap;
  }

  async acquire(sub: string, waitMs: number): Promise<Slot> {
    const user = this.users.get(sub) ?? { active: 0, waiting: [] };
    this.users.set(sub, user);
    let done = false;
    const slot: Slot = {
      release: (databaseMs) => {
        if (done) return;
        done = true;
        if (databaseMs !== undefined) this.record(sub, databaseMs);
        this.release(sub, user);
      },
    };
    const cap = this.capOf(sub);
    if (user.active < cap && user.waiting.length === 0) {
      user.active++;
      return slot;
    }
    if (user.waiting.length >= QUEUE_FACTOR * cap) throw this.busy(sub, 'queued');
    return new Promise((resolve, reject) => {
      const entry = { grant: () => (clearTimeout(timer), resolve(slot)) };
      const timer = setTimeout(() => {
        user.waiting.splice(user.waiting.indexOf(entry), 1);
        if (user.active === 0 && user.waiting.length === 0) this.users.delete(sub);
        reject(this.busy(sub, 'waited'));
      }, waitMs);
      user.waiting.push(entry);
    });
  }

  private release(sub: string, user: UserState): void {
    user.active--;
    // A user who turned heavy keeps fewer running: waiting calls start only below the new cap.
    while (user.waiting.length > 0 && user.active < this.capOf(sub)) {
      user.active++;
      user.waiting.shift()!.grant();
    }
    if (user.active === 0 && user.waiting.length === 0) this.users.delete(sub);
  }

  private isHeavy(sub: string): boolean {
    return this.heavyMs > 0 && (this.costs.get(sub) ?? 0) > this.heavyMs;
  }

  private record(sub: string, ms: number): void {
    if (this.heavyMs === 0) return;
    const before = this.costs.get(sub);
    this.costs.delete(sub); // re-inserted last: the Map's order is then least recent first
    this.costs.set(sub, before === undefined ? ms : before + SMOOTHING * (ms - before));
    if (this.costs.size > REMEMBERED_USERS) this.costs.delete(this.costs.keys().next().value!);
  }

  private busy(sub: string, why: 'queued' | 'waited'): DbError {
    const cap = this.capOf(sub);
    // Named only when weighing is what lowered the cap.
    const weighed = cap < this.cap;
    const cost = Math.round(this.costs.get(sub) ?? 0);
    const limit = weighed
      ? `You already have a statement running, and your recent statements took about ${cost} ms each in the ` +
        `database (over DB_USER_HEAVY_MS = ${this.heavyMs}), so you run one at a time instead of ${this.cap} (DB_USER_CONCURRENCY) to leave its CPU to others`
      : `You already have ${cap} statement${cap === 1 ? '' : 's'} running, the most one user may run at once (DB_USER_CONCURRENCY)`;
    const advice = weighed
      ? 'Make statements cheaper (a WHERE on an indexed column, a LIMIT, fewer joins), or run them one after another.'
      : 'Run statements one after another, or retry in a second.';
    return new DbError(
      'USER_BUSY',
      `${limit}${why === 'queued' ? ', and the most that may wait are waiting' : ', and this one waited too long for its turn'}. ${advice}`,
      undefined,
      { limit: cap, retryAfterSeconds: 1, ...(weighed ? { recentStatementMs: cost } : {}) },
    );
  }
}
