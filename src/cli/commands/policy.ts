import type { Command } from 'commander';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError } from '../../errors.js';
import {
  MAX_TRUST_POLICY_BYTES,
  TRUST_POLICY_FILE,
  type TrustPolicyDocument,
  TrustStore,
  configDirectory,
  initialTrustPolicy,
  parseTrustPolicy,
  readTrustPolicy,
  withScopeLevel,
  VERIFICATION_LEVELS,
  type VerificationLevel,
  writeTrustPolicy,
} from '../../policy/index.js';
import { readInput } from '../input.js';
import { type OutputFormat, print, printJson } from '../output.js';
import { outputFormat } from './options.js';

function showText(document: TrustPolicyDocument): void {
  for (const s of document.trustPolicies) {
    const override = Object.entries(s.signatureVerification.override ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    print(`${s.name}`);
    print(`  scopes:     ${s.registryScopes.join(', ')}`);
    print(
      `  level:      ${s.signatureVerification.level}${override ? ` (override ${override})` : ''}`,
    );
    if (s.trustStores !== undefined) print(`  stores:     ${s.trustStores.join(', ')}`);
    if (s.trustedIdentities !== undefined) print(`  identities: ${s.trustedIdentities.join('; ')}`);
  }
}

/** `nv2 policy init|show|import|set-level`: the trust policy document. */
export function registerPolicy(program: Command): void {
  const policy = program
    .command('policy')
    .description(
      `manage the trust policy ($NV2_CONFIG_DIR/${TRUST_POLICY_FILE}, notation's format)`,
    );
  policy
    .command('init')
    .description(
      'write a starting policy: trust required everywhere, signers chaining to the ca:default store',
    )
    .option('--force', 'replace an existing policy')
    .action(async (flags: { force?: boolean }) => {
      const dir = configDirectory(process.env);
      if (flags.force !== true) {
        const existing = await readTrustPolicy(dir).then(
          () => true,
          (err: unknown) => {
            if (err instanceof InvalidInputError && err.code === 'NV2_ERR_TRUST_POLICY_NOT_FOUND')
              return false;
            return true;
          },
        );
        if (existing) {
          throw new InvalidInputError(
            'NV2_ERR_FILE_EXISTS',
            `${join(dir, TRUST_POLICY_FILE)} already exists (use --force to replace it)`,
          );
        }
      }
      await writeTrustPolicy(dir, initialTrustPolicy());
      // The store the starting policy names exists, empty: verification then says whose
      // certificate is missing rather than that the store is.
      await mkdir(new TrustStore(dir).directory('ca', 'default'), { recursive: true });
      print(join(dir, TRUST_POLICY_FILE));
    });
  policy
    .command('show')
    .description('print the trust policy (validated)')
    .option('--output <format>', 'text or json', outputFormat, 'text')
    .action(async (flags: { output: OutputFormat }) => {
      const document = await readTrustPolicy(configDirectory(process.env));
      if (flags.output === 'json') printJson(document);
      else showText(document);
    });
  policy
    .command('import')
    .description('validate a trust policy document and make it the policy (replacing the old one)')
    .argument('<file>', 'trustpolicy.json to import, or - for standard input')
    .action(async (file: string) => {
      const dir = configDirectory(process.env);
      const document = parseTrustPolicy(
        await readInput(file, MAX_TRUST_POLICY_BYTES, 'trust policy'),
      );
      await writeTrustPolicy(dir, document);
      print(join(dir, TRUST_POLICY_FILE));
    });
  policy
    .command('set-level')
    .description(
      'set the verification level of a registry scope (e.g. audit to lift trust-required, strict to restore it); adds a statement for the scope when it has none',
    )
    .argument(
      '<scope>',
      'registry scope: registry/repository, registry/namespace/*, registry/* or *',
    )
    .argument('<level>', VERIFICATION_LEVELS.join(', '))
    .action(async (scope: string, level: string) => {
      if (!(VERIFICATION_LEVELS as readonly string[]).includes(level)) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          `${JSON.stringify(level)} is not a level: use ${VERIFICATION_LEVELS.join(', ')}`,
        );
      }
      const dir = configDirectory(process.env);
      const updated = withScopeLevel(await readTrustPolicy(dir), scope, level as VerificationLevel);
      await writeTrustPolicy(dir, updated);
      const statement = updated.trustPolicies.find((s) => s.registryScopes.includes(scope))!;
      print(`${scope}: ${level} (statement "${statement.name}")`);
    });
}
