/**
 * The library's HTTP transport against real servers on 127.0.0.1: proxies chosen as docker and
 * notation choose them (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), plain requests sent to the proxy
 * with the absolute URL, https tunnelled with CONNECT, per-request deadlines, bounded bodies
 * and redirects.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type Server, createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  createHttpTransport,
  getFollowingRedirects,
  proxyFor,
  proxyFromEnv,
  readBoundedBody,
} from '../../../src/http/index.js';

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function text(body: AsyncIterable<Uint8Array> | null): Promise<string> {
  return (await readBoundedBody(body, 1024 * 1024))!.toString('utf8');
}

describe('proxyFor', () => {
  const env = {
    HTTPS_PROXY: 'http://proxy.example:3128',
    http_proxy: 'proxy.example:8080',
    NO_PROXY: 'internal.example, .svc.local, 10.0.0.0/8, registry.example:5000, 192.0.2.7',
  };
  const config = proxyFromEnv(env);
  const via = (url: string): string | undefined => proxyFor(new URL(url), config)?.href;

  it('picks the proxy of the scheme; a value without a scheme is an http proxy', () => {
    assert.equal(via('https://registry.example/v2/'), 'http://proxy.example:3128/');
    assert.equal(via('http://registry.example/v2/'), 'http://proxy.example:8080/');
  });

  it('reaches NO_PROXY hosts, their subdomains, ranges, ports and loopback directly', () => {
    for (const url of [
      'https://internal.example/v2/',
      'https://a.internal.example/v2/',
      'https://a.svc.local/v2/',
      'https://10.1.2.3/v2/',
      'https://registry.example:5000/v2/',
      'https://192.0.2.7/v2/',
      'https://localhost:5000/v2/',
      'http://127.0.0.1:5000/v2/',
    ]) {
      assert.equal(via(url), undefined, url);
    }
  });

  it('a leading dot matches subdomains only; a port entry matches that port only', () => {
    assert.equal(via('https://svc.local/v2/'), 'http://proxy.example:3128/');
    assert.equal(via('https://registry.example/v2/'), 'http://proxy.example:3128/');
    assert.equal(via('https://11.0.0.1/v2/'), 'http://proxy.example:3128/');
  });

  it('NO_PROXY=* and an empty environment mean no proxy', () => {
    assert.equal(
      proxyFor(new URL('https://a.example/'), proxyFromEnv({ ...env, NO_PROXY: '*' })),
      undefined,
    );
    assert.equal(proxyFor(new URL('https://a.example/'), proxyFromEnv({})), undefined);
  });
});

describe('createHttpTransport', () => {
  let origin: Server;
  let originHost: string;
  let proxy: Server;
  let proxyHost: string;
  const proxied: string[] = [];

  before(async () => {
    origin = createServer((req, res) => {
      if (req.url === '/slow') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
        return; // never ends: the deadline must
      }
      if (req.url === '/redirect') {
        res.writeHead(302, { location: '/hello' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello from ${req.url ?? ''}`);
    });
    originHost = await listen(origin);
    // A forward proxy that sends every absolute-URL request to the origin (so names need not
    // resolve) and refuses every CONNECT.
    proxy = createServer((req, res) => {
      proxied.push(
        `${req.method ?? ''} ${req.url ?? ''} ${req.headers['proxy-authorization'] ?? ''}`,
      );
      const target = new URL(req.url ?? '');
      const [host, port] = originHost.split(':');
      const upstream = connect(Number(port), host, () => {
        upstream.write(
          `${req.method ?? 'GET'} ${target.pathname} HTTP/1.1\r\nhost: ${target.host}\r\nconnection: close\r\n\r\n`,
        );
        upstream.pipe(res.socket!);
      });
    });
    proxy.on('connect', (req, socket) => {
      proxied.push(`CONNECT ${req.url ?? ''}`);
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    });
    proxyHost = await listen(proxy);
  });

  after(() => {
    origin.closeAllConnections();
    origin.close();
    proxy.closeAllConnections();
    proxy.close();
  });

  it('sends plain-HTTP requests to the proxy with the absolute URL; loopback goes direct', async () => {
    const { fetch, close } = createHttpTransport({
      proxy: { httpProxy: new URL(`http://alice:s%3Acret@${proxyHost}`) },
    });
    try {
      proxied.length = 0;
      const res = await fetch('http://registry.test/v2/', { method: 'GET', headers: {} });
      assert.equal(await text(res.body), 'hello from /v2/');
      const basic = `Basic ${Buffer.from('alice:s:cret').toString('base64')}`;
      assert.deepEqual(proxied, [`GET http://registry.test/v2/ ${basic}`]);
      const direct = await fetch(`http://${originHost}/direct`, { method: 'GET', headers: {} });
      assert.equal(await text(direct.body), 'hello from /direct');
      assert.equal(proxied.length, 1);
    } finally {
      close();
    }
  });

  it('tunnels https through CONNECT, and a refused tunnel is an error', async () => {
    const { fetch, close } = createHttpTransport({
      proxy: { httpsProxy: new URL(`http://${proxyHost}`) },
    });
    try {
      proxied.length = 0;
      await assert.rejects(
        fetch('https://registry.invalid/v2/', { method: 'GET', headers: {} }),
        /refused to connect to registry\.invalid:443: HTTP 403/,
      );
      assert.deepEqual(proxied, ['CONNECT registry.invalid:443']);
    } finally {
      close();
    }
  });

  it('a request that does not complete within its deadline fails with ETIMEDOUT', async () => {
    const { fetch, close } = createHttpTransport({ deadlineMs: 60_000 });
    try {
      const res = await fetch(`http://${originHost}/slow`, {
        method: 'GET',
        headers: {},
        deadlineMs: 200,
      });
      await assert.rejects(text(res.body), { code: 'ETIMEDOUT' });
    } finally {
      close();
    }
  });

  it('reads bodies up to a bound, and follows redirects for plain downloads', async () => {
    const { fetch, close } = createHttpTransport();
    try {
      const big = await fetch(`http://${originHost}/hello`, { method: 'GET', headers: {} });
      assert.equal(await readBoundedBody(big.body, 4), undefined);
      const res = await getFollowingRedirects(fetch, `http://${originHost}/redirect`);
      assert.equal(res.url, `http://${originHost}/hello`);
      assert.equal(await text(res.body), 'hello from /hello');
    } finally {
      close();
    }
  });
});
