/** The name docker knows the plugin by: `docker nv2 …` runs the executable `docker-nv2`. */
export const PLUGIN_NAME = 'nv2';

/** The executable's file name in docker's `cli-plugins` directory. */
export const PLUGIN_EXECUTABLE = `docker-${PLUGIN_NAME}`;

/** The argument docker passes to ask a plugin who it is (the CLI plugin protocol). */
export const METADATA_COMMAND = 'docker-cli-plugin-metadata';

/** The project's home, named in the plugin's metadata. */
export const PROJECT_URL = 'https://github.com/notaryproject/nv2';

/** What a docker CLI plugin answers to `docker-cli-plugin-metadata` (schema 0.1.0). */
export interface PluginMetadata {
  readonly SchemaVersion: '0.1.0';
  readonly Vendor: string;
  readonly Version: string;
  readonly ShortDescription: string;
  readonly URL: string;
}

/** The plugin's metadata for docker, for this nv2 `version`. */
export function pluginMetadata(version: string): PluginMetadata {
  return {
    SchemaVersion: '0.1.0',
    Vendor: 'Notary Project',
    Version: version,
    ShortDescription: 'Verify signatures before pull and run, push them with the image (Notary v2)',
    URL: PROJECT_URL,
  };
}
