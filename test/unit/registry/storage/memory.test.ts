import { createMemoryDriver } from '../../../../src/registry/storage/index.js';
import { describeStorageDriver } from '../../../suites/storage-driver.js';

describeStorageDriver('memory', async () => createMemoryDriver());
