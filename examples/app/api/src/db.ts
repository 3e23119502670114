// The database side of the API: one pg.Pool behind Kysely, talking to PostgreSQL through the pgsteer
// VIP and a PgBouncer in transaction pooling.
//
// Transaction pooling hands each transaction (each statement outside an explicit transaction) to
// whichever server connection of the pool is free, so nothing may rely on state that outlives it:
//  - no session state: no SET / SET ROLE / search_path changes, no LISTEN, no advisory locks, no
//    temporary tables, no WITH HOLD cursors; every setting this app needs travels in the SQL itself;
//  - no named prepared statements: Kysely never gives node-postgres a statement `name`, so
//    node-postgres uses the unnamed statement, sent as Parse/Bind/Execute/Sync in one go; the
//    server connection parses, runs and forgets it inside that single exchange, before PgBouncer can
//    hand the connection to another client;
//  - no startup parameters PgBouncer would refuse (statement_timeout etc.): the only time limit is
//    node-postgres' own client-side query_timeout.
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";

export interface UsersTable {
  id: number;
  name: string;
  email: string;
  created_at: Date;
}

export interface Database {
  users: UsersTable;
}

function intEnv(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`environment ${name}: '${v}' is not a non-negative integer`);
  return n;
}

export const config = {
  host: process.env.PGHOST ?? "10.100.1.100",
  port: intEnv("PGPORT", 5432),
  database: process.env.PGDATABASE ?? "app",
  user: process.env.PGUSER ?? "app",
  password: process.env.PGPASSWORD ?? "",
  // Attempts per request for connection errors, and the first backoff (doubled each time, capped).
  retries: intEnv("APP_DB_RETRIES", 8),
  backoffMs: intEnv("APP_DB_BACKOFF_MS", 100),
  backoffCapMs: intEnv("APP_DB_BACKOFF_CAP_MS", 1000),
};

export const pool = new pg.Pool({
  host: config.host,
  port: config.port,
  database: config.database,
  user: config.user,
  password: config.password,
  max: intEnv("APP_DB_POOL", 10),
  // A connection through a load balancer that just died must fail fast, so that a retry (on a new
  // connection, through the new master) comes soon: bound connect and every query.
  connectionTimeoutMillis: intEnv("APP_DB_CONNECT_TIMEOUT_MS", 2000),
  query_timeout: intEnv("APP_DB_QUERY_TIMEOUT_MS", 3000),
  idleTimeoutMillis: 10000,
  keepAlive: true,
});

// A pooled connection that breaks (PgBouncer killed, load balancer gone) emits 'error': on the pool
// while idle (node-postgres then drops it), on the client itself while checked out between two
// queries (the next query on it fails, withRetry runs again on a fresh connection, and the pool does
// not take a client back that is no longer queryable). Node crashes on an 'error' nobody listens to,
// so both get a listener.
pool.on("error", (err) => {
  console.error(`api: idle database connection to ${config.host}:${config.port} failed: ${err.message}`);
});
pool.on("connect", (client) => {
  client.on("error", (err) => {
    console.error(`api: database connection to ${config.host}:${config.port} failed: ${err.message}`);
  });
});

export const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });

// SQLSTATE classes and Node error codes that mean "the connection, not the query, failed": the
// statement did not run to completion, and these statements are all reads, so running them again on
// a fresh connection is safe.
const RETRY_CODES = new Set([
  "ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "08000", "08003", "08006", "08001", "08004", // connection_exception class
  "53300", // too_many_connections
]);

export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  if (code && RETRY_CODES.has(code)) return true;
  if (code && code.startsWith("08")) return true;
  // node-postgres reports some failures only by message.
  return /Connection terminated|connection timeout|Query read timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/i
    .test(err.message);
}

export interface Attempted<T> {
  value: T;
  attempts: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Run FN; on a connection error run it again (a new pooled connection each time), up to
// config.retries attempts with exponential backoff. Any other error is thrown at once.
export async function withRetry<T>(what: string, fn: () => Promise<T>): Promise<Attempted<T>> {
  let delay = config.backoffMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await fn(), attempts: attempt };
    } catch (err) {
      if (!isConnectionError(err) || attempt >= config.retries) throw err;
      const msg = err instanceof Error ? err.message : String(err);
      console.warn(`api: ${what}: attempt ${attempt} failed (${msg}); retrying in ${delay} ms`);
      await sleep(delay);
      delay = Math.min(delay * 2, config.backoffCapMs);
    }
  }
}

export interface Served {
  // The PgBouncer instance whose server connection ran the statements, as that PgBouncer marked it
  // (its connect_query sets the custom setting pgsteer.pgbouncer on every server connection it
  // opens); null when the PgBouncer in front does not mark its connections.
  pgbouncer: string | null;
  // One round trip client -> VIP -> load balancer -> PgBouncer -> PostgreSQL and back, in ms.
  roundTripMs: number;
}

// Run FN and the "who served this" query on one pooled connection (so through one PgBouncer: the
// TCP connection to the VIP is steered to one PgBouncer for its whole life).
export async function onOneConnection<T>(fn: (conn: Kysely<Database>) => Promise<T>): Promise<T & Served> {
  return db.connection().execute(async (conn) => {
    const t0 = process.hrtime.bigint();
    const who = await sql<{ pgbouncer: string | null }>`select current_setting('pgsteer.pgbouncer', true) as pgbouncer`
      .execute(conn);
    const roundTripMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const value = await fn(conn);
    const pgbouncer = who.rows[0]?.pgbouncer || null;
    return { ...value, pgbouncer, roundTripMs: Math.round(roundTripMs * 100) / 100 };
  });
}
