/**
 * The programs the suites drive that npm cannot provide: Chromium (the consent page in a real
 * browser), PgBouncer (a transaction-mode pooler, like Supabase's Supavisor on :6543) and OpenSSL
 * (the test cluster's TLS certificate).
 * test/run.ts calls `ensurePrerequisites()` before it starts anything: on Debian/Ubuntu as root it
 * installs what is missing with apt-get; anywhere else it stops with the exact command to run.
 * A missing program is never a skip: the suites that need it would prove nothing.
 *
 * @example
 *   const problem = await ensurePrerequisites();
 *   if (problem) { console.error(problem); process.exit(1); }
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** apt-get on a fresh machine downloads ~100 MB (Chromium); bounded, never a hang. */
const APT_TIMEOUT_MS = 10 * 60_000;

interface Prerequisite {
  /** The Debian/Ubuntu package that provides it. */
  debianPackage: string;
  /** Why the suites need it, for the install line. */
  why: string;
  /** Its path, or undefined when it is not installed. */
  find(): string | undefined;
  /** What to do without apt. */
  elsewhere: string;
}

/** Override with CHROMIUM_PATH (another distribution's path, or Chrome). */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH || '/usr/bin/chromium';
}

/** Where Debian, other Linux distributions and Homebrew put it, else whatever PATH finds. */
export function pgBouncerPath(): string | undefined {
  for (const candidate of [
    '/usr/sbin/pgbouncer',
    '/usr/bin/pgbouncer',
    '/usr/local/bin/pgbouncer',
    '/opt/homebrew/bin/pgbouncer',
  ]) {
    if (existsSync(candidate)) return candidate;
  }
  try {
    return execFileSync('sh', ['-c', 'command -v pgbouncer'], { encoding: 'utf8', timeout: 5_000 }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export const PREREQUISITES: readonly Prerequisite[] = [
  {
    debianPackage: 'chromium',
    why: 'the consent page is tested in a real browser',
    find: () => (existsSync(chromiumPath()) ? chromiumPath() : undefined),
    elsewhere: 'install Chromium or Chrome and set CHROMIUM_PATH to its binary (default /usr/bin/chromium)',
  },
  {
    debianPackage: 'pgbouncer',
    why: "the pooler suite runs through PgBouncer in transaction mode, as Supabase's pooler on :6543",
    find: pgBouncerPath,
    elsewhere: 'install PgBouncer so that `pgbouncer` is on PATH (e.g. brew install pgbouncer)',
  },
  {
    debianPackage: 'openssl',
    why: "the test cluster accepts TLS, as Supabase's databases do, with a certificate openssl makes",
    find: () => ['/usr/bin/openssl', '/usr/local/bin/openssl', '/opt/homebrew/bin/openssl'].find((p) => existsSync(p)),
    elsewhere: 'install OpenSSL so that `openssl` is in /usr/bin or /usr/local/bin',
  },
];

export interface Host {
  isRoot: boolean;
  hasApt: boolean;
}

export function currentHost(): Host {
  return { isRoot: process.getuid?.() === 0, hasApt: existsSync('/usr/bin/apt-get') };
}

const aptCommand = (packages: string[], sudo: boolean): string =>
  `${sudo ? 'sudo ' : ''}apt-get install -y --no-install-recommends ${packages.join(' ')}`;

/** The one message for a host where this script may not install: the exact command, nothing else. */
export function installAdvice(missing: readonly Prerequisite[], host: Host): string {
  const packages = missing.map((p) => p.debianPackage);
  const what = missing.map((p) => `${p.debianPackage} (${p.why})`).join(' and ');
  if (host.hasApt) return `npm test needs ${what}. Run: ${aptCommand(packages, !host.isRoot)}`;
  return `npm test needs ${what}: ${missing.map((p) => p.elsewhere).join('; ')}.`;
}

async function apt(args: string[]): Promise<void> {
  await execFileAsync('apt-get', args, {
    timeout: APT_TIMEOUT_MS,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 * 1024 * 1024,
  });
}

/**
 * Installs what is missing when it may (root with apt-get); returns undefined when everything is
 * there, else the one line that says what is missing and how to fix it.
 */
export async function ensurePrerequisites(
  host: Host = currentHost(),
  log: (line: string) => void = (line) => void process.stderr.write(`${line}\n`),
): Promise<string | undefined> {
  const missing = PREREQUISITES.filter((p) => p.find() === undefined);
  if (missing.length === 0) return undefined;
  if (!host.isRoot || !host.hasApt) return installAdvice(missing, host);

  const packages = missing.map((p) => p.debianPackage);
  log(`[test/run] installing ${packages.join(' and ')} with apt-get: ${missing.map((p) => p.why).join('; ')}`);
  const install = ['install', '-y', '-qq', '--no-install-recommends', ...packages];
  try {
    await apt(install);
  } catch {
    // A fresh image has no package lists yet: fetch them once, then try again.
    try {
      await apt(['update', '-qq']);
      await apt(install);
    } catch (error) {
      const detail = String((error as { stderr?: string }).stderr ?? (error as Error).message)
        .trim()
        .split('\n')
        .slice(-3)
        .join(' ');
      return `apt-get could not install ${packages.join(' ')} (${detail}). Run: ${aptCommand(packages, false)}`;
    }
  }
  const stillMissing = missing.filter((p) => p.find() === undefined);
  if (stillMissing.length > 0) {
    return `apt-get installed ${packages.join(' ')}, but npm test still cannot find them: ${stillMissing.map((p) => p.elsewhere).join('; ')}.`;
  }
  return undefined;
}
