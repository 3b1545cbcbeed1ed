/**
 * What the benchmark clients ask for: realistic Atomic CRM reads (the `query` tool) and small
 * writes (the `mutate` tool), run as the demo users. Every statement is plain SQL without bind
 * parameters, exactly what an agent sends; the same text goes to the server, the floor and the
 * naive anchor.
 */
export interface Operation {
  tool: 'query' | 'mutate';
  sql: string;
}

const READS: ((n: number) => string)[] = [
  () => 'select id, name, sector, size, city from companies order by name limit 20',
  (n) =>
    'select c.id, c.first_name, c.last_name, c.title, co.name as company, c.last_seen from contacts c ' +
    `join companies co on co.id = c.company_id where c.status = '${['hot', 'warm', 'cold'][n % 3]}' ` +
    'order by c.last_seen desc nulls last limit 25',
  () =>
    'select stage, count(*) as deals, sum(amount) as total from deals where archived_at is null group by stage order by total desc nulls last',
  () =>
    'select t.id, t.type, t.text, t.due_date, c.first_name, c.last_name from tasks t join contacts c on c.id = t.contact_id ' +
    'where t.done_date is null and t.sales_id = (select id from sales where user_id = auth.uid()) order by t.due_date limit 20',
  (n) =>
    `select id, text, date, status from contact_notes where contact_id = ${(n % 500) + 1} order by date desc limit 10`,
  (n) =>
    'select d.name, d.stage, d.amount, co.name as company, count(dn.id) as notes from deals d ' +
    'join companies co on co.id = d.company_id left join deal_notes dn on dn.deal_id = d.id ' +
    `where d.company_id = ${(n % 55) + 1} group by d.id, co.name order by d.updated_at desc`,
  () => 'select id, text, created_at from private_notes order by created_at desc limit 5',
];

const WRITES: ((n: number) => string)[] = [
  (n) => `update contacts set last_seen = now() where id = ${((n * 7919) % 500) + 1}`,
  (n) =>
    `insert into tasks (contact_id, type, text, due_date) values (${((n * 104729) % 500) + 1}, 'follow-up', ` +
    `'Benchmark follow-up ${n}', now() + interval '2 days') returning id`,
  (n) => `insert into private_notes (text) values ('benchmark note ${n}') returning id, sales_id`,
];

/** The n-th operation of a run: four reads for every write. */
export function operation(n: number): Operation {
  if (n % 5 === 4) return { tool: 'mutate', sql: WRITES[Math.floor(n / 5) % WRITES.length]!(n) };
  return { tool: 'query', sql: READS[n % READS.length]!(n) };
}
