/**
 * `npm run agent-suite -- [--before=<commit>] [--out=<file.md>]`: the scripted agent suite
 * (test/agent/) as a Markdown table of passes, calls and characters, as a member and an admin.
 * With --before, the same tasks also run against that commit's server: it is exported (git
 * archive) to a folder in the system's temp dir, outside this tree, and installed there once with
 * its own lockfile (npm ci); each run gets a fresh copy of the same demo data.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { before: { type: 'string' }, out: { type: 'string', default: 'agent-suite.md' } },
});
const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
const short = (rev: string) => git('rev-parse', '--short', rev);

/** The commit's tree with its production dependencies, reused by later runs. */
function checkout(rev: string): string {
  const dir = path.join(tmpdir(), `atomic-crm-mcp-${short(rev)}`);
  if (!existsSync(path.join(dir, 'node_modules'))) {
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git archive ${short(rev)} | tar -x -C "${dir}"`], { stdio: 'inherit' });
    // Dev tools are not needed: this project's tsx runs the server.
    execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'inherit' });
  }
  return dir;
}

const env: Record<string, string> = {
  ...(process.env as Record<string, string>),
  AGENT_SUITE_OUT: path.resolve(values.out!),
  AGENT_SUITE_AFTER_LABEL: `after (${short('HEAD')})`,
};
if (values.before) {
  env.AGENT_SUITE_BEFORE_DIR = checkout(values.before);
  env.AGENT_SUITE_BEFORE_LABEL = `before (${short(values.before)})`;
}
const run = spawnSync(process.execPath, ['--import', 'tsx', 'test/run.ts', 'test/agent/suite.test.ts'], {
  env,
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
