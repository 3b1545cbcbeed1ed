/**
 * The lists behind the statement policy (src/db/policy.ts): which functions, schemas and catalog
 * relations an agent's SQL may name. policy.ts explains the design; this file only holds data, and
 * every entry carries the sentence the agent is shown, so a refusal always says why.
 *
 * Names are compared exactly as PostgreSQL stores them after parsing (unquoted identifiers are
 * already folded to lower case, U&"…" escapes already decoded), so a quoted "SET_CONFIG" is a
 * different (non-existent) function and does not match, exactly as in PostgreSQL.
 */

/** Why a function is refused, grouped by what the database itself cannot stop. */
const SETTINGS = 'it changes session settings, and the server sets your identity and limits itself';
const SETTINGS_READ = 'it lists server and role configuration, which can hold deployment secrets';
const DYNAMIC_SQL = 'it runs SQL hidden inside a string argument, which the server cannot check';
const FILES = 'it reads or writes files or large objects on the database server';
const SERVER_ADMIN = 'it signals other server processes or changes server-wide state';
const ADVISORY_LOCKS =
  'advisory locks outlive the statement on a shared connection and can block or signal other sessions';
const NOTIFY = 'it sends messages to other database sessions, a side channel out of the transaction';
const SLEEP = 'it holds a database connection without doing any work';
const SEQUENCE_WRITE = 'it advances or resets a sequence, which no rollback undoes; identity columns fill ids for you';
const SESSION_STATE = 'it reads session state that earlier users of the shared connection left behind';
const NETWORK = 'it makes network requests from the database server';
const OTHER_SESSIONS = "it shows other sessions' statements and activity";
const CRM_WRITE =
  'it deletes a contact as a hidden side effect of a function call; do the merge with explicit UPDATE and DELETE statements through the mutate tool instead';

/** Functions refused by exact name, in any schema and in both tools. */
export const deniedFunctions: ReadonlyMap<string, string> = new Map([
  ['set_config', SETTINGS],
  ['pg_show_all_settings', SETTINGS_READ],
  ['pg_show_all_file_settings', SETTINGS_READ],
  ['pg_hba_file_rules', SETTINGS_READ],
  ['pg_ident_file_mappings', SETTINGS_READ],
  ['pg_reload_conf', SERVER_ADMIN],

  ['query_to_xml', DYNAMIC_SQL],
  ['query_to_xmlschema', DYNAMIC_SQL],
  ['query_to_xml_and_xmlschema', DYNAMIC_SQL],
  ['cursor_to_xml', DYNAMIC_SQL],
  ['cursor_to_xmlschema', DYNAMIC_SQL],
  ['table_to_xml', DYNAMIC_SQL],
  ['table_to_xmlschema', DYNAMIC_SQL],
  ['table_to_xml_and_xmlschema', DYNAMIC_SQL],
  ['schema_to_xml', DYNAMIC_SQL],
  ['schema_to_xmlschema', DYNAMIC_SQL],
  ['schema_to_xml_and_xmlschema', DYNAMIC_SQL],
  ['database_to_xml', DYNAMIC_SQL],
  ['database_to_xmlschema', DYNAMIC_SQL],
  ['database_to_xml_and_xmlschema', DYNAMIC_SQL],
  ['ts_stat', DYNAMIC_SQL],
  ['ts_rewrite', DYNAMIC_SQL],

  ['pg_stat_file', FILES],
  ['pg_current_logfile', FILES],
  ['pg_file_write', FILES],
  ['pg_file_rename', FILES],
  ['pg_file_unlink', FILES],
  ['pg_file_sync', FILES],
  ['pg_logdir_ls', FILES],
  ['xslt_process', FILES], // contrib xml2: its stylesheets can read files and URLs
  ['loread', FILES],
  ['lowrite', FILES],

  ['pg_terminate_backend', SERVER_ADMIN],
  ['pg_cancel_backend', SERVER_ADMIN],
  ['pg_rotate_logfile', SERVER_ADMIN],
  ['pg_promote', SERVER_ADMIN],
  ['pg_switch_wal', SERVER_ADMIN],
  ['pg_backup_start', SERVER_ADMIN],
  ['pg_backup_stop', SERVER_ADMIN],
  ['pg_start_backup', SERVER_ADMIN],
  ['pg_stop_backup', SERVER_ADMIN],
  ['pg_wal_replay_pause', SERVER_ADMIN],
  ['pg_wal_replay_resume', SERVER_ADMIN],
  ['pg_drop_replication_slot', SERVER_ADMIN],
  ['pg_replication_slot_advance', SERVER_ADMIN],
  ['pg_sync_replication_slots', SERVER_ADMIN],
  ['pg_logical_emit_message', SERVER_ADMIN],
  ['pg_log_backend_memory_contexts', SERVER_ADMIN],
  ['pg_import_system_collations', SERVER_ADMIN],
  ['pg_nextoid', SERVER_ADMIN],

  ['pg_notify', NOTIFY],

  ['pg_sleep', SLEEP],
  ['pg_sleep_for', SLEEP],
  ['pg_sleep_until', SLEEP],

  ['nextval', SEQUENCE_WRITE],
  ['setval', SEQUENCE_WRITE],
  ['currval', SESSION_STATE],
  ['lastval', SESSION_STATE],

  ['pg_stat_get_activity', OTHER_SESSIONS],
  ['pg_stat_statements', OTHER_SESSIONS],

  // Atomic CRM's own plpgsql function (SECURITY INVOKER, deletes the losing contact).
  ['merge_contacts', CRM_WRITE],
]);

