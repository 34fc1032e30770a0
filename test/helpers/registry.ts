/** Starts an in-process registry (`createRegistry`) on a random loopback port. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestRecord } from '../../src/registry/index.js';
import { createMemoryDriver, createRegistry, createStore } from '../../src/registry/index.js';
import type { RegistryStore } from '../../src/registry/index.js';

/** A running registry. */
export interface RunningRegistry {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `127.0.0.1:PORT`, for clients that take a host. */
  readonly host: string;
  readonly store: RegistryStore;
  /** Every finished request so far, in order. */
  readonly records: RequestRecord[];
  /**
   * The last record `match` accepts, or the next one to come: for a response that broke
   * half-way, whose record follows the handler's error path rather than the response.
   */
  recorded(match: (record: RequestRecord) => boolean): Promise<RequestRecord>;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/**
 * Starts a registry on 127.0.0.1:0, over `store` (default: a new memory store).
 *
 * @example
 * const registry = await startRegistry();
 * after(() => registry.close());
 * await fetch(`${registry.url}/v2/`);
 */
export async function startRegistry(
  options: { store?: RegistryStore } = {},
): Promise<RunningRegistry> {
  const store = options.store ?? createStore(createMemoryDriver());
  const records: RequestRecord[] = [];
  const waiting = new Set<{
    match: (r: RequestRecord) => boolean;
    resolve: (r: RequestRecord) => void;
  }>();
  const onRequest = (record: RequestRecord): void => {
    records.push(record);
    for (const waiter of waiting) {
      if (!waiter.match(record)) continue;
      waiting.delete(waiter);
      waiter.resolve(record);
    }
  };
  const server = createServer(createRegistry({ store, onRequest }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  return {
    url: `http://${host}`,
    host,
    store,
    records,
    recorded: (match) => {
      const found = records.findLast(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve) => waiting.add({ match, resolve }));
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
