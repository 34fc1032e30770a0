/**
 * The reference for `bench/registry-s3.ts`: the least a registry that streams through itself
 * can do. `PUT /<key>` streams the request body into one PutObject; `GET /<key>` pipes
 * GetObject to the response. No hashing, no bookkeeping, no checks. Its ratio to the SDK
 * talking to the store directly is what one extra process in the path costs on this machine,
 * the ceiling for nv2's streamed rows.
 *
 * Started as its own process (as nv2 is): `node s3-proxy.js`, with the store in the
 * environment (S3_ENDPOINT, S3_REGION, S3_BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY); it prints its
 * port on the first line of stdout.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`s3-proxy: ${name} is not set`);
  return value;
}

const bucket = required('S3_BUCKET');
const client = new S3Client({
  endpoint: required('S3_ENDPOINT'),
  region: required('S3_REGION'),
  forcePathStyle: true,
  credentials: {
    accessKeyId: required('S3_ACCESS_KEY'),
    secretAccessKey: required('S3_SECRET_KEY'),
  },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});

const server = createServer((req, res) => {
  const key = decodeURIComponent((req.url ?? '/').slice(1));
  const serve = async (): Promise<void> => {
    if (req.method === 'PUT') {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: req,
          ContentLength: Number(req.headers['content-length']),
        }),
      );
      res.writeHead(201).end();
      return;
    }
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    res.writeHead(200, { 'Content-Length': String(object.ContentLength) });
    await pipeline(object.Body as Readable, res);
  };
  serve().catch((err: unknown) => {
    if (!res.headersSent) res.writeHead(500);
    res.end(String(err));
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(String((server.address() as AddressInfo).port));
});
process.on('SIGTERM', () => {
  server.close();
  client.destroy();
  process.exit(0);
});
