/**
 * The two in-process comparison points of the benchmark (no HTTP, no MCP, no token check):
 *
 * - `floorCall`: the cheapest correct shape: raw postgres.js on a reserved connection writes
 *   begin, the identity settings, the statement and commit without waiting between them (one
 *   round trip), then awaits all four. What the server as built cannot beat; the floor server
 *   (floor-server.ts) runs it too, behind HTTP and MCP.
 * - `naiveCall`: the anchor, as existing Atomic CRM / Supabase MCP servers do it: BEGIN; set the
 *   role; set the claims; the statement; COMMIT, each awaited before the next is sent (five round
 *   trips). No bind parameters either, so postgres.js adds no describe round trips: this is the
 *   naive shape at its best.
 */
import type postgres from 'postgres';

export interface BenchIdentity {
  sub: string;
  claims: Record<string, unknown>;
}

const EXTENDED = { prepare: false } as const;

function quote(text: string): string {
  return `E'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function identitySql(identity: BenchIdentity): string {
  return (
    "select set_config('role', 'authenticated', true)," +
    ` set_config('request.jwt.claims', ${quote(JSON.stringify(identity.claims))}, true),` +
    ` set_config('request.jwt.claim.sub', ${quote(identity.sub)}, true),` +
    " set_config('search_path', 'public, extensions', true)"
  );
}

/** One pipelined transaction; returns the statement's rows (the floor server answers with them). */
export async function floorCall(
  sql: postgres.Sql,
  identity: BenchIdentity,
  statement: string,
  write: boolean,
): Promise<postgres.RowList<postgres.Row[]>> {
  const c = await sql.reserve();
  try {
    const steps = [
      c.unsafe(write ? 'begin' : 'begin read only', [], EXTENDED),
      c.unsafe(identitySql(identity), [], EXTENDED),
      c.unsafe(statement, [], EXTENDED),
      c.unsafe('commit', [], EXTENDED),
    ];
    for (const step of steps) step.execute();
    const settled = await Promise.allSettled(steps);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return (settled[2] as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>).value;
  } finally {
    c.release();
  }
}

/** Five awaited steps on one connection, as naive servers do. */
export async function naiveCall(
  sql: postgres.Sql,
  identity: BenchIdentity,
  statement: string,
  write: boolean,
): Promise<number> {
  const c = await sql.reserve();
  try {
    await c.unsafe(write ? 'begin' : 'begin read only', [], EXTENDED);
    try {
      await c.unsafe('set local role authenticated', [], EXTENDED);
      await c.unsafe(
        `select set_config('request.jwt.claims', ${quote(JSON.stringify(identity.claims))}, true)`,
        [],
        EXTENDED,
      );
      const rows = await c.unsafe(statement, [], EXTENDED);
      await c.unsafe('commit', [], EXTENDED);
      return rows.length;
    } catch (error) {
      await c.unsafe('rollback', [], EXTENDED).catch(() => {});
      throw error;
    }
  } finally {
    c.release();
  }
}
