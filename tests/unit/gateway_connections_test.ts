import assert from "node:assert/strict";
import { ConnectionPool } from "../../local/gateway_connections.ts";

/** Just what the pool touches of a connection: its remote address and close(). */
function fakeConn(hostname: string) {
  const conn = {
    closed: false,
    remoteAddr: { transport: "tcp", hostname, port: 40000 } as Deno.NetAddr,
    close() {
      conn.closed = true;
    },
  };
  return conn;
}
const asConn = (c: ReturnType<typeof fakeConn>) => c as unknown as Deno.Conn;

Deno.test("ConnectionPool closes a client's oldest idle connection past its idle cap, never a busy one", () => {
  const pool = new ConnectionPool({ maxConnections: 100, maxIdlePerClient: 2 });
  const [busy, old, newer, newest] = [1, 2, 3, 4].map(() => fakeConn("10.0.0.1"));
  pool.busy(pool.admit(asConn(busy), 1)!);
  pool.admit(asConn(old), 2);
  pool.admit(asConn(newer), 3);
  const admitted = pool.admit(asConn(newest), 4);
  assert.ok(admitted);
  assert.deepEqual([busy.closed, old.closed, newer.closed, newest.closed], [
    false,
    true,
    false,
    false,
  ]);
});

Deno.test("ConnectionPool leaves other clients' idle connections alone under one client's cap", () => {
  const pool = new ConnectionPool({ maxConnections: 100, maxIdlePerClient: 1 });
  const other = fakeConn("10.0.0.2");
  pool.admit(asConn(other), 1);
  const [a, b] = [fakeConn("10.0.0.1"), fakeConn("10.0.0.1")];
  pool.admit(asConn(a), 2);
  pool.admit(asConn(b), 3);
  assert.deepEqual([other.closed, a.closed, b.closed], [false, true, false]);
});

Deno.test("ConnectionPool makes room past its total cap by closing the oldest idle one, and refuses only when all are busy", () => {
  const pool = new ConnectionPool({ maxConnections: 2, maxIdlePerClient: 10 });
  const [a, b, c, d] = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"].map(fakeConn);
  const first = pool.admit(asConn(a), 1)!;
  const second = pool.admit(asConn(b), 2)!;
  pool.busy(second);
  assert.ok(pool.admit(asConn(c), 3), "room is made");
  assert.equal(a.closed, true, "by closing the oldest idle connection");
  assert.equal(pool.size, 2);
  pool.release(first); // already gone: closing it made the room
  const fourth = pool.admit(asConn(d), 4);
  assert.ok(fourth, "d takes the place of c, the idle one");
  assert.equal(c.closed, true);
  pool.busy(fourth);
  assert.equal(pool.admit(asConn(fakeConn("10.0.0.5")), 5), null, "every open connection is busy");
});
