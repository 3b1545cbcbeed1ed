/**
 * The demo's memory across restarts: the durable part of the state (signing keys, clients,
 * sessions, refresh tokens, consents) kept as one JSON document in the demo's own database, as a
 * real project keeps them in its `auth` schema. Without it a restart would publish new keys
 * (every token: "signed with a key the project does not publish") and forget every client
 * (every refresh: invalid_client).
 *
 * The schema `auth_stand_in` is granted to no one: only the superuser the stand-in connects as can
 * read it, never `authenticated`, so agent SQL cannot read the private keys or refresh tokens.
 * Saves are serialised and the latest state always wins; a route's response waits for them
 * (`flushed`), so what a client was told is already on disk.
 */
import type postgres from 'postgres';
import { restoreKey, storeKey, type StoredKey } from './keys.js';
import type { AuthState, Client, Consent, Session } from './state.js';

const SCHEMA = 'auth_stand_in';
const VERSION = 1;

interface Snapshot {
  version: number;
  keys: StoredKey[];
  clients: Array<Omit<Client, 'secretHash'> & { secretHash?: string }>;
  sessions: Array<Omit<Session, 'refreshTokens'> & { refreshTokens: string[] }>;
  refreshTokens: Array<{ token: string; sessionId: string; used: boolean }>;
  consents: Array<Omit<Consent, 'scopes'> & { scopes: string[] }>;
}

export interface StateStore {
  /** The durable state changed: save it (coalesced with other changes until the write starts). */
  changed(): void;
  /** Resolves when every change so far is saved. */
  flushed(): Promise<void>;
}

/** For tests: nothing survives the process. */
export const memoryStore: StateStore = { changed: () => undefined, flushed: () => Promise.resolve() };

function snapshot(state: AuthState): Snapshot {
  return {
    version: VERSION,
    keys: state.keys.map(storeKey),
    clients: [...state.clients.values()].map(({ secretHash, ...client }) => ({
      ...client,
      secretHash: secretHash?.toString('base64'),
    })),
    sessions: [...state.sessions.values()].map((session) => ({
      ...session,
      refreshTokens: [...session.refreshTokens],
    })),
    refreshTokens: [...state.refreshTokens].map(([token, record]) => ({ token, ...record })),
    consents: [...state.consents.values()].map((consent) => ({ ...consent, scopes: [...consent.scopes] })),
  };
}

async function restore(state: AuthState, saved: Snapshot): Promise<void> {
  state.keys = await Promise.all(saved.keys.map(restoreKey));
  for (const { secretHash, ...client } of saved.clients) {
    state.clients.set(client.client_id, {
      ...client,
      ...(secretHash ? { secretHash: Buffer.from(secretHash, 'base64') } : {}),
    });
  }
  for (const session of saved.sessions)
    state.sessions.set(session.id, { ...session, refreshTokens: new Set(session.refreshTokens) });
  for (const { token, ...record } of saved.refreshTokens) state.refreshTokens.set(token, record);
  for (const consent of saved.consents)
    state.consents.set(`${consent.userId}:${consent.clientId}`, { ...consent, scopes: new Set(consent.scopes) });
}

/**
 * Creates the table if needed and loads what an earlier run saved into `state`. A snapshot of
 * another format version is ignored (the demo then starts signed out, as after --reset).
 */
export async function openDatabaseStore(
  sql: postgres.Sql,
  state: AuthState,
  onError: (error: Error) => void,
): Promise<StateStore> {
  await sql`create schema if not exists ${sql(SCHEMA)}`;
  await sql`revoke all on schema ${sql(SCHEMA)} from public`;
  await sql`
    create table if not exists ${sql(SCHEMA)}.state (
      id int primary key check (id = 1),
      snapshot jsonb not null,
      saved_at timestamptz not null default now()
    )`;
  const [row] = await sql<{ snapshot: Snapshot }[]>`select snapshot from ${sql(SCHEMA)}.state where id = 1`;
  if (row && row.snapshot.version === VERSION) await restore(state, row.snapshot);

  let pending = false;
  let saving: Promise<void> = Promise.resolve();
  return {
    changed() {
      if (pending) return;
      pending = true;
      saving = saving.then(async () => {
        // Taken when the write starts, so changes made while an earlier write ran are included.
        pending = false;
        const doc = snapshot(state) as unknown as postgres.JSONValue;
        try {
          await sql`
            insert into ${sql(SCHEMA)}.state (id, snapshot) values (1, ${sql.json(doc)})
            on conflict (id) do update set snapshot = excluded.snapshot, saved_at = now()`;
        } catch (error) {
          onError(error as Error);
        }
      });
    },
    flushed: () => saving,
  };
}
