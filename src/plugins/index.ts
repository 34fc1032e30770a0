/**
 * Notary Project plugins: finding them, running their commands, and signing with their keys
 * (both signing capabilities).
 */
export {
  CAPABILITIES,
  CONTRACT_VERSION,
  DEFAULT_PLUGIN_TIMEOUT_MS,
  Plugin,
  findPlugin,
  listPlugins,
  pluginExecutable,
} from './plugin.js';
export type { PluginMetadata } from './plugin.js';
export { openPluginKey } from './signing.js';
