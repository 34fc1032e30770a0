import { createHash } from 'node:crypto';
import { isValidStoragePath } from './driver.js';

/**
 * The byte format of the filesystem driver's write-ahead journal (`journal.ts`): a journal
 * segment is a sequence of records, each one change of the storage made durable by one
 * append (plus the group commit's fdatasync).
 *
 * A record, integers little-endian:
 *
 *     magic   u32   0x4a32564e ("NV2J" read as bytes)
 *     length  u32   bytes of the body
 *     sha256  32 B  of the body
 *     body    a sequence of operations, each
 *               kind u8 (1 put, 2 delete) | path length u16 | path (UTF-8 storage path)
 *               put only: content length u32 | content
 *
 * Reading stops at the first record that is not whole and intact (short, wrong magic, wrong
 * checksum, or a body that does not parse): that is the torn tail a power cut leaves of an
 * append whose fdatasync never finished, and no record after it was ever acknowledged (an
 * fdatasync covers every byte written before it, so a later acknowledged record would make
 * this one whole).
 */

/** One change of a record: a whole file written, or a file or directory removed. */
export type JournalOperation =
  | { readonly kind: 'put'; readonly path: string; readonly content: Uint8Array }
  | { readonly kind: 'delete'; readonly path: string };

const MAGIC = 0x4a32564e;
const HEADER_BYTES = 4 + 4 + 32;
const KIND_PUT = 1;
const KIND_DELETE = 2;
/** Largest body accepted when reading: far above any record written (manifests are ≤ 4 MiB). */
const MAX_BODY_BYTES = 256 * 1024 * 1024;

/** The bytes of one record holding `operations`, in order. */
export function encodeRecord(operations: readonly JournalOperation[]): Buffer {
  let bodyBytes = 0;
  const paths = operations.map((op) => Buffer.from(op.path, 'utf8'));
  operations.forEach((op, i) => {
    bodyBytes += 1 + 2 + paths[i]!.byteLength + (op.kind === 'put' ? 4 + op.content.byteLength : 0);
  });
  const record = Buffer.allocUnsafe(HEADER_BYTES + bodyBytes);
  let at = HEADER_BYTES;
  operations.forEach((op, i) => {
    const path = paths[i]!;
    at = record.writeUInt8(op.kind === 'put' ? KIND_PUT : KIND_DELETE, at);
    at = record.writeUInt16LE(path.byteLength, at);
    at += path.copy(record, at);
    if (op.kind === 'put') {
      at = record.writeUInt32LE(op.content.byteLength, at);
      record.set(op.content, at);
      at += op.content.byteLength;
    }
  });
  record.writeUInt32LE(MAGIC, 0);
  record.writeUInt32LE(bodyBytes, 4);
  createHash('sha256').update(record.subarray(HEADER_BYTES)).digest().copy(record, 8);
  return record;
}

/** The whole, intact records at the start of a segment's bytes, and where they end. */
export function decodeRecords(bytes: Buffer): {
  records: JournalOperation[][];
  intactBytes: number;
} {
  const records: JournalOperation[][] = [];
  let at = 0;
  for (;;) {
    if (bytes.byteLength - at < HEADER_BYTES) break;
    if (bytes.readUInt32LE(at) !== MAGIC) break;
    const length = bytes.readUInt32LE(at + 4);
    if (length > MAX_BODY_BYTES || bytes.byteLength - at - HEADER_BYTES < length) break;
    const body = bytes.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length);
    const sum = createHash('sha256').update(body).digest();
    if (!sum.equals(bytes.subarray(at + 8, at + HEADER_BYTES))) break;
    const operations = decodeBody(body);
    if (operations === undefined) break;
    records.push(operations);
    at += HEADER_BYTES + length;
  }
  return { records, intactBytes: at };
}

/** The operations of a checksummed body; undefined when it does not parse (never written so). */
function decodeBody(body: Buffer): JournalOperation[] | undefined {
  const operations: JournalOperation[] = [];
  let at = 0;
  while (at < body.byteLength) {
    if (body.byteLength - at < 3) return undefined;
    const kind = body.readUInt8(at);
    const pathBytes = body.readUInt16LE(at + 1);
    at += 3;
    if (body.byteLength - at < pathBytes) return undefined;
    const path = body.toString('utf8', at, at + pathBytes);
    at += pathBytes;
    // A checksummed record holds only paths the driver checked; this keeps a record that
    // somehow holds another from ever naming a file outside the root.
    if (!isValidStoragePath(path) || path === '/') return undefined;
    if (kind === KIND_DELETE) {
      operations.push({ kind: 'delete', path });
    } else if (kind === KIND_PUT) {
      if (body.byteLength - at < 4) return undefined;
      const size = body.readUInt32LE(at);
      at += 4;
      if (body.byteLength - at < size) return undefined;
      operations.push({ kind: 'put', path, content: body.subarray(at, at + size) });
      at += size;
    } else {
      return undefined;
    }
  }
  return operations;
}
