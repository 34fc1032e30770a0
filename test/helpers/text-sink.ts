/** A writable stream that keeps what is written, for a face's stdout and stderr in tests. */
import { Writable } from 'node:stream';

/** A stream collecting its writes; `text()` is everything written so far. */
export function textSink(): Writable & { text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  return Object.assign(stream, { text: () => Buffer.concat(chunks).toString() });
}
