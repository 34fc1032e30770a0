/**
 * The metadata contract (test/suites/metadata-store.ts) against both implementations: the
 * embedded store over the memory driver, and PostgreSQL (a real server, scripts/postgres.sh)
 * with blobs on the filesystem driver.
 */
import { after, describe } from 'node:test';
import { createFilesystemDriver, createMemoryDriver } from '../../src/registry/storage/index.js';
import { createStore } from '../../src/registry/storage/create-store.js';
import { createPool, createPostgresStore, migrate } from '../../src/registry/postgres/index.js';
import type pg from 'pg';
import { tempDir } from '../helpers/fixtures.js';
import { postgresMissing, startPostgres } from '../helpers/postgres.js';
import { describeMetadataStore } from '../suites/metadata-store.js';

describeMetadataStore('embedded', async () => createStore(createMemoryDriver()));

const pools: pg.Pool[] = [];
after(() => Promise.all(pools.map((p) => p.end())));

describe('PostgreSQL metadata', { skip: postgresMissing() }, () => {
  describeMetadataStore('postgres', async () => {
    const server = await startPostgres();
    const pool = createPool({ url: await server.newDatabase(), poolSize: 8 });
    pools.push(pool);
    await migrate(pool);
    return createPostgresStore(createFilesystemDriver({ root: await tempDir() }), pool);
  });
});
