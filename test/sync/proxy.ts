// A loopback TCP proxy that cuts connections at a chosen byte: the real way a network fails mid-transfer.
import net from 'node:net';

export interface CutProxy {
  close(): Promise<void>;
  /** Bytes forwarded hub → terminal on the last connection. */
  readonly lastDown: number;
}

export async function cutProxy(
  listenPort: number,
  targetPort: number,
  cut: { upAfter?: number; downAfter?: number },
): Promise<CutProxy> {
  const sockets = new Set<net.Socket>();
  let lastDown = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    let up = 0;
    let down = 0;
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (cut.upAfter !== undefined && up + chunk.length > cut.upAfter) {
        upstream.write(chunk.subarray(0, Math.max(0, cut.upAfter - up)), kill);
        up = cut.upAfter;
        return;
      }
      up += chunk.length;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cut.downAfter !== undefined && down + chunk.length > cut.downAfter) {
        client.write(chunk.subarray(0, Math.max(0, cut.downAfter - down)), kill);
        down = cut.downAfter;
        lastDown = down;
        return;
      }
      down += chunk.length;
      lastDown = down;
      client.write(chunk);
    });
    client.on('error', kill);
    upstream.on('error', kill);
    client.on('close', kill);
    upstream.on('close', kill);
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  return {
    get lastDown() {
      return lastDown;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
