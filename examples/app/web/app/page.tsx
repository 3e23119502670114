// The users page: rendered on the server for every request, from the Hono API's GET /api/users
// (which reads PostgreSQL through the pgsteer VIP and a PgBouncer).
export const dynamic = "force-dynamic";

interface User {
  id: number;
  name: string;
  email: string;
  created_at: string;
}

interface UsersAnswer {
  users: User[];
  count: number;
  pgbouncer: string | null;
  roundTripMs: number;
  attempts: number;
}

const API_URL = () => process.env.API_URL ?? "http://127.0.0.1:3000";

async function loadUsers(): Promise<{ data: UsersAnswer; apiMs: number }> {
  const t0 = performance.now();
  const res = await fetch(`${API_URL()}/api/users`, { cache: "no-store", signal: AbortSignal.timeout(20000) });
  if (!res.ok) {
    // Thrown, so Next answers 500: a page without its rows is a failed page load, not an empty table.
    throw new Error(`API ${API_URL()}/api/users answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  }
  const data = (await res.json()) as UsersAnswer;
  return { data, apiMs: performance.now() - t0 };
}

const cell = { border: "1px solid #ccc", padding: "2px 8px", textAlign: "left" as const };

export default async function Page() {
  const { data, apiMs } = await loadUsers();
  return (
    <main>
      <h1>Users</h1>
      <p id="served">
        {data.count} rows read through the pgsteer VIP; database round trip{" "}
        <b id="db-round-trip">{data.roundTripMs.toFixed(2)} ms</b>, served by PgBouncer{" "}
        <b id="pgbouncer">{data.pgbouncer ?? "unknown"}</b>
        {data.attempts > 1 ? <> after <b id="attempts">{data.attempts}</b> attempts</> : null}; API call{" "}
        {apiMs.toFixed(1)} ms; rendered {new Date().toISOString()}.
      </p>
      <table id="users" style={{ borderCollapse: "collapse" }}>
        <thead>
          <tr>
            <th style={cell}>id</th>
            <th style={cell}>name</th>
            <th style={cell}>email</th>
          </tr>
        </thead>
        <tbody>
          {data.users.map((u) => (
            <tr key={u.id} data-user-id={u.id}>
              <td style={cell}>{u.id}</td>
              <td style={cell}>{u.name}</td>
              <td style={cell}>{u.email}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </main>
  );
}
