import type { ReactNode } from "react";

export const metadata = {
  title: "pgsteer example app: users",
  description: "Next.js -> Hono -> pgsteer VIP -> PgBouncer -> PostgreSQL",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: "system-ui, sans-serif", margin: "1.5rem", color: "#222" }}>{children}</body>
    </html>
  );
}
