/**
 * nginx (Debian) as a round-robin load balancer in front of registry replicas: its config
 * and logs in a temporary directory, listening on a free loopback port. Request bodies and
 * responses stream through unbuffered, as a registry deployment needs, and every request goes
 * to the next replica (no upstream keep-alive, no stickiness).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { tempDir } from './fixtures.js';
import { freePort } from './ports.js';

const NGINX = '/usr/sbin/nginx';

/** Why nginx tests cannot run here, or undefined when they can. */
export function nginxMissing(): string | undefined {
  return existsSync(NGINX) ? undefined : `${NGINX} not found: install the Debian package nginx`;
}

/** A running balancer. */
export interface Balancer {
  /** `127.0.0.1:PORT` */
  readonly host: string;
  /** One line per request served: `METHOD URI UPSTREAM STATUS`. */
  accessLog(): Promise<string[]>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts nginx balancing over `upstreams` (`127.0.0.1:PORT` each). */
export async function startBalancer(upstreams: readonly string[]): Promise<Balancer> {
  const dir = await tempDir();
  const port = await freePort();
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    await mkdir(join(dir, sub));
  }
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    [
      // The master runs as the test's user; as root, workers must be able to use the temp dir.
      ...(process.getuid?.() === 0 ? ['user root;'] : []),
      'worker_processes 1;',
      'daemon off;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')} warn;`,
      'events { worker_connections 512; }',
      'http {',
      "  log_format balanced '$request_method $uri $upstream_addr $status';",
      `  access_log ${join(dir, 'access.log')} balanced;`,
      `  client_body_temp_path ${join(dir, 'body')};`,
      `  proxy_temp_path ${join(dir, 'proxy')};`,
      `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
      `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
      `  scgi_temp_path ${join(dir, 'scgi')};`,
      '  upstream replicas {',
      ...upstreams.map((upstream) => `    server ${upstream} max_fails=1 fail_timeout=30s;`),
      '  }',
      '  server {',
      `    listen 127.0.0.1:${port};`,
      '    client_max_body_size 0;',
      '    proxy_request_buffering off;',
      '    proxy_buffering off;',
      '    proxy_http_version 1.1;',
      '    location / {',
      '      proxy_pass http://replicas;',
      '      proxy_set_header Host $http_host;',
      '      proxy_set_header Connection "";',
      '      proxy_next_upstream error;',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const child = spawn(NGINX, ['-c', conf, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  for (let i = 0; !(await accepts(port)); i++) {
    if (child.exitCode !== null || i > 100) {
      child.kill('SIGKILL');
      const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
      throw new Error(`nginx did not start: ${stderr}${log}`);
    }
    await wait(50);
  }
  return {
    host: `127.0.0.1:${port}`,
    async accessLog() {
      const text = await readFile(join(dir, 'access.log'), 'utf8').catch(() => '');
      return text.split('\n').filter((line) => line !== '');
    },
    async stop() {
      child.kill('SIGQUIT');
      await exited;
    },
  };
}
