// The Hono API of the example app (the seed's flow 1): JSON over HTTP on :3000, reading the `users`
// table through the pgsteer VIP. Every database call goes through withRetry, so a PgBouncer crash or
// a load-balancer failover costs the caller a retry (a slower answer), not an error.
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { config, isConnectionError, onOneConnection, pool, withRetry } from "./db.js";

const app = new Hono();

app.onError((err, c) => {
  const conn = isConnectionError(err);
  console.error(`api: ${c.req.method} ${c.req.path}: ${err.message}`);
  // A database that stays unreachable after every retry is "unavailable", not a server bug.
  return c.json({ error: conn ? "database unavailable" : "internal error", detail: err.message }, conn ? 503 : 500);
});

app.get("/api/health", async (c) => {
  const r = await withRetry("health", () => onOneConnection(async () => ({})));
  return c.json({
    ok: true,
    database: `${config.host}:${config.port}/${config.database}`,
    pgbouncer: r.value.pgbouncer,
    roundTripMs: r.value.roundTripMs,
    attempts: r.attempts,
  });
});

app.get("/api/users", async (c) => {
  const limitParam = c.req.query("limit");
  const limit = limitParam === undefined ? 1000 : Number(limitParam);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    return c.json({ error: `limit must be an integer in 1..1000 (got '${limitParam}')` }, 400);
  }
  const r = await withRetry("users", () =>
    onOneConnection(async (conn) => ({
      users: await conn.selectFrom("users").select(["id", "name", "email", "created_at"])
        .orderBy("id").limit(limit).execute(),
    })));
  return c.json({
    users: r.value.users,
    count: r.value.users.length,
    pgbouncer: r.value.pgbouncer,
    roundTripMs: r.value.roundTripMs,
    attempts: r.attempts,
  });
});

app.get("/api/users/:id", async (c) => {
  const idParam = c.req.param("id");
  const id = Number(idParam);
  if (!/^[0-9]+$/.test(idParam) || !Number.isSafeInteger(id) || id > 2147483647) {
    return c.json({ error: `user id must be a positive integer (got '${idParam}')` }, 400);
  }
  const r = await withRetry("user", () =>
    onOneConnection(async (conn) => ({
      user: await conn.selectFrom("users").select(["id", "name", "email", "created_at"])
        .where("id", "=", id).executeTakeFirst(),
    })));
  if (!r.value.user) return c.json({ error: `no user with id ${id}` }, 404);
  return c.json({ user: r.value.user, pgbouncer: r.value.pgbouncer, roundTripMs: r.value.roundTripMs, attempts: r.attempts });
});

const port = Number(process.env.API_PORT ?? 3000);
const hostname = process.env.API_HOST ?? "0.0.0.0";
const server = serve({ fetch: app.fetch, port, hostname }, (info) => {
  console.log(`api: listening on ${info.address}:${info.port}, database ${config.host}:${config.port}/${config.database}`);
});

function shutdown(sig: string) {
  console.log(`api: ${sig}, closing`);
  server.close();
  pool.end().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
