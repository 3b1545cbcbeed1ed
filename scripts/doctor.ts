/**
 * `npm run doctor [-- --token=… --client-id=… --redirect-uri=… --json --dotenv=path]`
 *
 * Checks the configured project (environment, then .env) and prints, per check, PASS/WARN/FAIL/
 * SKIP, what it found and the exact fix. Exit code 1 when any check fails.
 * The token may also come from DOCTOR_TOKEN; it is verified like the server would and never printed.
 */
import { resolve4, resolve6 } from 'node:dns/promises';
import { existsSync, readFileSync } from 'node:fs';
import { formatCheck, runDoctor, type Resolver } from '../src/doctor/index.js';

function flag(name: string): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === `--${name}`) return args[i + 1] && !args[i + 1]!.startsWith('--') ? args[i + 1] : 'true';
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  return undefined;
}

if (flag('help')) {
  console.log(
    'Usage: npm run doctor -- [--token=ACCESS_TOKEN] [--client-id=UUID --redirect-uri=URI] [--json] [--dotenv=.env]\n' +
      'Reads SUPABASE_URL, DATABASE_URL, ALLOW_SESSION_TOKENS (and DOCTOR_TOKEN) from the environment or .env;\n' +
      'an MCP_SERVER_URL under SUPABASE_URL/functions/v1/ also checks the Edge Function deployed there.',
  );
  process.exit(0);
}

const envFile = flag('dotenv') ?? '.env';
if (existsSync(envFile)) process.loadEnvFile(envFile);

const resolver: Resolver = async (host) => {
  const [v4, v6] = await Promise.all([resolve4(host).catch(() => []), resolve6(host).catch(() => [])]);
  return { v4, v6 };
};

const clientId = flag('client-id') ?? process.env.DOCTOR_CLIENT_ID;
const redirectUri = flag('redirect-uri') ?? process.env.DOCTOR_REDIRECT_URI;

const report = await runDoctor({
  env: process.env,
  token: flag('token'),
  authorizeProbe: clientId && redirectUri ? { clientId, redirectUri } : undefined,
  resolve: resolver,
});

if (flag('json')) {
  console.log(JSON.stringify(report, null, 2));
} else {
  for (const check of report.checks) {
    console.log(formatCheck(check));
    if (check.id === 'login_role' && check.status === 'fail' && existsSync('sql/least-privilege-role.sql')) {
      console.log("       SQL (sql/least-privilege-role.sql: set its password, then run it in Supabase's SQL Editor):");
      const sql = readFileSync('sql/least-privilege-role.sql', 'utf8');
      console.log(
        sql
          .split('\n')
          .map((l) => `       | ${l}`)
          .join('\n'),
      );
    }
  }
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  const warned = report.checks.filter((c) => c.status === 'warn').length;
  console.log(
    failed
      ? `\n${failed} check(s) failed${warned ? `, ${warned} warning(s)` : ''}.`
      : `\nAll checks passed${warned ? ` (${warned} warning(s))` : ''}.`,
  );
}
process.exitCode = report.ok ? 0 : 1;
