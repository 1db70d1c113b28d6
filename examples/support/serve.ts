/** Serving an example's web pages: on 127.0.0.1, until Ctrl-C. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Serves `server` on 127.0.0.1:`port` (0: any free port) until Ctrl-C or SIGTERM, then
 * closes it, so the process ends by itself. `ready` gets the server's URL. A `port` that is
 * not a port number is explained on stderr and the process exits with 2; one that cannot
 * be used (taken, say), likewise with 1.
 */
export function serve(server: Server, port: string, ready: (url: string) => void): void {
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    console.error(`--port must be a port number from 0 to 65535 (0: any free port), got ${JSON.stringify(port)}.`);
    process.exit(2);
  }
  server.on('error', (error) => {
    console.error(`Cannot serve on 127.0.0.1:${port}: ${error.message}. Choose another port with --port <number>.`);
    process.exitCode = 1;
  });
  server.listen(Number(port), '127.0.0.1', () => {
    const { port: actual } = server.address() as AddressInfo;
    ready(`http://127.0.0.1:${actual}/`);
  });
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
