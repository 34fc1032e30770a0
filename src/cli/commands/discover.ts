import type { Command } from 'commander';
import { type ReadOnlyTarget, readBoundedStream } from '../../content/index.js';
import { InvalidInputError, Nv2Error } from '../../errors.js';
import { DEFAULT_DISCOVER_DEPTH, type ReferrerNode, discover } from '../../notary/index.js';
import { MAX_MANIFEST_BYTES, MediaTypes } from '../../oci/index.js';
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

function nodeJson(node: ReferrerNode, formats: ReadonlyMap<string, string>): unknown {
  const format = formats.get(node.descriptor.digest);
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
    ...(format !== undefined ? { signatureFormat: format } : {}),
    referrers: node.referrers.map((n) => nodeJson(n, formats)),
  };
}

/** Signature artifact types, named for people. */
const SIGNATURE_KINDS: Readonly<Record<string, string>> = {
  [MediaTypes.nv2ArtifactType]: 'nv2 signature',
  [MediaTypes.notationSignature]: 'Notary Project signature',
};

/**
 * The signature format of every signature manifest in the tree (`nv2`, `jws`, `cose`), read
 * from the Notary Project manifests' layers; a manifest that cannot be read is left out.
 */
async function signatureFormats(
  store: ReadOnlyTarget,
  root: ReferrerNode,
): Promise<Map<string, string>> {
  const formats = new Map<string, string>();
  const visit = async (node: ReferrerNode): Promise<void> => {
    const d = node.descriptor;
    if (d.artifactType === MediaTypes.nv2ArtifactType) formats.set(d.digest, 'nv2');
    else if (d.artifactType === MediaTypes.notationSignature) {
      try {
        const { readSignatureManifest } = await import('../../notation/index.js');
        const bytes = await readBoundedStream(await store.fetch(d), MAX_MANIFEST_BYTES, d.digest);
        const type = readSignatureManifest(bytes).envelope.mediaType;
        formats.set(
          d.digest,
          type === MediaTypes.notationJws
            ? 'jws'
            : type === MediaTypes.notationCose
              ? 'cose'
              : type,
        );
      } catch (err) {
        if (!(err instanceof Nv2Error)) throw err;
      }
    }
    await Promise.all(node.referrers.map(visit));
  };
  await Promise.all(root.referrers.map(visit));
  return formats;
}

function printTree(
  nodes: readonly ReferrerNode[],
  prefix: string,
  formats: ReadonlyMap<string, string>,
): void {
  nodes.forEach((node, i) => {
    const last = i === nodes.length - 1;
    const type = node.descriptor.artifactType ?? node.descriptor.mediaType;
    const kind = formats.get(node.descriptor.digest) ?? SIGNATURE_KINDS[type];
    print(
      `${prefix}${last ? '└── ' : '├── '}${type} ${node.descriptor.digest}${kind !== undefined ? ` (${kind})` : ''}`,
    );
    printTree(node.referrers, `${prefix}${last ? '    ' : '│   '}`, formats);
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
        const formats = await signatureFormats(signatures?.target ?? opened.target, tree);
        if (flags.output === 'json') {
          printJson(nodeJson(tree, formats));
          return;
        }
        print(`${opened.name.replace(/[:@][^/]*$/, '')}@${tree.descriptor.digest}`);
        printTree(tree.referrers, '', formats);
      });
    });
  addSignatureRepositoryOption(command);
  addRemoteOptions(command);
}