/**
 * Functions refused by name prefix: families whose members differ between PostgreSQL versions and
 * extension versions (pg_ls_summariesdir is PG 17, lo_from_bytea 9.4, the http extension grows).
 * No built-in function used in analytics starts with any of these.
 */
export const deniedFunctionPrefixes: readonly (readonly [prefix: string, reason: string])[] = [
  ['dblink', DYNAMIC_SQL],
  ['pg_read_', FILES], // pg_read_file, pg_read_binary_file
  ['pg_ls_', FILES], // pg_ls_dir, pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir, …
  ['lo_', FILES], // lo_import, lo_export, lo_get, lo_put, lo_create, lo_unlink, …
  ['pg_advisory_', ADVISORY_LOCKS],
  ['pg_try_advisory_', ADVISORY_LOCKS],
  ['pg_create_', SERVER_ADMIN], // pg_create_restore_point, pg_create_*_replication_slot
  ['pg_copy_', SERVER_ADMIN], // pg_copy_physical/logical_replication_slot
  ['pg_logical_slot_', SERVER_ADMIN], // reads every change in the database, past RLS
  ['pg_replication_origin_', SERVER_ADMIN],
  ['pg_stat_get_backend_', OTHER_SESSIONS], // pg_stat_get_backend_activity, _pid, _userid, …
  ['pg_stat_reset', SERVER_ADMIN], // pg_stat_reset, pg_stat_reset_shared, …
  ['pg_stat_statements_reset', SERVER_ADMIN],
  ['binary_upgrade_', SERVER_ADMIN],
  ['http', NETWORK], // extensions.http_get/http_post/…, net.http_post, supabase_functions.http_request
  ['_http', NETWORK], // pg_net internals (net._http_collect_response)
];

/**
 * Schemas an agent may qualify a name with. This is an allow-list: Atomic CRM lives entirely in
 * `public`; extension types and functions (citext, pgcrypto) live in `extensions`; introspection
 * uses `pg_catalog` and `information_schema`. Every other schema on a Supabase database is
 * infrastructure the agent has no business in (auth tables with password hashes and refresh
 * tokens, vault, net, pgsodium, storage, realtime, graphql, supabase_functions, cron, pg_temp,
 * pg_toast, …), and an allow-list also covers schemas that extensions add later.
 */
export const allowedSchemas: ReadonlySet<string> = new Set([
  'public',
  'extensions',
  'pg_catalog',
  'information_schema',
]);

/**
 * Supabase's identity helpers, the only names allowed in schema `auth`. They read the JWT claims the
 * server sets for the signed-in user; `auth` relations (auth.users, auth.sessions,
 * auth.refresh_tokens, …) stay refused.
 */
export const allowedAuthFunctions: ReadonlySet<string> = new Set(['uid', 'jwt', 'role', 'email']);

const SECRETS = 'it holds credentials or other secrets';
const CONFIGURATION = 'it exposes server, role and database configuration, which can hold deployment secrets';
const ACTIVITY = "it exposes other sessions' statements, locks or connections";
const SETTINGS_VIEW =
  'it exposes every setting, including secrets stored in custom settings, and updating it runs set_config()';

/**
 * Catalog relations refused by name (in pg_catalog, `extensions` for pg_stat_statements, or
 * unqualified, which resolves to pg_catalog first). Most of them are already closed to
 * non-superusers; listing them keeps a misconfigured grant from becoming a leak and gives the agent
 * a clear reason instead of a permission error.
 */
