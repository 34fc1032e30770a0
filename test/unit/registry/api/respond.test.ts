import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { sendStream } from '../../../../src/registry/api/respond.js';
import type { Meter } from '../../../../src/registry/api/handler.js';

/** Serves one request with `sendStream(body())`; resolves with the meter and the body read. */
async function serve(body: () => Readable): Promise<{ meter: Meter; received: Buffer }> {
  const meter: Meter = { bytesIn: 0, bytesOut: 0 };
  let sent!: Promise<void>;
  const server = createServer((req, res) => {
    sent = sendStream({ req, res, meter }, 200, body(), { 'Content-Type': 'x/y' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/`);
    const received = Buffer.from(await res.arrayBuffer());
    await sent;
    return { meter, received };
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('sendStream', () => {
  it('sends every chunk and counts every byte into meter.bytesOut', async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(256 * 1024 + i, i));
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const { meter, received } = await serve(() => Readable.from(chunks));
    assert.equal(received.length, total);
    assert.ok(received.equals(Buffer.concat(chunks)));
    assert.equal(meter.bytesOut, total);
  });

  it('counts nothing for an empty body', async () => {
    const { meter, received } = await serve(() => Readable.from([], { objectMode: false }));
    assert.equal(received.length, 0);
    assert.equal(meter.bytesOut, 0);
  });
});
