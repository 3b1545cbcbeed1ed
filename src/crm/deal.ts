/**
 * The web app's actions on deals, each one statement so every row it touches changes together or
 * not at all (docs/atomic-crm-web-app.md):
 * - moving a deal on the board (deals/DealListContent.tsx): the deal takes its place in the new
 *   column, the deals below it there move down one, the deals below its old place move up one;
 * - archiving (deals/DealShow.tsx, archived_at = now) and unarchiving (the data provider's
 *   unarchiveDeal: back at the top of its stage, the rest of the stage renumbered below it);
 * - a note on a deal (notes/NoteCreate.tsx): by the current user, dated now unless given.
 * The deal acted on gets updated_at = now, as the app's demo data provider stamps every deal update:
 * the Supabase one leaves it to nothing, and "which deals stalled?" needs it. Deals only renumbered
 * keep theirs. The board's order is `index`, nulls last, then id.
 *
 * @example
 *   const { text, parameters } = moveDealSql({ dealId: 7, stage: 'won' });
 */

const ORDER = 'coalesce(d.index, 32767), d.id';
const DEAL_COLUMNS = 'id, name, stage, index, archived_at, updated_at';

export interface MoveDealInput {
  dealId: number;
  stage: string;
  /** 0 = top of the column. Default: its place when the stage is unchanged, else the top. */
  position?: number;
}

export interface BoardDeal {
  id: number;
  name: string;
  stage: string;
  index: number | null;
  archived_at: string | null;
  updated_at: string;
}

/** What a deal action answers: the deal, the deals renumbered around it, or why nothing happened. */
export interface DealChange {
  found: boolean;
  archived: boolean;
  deal: BoardDeal | null;
  reindexed: { id: number; stage: string; index: number }[];
}

/**
 * The board's drag and drop, with the app's index arithmetic on every deal of the stages involved
 * that the user can see (archived ones too, as the app's column fetch filters on stage only). The
 * place is read off the board (unarchived deals in order): the deal takes the index of the deal
 * now at that place, or one past the stage's last when dropped after the end (the app uses the
 * column's length + 1 there, which leaves a gap). An archived deal is not moved (`archived`).
 */
export function moveDealSql(input: MoveDealInput): { text: string; parameters: (number | string | null)[] } {
  const text = `
with deal as (
  select ${DEAL_COLUMNS} from public.deals where id = $1::bigint
), mover as (
  select * from deal where archived_at is null
), board as (
  select d.id, d.index, row_number() over (order by ${ORDER}) - 1 as position
  from public.deals d, mover
  where d.archived_at is null and d.stage = $2::text and (mover.stage = $2::text or d.id <> mover.id)
), target as (
  select case
    when mover.stage = $2::text and $3::int is null then mover.index
    when mover.stage = $2::text then (select index from board where position = least($3::int, (select count(*) - 1 from board)))
    when coalesce($3::int, 0) < (select count(*) from board) then (select index from board where position = coalesce($3::int, 0))
    else coalesce((select max(d.index) from public.deals d where d.stage = $2::text), -1) + 1
  end as index
  from mover
), placed as (
  select d.id,
    case when d.id = mover.id then $2::text else d.stage end as stage,
    case
      when d.id = mover.id then target.index
      when mover.stage = $2::text and mover.index > target.index and d.index >= target.index and d.index < mover.index then d.index + 1
      when mover.stage = $2::text and mover.index < target.index and d.index > mover.index and d.index <= target.index then d.index - 1
      when mover.stage <> $2::text and d.stage = mover.stage and d.index > mover.index then d.index - 1
      when mover.stage <> $2::text and d.stage = $2::text and d.index >= target.index then d.index + 1
      else d.index
    end as index
  from public.deals d, mover, target
  where d.stage in (mover.stage, $2::text)
), changed as (
  update public.deals
  set stage = placed.stage, index = placed.index,
      updated_at = case when deals.id = $1::bigint then now() else deals.updated_at end
  from placed
  where deals.id = placed.id and (deals.stage, deals.index) is distinct from (placed.stage, placed.index)
  returning deals.id, deals.name, deals.stage, deals.index, deals.archived_at, deals.updated_at
)
select json_build_object(
  'found', exists (select 1 from deal),
  'archived', exists (select 1 from deal where archived_at is not null),
  'deal', coalesce((select row_to_json(changed) from changed where id = $1::bigint), (select row_to_json(deal) from deal)),
  'reindexed', coalesce((select json_agg(json_build_object('id', id, 'stage', stage, 'index', index) order by stage, index)
                         from changed where id <> $1::bigint), '[]'::json)
) as change`;
  return { text, parameters: [input.dealId, input.stage, input.position ?? null] };
}

/** Archiving: archived_at = now, nothing else on the board moves. An archived deal keeps its date. */
export function archiveDealSql(dealId: number): { text: string; parameters: number[] } {
  const text = `
with deal as (
  select ${DEAL_COLUMNS} from public.deals where id = $1::bigint
), changed as (
  update public.deals set archived_at = now(), updated_at = now()
  from deal where deals.id = deal.id and deal.archived_at is null
  returning deals.id, deals.name, deals.stage, deals.index, deals.archived_at, deals.updated_at
)
select json_build_object(
  'found', exists (select 1 from deal),
  'archived', true,
  'deal', coalesce((select row_to_json(changed) from changed), (select row_to_json(deal) from deal)),
  'reindexed', '[]'::json
) as change`;
  return { text, parameters: [dealId] };
}

/**
 * Unarchiving as the data provider's unarchiveDeal: every deal of the stage (archived ones too) in
 * index order, the unarchived one included, takes its place + 1 as index; the unarchived one takes
 * 0 (the top) and archived_at = null. A deal that is not archived is left as it is.
 */
export function unarchiveDealSql(dealId: number): { text: string; parameters: number[] } {
  const text = `
with deal as (
  select ${DEAL_COLUMNS} from public.deals where id = $1::bigint
), target as (
  select * from deal where archived_at is not null
), placed as (
  select d.id, case when d.id = target.id then 0 else row_number() over (order by ${ORDER}) end as index
  from public.deals d, target where d.stage = target.stage
), changed as (
  update public.deals
  set index = placed.index,
      archived_at = case when deals.id = $1::bigint then null else deals.archived_at end,
      updated_at = case when deals.id = $1::bigint then now() else deals.updated_at end
  from placed
  where deals.id = placed.id and (deals.id = $1::bigint or deals.index is distinct from placed.index)
  returning deals.id, deals.name, deals.stage, deals.index, deals.archived_at, deals.updated_at
)
select json_build_object(
  'found', exists (select 1 from deal),
  'archived', false,
  'deal', coalesce((select row_to_json(changed) from changed where id = $1::bigint), (select row_to_json(deal) from deal)),
  'reindexed', coalesce((select json_agg(json_build_object('id', id, 'stage', stage, 'index', index) order by index)
                         from changed where id <> $1::bigint), '[]'::json)
) as change`;
  return { text, parameters: [dealId] };
}