export const deniedRelations: ReadonlyMap<string, string> = new Map([
  ['pg_authid', SECRETS],
  ['pg_shadow', SECRETS],
  ['pg_user_mapping', SECRETS],
  ['pg_user_mappings', SECRETS],
  ['pg_subscription', SECRETS],
  ['pg_largeobject', SECRETS],
  ['pg_largeobject_metadata', SECRETS],
  ['pg_statistic', 'it holds sample values from every column, bypassing row level security'],
  ['pg_statistic_ext_data', 'it holds sample values from every column, bypassing row level security'],
  ['pg_settings', SETTINGS_VIEW],
  ['pg_file_settings', CONFIGURATION],
  ['pg_hba_file_rules', CONFIGURATION],
  ['pg_ident_file_mappings', CONFIGURATION],
  ['pg_db_role_setting', CONFIGURATION],
  ['pg_config', CONFIGURATION],
  ['pg_stat_activity', ACTIVITY],
  ['pg_stat_statements', ACTIVITY],
  ['pg_stat_statements_info', ACTIVITY],
  ['pg_stat_ssl', ACTIVITY],
  ['pg_stat_gssapi', ACTIVITY],
  ['pg_stat_replication', ACTIVITY],
  ['pg_stat_wal_receiver', ACTIVITY],
  ['pg_locks', ACTIVITY],
  ['pg_prepared_statements', ACTIVITY],
  ['pg_prepared_xacts', ACTIVITY],
  ['pg_cursors', ACTIVITY],
  ['pg_backend_memory_contexts', ACTIVITY],
  ['pg_shmem_allocations', ACTIVITY],
]);

/**
 * current_setting() may read built-in settings (no dot in the name) and the request.* settings the
 * server fills with the caller's own JWT claims. Custom dotted settings are where Supabase projects
 * keep secrets (e.g. `app.settings.service_role_key` for triggers that call Edge Functions).
 */
export const readableCustomSettingPrefix = 'request.';

/** Why a statement type other than SELECT/INSERT/UPDATE/DELETE/MERGE is refused. */
export const statementReasons: ReadonlyMap<string, string> = new Map([
  ['VariableSetStmt', 'SET and RESET change session settings, and the server sets your identity and limits itself.'],
  [
    'VariableShowStmt',
    "SHOW can read configuration that holds secrets; read built-in settings with current_setting('name') through the query tool.",
  ],
  [
    'TransactionStmt',
    'the server runs every call in its own transaction, so transaction control is not yours to issue.',
  ],
  ['DoStmt', 'procedural code runs statements the server cannot check.'],
  ['CallStmt', 'procedures run statements the server cannot check.'],
  ['CopyStmt', 'COPY reads or writes files and programs on the server, or bypasses the result limits.'],
  ['PrepareStmt', 'prepared statements outlive the call on a shared connection; send the statement itself.'],
  ['ExecuteStmt', 'prepared statements outlive the call on a shared connection; send the statement itself.'],
  ['DeallocateStmt', 'prepared statements are not available; send the statement itself.'],
  ['ListenStmt', 'LISTEN registrations outlive the call on a shared connection.'],
  ['UnlistenStmt', 'LISTEN registrations are not available.'],
  ['NotifyStmt', 'NOTIFY sends messages to other database sessions, a side channel out of the transaction.'],
  ['LockStmt', 'explicit table locks block other users; the server takes the locks a statement needs.'],
  ['DiscardStmt', 'DISCARD resets session state the server manages.'],
  [
    'ExplainStmt',
    'EXPLAIN ANALYZE executes its statement and plain EXPLAIN output cannot be bounded like a result; run the query itself, with a LIMIT.',
  ],
  ['VacuumStmt', 'VACUUM and ANALYZE are maintenance the database owner schedules.'],
  [
    'TruncateStmt',
    'TRUNCATE empties a table regardless of row level security; use DELETE … WHERE through the mutate tool.',
  ],
  ['GrantStmt', 'privileges are managed by the database owner.'],
  ['GrantRoleStmt', 'role membership is managed by the database owner.'],
  ['CreateRoleStmt', 'roles are managed by the database owner.'],
  ['AlterRoleStmt', 'roles are managed by the database owner.'],
  ['AlterRoleSetStmt', 'ALTER ROLE … SET changes settings for every later session of that role.'],
  ['DropRoleStmt', 'roles are managed by the database owner.'],
  ['CreateTableAsStmt', 'creating tables changes the database schema.'],
  ['DeclareCursorStmt', 'cursors outlive the statement; run the query itself, with a LIMIT.'],
  ['FetchStmt', 'cursors are not available; run the query itself, with a LIMIT.'],
  ['ClosePortalStmt', 'cursors are not available.'],
  ['CheckPointStmt', 'CHECKPOINT is server maintenance.'],
  ['LoadStmt', 'LOAD loads code into the server process.'],
]);

/** The sentence for every other statement type: schema changes and server administration. */
export const defaultStatementReason =
  'it changes the database schema or server state; this server runs only SELECT (query tool) and INSERT, UPDATE, DELETE or MERGE (mutate tool).';

/**
 * How often the server checks whether the database's functions, views or operators changed (one
 * cheap catalogue query, src/db/functions.ts); a new one is judged within this time.
 */
export const functionRefreshMs = 5_000;
