import type { StoreCaches } from '../../src/registry/storage/caches.js';
import { createStoreCaches } from '../../src/registry/storage/caches.js';
import type { StorageDriver } from '../../src/registry/storage/driver.js';

const byDriver = new WeakMap<StorageDriver, StoreCaches>();

/**
 * The caches of the one store a test's process keeps over `driver`: every role a test builds
 * over one driver shares them, as the roles of one `createStore` do. A test that plays a
 * restarted process passes `createStoreCaches(driver)` instead.
 */
export function cachesOf(driver: StorageDriver): StoreCaches {
  let caches = byDriver.get(driver);
  if (caches === undefined) {
    caches = createStoreCaches(driver);
    byDriver.set(driver, caches);
  }
  return caches;
}
