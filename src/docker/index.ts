/**
 * The docker face: the `docker nv2` CLI plugin (verify before `docker pull`, `run` and
 * `create`, run the verified digest, carry signatures along on `docker push`, pass everything
 * else to docker), its configuration and
 * installation, the signatures kept locally until push, and the image manifest a
 * `docker save` archive describes. The engine-side work stays with the docker client,
 * run by name from PATH (or `NV2_DOCKER`).
 *
 * @example
 * const code = await runPlugin(['nv2', 'pull', 'registry.example.com/app:v1'], {
 *   stdout: process.stdout, stderr: process.stderr, env: process.env, version: '1.0.0',
 * });
 */
export { manifestFromDockerSave, readImageArchive } from './archive.js';
export type { ArchiveFormat, GeneratedManifest, ReadImageArchiveOptions } from './archive.js';
export {
  DEFAULT_PLUGIN_CONFIG,
  dockerConfigDir,
  loadPluginConfig,
  parsePluginConfig,
  pluginConfigPath,
  savePluginConfig,
} from './config.js';
export type { PluginConfig } from './config.js';
export { DOCKER_BINARY_ENV, createDockerCommand } from './docker-command.js';
export type { DockerCommand, DockerStream } from './docker-command.js';
export { installPlugin, pluginDir, pluginPath, uninstallPlugin } from './install.js';
export type { InstallPluginOptions } from './install.js';
export { allKeptSignatures, keepSignature, keptSignatures, signatureStoreDir } from './keeper.js';
export type { KeptSignature } from './keeper.js';
export {
  METADATA_COMMAND,
  PLUGIN_EXECUTABLE,
  PLUGIN_NAME,
  PROJECT_URL,
  pluginMetadata,
} from './metadata.js';
export type { PluginMetadata } from './metadata.js';
export { runPlugin } from './plugin.js';
export type { PluginContext } from './plugin-registry.js';
export { certificateVerifier, verifierFor } from './verifier.js';
export type { PullVerification, PullVerifier, SignatureReport } from './verifier.js';
