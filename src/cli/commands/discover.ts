import type { Command } from 'commander';
import { InvalidInputError } from '../../errors.js';
import { DEFAULT_DISCOVER_DEPTH, type ReferrerNode, discover } from '../../notary/index.js';
import { type OutputFormat, print, printJson } from '../output.js';
import {
  type RemoteFlags,
  addRemoteOptions,
  addSignatureRepositoryOption,
  openSignatureRepository,
  requireReference,
  withTargets,
} from '../target.js';
import { outputFormat } from './options.js';

interface DiscoverFlags extends RemoteFlags {
  artifactType?: string;
  depth?: string;
  output: OutputFormat;
}

function nodeJson(node: ReferrerNode): unknown {
  return {
    mediaType: node.descriptor.mediaType,
    digest: node.descriptor.digest,
    size: node.descriptor.size,
    ...(node.descriptor.artifactType !== undefined
      ? { artifactType: node.descriptor.artifactType }
      : {}),
    ...(node.descriptor.annotations !== undefined
      ? { annotations: node.descriptor.annotations }
      : {}),
    referrers: node.referrers.map(nodeJson),
  };
}

function printTree(nodes: readonly ReferrerNode[], prefix: string): void {
  nodes.forEach((node, i) => {
    const last = i === nodes.length - 1;
    const type = node.descriptor.artifactType ?? node.descriptor.mediaType;
    print(`${prefix}${last ? '└── ' : '├── '}${type} ${node.descriptor.digest}`);
    printTree(node.referrers, `${prefix}${last ? '    ' : '│   '}`);
  });
}

/** `nv2 discover`: the referrers tree of an artifact. */
export function registerDiscover(program: Command): void {
  const command = program
    .command('discover')
    .description('show the referrers of an artifact (signatures, SBOMs, their signatures, …)')
    .argument('<target>', 'REF, docker://REF, oci://REF or oci-layout:DIR:TAG|@DIGEST')
    .option('--artifact-type <type>', 'only referrers of this artifact type (first level)')
    .option('--depth <n>', `levels to follow (default ${DEFAULT_DISCOVER_DEPTH})`)
    .option('--output <format>', 'text or json', outputFormat, 'text')
    .action(async (target: string, flags: DiscoverFlags) => {
      let maxDepth: number | undefined;
      if (flags.depth !== undefined) {
        maxDepth = Number(flags.depth);
        if (!Number.isSafeInteger(maxDepth) || maxDepth < 1) {
          throw new InvalidInputError(
            'NV2_ERR_INVALID_ARGUMENT',
            `--depth must be a whole number of at least 1, not ${JSON.stringify(flags.depth)}`,
          );
        }
      }
      await withTargets(flags, async (opener) => {
        const opened = await opener.open(target);
        const signatures = await openSignatureRepository(opener, flags);
        const tree = await discover(opened.target, requireReference(opened), {
          ...(flags.artifactType !== undefined ? { artifactType: flags.artifactType } : {}),
          ...(maxDepth !== undefined ? { maxDepth } : {}),
          ...(signatures !== undefined ? { referrersTarget: signatures.target } : {}),
        });
        if (flags.output === 'json') {
          printJson(nodeJson(tree));
          return;
        }
        print(`${opened.name.replace(/[:@][^/]*$/, '')}@${tree.descriptor.digest}`);
        printTree(tree.referrers, '');
      });
    });
  addSignatureRepositoryOption(command);
  addRemoteOptions(command);
}
