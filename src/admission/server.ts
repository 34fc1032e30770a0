import { type StatWatcher, unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import { InvalidInputError } from '../errors.js';
import type { AdmissionHandler, LogEntry } from './handler.js';

/** How often the TLS files are checked for changes by default. */
export const DEFAULT_TLS_POLL_MS = 5_000;

/** Options of `startAdmissionServer`. */
export interface AdmissionServerOptions {
  readonly handler: AdmissionHandler;
  /** PEM files of the serving certificate (chain allowed) and its key. */
  readonly tls: { readonly cert: string; readonly key: string };
  /** Address to listen on (default 0.0.0.0) and port (default 8443; 0 picks one). */
  readonly host?: string;
  readonly port?: number;
  /** How often the TLS files are checked for changes (default 5 s). */
  readonly tlsPollMs?: number;
  readonly log?: (entry: LogEntry) => void;
}

/** A running admission server. */
export interface AdmissionServer {
  /** `https://HOST:PORT` */
  readonly url: string;
  readonly port: number;
  /** Reads the TLS files again now; on error the old certificate stays in use. */
  reloadTls(): Promise<boolean>;
  close(): Promise<void>;
}

async function readTls(tls: AdmissionServerOptions['tls']): Promise<{ cert: Buffer; key: Buffer }> {
  try {
    const [cert, key] = await Promise.all([readFile(tls.cert), readFile(tls.key)]);
    // Fails here, not at the next handshake, when the pair does not fit.
    createSecureContext({ cert, key });
    return { cert, key };
  } catch (err) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_CERTIFICATE',
      `TLS certificate ${tls.cert} and key ${tls.key}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * Serves `handler` over HTTPS. The certificate and key are read again whenever either file
 * changes (polled, so that Kubernetes' symlink swaps of mounted Secrets are seen), and new
 * connections use the new pair; a broken pair is logged and the old one kept.
 */
export async function startAdmissionServer(
  options: AdmissionServerOptions,
): Promise<AdmissionServer> {
  const log = options.log ?? (() => undefined);
  const initial = await readTls(options.tls);
  const server = createServer({ ...initial, minVersion: 'TLSv1.2' }, options.handler);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8443, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const reloadTls = async (): Promise<boolean> => {
    try {
      server.setSecureContext(await readTls(options.tls));
      log({
        time: new Date().toISOString(),
        level: 'info',
        msg: 'TLS certificate reloaded',
        cert: options.tls.cert,
      });
      return true;
    } catch (err) {
      log({
        time: new Date().toISOString(),
        level: 'error',
        msg: 'TLS certificate not reloaded',
        error: (err as Error).message,
      });
      return false;
    }
  };
  let pending: NodeJS.Timeout | undefined;
  const onChange = (): void => {
    // Certificate and key change together: wait for both writes before reading.
    clearTimeout(pending);
    pending = setTimeout(() => void reloadTls(), 100);
  };
  const interval = options.tlsPollMs ?? DEFAULT_TLS_POLL_MS;
  const watchers: StatWatcher[] = [options.tls.cert, options.tls.key].map((file) =>
    watchFile(file, { interval, persistent: false }, (now, before) => {
      if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino || now.size !== before.size)
        onChange();
    }),
  );
  const { port } = server.address() as AddressInfo;
  const host =
    options.host === undefined || options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
  return {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    reloadTls,
    close: () => {
      clearTimeout(pending);
      void watchers;
      unwatchFile(options.tls.cert);
      unwatchFile(options.tls.key);
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
